"""One call answered by the endpoint: answer, 2xx retransmission, ACK, BYE, REFER transfer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable
from enum import Enum
from typing import Protocol

from callbot.sip.dialog import Dialog
from callbot.sip.media import MediaSession
from callbot.sip.message import SipRequest, SipResponse, make_response
from callbot.sip.offer_answer import MediaNegotiation, PreparedAnswer
from callbot.sip.sdp import SdpError
from callbot.sip.transaction import InviteServerTransaction, ServerTransaction, SipTimers
from callbot.sip.uri import SipUri

log = logging.getLogger(__name__)

_SIPFRAG_STATUS = re.compile(rb"^\s*SIP/2\.0\s+(\d{3})")
_CALLER_NUMBER = re.compile(r"^\+?[0-9]+$")


class CallState(Enum):
    EARLY = "early"  # INVITE received, no final response yet
    ANSWERED = "answered"  # 200 sent, waiting for ACK
    CONFIRMED = "confirmed"
    ENDED = "ended"


class CallEndpoint(Protocol):
    """What a call needs from its endpoint."""

    timers: SipTimers
    transfer_timeout: float
    public_host: str

    def contact(self, transport: str, secure: bool = False) -> str: ...
    def send_to(self, data: bytes, call: SipCall) -> None: ...
    async def send_request(self, call: SipCall, method: str, extra: list[tuple[str, str]]) -> SipResponse: ...
    def call_over(self, call: SipCall) -> None: ...
    def allow_headers(self) -> list[tuple[str, str]]: ...


async def media_stopped(media_timeout: asyncio.Event, ended: asyncio.Event) -> bool:
    """Wait until the peer's RTP stops (True) or the call ends first (False). Returning when the call ends
    matters: a watcher left waiting on a closed session's event would be collected pending with the call."""
    timed_out = asyncio.ensure_future(media_timeout.wait())
    over = asyncio.ensure_future(ended.wait())
    try:
        await asyncio.wait({timed_out, over}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timed_out.cancel()
        over.cancel()
    return media_timeout.is_set() and not ended.is_set()


def caller_number_of(user: str | None) -> str | None:
    if user is None:
        return None
    user = user.partition(";")[0]  # telephone-subscriber params (RFC 3261 §19.1.6)
    cleaned = user.replace("-", "").replace(".", "").replace(" ", "")
    return cleaned if _CALLER_NUMBER.match(cleaned) else None


class SipCall:
    """One call. `call_handler` runs once the caller's ACK confirms it."""

    def __init__(
        self,
        endpoint: CallEndpoint,
        invite_tx: InviteServerTransaction,
        dialog: Dialog,
        media: MediaSession,
        negotiation: MediaNegotiation,
        initial_answer: PreparedAnswer | None,
    ) -> None:
        self._endpoint = endpoint
        self.invite_tx = invite_tx
        self.dialog = dialog
        self.media = media
        self.negotiation = negotiation
        self._initial_answer = initial_answer  # None: the INVITE had no offer, our 200 carries one
        self.call_id = dialog.call_id
        self.caller_number = caller_number_of(invite_tx.request.from_addr.uri.user)
        self.state = CallState.EARLY
        self.ended = asyncio.Event()
        self.ended_by: str | None = None  # "caller", "bot", "shutdown" or "media_timeout": the first to end it
        self.confirmed = asyncio.Event()
        self._pending_2xx: tuple[int, bytes] | None = None  # (INVITE CSeq, serialised 200)
        self._retransmit_handle: asyncio.TimerHandle | None = None
        self._ack_deadline: asyncio.TimerHandle | None = None  # a timer, not a task: nothing pending after the ACK
        self._hangup_lock = asyncio.Lock()
        self._transfer_result: asyncio.Future[bool] | None = None
        self._transfer_started = False
        self.tasks: set[asyncio.Task[None]] = set()
        self.log = logging.LoggerAdapter(log, {"call_id": self.call_id})

    # --- contract attributes -------------------------------------------------------------------
    @property
    def audio(self) -> MediaSession:
        return self.media

    @property
    def dtmf(self) -> asyncio.Queue[str]:
        return self.media.dtmf

    # --- answering -------------------------------------------------------------------------------
    def spawn(self, coro: Awaitable[None], name: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("[%s] %s failed", self.call_id, name)

        task = asyncio.get_running_loop().create_task(guarded(), name=f"{name}:{self.call_id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def ring(self) -> None:
        if self.state is CallState.EARLY:
            self.invite_tx.respond(180, to_tag=self.dialog.local_tag, extra=self._contact_headers())

    def _contact_headers(self, request: SipRequest | None = None) -> list[tuple[str, str]]:
        # RFC 3261 §12.1.1: a dialog-creating response copies the Record-Route fields
        source = request or self.invite_tx.request
        routes = [("Record-Route", value) for value in source.headers.get_all("Record-Route")]
        return [*routes, ("Contact", self._endpoint.contact(self.dialog.peer.transport, self.dialog.secure))]

    def answer(self) -> None:
        """200 to the INVITE: with our answer (media starts now), or with our offer (media starts at the ACK)."""
        if self.state is not CallState.EARLY:
            return
        if self._initial_answer is not None:
            self.negotiation.apply(self._initial_answer)
            body = self._initial_answer.sdp
        else:
            body = self.negotiation.make_offer()
        self.state = CallState.ANSWERED
        self._send_2xx(self.invite_tx, body)

    def _send_2xx(self, tx: InviteServerTransaction, sdp: bytes) -> None:
        extra = self._contact_headers(tx.request) + self._endpoint.allow_headers()
        response = make_response(
            tx.request,
            200,
            to_tag=self.dialog.local_tag,
            extra=extra,
            body=sdp,
            content_type="application/sdp",
        )
        tx.send_response(response)
        self._pending_2xx = (tx.request.cseq[0], response.to_bytes())
        if not self.dialog.peer.reliable:
            self._schedule_2xx(self._endpoint.timers.t1, 0.0)
        if self._ack_deadline is not None:
            self._ack_deadline.cancel()
        self._ack_deadline = asyncio.get_running_loop().call_later(
            self._endpoint.timers.ack_wait, self._no_ack, tx.request.cseq[0]
        )

    def _schedule_2xx(self, interval: float, elapsed: float) -> None:
        # RFC 3261 §13.3.1.4: the TU retransmits its 2xx, T1 doubling up to T2, until the ACK
        def fire() -> None:
            if self._pending_2xx is None or self.state is CallState.ENDED:
                return
            self._endpoint.send_to(self._pending_2xx[1], self)
            self._schedule_2xx(min(2 * interval, self._endpoint.timers.t2), elapsed + interval)

        self._retransmit_handle = asyncio.get_running_loop().call_later(interval, fire)

    def _no_ack(self, cseq: int) -> None:
        """ack_wait (≤ 64·T1) after the 2xx and still no ACK: give the call up, which frees its slot."""
        if self._pending_2xx is not None and self._pending_2xx[0] == cseq:
            self.log.warning("[%s] no ACK for the 200 OK: hanging up", self.call_id)
            self._stop_2xx()
            if self.state is CallState.ANSWERED:
                self.state = CallState.CONFIRMED  # §13.3.1.4: the dialog is confirmed, then ended by BYE
            self.spawn(self.hangup(), "no-ack-hangup")

    def _stop_2xx(self) -> None:
        self._pending_2xx = None
        if self._retransmit_handle is not None:
            self._retransmit_handle.cancel()
            self._retransmit_handle = None
        if self._ack_deadline is not None:
            self._ack_deadline.cancel()
            self._ack_deadline = None

    def on_ack(self, ack: SipRequest) -> bool:
        """True when this ACK confirms the initial INVITE (the endpoint then starts the handler)."""
        if self._pending_2xx is None or ack.cseq[0] != self._pending_2xx[0]:
            return False  # retransmitted ACK, or ACK for something else
        self._stop_2xx()
        first = self.state is CallState.ANSWERED
        if first:
            self.state = CallState.CONFIRMED
            self.confirmed.set()
        if self.negotiation.offer_pending:
            try:
                self.negotiation.take_answer(ack.body)
            except SdpError as exc:
                # RFC 3264 §5: our offer got no usable answer, so there is no agreed media: end the call
                self.log.warning("[%s] no usable SDP answer in the ACK (%s): hanging up", self.call_id, exc)
                self.spawn(self.hangup(), "bad-answer-hangup")
                return False
        return first

    def on_reinvite(self, tx: InviteServerTransaction) -> None:
        """A re-INVITE (RFC 3261 §14.2): its offer is applied, or refused with 488 and the old media kept."""
        if self.negotiation.offer_pending:
            tx.respond(491, extra=[("Retry-After", "1")])  # our offer is still unanswered (RFC 3261 §14.2)
            return
        sdp = self._answer_in_dialog_offer(tx)
        if sdp is not None:
            self.dialog.update_target(tx.request)
            self._send_2xx(tx, sdp)

    def on_update(self, tx: ServerTransaction) -> None:
        """UPDATE (RFC 3311 §5.2): an offer in it is handled as a re-INVITE's, answered in the 200."""
        request = tx.request
        if not request.body.strip():  # a target refresh only
            self.dialog.update_target(request)
            tx.respond(200, to_tag=self.dialog.local_tag, extra=self._contact_headers(request))
            return
        if self.state is CallState.EARLY:
            tx.respond(500, extra=[("Retry-After", "1")])  # the INVITE's offer is not answered yet
            return
        if self.negotiation.offer_pending:
            tx.respond(491)  # our offer (in a 200) still waits for its answer
            return
        sdp = self._answer_in_dialog_offer(tx)
        if sdp is not None:
            self.dialog.update_target(request)
            extra = self._contact_headers(request) + self._endpoint.allow_headers()
            tx.send_response(
                make_response(
                    request, 200, to_tag=self.dialog.local_tag, extra=extra, body=sdp, content_type="application/sdp"
                )
            )

    def _answer_in_dialog_offer(self, tx: ServerTransaction) -> bytes | None:
        """Our SDP for a re-INVITE or UPDATE: the answer to its offer, or our offer when it has none (the
        answer then comes in the ACK). None once a 488 is sent: the call keeps the media it had."""
        request = tx.request
        if not request.body.strip():
            if request.method == "INVITE":
                return self.negotiation.make_offer()
            return None
        try:
            if request.content_type != "application/sdp":
                raise SdpError(f"unsupported body type {request.content_type!r}", 399)
            sdp = self.negotiation.answer_offer(request.body)
        except SdpError as exc:
            self.log.warning("[%s] %s offer refused (488): %s", self.call_id, request.method, exc)
            reason = str(exc).replace('"', "'")
            warning = f'{exc.warning} {self._endpoint.public_host} "{reason}"'
            tx.respond(488, to_tag=self.dialog.local_tag, extra=[("Warning", warning)])
            return None
        current = self.negotiation.current
        if current is not None:
            self.log.info(
                "[%s] media now %s to %s:%d (%s)", self.call_id, current.codec_name, *current.remote, current.direction
            )
        return sdp

    def cancel(self) -> bool:
        """CANCEL before our final response: 487 to the INVITE."""
        if self.state is not CallState.EARLY:
            return False
        self.ended_by = self.ended_by or "caller"
        self.invite_tx.respond(487, to_tag=self.dialog.local_tag)
        self._finish("cancelled")
        return True

    def reject(self, status: int) -> None:
        if self.state is CallState.EARLY:
            self.invite_tx.respond(status, to_tag=self.dialog.local_tag)
            self._finish(f"rejected {status}")

    # --- ending ----------------------------------------------------------------------------------
    def on_bye(self) -> None:
        self.log.info("[%s] caller hung up", self.call_id)
        self.ended_by = self.ended_by or "caller"
        if self.state is CallState.EARLY:  # BYE on an early dialog: the INVITE still needs its final answer
            self.invite_tx.respond(487, to_tag=self.dialog.local_tag)
        self._finish("remote BYE")

    def _finish(self, why: str) -> None:
        if self.state is CallState.ENDED:
            return
        self.log.info("[%s] call over: %s", self.call_id, why)
        self.state = CallState.ENDED
        self._stop_2xx()
        self.ended.set()
        if self._transfer_result is not None and not self._transfer_result.done():
            self._transfer_result.set_result(False)
        self._endpoint.call_over(self)
        self.spawn(self.media.close(), "media-close")

    async def hangup(self, by: str = "bot") -> None:
        """Send BYE (idempotent). Before the answer, reject the INVITE instead."""
        async with self._hangup_lock:
            if self.state is CallState.ENDED:
                return
            self.ended_by = self.ended_by or by
            if self.state is CallState.EARLY:
                self.reject(480)
                return
            if self.state is CallState.ANSWERED:
                # RFC 3261 §15: no BYE before the ACK (or its timeout)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.confirmed.wait(), self._endpoint.timers.ack_wait)
                if self.ended.is_set():
                    return
            self._stop_2xx()
            self.state = CallState.CONFIRMED
            self.ended.set()  # from now the call is over for the application
            response = await self._endpoint.send_request(self, "BYE", [])
            self.log.info("[%s] BYE answered %s", self.call_id, response.status)
            self._finish("local BYE")

    async def watch_media(self) -> None:
        if await media_stopped(self.media.media_timeout, self.ended):
            self.log.warning("[%s] no RTP received: hanging up", self.call_id)
            await self.hangup(by="media_timeout")

    # --- transfer (RFC 3515) ---------------------------------------------------------------------
    async def transfer(self, target_uri: str, headers: dict[str, str], timeout_s: float | None = None) -> bool:
        """REFER the caller to `target_uri`; True once a NOTIFY reports a 2xx. Hangs up on success."""
        if self.state is not CallState.CONFIRMED:
            return False
        target = SipUri.parse(target_uri)
        target.headers.update(headers)
        loop = asyncio.get_running_loop()
        self._transfer_result = loop.create_future()
        self._transfer_started = True
        extra = [("Refer-To", f"<{target}>"), ("Referred-By", f"<{SipUri.parse(self._local_uri())}>")]
        response = await self._endpoint.send_request(self, "REFER", extra)
        self.log.info("[%s] REFER to %s answered %s", self.call_id, target.host, response.status)
        if response.status >= 300:
            return False
        try:
            ok = await asyncio.wait_for(
                asyncio.shield(self._transfer_result), timeout_s or self._endpoint.transfer_timeout
            )
        except TimeoutError:
            self.log.warning("[%s] transfer: no final NOTIFY in time", self.call_id)
            return False
        if ok:
            await self.hangup()
        return ok

    def _local_uri(self) -> str:
        return self.dialog.local_addr.partition("<")[2].partition(">")[0] or self.dialog.local_addr

    def on_notify(self, request: SipRequest) -> int:
        """Status for a NOTIFY in this dialog (RFC 3515 §2.4.5 sipfrag progress)."""
        event = (request.headers.get("Event") or "").partition(";")[0].strip().lower()
        if event != "refer" or not self._transfer_started:
            return 481 if event == "refer" else 489
        result = self._transfer_result
        match = _SIPFRAG_STATUS.match(request.body)
        if result is not None and not result.done():
            if match is not None and int(match.group(1)) >= 200:
                status = int(match.group(1))
                result.set_result(status < 300)
                self.log.info("[%s] transfer result: %s", self.call_id, status)
            elif "terminated" in (request.headers.get("Subscription-State") or "").lower():
                result.set_result(False)
        return 200
