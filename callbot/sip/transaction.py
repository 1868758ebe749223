"""RFC 3261 §17 transactions: INVITE and non-INVITE server, INVITE and non-INVITE client (with RFC 6026 fixes)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from callbot.sip.headers import Headers
from callbot.sip.message import SipRequest, SipResponse, make_response
from callbot.sip.uri import BRANCH_COOKIE

log = logging.getLogger(__name__)

ServerKey = tuple[str, ...]


@dataclass(frozen=True)
class SipTimers:
    """RFC 3261 timer bases; tests shorten them."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    ack_timeout: float | None = None  # how long a 2xx waits for its ACK before the call is given up; None: 64·T1

    @property
    def b(self) -> float:  # also F, H, J, L
        return 64 * self.t1

    @property
    def ack_wait(self) -> float:
        """RFC 3261 §13.3.1.4 retransmits a 2xx for 64·T1 at most (Timer L, RFC 6026); a shorter wait frees the
        call slot sooner from callers that never ACK."""
        return self.b if self.ack_timeout is None else min(self.ack_timeout, self.b)


def new_branch() -> str:
    return BRANCH_COOKIE + secrets.token_hex(8)


def server_key(request: SipRequest) -> ServerKey:
    """Transaction key (RFC 3261 §17.2.3); ACK to a non-2xx matches its INVITE."""
    via = request.top_via
    method = "INVITE" if request.method == "ACK" else request.method
    if via.rfc3261_branch and via.branch:
        return (via.branch, via.host.lower(), str(via.port or ""), method)
    # RFC 2543 peers: fall back on the dialog identifiers and the CSeq number
    return (
        "legacy",
        request.call_id,
        str(request.cseq[0]),
        request.from_addr.tag or "",
        str(via),
        method,
        request.uri if request.method != "ACK" else "",
    )


class State(Enum):
    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    ACCEPTED = "accepted"
    TERMINATED = "terminated"


Sender = Callable[[bytes], None]


class _Timers:
    def __init__(self) -> None:
        self._handles: dict[str, asyncio.TimerHandle] = {}

    def start(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        self.cancel(name)
        self._handles[name] = asyncio.get_running_loop().call_later(delay, callback)

    def cancel(self, name: str) -> None:
        handle = self._handles.pop(name, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()


class ServerTransaction:
    def __init__(
        self,
        request: SipRequest,
        send: Sender,
        reliable: bool,
        timers: SipTimers,
        on_terminated: Callable[[ServerTransaction], None],
    ) -> None:
        self.request = request
        self.key = server_key(request)
        self._send = send
        self.reliable = reliable
        self.timers = timers
        self._on_terminated = on_terminated
        self._timers = _Timers()
        self.state = State.TRYING
        self.last_response: SipResponse | None = None
        self._last_bytes = b""

    @property
    def final_sent(self) -> bool:
        return self.last_response is not None and self.last_response.status >= 200

    def _transmit(self, response: SipResponse) -> None:
        self.last_response = response
        self._last_bytes = response.to_bytes()
        self._send(self._last_bytes)

    def _terminate(self) -> None:
        if self.state is not State.TERMINATED:
            self.state = State.TERMINATED
            self._timers.cancel_all()
            self._on_terminated(self)

    def on_retransmission(self) -> None:
        """The same request again: replay the last response, if any (absorbs duplicates)."""
        if self._last_bytes and self.state is not State.CONFIRMED:
            self._send(self._last_bytes)

    def respond(
        self,
        status: int,
        reason: str | None = None,
        *,
        to_tag: str | None = None,
        extra: list[tuple[str, str]] | None = None,
    ) -> SipResponse:
        response = make_response(self.request, status, reason, to_tag=to_tag, extra=extra)
        self.send_response(response)
        return response

    def send_response(self, response: SipResponse) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._terminate()


class InviteServerTransaction(ServerTransaction):
    """Proceeding → (2xx) Accepted [Timer L] | (3xx-6xx) Completed [G, H] → Confirmed [I]."""

    def __init__(
        self,
        request: SipRequest,
        send: Sender,
        reliable: bool,
        timers: SipTimers,
        on_terminated: Callable[[ServerTransaction], None],
        on_no_ack: Callable[[InviteServerTransaction], None] | None = None,
    ) -> None:
        super().__init__(request, send, reliable, timers, on_terminated)
        self.state = State.PROCEEDING
        self._on_no_ack = on_no_ack
        self._g_interval = timers.t1
        self._transmit(make_response(request, 100))  # at once: stops the caller's INVITE retransmissions

    def send_response(self, response: SipResponse) -> None:
        if self.state is not State.PROCEEDING:
            log.debug("response %s dropped: INVITE transaction is %s", response, self.state.value)
            return
        self._transmit(response)
        if response.status < 200:
            return
        if response.status < 300:
            # RFC 6026: stay to absorb INVITE retransmissions; the dialog retransmits the 2xx
            self.state = State.ACCEPTED
            self._timers.start("L", self.timers.b, self._terminate)
            return
        self.state = State.COMPLETED
        if not self.reliable:
            self._timers.start("G", self._g_interval, self._timer_g)
        self._timers.start("H", self.timers.b, self._timer_h)

    def on_retransmission(self) -> None:
        if self.state in (State.PROCEEDING, State.COMPLETED):
            super().on_retransmission()

    def _timer_g(self) -> None:
        if self.state is not State.COMPLETED:
            return
        self._send(self._last_bytes)
        self._g_interval = min(2 * self._g_interval, self.timers.t2)
        self._timers.start("G", self._g_interval, self._timer_g)

    def _timer_h(self) -> None:
        log.info("no ACK for %s to %s", self.last_response, self.request.call_id)
        if self._on_no_ack is not None:
            self._on_no_ack(self)
        self._terminate()

    def on_ack(self) -> None:
        if self.state is State.COMPLETED:
            self.state = State.CONFIRMED
            self._timers.cancel("G")
            self._timers.cancel("H")
            self._timers.start("I", 0 if self.reliable else self.timers.t4, self._terminate)


class NonInviteServerTransaction(ServerTransaction):
    """Trying → Proceeding → Completed [Timer J] → Terminated."""

    def send_response(self, response: SipResponse) -> None:
        if self.state in (State.COMPLETED, State.TERMINATED):
            return
        self._transmit(response)
        if response.status < 200:
            self.state = State.PROCEEDING
            return
        self.state = State.COMPLETED
        self._timers.start("J", 0 if self.reliable else self.timers.b, self._terminate)


def timeout_response(request: SipRequest, status: int = 408) -> SipResponse:
    """What a client transaction reports when the peer never answered (or could not be reached)."""
    return make_response(request, status, "Request Timeout" if status == 408 else "Service Unavailable")


class NonInviteClientTransaction:
    """Trying/Proceeding [E, F] → Completed [K] → Terminated. `final` resolves with the final response."""

    def __init__(
        self,
        request: SipRequest,
        send: Sender,
        reliable: bool,
        timers: SipTimers,
        on_terminated: Callable[[NonInviteClientTransaction], None],
    ) -> None:
        self.request = request
        self.branch = request.top_via.branch or ""
        self.key = (self.branch, request.method)
        self._send = send
        self.reliable = reliable
        self.timers = timers
        self._on_terminated = on_terminated
        self._timers = _Timers()
        self.state = State.TRYING
        self._bytes = request.to_bytes()
        self._e_interval = timers.t1
        self.final: asyncio.Future[SipResponse] = asyncio.get_running_loop().create_future()

    def start(self) -> None:
        self._send(self._bytes)
        if not self.reliable:
            self._timers.start("E", self._e_interval, self._timer_e)
        self._timers.start("F", self.timers.b, self._timer_f)

    def _timer_e(self) -> None:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return
        self._send(self._bytes)
        self._e_interval = (
            self.timers.t2 if self.state is State.PROCEEDING else min(2 * self._e_interval, self.timers.t2)
        )
        self._timers.start("E", self._e_interval, self._timer_e)

    def _timer_f(self) -> None:
        self._resolve(timeout_response(self.request))
        self._terminate()

    def on_response(self, response: SipResponse) -> None:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return  # retransmitted final response: absorbed in Completed
        if response.status < 200:
            self.state = State.PROCEEDING
            return
        self.state = State.COMPLETED
        self._timers.cancel("E")
        self._timers.cancel("F")
        self._resolve(response)
        self._timers.start("K", 0 if self.reliable else self.timers.t4, self._terminate)

    def _resolve(self, response: SipResponse) -> None:
        if not self.final.done():
            self.final.set_result(response)

    def _terminate(self) -> None:
        if self.state is not State.TERMINATED:
            self.state = State.TERMINATED
            self._timers.cancel_all()
            self._resolve(timeout_response(self.request, 408))
            self._on_terminated(self)

    def close(self) -> None:
        self._terminate()


def request_for_invite(invite: SipRequest, method: str, to: str) -> SipRequest:
    """The CANCEL of an INVITE (RFC 3261 §9.1), or the ACK of a non-2xx final answer to it (§17.1.1.3): the INVITE's
    Request-URI, top Via (same branch: same transaction), From, Call-ID, CSeq number and Route set; `to` as given."""
    headers = Headers()
    headers.add("Via", invite.headers.get_all("Via")[0])
    headers.add("Max-Forwards", "70")
    headers.add("From", invite.headers.get("From") or "")
    headers.add("To", to)
    headers.add("Call-ID", invite.call_id)
    headers.add("CSeq", f"{invite.cseq[0]} {method}")
    for route in invite.headers.get_all("Route"):
        headers.add("Route", route)
    return SipRequest(headers, b"", method=method, uri=invite.uri)


class InviteClientTransaction:
    """Calling [A, B] → Proceeding → (2xx) Accepted [M] | (3xx-6xx) Completed [D] → Terminated (RFC 3261 §17.1.1,
    RFC 6026).

    `final` resolves with the first final response (a 408 made here when Timer B fires, or when the transaction
    is closed before any). Every 2xx, the first and each retransmission, goes to `on_2xx`: its ACK is the dialog's
    (RFC 3261 §13.2.2.4), not the transaction's. A 3xx-6xx is acknowledged here, and again at each retransmission.
    Each 1xx before the final answer goes to `on_provisional`; `provisional` tells whether one came, for only then
    may the INVITE be cancelled (RFC 3261 §9.1).
    """

    def __init__(
        self,
        request: SipRequest,
        send: Sender,
        reliable: bool,
        timers: SipTimers,
        on_terminated: Callable[[InviteClientTransaction], None],
        on_2xx: Callable[[SipResponse], None],
        on_provisional: Callable[[SipResponse], None] | None = None,
    ) -> None:
        self.request = request
        self.branch = request.top_via.branch or ""
        self.key = (self.branch, "INVITE")
        self._send = send
        self.reliable = reliable
        self.timers = timers
        self._on_terminated = on_terminated
        self._on_2xx = on_2xx
        self._on_provisional = on_provisional
        self._timers = _Timers()
        self.state = State.CALLING
        self._bytes = request.to_bytes()
        self._ack = b""
        self._a_interval = timers.t1
        self.provisional = False
        self.final: asyncio.Future[SipResponse] = asyncio.get_running_loop().create_future()

    def start(self) -> None:
        self._send(self._bytes)
        if not self.reliable:
            self._timers.start("A", self._a_interval, self._timer_a)
        self._timers.start("B", self.timers.b, self._timer_b)

    def _timer_a(self) -> None:
        if self.state is not State.CALLING:
            return
        self._send(self._bytes)
        self._a_interval *= 2  # Timer A doubles without the T2 cap of non-INVITE requests
        self._timers.start("A", self._a_interval, self._timer_a)

    def _timer_b(self) -> None:
        if self.state is State.CALLING:
            self._terminate()  # resolves `final` with a 408

    def on_response(self, response: SipResponse) -> None:
        status = response.status
        early = self.state in (State.CALLING, State.PROCEEDING)
        if status < 200:
            if early:
                self.state = State.PROCEEDING
                self._timers.cancel("A")
                self._timers.cancel("B")
                self.provisional = True
                if self._on_provisional is not None:
                    self._on_provisional(response)
            return
        if status < 300:
            if early:
                self.state = State.ACCEPTED
                self._timers.cancel("A")
                self._timers.cancel("B")
                self._timers.start("M", self.timers.b, self._terminate)  # absorbs the 2xx of other forks too
                self._resolve(response)
            if self.state is State.ACCEPTED:
                self._on_2xx(response)
            return
        if early:
            self.state = State.COMPLETED
            self._timers.cancel("A")
            self._timers.cancel("B")
            self._ack = request_for_invite(self.request, "ACK", response.headers.get("To") or "").to_bytes()
            self._send(self._ack)
            self._resolve(response)
            # Timer D: at least 32 s over UDP (64·T1 with the default T1), to ACK retransmitted answers
            self._timers.start("D", 0 if self.reliable else self.timers.b, self._terminate)
        elif self.state is State.COMPLETED:
            self._send(self._ack)  # our ACK was lost: the answer came again

    def _resolve(self, response: SipResponse) -> None:
        if not self.final.done():
            self.final.set_result(response)

    def _terminate(self) -> None:
        if self.state is not State.TERMINATED:
            self.state = State.TERMINATED
            self._timers.cancel_all()
            self._resolve(timeout_response(self.request, 408))
            self._on_terminated(self)

    def close(self) -> None:
        self._terminate()
