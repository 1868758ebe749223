"""Calls the callbot places (RFC 3261 as a UAC): INVITE with our offer, CANCEL at the deadline, ACK of the 2xx, BYE.

A browser caller cannot be REFERred: to hand one to the agents, the callbot calls their line itself and relays the
audio (callbot.bridge). `place_call` returns the answered call, or raises CallFailed. Once answered the call lives in
the endpoint like an inbound one: it counts in `active_calls`, the agent's BYE, re-INVITE or UPDATE reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import secrets
import socket
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING

from callbot.sip.call import CallState, media_stopped
from callbot.sip.dialog import Dialog
from callbot.sip.errors import SipError, SipParseError
from callbot.sip.headers import Headers
from callbot.sip.media import MediaSession
from callbot.sip.message import SipRequest, SipResponse, make_response
from callbot.sip.offer_answer import LocalSdp, MediaNegotiation
from callbot.sip.sdp import SdpError
from callbot.sip.transaction import (
    InviteClientTransaction,
    InviteServerTransaction,
    NonInviteClientTransaction,
    ServerTransaction,
    new_branch,
    request_for_invite,
)
from callbot.sip.transport import Peer
from callbot.sip.uri import SipUri

if TYPE_CHECKING:
    from callbot.sip.endpoint import SipEndpoint

log = logging.getLogger(__name__)

# After our CANCEL, how long the INVITE's final answer is awaited (a 2xx that crossed the CANCEL is taken: the agent
# picked up); past it the call is given up, and an answer that still comes is acknowledged and hung up. With nothing
# heard from the agents at the deadline there is no CANCEL to send yet (RFC 3261 §9.1), nor any wait.
CANCEL_GRACE_S = 1.0
# Set by the transaction and the dialog, or by the request's body: a caller of place_call may not set them.
_RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Max-Forwards",
        "Route",
        "Record-Route",
        "Content-Length",
        "Content-Type",
        "Content-Encoding",
        "Allow",
        "Supported",
        "Require",
        "User-Agent",
    )
)
_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")


class CallFailed(SipError):
    """The call was not answered: `status` is the final answer's, 408 when none came in time, 503 for a local
    failure (no RTP port, an address that does not resolve)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


def extra_headers(values: Mapping[str, str]) -> list[tuple[str, str]]:
    """The application's headers for an INVITE, checked: a line break would inject headers of its own."""
    out: list[tuple[str, str]] = []
    for name, value in values.items():
        if not _TOKEN.match(name) or any(c in value for c in "\r\n\x00"):
            raise ValueError(f"not a header field: {name!r}")
        if name.lower() in _RESERVED_HEADERS:
            log.warning("header %s left out of the INVITE: the SIP stack sets it", name)
            continue
        out.append((name, value))
    return out


async def place_call(
    endpoint: SipEndpoint, target_uri: str, headers: Mapping[str, str], timeout_s: float
) -> OutboundCall:
    """Call `target_uri` (headers of the URI and `headers` added to the INVITE); the answered call, or CallFailed
    when no 2xx came within `timeout_s` (the INVITE is then cancelled) or the answer was 3xx-6xx."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        target = SipUri.parse(target_uri)
    except SipParseError as exc:
        raise CallFailed(400, f"bad target URI: {exc.reason}") from None
    if target.transport not in ("UDP", "TCP", "TLS"):
        raise CallFailed(503, f"{target.scheme}: over {target.transport} is not supported (UDP, TCP or TLS)")
    if target.transport == "TLS" and endpoint.tls_port is None:
        # our Contact must be reachable over TLS too: without sip.tls_port the agents could not answer back
        raise CallFailed(503, f"{target.scheme}: over TLS needs sip.tls_port")
    extra = extra_headers({**target.headers, **headers})
    request_uri = SipUri(target.scheme, target.host, target.user, target.port, dict(target.params))
    address = await _resolve(*target.host_port, endpoint.host, deadline)
    # over TLS the agents' certificate must carry the name dialled (RFC 5922), not the address it resolved to
    peer = Peer(target.transport, address, name=target.host.strip("[]") if target.transport == "TLS" else None)
    try:
        media = await endpoint.bind_media()
    except OSError as exc:
        raise CallFailed(503, f"no RTP port: {exc}") from None
    media_host = endpoint.public_host if media.local_host in ("0.0.0.0", "::") else media.local_host
    local_sdp = LocalSdp(media_host, media.local_port, endpoint.new_session_id(), endpoint.user_agent)
    negotiation = MediaNegotiation(media, endpoint.make_codec, local_sdp, endpoint.srtp)
    placement = _Placement(endpoint, peer, media, negotiation)
    invite = placement.build_invite(request_uri, extra)
    return await placement.run(invite, deadline)


async def _resolve(host: str, port: int, local_host: str, deadline: float) -> tuple[str, int]:
    """An IP literal as it is; a name through the loop's resolver (a thread: the loop never waits on DNS)."""
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host)), port
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in local_host else socket.AF_INET
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, family=family, type=socket.SOCK_DGRAM), max(0.0, deadline - loop.time())
        )
    except (OSError, TimeoutError) as exc:
        raise CallFailed(503, f"cannot resolve {host}: {exc or 'timeout'}") from None
    if not infos:
        raise CallFailed(503, f"cannot resolve {host}")
    return str(infos[0][4][0]), port


class _Placement:
    """One INVITE on its way: its client transaction, its cancellation, the 2xx answers (forks included)."""

    def __init__(self, endpoint: SipEndpoint, peer: Peer, media: MediaSession, negotiation: MediaNegotiation) -> None:
        self.endpoint = endpoint
        self.peer = peer
        self.media = media
        self.negotiation = negotiation
        self.call: OutboundCall | None = None
        self.invite: SipRequest | None = None
        self.tx: InviteClientTransaction | None = None
        self.cancelling = False  # the deadline passed: the INVITE is cancelled at its first provisional answer
        self.cancel_sent = False
        self.abandoned = False  # nobody waits for the answer any more: a late 2xx is acknowledged and hung up
        self.early_sdp = b""  # an SDP in a 1xx, used when the 2xx carries none

    def build_invite(self, request_uri: SipUri, extra: list[tuple[str, str]]) -> SipRequest:
        endpoint = self.endpoint
        headers = Headers()
        via_port = endpoint.port_for(self.peer.transport)
        headers.add(
            "Via", f"SIP/2.0/{self.peer.transport} {endpoint.public_host}:{via_port};branch={new_branch()};rport"
        )
        headers.add("Max-Forwards", "70")
        headers.add("From", f"<{endpoint.identity()}>;tag={secrets.token_hex(6)}")
        headers.add("To", f"<{request_uri}>")
        headers.add("Call-ID", f"{secrets.token_hex(12)}@{endpoint.public_host}")
        headers.add("CSeq", "1 INVITE")
        headers.add("Contact", endpoint.contact(self.peer.transport, request_uri.scheme == "sips"))
        for name, value in endpoint.allow_headers():
            if name != "Server":  # a response header
                headers.add(name, value)
        headers.add("User-Agent", endpoint.user_agent)
        for name, value in extra:
            headers.add(name, value)
        headers.add("Content-Type", "application/sdp")
        self.invite = SipRequest(headers, self.negotiation.make_offer(), method="INVITE", uri=str(request_uri))
        return self.invite

    def _send(self, data: bytes) -> None:
        self.endpoint.send_message(data, self.peer)

    async def run(self, invite: SipRequest, deadline: float) -> OutboundCall:
        endpoint = self.endpoint
        loop = asyncio.get_running_loop()
        tx = InviteClientTransaction(
            invite,
            self._send,
            self.peer.reliable,
            endpoint.timers,
            endpoint.forget_client_tx,
            self._on_2xx,
            self._on_provisional,
        )
        self.tx = tx
        log.info("[%s] calling %s (%s)", invite.call_id, SipUri.parse(invite.uri).host, self.peer.transport)
        endpoint.start_client_transaction(tx)
        try:
            try:
                final = await asyncio.wait_for(asyncio.shield(tx.final), max(0.0, deadline - loop.time()))
            except TimeoutError:
                log.info("[%s] no answer in time: cancelling", invite.call_id)
                self._cancel()
                if not self.cancel_sent:
                    raise CallFailed(408, "no answer") from None
                try:
                    final = await asyncio.wait_for(asyncio.shield(tx.final), CANCEL_GRACE_S)
                except TimeoutError:
                    raise CallFailed(408, "no answer") from None
        except BaseException:
            self._abandon()
            with contextlib.suppress(Exception):
                await asyncio.shield(self.media.close())
            raise
        call = self.call
        if final.status >= 300 or call is None:
            self.abandoned = True
            await self.media.close()
            log.info("[%s] call refused: %s %s", invite.call_id, final.status, final.reason)
            if call is None and final.status < 300:
                raise CallFailed(502, "unusable 2xx")
            raise CallFailed(final.status, final.reason)
        answer = final.body if final.body.strip() else self.early_sdp
        try:
            if not answer.strip():
                raise SdpError("the 2xx carries no SDP answer to our offer")
            call.negotiation.take_answer(answer)
        except SdpError as exc:
            # RFC 3264 §5: an offer without a usable answer leaves no media: the call is acknowledged, then ended
            log.warning("[%s] unusable SDP answer (%s): hanging up", call.call_id, exc)
            call.spawn(call.hangup(), "bad-answer-hangup")  # not awaited: the agents may never answer the BYE
            raise CallFailed(488, f"unusable SDP answer: {exc}") from None
        current = call.negotiation.current
        if current is not None:
            log.info("[%s] answered: %s to %s:%d", call.call_id, current.codec_name, *current.remote)
        call.spawn(call.watch_media(), "media-watch")
        return call

    def _on_provisional(self, response: SipResponse) -> None:
        if response.body.strip() and response.content_type == "application/sdp":
            self.early_sdp = response.body
        if self.cancelling:
            self._send_cancel()

    def _cancel(self) -> None:
        self.cancelling = True
        tx = self.tx
        if tx is not None and tx.provisional:
            self._send_cancel()
        # else: not before a provisional answer (RFC 3261 §9.1); _on_provisional sends it if one comes

    def _send_cancel(self) -> None:
        tx, invite = self.tx, self.invite
        if self.cancel_sent or tx is None or invite is None or tx.final.done():
            return
        self.cancel_sent = True
        cancel = request_for_invite(invite, "CANCEL", invite.headers.get("To") or "")
        ctx = NonInviteClientTransaction(
            cancel, self._send, self.peer.reliable, self.endpoint.timers, self.endpoint.forget_client_tx
        )
        self.endpoint.start_client_transaction(ctx)
        # RFC 3261 §9.1: no final answer 64·T1 after the CANCEL, the INVITE is over all the same
        asyncio.get_running_loop().call_later(self.endpoint.timers.b, tx.close)

    def _abandon(self) -> None:
        self.abandoned = True
        self._cancel()
        if self.call is not None and self.call.state is not CallState.ENDED:
            self.call.spawn(self.call.hangup(), "abandoned-hangup")

    def _on_2xx(self, response: SipResponse) -> None:
        """Each 2xx to the INVITE: ACKed by the dialog it creates (RFC 3261 §13.2.2.4), again at each retransmission."""
        invite = self.invite
        assert invite is not None
        try:
            dialog = Dialog.from_response(invite, response, self.peer)
        except SipParseError as exc:
            log.warning("[%s] unusable 2xx dropped: %s", invite.call_id, exc.reason)
            return
        call = self.call
        if call is None:
            call = self.call = OutboundCall(self.endpoint, dialog, self.media, self.negotiation, invite)
            self.endpoint.adopt(call)
            call.acknowledge()
            if self.abandoned:
                log.info("[%s] answered after we gave up: hanging up", invite.call_id)
                call.spawn(call.hangup(), "late-answer-hangup")
        elif dialog.remote_tag == call.dialog.remote_tag:
            call.acknowledge()  # a retransmitted 2xx: our ACK was lost
        else:
            # another fork answered too: it is acknowledged and ended, the first answer is the call
            log.info("[%s] a second 2xx (another fork): ACK and BYE", invite.call_id)
            self.endpoint.send_message(_ack_for(self.endpoint, dialog, invite), dialog.next_hop())
            call.spawn(self._end_fork(dialog), "fork-bye")

    async def _end_fork(self, dialog: Dialog) -> None:
        await self.endpoint.send_in_dialog(dialog, "BYE", [])


def _ack_for(endpoint: SipEndpoint, dialog: Dialog, invite: SipRequest) -> bytes:
    hop = dialog.next_hop()
    ack = dialog.build_request(
        "ACK",
        endpoint.public_host,
        endpoint.port_for(hop.transport),
        endpoint.contact(hop.transport, dialog.secure),
        endpoint.user_agent,
        cseq=invite.cseq[0],
    )
    return ack.to_bytes()


class OutboundCall:
    """A call we placed, answered: the agent's side of a bridge. Ends by our `hangup()` or the agent's BYE."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        dialog: Dialog,
        media: MediaSession,
        negotiation: MediaNegotiation,
        invite: SipRequest,
    ) -> None:
        self._endpoint = endpoint
        self.dialog = dialog
        self.media = media
        self.negotiation = negotiation
        self.invite = invite
        self.call_id = dialog.call_id
        self.state = CallState.CONFIRMED  # at the UAC, the 2xx confirms the dialog (RFC 3261 §12.1.2)
        self.ended = asyncio.Event()
        self.ended_by: str | None = None  # "agent", "bot", "shutdown" or "media_timeout": the first to end it
        self._ack: bytes | None = None
        self._pending_2xx: tuple[int, bytes, SipRequest] | None = None  # our 2xx to a re-INVITE, until its ACK
        self._retransmit_handle: asyncio.TimerHandle | None = None
        self._ack_deadline: asyncio.TimerHandle | None = None
        self._hangup_lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()
        self.log = logging.LoggerAdapter(log, {"call_id": self.call_id})

    @property
    def audio(self) -> MediaSession:
        return self.media

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

    def acknowledge(self) -> None:
        """ACK the INVITE's 2xx: built once, the same bytes again for each retransmitted 2xx."""
        if self._ack is None:
            self._ack = _ack_for(self._endpoint, self.dialog, self.invite)
        self._endpoint.send_message(self._ack, self.dialog.next_hop())

    # --- requests from the agent (dispatched by the endpoint) ------------------------------------
    def on_bye(self) -> None:
        self.log.info("[%s] the agent hung up", self.call_id)
        self.ended_by = self.ended_by or "agent"
        self._finish("remote BYE")

    def on_notify(self, request: SipRequest) -> int:
        return 481  # we subscribe to nothing in this dialog

    def on_ack(self, ack: SipRequest) -> bool:
        """The ACK of our 2xx to a re-INVITE (never a reason to start a handler: False)."""
        if self._pending_2xx is None or ack.cseq[0] != self._pending_2xx[0]:
            return False
        self._stop_2xx()
        if self.negotiation.offer_pending:
            try:
                self.negotiation.take_answer(ack.body)
            except SdpError as exc:
                self.log.warning("[%s] no usable SDP answer in the ACK (%s): hanging up", self.call_id, exc)
                self.spawn(self.hangup(), "bad-answer-hangup")
        return False

    def on_reinvite(self, tx: InviteServerTransaction) -> None:
        """A re-INVITE (hold, a new address, a session refresh): its offer answered, or ours when it has none."""
        if self.negotiation.offer_pending:
            tx.respond(491, extra=[("Retry-After", "1")])
            return
        request = tx.request
        if request.body.strip():
            sdp = self._answer(tx)
            if sdp is None:
                return
        else:
            sdp = self.negotiation.make_offer()  # the answer comes in the ACK
        self.dialog.update_target(request)
        response = self._ok(request, sdp)
        tx.send_response(response)
        self._pending_2xx = (request.cseq[0], response.to_bytes(), request)
        if not self.dialog.peer.reliable:
            self._schedule_2xx(self._endpoint.timers.t1)
        self._ack_deadline = asyncio.get_running_loop().call_later(
            self._endpoint.timers.ack_wait, self._no_ack, request.cseq[0]
        )

    def on_update(self, tx: ServerTransaction) -> None:
        """UPDATE (RFC 3311): a target refresh, or an offer answered in its 200."""
        request = tx.request
        if not request.body.strip():
            self.dialog.update_target(request)
            tx.send_response(self._ok(request, b""))
            return
        if self.negotiation.offer_pending:
            tx.respond(491)
            return
        sdp = self._answer(tx)
        if sdp is not None:
            self.dialog.update_target(request)
            tx.send_response(self._ok(request, sdp))

    def _ok(self, request: SipRequest, sdp: bytes) -> SipResponse:
        contact = self._endpoint.contact(self.dialog.peer.transport, self.dialog.secure)
        extra = [("Contact", contact), *self._endpoint.allow_headers()]
        return make_response(request, 200, extra=extra, body=sdp, content_type="application/sdp" if sdp else None)

    def _answer(self, tx: ServerTransaction) -> bytes | None:
        """Our answer to the offer in `tx`, in force at once; None once a 488 is sent (the media stays as it was)."""
        request = tx.request
        try:
            if request.content_type != "application/sdp":
                raise SdpError(f"unsupported body type {request.content_type!r}", 399)
            return self.negotiation.answer_offer(request.body)
        except SdpError as exc:
            self.log.warning("[%s] %s offer refused (488): %s", self.call_id, request.method, exc)
            reason = str(exc).replace('"', "'")
            tx.respond(488, extra=[("Warning", f'{exc.warning} {self._endpoint.public_host} "{reason}"')])
            return None

    def _schedule_2xx(self, interval: float) -> None:
        # RFC 3261 §13.3.1.4: our 2xx again, T1 doubling up to T2, until the ACK
        def fire() -> None:
            pending = self._pending_2xx
            if pending is None or self.state is CallState.ENDED:
                return
            self._endpoint.resend_response(pending[1], pending[2], self.dialog.peer)
            self._schedule_2xx(min(2 * interval, self._endpoint.timers.t2))

        self._retransmit_handle = asyncio.get_running_loop().call_later(interval, fire)

    def _no_ack(self, cseq: int) -> None:
        if self._pending_2xx is not None and self._pending_2xx[0] == cseq:
            self.log.warning("[%s] no ACK for our 200 to a re-INVITE: hanging up", self.call_id)
            self._stop_2xx()
            self.spawn(self.hangup(), "no-ack-hangup")

    def _stop_2xx(self) -> None:
        self._pending_2xx = None
        for handle in (self._retransmit_handle, self._ack_deadline):
            if handle is not None:
                handle.cancel()
        self._retransmit_handle = self._ack_deadline = None

    # --- ending ----------------------------------------------------------------------------------
    def _finish(self, why: str) -> None:
        if self.state is CallState.ENDED:
            return
        self.log.info("[%s] placed call over: %s", self.call_id, why)
        self.state = CallState.ENDED
        self._stop_2xx()
        self.ended.set()
        self._endpoint.call_over(self)
        self.spawn(self.media.close(), "media-close")

    async def hangup(self, by: str = "bot") -> None:
        """Send BYE (idempotent); `ended` is set at once, the call is over when the BYE is answered or timed out."""
        async with self._hangup_lock:
            if self.state is CallState.ENDED:
                return
            self.ended_by = self.ended_by or by
            self._stop_2xx()
            self.ended.set()
            response = await self._endpoint.send_in_dialog(self.dialog, "BYE", [])
            self.log.info("[%s] BYE answered %s", self.call_id, response.status)
            self._finish("local BYE")

    async def watch_media(self) -> None:
        """No RTP from the agent for the RTP timeout (while the SDP says it sends): the line is dead, hang up."""
        if await media_stopped(self.media.media_timeout, self.ended):
            self.log.warning("[%s] no RTP from the agent: hanging up", self.call_id)
            await self.hangup(by="media_timeout")
