"""The SIP endpoint: dispatches messages to transactions, calls and the application; places calls (outbound.py)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping

from callbot.sip.auth import SipAuth
from callbot.sip.call import CallState, SipCall
from callbot.sip.dialog import Dialog
from callbot.sip.errors import SipParseError
from callbot.sip.limits import SipLimits, SourceQuota
from callbot.sip.media import CodecMaker, MediaBinder, MediaSession, bind_rtp_session, make_rtp_codec
from callbot.sip.message import (
    SipRequest,
    SipResponse,
    can_answer,
    make_response,
    parse_message,
)
from callbot.sip.offer_answer import LocalSdp, MediaNegotiation
from callbot.sip.outbound import CallFailed, OutboundCall, place_call
from callbot.sip.refusals import RefusalLog
from callbot.sip.sdp import SdpError, SrtpMode, negotiate, parse_sdp
from callbot.sip.transaction import (
    InviteClientTransaction,
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    ServerTransaction,
    SipTimers,
    server_key,
)
from callbot.sip.transport import Peer, SipTransport
from callbot.sip.uri import Via

log = logging.getLogger(__name__)

ALLOWED_METHODS = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "NOTIFY", "UPDATE")
# Methods other UAs use that we understand enough to refuse with 405 rather than 501.
SHUTDOWN_BYE_WAIT_S = 5.0  # at shutdown, the BYEs' answers are awaited this long, not Timer F (64·T1)
KNOWN_METHODS = frozenset(("REGISTER", "SUBSCRIBE", "PUBLISH", "MESSAGE", "INFO", "PRACK", "REFER"))
IN_DIALOG_ONLY = ("BYE", "NOTIFY", "UPDATE")  # outside a dialog: 481
BAD_LOG_PER_S = 10

CallHandler = Callable[[SipCall], Awaitable[None]]
ClientTransaction = NonInviteClientTransaction | InviteClientTransaction


class SipEndpoint:
    def __init__(
        self,
        host: str,
        port: int,
        call_handler: CallHandler,
        rtp_host: str,
        rtp_port_min: int,
        rtp_port_max: int,
        user_agent: str,
        max_calls: int,
        tcp: bool = True,
        *,
        public_host: str | None = None,
        ringing: bool = True,
        answer_delay: float = 0.0,
        timers: SipTimers | None = None,
        transfer_timeout: float = 30.0,
        media_binder: MediaBinder = bind_rtp_session,
        codec_maker: CodecMaker = make_rtp_codec,
        limits: SipLimits | None = None,
        busy_status: int = 503,
        busy_retry_after_s: int = 30,
        auth: SipAuth | None = None,
        srtp: SrtpMode = "optional",
        tls_port: int | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.srtp = srtp  # sip.srtp: which offers we answer (callbot.sip.sdp.negotiate), and whether ours are SRTP
        self.auth = auth  # sip.trunks: who may call (callbot.sip.auth); None: anyone reaching the port
        # At max_calls: 503 + Retry-After lets a PBX or Kamailio try another instance (RFC 3261 §21.5.4);
        # 486 Busy Here says the callee is busy, which some PBXs prefer to play to the caller.
        self.busy_status = busy_status
        self.busy_retry_after_s = busy_retry_after_s
        self.draining = False  # set by drain(): new calls refused with 503, calls up go on
        self.public_host = public_host or host
        self.call_handler = call_handler
        self.rtp_host = rtp_host
        self.rtp_port_min = rtp_port_min
        self.rtp_port_max = rtp_port_max
        self.user_agent = user_agent
        self.max_calls = max_calls
        self.ringing = ringing
        self.answer_delay = answer_delay
        self.timers = timers or SipTimers()
        self.transfer_timeout = transfer_timeout
        self._bind_media = media_binder
        self._make_codec = codec_maker
        self.limits = limits or SipLimits()
        self.refusals = RefusalLog(log)  # busy and limits: counted, one line per interval
        # sip.tls_port (0: any free port) with the context of callbot.sip.tls.server_context
        self._transport = SipTransport(
            host, port, self._on_raw, tcp, self.limits, self.refusals, tls_port=tls_port, tls_context=tls_context
        )
        self._tx_quota = SourceQuota(self.limits.max_transactions, self.limits.max_transactions_per_source)
        self._server_txs: dict[tuple[str, ...], ServerTransaction] = {}
        self._client_txs: dict[tuple[str, str], ClientTransaction] = {}
        self._calls: dict[tuple[str, str], SipCall | OutboundCall] = {}  # (Call-ID, our tag): answered or placed
        self._invites: dict[tuple[str, str, int], SipCall | None] = {}  # merged-request detection
        self._binding = 0  # INVITEs accepted whose media is still being bound (not yet in _calls)
        self._placing = 0  # calls we are placing, not yet answered (not yet in _calls)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._session_id = int(time.time())
        self._bad_window_start = 0.0
        self._bad_logged = 0
        self._bad_suppressed = 0

    # --- lifecycle -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._transport.port

    @property
    def tls_port(self) -> int | None:
        """The TLS listener's port (bound: never 0 once started); None without TLS."""
        return self._transport.tls_port

    def port_for(self, transport: str) -> int:
        """Our port for `transport`: what our Via sent-by and Contact say, so that the peer answers there."""
        if transport == "TLS" and self._transport.tls_port is not None:
            return self._transport.tls_port
        return self._transport.port

    @property
    def active_calls(self) -> int:
        # a call the bot has given up (BYE sent, e.g. never ACKed) frees its slot without waiting for the answer
        return (
            self._binding
            + self._placing
            + sum(1 for call in self._calls.values() if call.state is not CallState.ENDED and not call.ended.is_set())
        )

    async def start(self) -> None:
        await self._transport.start()
        log.info("SIP endpoint on %s:%d (udp%s)", self.host, self.port, "+tcp" if self._transport.tcp else "")
        if self._transport.tls_port is not None:
            log.info("SIP endpoint on %s:%d (tls)", self.host, self._transport.tls_port)
        if self.auth is None and not _is_loopback(self.host):
            log.warning(
                "SIP on %s takes calls from any address that reaches it: no sip.trunks configured "
                "(an allow list and/or digest credentials per PBX; README, For integrators)",
                self.host,
            )

    async def stop(self) -> None:
        self._stopping = True
        calls = list(self._calls.values())
        # calls already given up (BYE sent, e.g. never ACKed) are not waited for: their peer may never answer
        live = [c for c in calls if not c.ended.is_set()]
        if live:
            byes = [asyncio.ensure_future(c.hangup(by="shutdown")) for c in live]
            await asyncio.wait(byes, timeout=min(self.timers.b, SHUTDOWN_BYE_WAIT_S))
        for call in calls:
            for task in list(call.tasks):
                task.cancel()
        for task in list(self._tasks):
            task.cancel()
        for tx in list(self._server_txs.values()):
            tx.close()
        for ctx in list(self._client_txs.values()):
            ctx.close()
        await self._transport.close()
        self.refusals.close()

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed", name)

        task = asyncio.get_running_loop().create_task(guarded(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- what a SipCall asks of its endpoint (callbot.sip.call.CallEndpoint) ---------------------
    def contact(self, transport: str, secure: bool = False) -> str:
        """Our Contact for a dialog over `transport`. A secure dialog (a sips: Request-URI, RFC 3261 §12.1.1)
        gets a sips: URI, which means TLS (RFC 5630: no transport=tls in it); a sip: dialog over TLS says
        transport=tls, as Asterisk and Kamailio expect, so that the peer's requests come back over TLS."""
        if (secure or transport == "TLS") and self._transport.tls_port is not None:
            if secure:
                return f"<sips:callbot@{self.public_host}:{self._transport.tls_port}>"
            return f"<sip:callbot@{self.public_host}:{self._transport.tls_port};transport=tls>"
        suffix = ";transport=tcp" if transport == "TCP" else ""
        return f"<sip:callbot@{self.public_host}:{self.port}{suffix}>"

    def allow_headers(self) -> list[tuple[str, str]]:
        return [("Allow", ", ".join(ALLOWED_METHODS)), ("Supported", ""), ("Server", self.user_agent)]

    def send_to(self, data: bytes, call: SipCall) -> None:
        self._transport.send(data, self._response_peer(call.invite_tx.request, call.dialog.peer))

    def call_over(self, call: SipCall | OutboundCall) -> None:
        self._calls.pop((call.call_id, call.dialog.local_tag), None)

    async def send_request(
        self, call: SipCall | OutboundCall, method: str, extra: list[tuple[str, str]]
    ) -> SipResponse:
        return await self.send_in_dialog(call.dialog, method, extra)

    async def send_in_dialog(self, dialog: Dialog, method: str, extra: list[tuple[str, str]]) -> SipResponse:
        hop = dialog.next_hop()
        if hop.reliable and not self._transport.connected(hop):
            hop = dialog.reconnect_hop() or hop  # the peer's connection is gone: a new one to its Contact
        request = dialog.build_request(
            method,
            self.public_host,
            self.port_for(hop.transport),
            self.contact(hop.transport, dialog.secure),
            self.user_agent,
            extra,
        )
        tx = NonInviteClientTransaction(
            request,
            lambda data: self._transport.send(data, hop),
            hop.reliable,
            self.timers,
            self.forget_client_tx,
        )
        self.start_client_transaction(tx)
        return await tx.final

    def forget_client_tx(self, tx: ClientTransaction) -> None:
        if self._client_txs.get(tx.key) is tx:
            del self._client_txs[tx.key]

    # --- what a call we place asks of its endpoint (callbot.sip.outbound) -------------------------
    async def place_call(self, target_uri: str, headers: Mapping[str, str], timeout_s: float) -> OutboundCall:
        """Call `target_uri`; the answered call, or CallFailed (no answer within `timeout_s`, 3xx-6xx, no RTP port).
        Counts in `active_calls` from the INVITE on, like a call answered."""
        if self._stopping:
            raise CallFailed(503, "the endpoint is stopping")
        self._placing += 1
        try:
            return await place_call(self, target_uri, headers, timeout_s)
        finally:
            self._placing -= 1  # answered, the call is in _calls already (adopt)

    def identity(self) -> str:
        """Our address of record in the From of the calls we place."""
        return f"sip:callbot@{self.public_host}"

    async def bind_media(self) -> MediaSession:
        """An RTP session from the same port range as the answered calls'."""
        return await self._bind_media(self.rtp_host, self.rtp_port_min, self.rtp_port_max)

    def make_codec(self, name: str, payload_type: int, clock_rate: int) -> object:
        return self._make_codec(name, payload_type, clock_rate)

    def new_session_id(self) -> int:
        self._session_id += 1
        return self._session_id

    def send_message(self, data: bytes, peer: Peer) -> None:
        self._transport.send(data, peer)

    def resend_response(self, data: bytes, request: SipRequest, peer: Peer) -> None:
        """A response sent again outside its transaction: our 2xx to a re-INVITE, until the ACK."""
        self._transport.send(data, self._response_peer(request, peer))

    def start_client_transaction(self, tx: ClientTransaction) -> None:
        self._client_txs[tx.key] = tx
        tx.start()

    def adopt(self, call: OutboundCall) -> None:
        """A call we placed is answered: the agent's requests in its dialog reach it from now on."""
        self._calls[(call.call_id, call.dialog.local_tag)] = call

    # --- receiving -------------------------------------------------------------------------------
    def _on_raw(self, data: bytes, peer: Peer) -> None:
        try:
            message = parse_message(data, stream=peer.reliable)
        except SipParseError as exc:
            self._on_bad_message(exc, peer)
            return
        try:
            if isinstance(message, SipRequest):
                self._note_source(message, peer)
                self._on_request(message, peer)
            else:
                self._on_response(message)
        except SipParseError as exc:
            partial = message if isinstance(message, SipRequest) else None
            self._on_bad_message(SipParseError(exc.reason, partial), peer)
        except Exception:
            log.exception("error handling a message from %s", peer.addr)

    def _on_bad_message(self, exc: SipParseError, peer: Peer) -> None:
        request = exc.partial
        if request is None or request.method == "ACK" or not can_answer(request):
            self._log_bad("dropped malformed message from %s: %s", peer.addr, exc.reason)
            return
        self._log_bad("[%s] 400 to %s: %s", request.call_id, peer.addr, exc.reason)
        with contextlib.suppress(SipParseError):
            self._note_source(request, peer)
        warning = exc.reason.replace('"', "'")[:120]
        response = make_response(request, 400, extra=[("Warning", f'399 {self.public_host} "{warning}"')])
        self._send_response(response, request, peer)

    def _log_bad(self, template: str, *args: object) -> None:
        """Warn about bad messages, at most BAD_LOG_PER_S per second: a flood must not flood the logs."""
        now = time.monotonic()
        if now - self._bad_window_start >= 1.0:
            if self._bad_suppressed:
                log.warning("%d more malformed messages were not logged", self._bad_suppressed)
            self._bad_window_start, self._bad_logged, self._bad_suppressed = now, 0, 0
        if self._bad_logged < BAD_LOG_PER_S:
            self._bad_logged += 1
            log.warning(template, *args)
        else:
            self._bad_suppressed += 1

    @staticmethod
    def _note_source(request: SipRequest, peer: Peer) -> None:
        """RFC 3261 §18.2.1 received, RFC 3581 rport on the top Via."""
        vias = request.headers.get_all("Via")
        if not vias:  # found by the fuzzer: a request with no Via cannot be answered
            raise SipParseError("no Via")
        via = Via.parse(vias[0])
        if via.host.strip("[]") != peer.addr[0] or "rport" in via.params:
            via.params["received"] = peer.addr[0]
        if "rport" in via.params:
            via.params["rport"] = str(peer.addr[1])
        request.headers.remove("Via")
        for value in [str(via), *vias[1:]]:
            request.headers.add("Via", value)

    @staticmethod
    def _response_peer(request: SipRequest, peer: Peer) -> Peer:
        if peer.reliable:
            return peer
        via = request.top_via
        host = via.params.get("received") or via.host
        rport = via.params.get("rport")
        port = int(rport) if rport and rport.isdigit() else via.port or 5060
        return Peer("UDP", (host.strip("[]"), port))

    def _send_response(self, response: SipResponse, request: SipRequest, peer: Peer) -> None:
        self._transport.send(response.to_bytes(), self._response_peer(request, peer))

    def _on_response(self, response: SipResponse) -> None:
        key = (response.top_via.branch or "", response.cseq[1])
        tx = self._client_txs.get(key)
        if tx is None:
            log.debug("[%s] stray response %s", response.call_id, response)
            return
        tx.on_response(response)

    def _new_server_tx(self, request: SipRequest, peer: Peer) -> ServerTransaction:
        target = self._response_peer(request, peer)

        def send(data: bytes) -> None:
            self._transport.send(data, target)

        def forget(tx: ServerTransaction) -> None:
            self._tx_quota.release(peer.addr[0])
            if self._server_txs.get(tx.key) is tx:
                del self._server_txs[tx.key]

        tx: ServerTransaction
        if request.method == "INVITE":
            tx = InviteServerTransaction(request, send, peer.reliable, self.timers, forget)
        else:
            tx = NonInviteServerTransaction(request, send, peer.reliable, self.timers, forget)
        self._tx_quota.acquire(peer.addr[0])
        self._server_txs[tx.key] = tx
        return tx

    def _on_request(self, request: SipRequest, peer: Peer) -> None:
        if request.method == "ACK":
            self._on_ack(request)
            return
        key = server_key(request)
        existing = self._server_txs.get(key)
        if existing is not None:
            existing.on_retransmission()
            return
        to_tag = request.to_addr.tag
        if self._refuse_unauthorised(request, peer, to_tag):
            return
        if self._answer_statelessly(request, peer, to_tag):
            return
        refusal = self._tx_quota.refusal(peer.addr[0])
        if refusal is not None:  # a few sources cannot fill the table: the others can still call
            self.refusals.note(f"transaction {refusal} (503)", peer.addr[0])
            self._send_response(make_response(request, 503, extra=[("Retry-After", "5")]), request, peer)
            return
        if to_tag is None and request.method == "INVITE":
            merged_key = (request.call_id, request.from_addr.tag or "", request.cseq[0])
            if merged_key in self._invites:  # RFC 3261 §8.2.2.2: same request by another path
                self._send_response(make_response(request, 482), request, peer)
                return
        tx = self._new_server_tx(request, peer)
        unsupported = [opt for opt in request.headers.get_all("Require") if opt]
        if unsupported and request.method != "CANCEL":
            tx.respond(420, extra=[("Unsupported", ", ".join(unsupported))])
            return
        if request.method == "CANCEL":
            self._on_cancel(request, tx)
        elif to_tag is not None:
            self._on_in_dialog(request, tx, to_tag)
        elif request.method == "INVITE":
            assert isinstance(tx, InviteServerTransaction)
            self._on_invite(request, tx, peer)
        elif request.method == "OPTIONS":
            status, extra = self._options_answer()
            tx.respond(status, to_tag=secrets.token_hex(6), extra=extra)
        elif request.method in IN_DIALOG_ONLY:
            tx.respond(481)
        elif request.method in KNOWN_METHODS:
            tx.respond(405, extra=self.allow_headers())
        else:
            tx.respond(501, extra=self.allow_headers())

    def _options_answer(self) -> tuple[int, list[tuple[str, str]]]:
        """A dispatcher's probe (Kamailio ds_ping): 200 while calls are taken, 503 once draining, so that it
        stops sending new calls here while the calls up finish."""
        if self.draining or self._stopping:
            return 503, [("Retry-After", str(self.busy_retry_after_s))]
        return 200, [*self.allow_headers(), ("Accept", "application/sdp")]

    def drain(self) -> None:
        """Take no new call (503 + Retry-After, OPTIONS too); the calls up go on until they end."""
        if not self.draining:
            log.info("draining: no new calls; %d up", self.active_calls)
        self.draining = True

    def _refuse_unauthorised(self, request: SipRequest, peer: Peer, to_tag: str | None) -> bool:
        """sip.trunks: a new INVITE from outside every allow list gets 403, without credentials 401, with wrong
        ones 403; other out-of-dialog requests from outside get 403 (OPTIONS too unless sip.options_open).
        Answered statelessly, before any transaction, RTP port or model; counted in the refusal log.
        ACK, CANCEL and requests in a dialog are not checked: the dialog's INVITE was."""
        if self.auth is None or to_tag is not None or request.method in ("ACK", "CANCEL"):
            return False
        source = peer.addr[0]
        if request.method == "INVITE":
            verdict = self.auth.check_invite(request, source)
        else:
            verdict = self.auth.check_source(request, source)
        if verdict.accepted:
            if request.method == "INVITE":
                how = f"digest {verdict.algorithm}" if verdict.algorithm else "by address"
                log.info("[%s] INVITE from trunk %s (%s)", request.call_id, verdict.trunk, how)
            return False
        if verdict.status == 401:  # a challenge is the handshake of every call of a digest trunk, not a refusal
            log.debug("[%s] %s %s to %s", request.call_id, request.method, verdict.reason, source)
        else:
            self.refusals.note(f"{request.method} {verdict.reason}", source)
        reason = "Unauthorized" if verdict.status == 401 else None
        # §8.2.7: the same request always gets the same To tag
        tag = hashlib.blake2s(repr(server_key(request)).encode(), digest_size=6).hexdigest()
        response = make_response(request, verdict.status, reason, to_tag=tag, extra=list(verdict.headers))
        self._send_response(response, request, peer)
        return True

    def _answer_statelessly(self, request: SipRequest, peer: Peer, to_tag: str | None) -> bool:
        """Answer at once, keeping no transaction, what needs no state (RFC 3261 §8.2.7): junk and probes
        must not hold transaction slots for 64·T1. A retransmission gets the same answer again."""
        if request.method == "INVITE":
            return False
        extra: list[tuple[str, str]] = []
        unsupported = [opt for opt in request.headers.get_all("Require") if opt]
        if unsupported and request.method != "CANCEL":
            status, extra = 420, [("Unsupported", ", ".join(unsupported))]
        elif request.method == "CANCEL":
            if self._invite_tx_for(request) is not None:
                return False
            status = 481
        elif to_tag is not None:
            call = self._calls.get((request.call_id, to_tag))
            if call is not None and call.state is not CallState.ENDED:
                return False
            status = 481
        elif request.method == "OPTIONS":
            status, extra = self._options_answer()
        elif request.method in IN_DIALOG_ONLY:
            status = 481
        elif request.method in KNOWN_METHODS:
            status, extra = 405, self.allow_headers()
        else:
            status, extra = 501, self.allow_headers()
        # §8.2.7: the same request always gets the same To tag
        tag = to_tag or hashlib.blake2s(repr(server_key(request)).encode(), digest_size=6).hexdigest()
        self._send_response(make_response(request, status, to_tag=tag, extra=extra), request, peer)
        return True

    def _invite_tx_for(self, cancel: SipRequest) -> InviteServerTransaction | None:
        """The INVITE transaction a CANCEL targets: same branch (RFC 3261 §9.2); legacy keys differ by method."""
        key = server_key(cancel)
        invite_tx = self._server_txs.get((*key[:-1], "INVITE"))
        if invite_tx is None and key[0] == "legacy":
            invite_tx = self._server_txs.get((*key[:-2], "INVITE", key[-1]))
        return invite_tx if isinstance(invite_tx, InviteServerTransaction) else None

    def _on_ack(self, ack: SipRequest) -> None:
        tx = self._server_txs.get(server_key(ack))
        if (
            isinstance(tx, InviteServerTransaction)
            and tx.final_sent
            and tx.last_response is not None
            and tx.last_response.status >= 300
        ):
            tx.on_ack()
            return
        call = self._calls.get((ack.call_id, ack.to_addr.tag or ""))
        if call is not None and call.on_ack(ack) and isinstance(call, SipCall):
            call.log.info("[%s] confirmed by ACK", call.call_id)
            call.spawn(self._run_handler(call), "call-handler")
            call.spawn(call.watch_media(), "media-watch")

    async def _run_handler(self, call: SipCall) -> None:
        try:
            await self.call_handler(call)
        except asyncio.CancelledError:
            raise
        except Exception:
            call.log.exception("[%s] call handler failed", call.call_id)
        finally:
            if call.state is not CallState.ENDED:
                await asyncio.shield(call.hangup())

    def _on_cancel(self, cancel: SipRequest, tx: ServerTransaction) -> None:
        invite_tx = self._invite_tx_for(cancel)
        if invite_tx is None:
            tx.respond(481)
            return
        tx.respond(200)
        call = next((c for c in self._calls.values() if isinstance(c, SipCall) and c.invite_tx is invite_tx), None)
        if call is not None:
            call.cancel()
        elif not invite_tx.final_sent:
            invite_tx.respond(487, to_tag=secrets.token_hex(6))

    def _on_in_dialog(self, request: SipRequest, tx: ServerTransaction, to_tag: str) -> None:
        call = self._calls.get((request.call_id, to_tag))
        if call is None or call.state is CallState.ENDED:
            tx.respond(481)
            return
        cseq = request.cseq[0]
        if cseq <= call.dialog.remote_cseq:
            tx.respond(500, "Out Of Order CSeq")  # RFC 3261 §12.2.2
            return
        call.dialog.remote_cseq = cseq
        if request.method == "BYE":
            tx.respond(200)
            call.on_bye()
        elif request.method == "INVITE":
            assert isinstance(tx, InviteServerTransaction)
            if call.state is not CallState.CONFIRMED:
                tx.respond(491)
            else:
                call.on_reinvite(tx)
        elif request.method == "NOTIFY":
            tx.respond(call.on_notify(request))
        elif request.method == "UPDATE":
            call.on_update(tx)
        elif request.method == "OPTIONS":
            tx.respond(200, extra=[*self.allow_headers(), ("Accept", "application/sdp")])
        elif request.method in KNOWN_METHODS:
            tx.respond(405, extra=self.allow_headers())
        else:
            tx.respond(501, extra=self.allow_headers())

    # --- new calls -------------------------------------------------------------------------------
    def _on_invite(self, invite: SipRequest, tx: InviteServerTransaction, peer: Peer) -> None:
        merged_key = (invite.call_id, invite.from_addr.tag or "", invite.cseq[0])
        call_log = logging.LoggerAdapter(log, {"call_id": invite.call_id})
        if self._stopping or self.draining:
            self.refusals.note("draining (503)", peer.addr[0])
            tx.respond(503, to_tag=secrets.token_hex(6), extra=[("Retry-After", str(self.busy_retry_after_s))])
            return
        if self.active_calls >= self.max_calls:
            self.refusals.note(f"busy ({self.busy_status})", peer.addr[0])
            retry = [("Retry-After", str(self.busy_retry_after_s))] if self.busy_status == 503 else []
            tx.respond(self.busy_status, to_tag=secrets.token_hex(6), extra=retry)
            return
        has_offer = bool(invite.body.strip())  # none: delayed offer, ours goes in the 200 (RFC 3261 §13.2.1)
        try:
            if has_offer:
                if invite.content_type != "application/sdp":
                    raise SdpError("the offer must be application/sdp", 399)
                negotiate(parse_sdp(invite.body), self.srtp)  # refused here, before an RTP port is bound for it
        except SdpError as exc:
            call_log.warning("[%s] 488: %s", invite.call_id, exc)
            reason = str(exc).replace('"', "'")
            warning = f'{exc.warning} {self.public_host} "{reason}"'
            tx.respond(488, to_tag=secrets.token_hex(6), extra=[("Warning", warning)])
            return
        try:
            dialog = Dialog.from_invite(invite, secrets.token_hex(6), peer)
        except SipParseError as exc:
            tx.respond(400, f"Bad Request ({exc.reason})"[:60], to_tag=secrets.token_hex(6))
            return
        self._invites[merged_key] = None
        self._binding += 1  # counted now: a burst of INVITEs must not all pass the max_calls check
        self._spawn(self._answer(invite, tx, dialog, has_offer), f"answer:{invite.call_id}")

    async def _answer(
        self,
        invite: SipRequest,
        tx: InviteServerTransaction,
        dialog: Dialog,
        has_offer: bool,
    ) -> None:
        merged_key = (invite.call_id, invite.from_addr.tag or "", invite.cseq[0])
        try:
            try:
                media = await self._bind_media(self.rtp_host, self.rtp_port_min, self.rtp_port_max)
            except OSError as exc:
                log.error("[%s] no RTP port: %s", invite.call_id, exc)
                tx.respond(503, to_tag=dialog.local_tag, extra=[("Retry-After", "5")])
                return
            finally:
                self._binding -= 1  # from here the call is in _calls (no await until it is added)
            media_host = self.public_host if media.local_host in ("0.0.0.0", "::") else media.local_host
            self._session_id += 1
            local_sdp = LocalSdp(media_host, media.local_port, self._session_id, self.user_agent)
            negotiation = MediaNegotiation(media, self._make_codec, local_sdp, self.srtp)
            initial_answer = negotiation.prepare_answer(invite.body) if has_offer else None
            call = SipCall(self, tx, dialog, media, negotiation, initial_answer)
            self._calls[(call.call_id, dialog.local_tag)] = call
            # Never the number itself: logs are kept and read far more widely than the pseudonymised store.
            call.log.info(
                "[%s] incoming call (%s), codec %s%s",
                call.call_id,
                "number given" if call.caller_number else "anonymous",
                initial_answer.negotiated.codec_name if initial_answer else "offered in the 200",
                " over SRTP" if initial_answer and initial_answer.negotiated.srtp else "",
            )
            if self.ringing:
                call.ring()
            if self.answer_delay > 0:
                await asyncio.sleep(self.answer_delay)
            if call.state is not CallState.EARLY:  # cancelled while ringing
                return
            try:
                call.answer()
            except Exception:
                call.log.exception("[%s] could not start media", call.call_id)
                call.reject(500)
        finally:
            asyncio.get_running_loop().call_later(self.timers.b, self._invites.pop, merged_key, None)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"
