"""RFC 3261 transaction state machines with shortened timers (T1 = 50 ms)."""

from __future__ import annotations

import asyncio
import itertools

from callbot.sip.message import SipRequest, SipResponse, make_response, parse_message
from callbot.sip.transaction import (
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    ServerTransaction,
    SipTimers,
    State,
    server_key,
)

TIMERS = SipTimers(t1=0.05, t2=0.2, t4=0.1)


def request(method: str, branch: str = "z9hG4bKabc") -> SipRequest:
    text = (
        f"{method} sip:bot@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch={branch}\r\n"
        "From: <sip:a@127.0.0.1>;tag=f\r\nTo: <sip:bot@127.0.0.1>\r\nCall-ID: tx-1\r\n"
        f"CSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    )
    message = parse_message(text.encode())
    assert isinstance(message, SipRequest)
    return message


class Wire:
    """Records what a transaction sends, with the loop time of each send."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, bytes]] = []
        self.terminated = asyncio.Event()

    def send(self, data: bytes) -> None:
        self.sent.append((asyncio.get_running_loop().time(), data))

    def statuses(self) -> list[int]:
        out = []
        for _, data in self.sent:
            message = parse_message(data)
            out.append(message.status if isinstance(message, SipResponse) else 0)
        return out

    def on_terminated(self, _tx: object) -> None:
        self.terminated.set()


def test_keys_match_ack_and_retransmissions_to_their_invite() -> None:
    assert server_key(request("INVITE")) == server_key(request("ACK"))
    assert server_key(request("INVITE")) != server_key(request("CANCEL"))
    assert server_key(request("INVITE", "old-style-1")) != server_key(request("INVITE", "old-style-2"))


async def test_invite_server_sends_100_at_once_and_retransmits_errors_until_ack() -> None:
    wire = Wire()
    tx = InviteServerTransaction(request("INVITE"), wire.send, False, TIMERS, wire.on_terminated)
    assert wire.statuses() == [100]
    tx.on_retransmission()
    assert wire.statuses() == [100, 100]
    tx.respond(486, to_tag="t")
    await asyncio.sleep(TIMERS.t1 * 8)  # G fires at 1, 2, 4 (capped at T2) x T1
    statuses = wire.statuses()
    assert statuses[:3] == [100, 100, 486] and statuses.count(486) >= 3
    times = [t for (t, data), s in zip(wire.sent, statuses, strict=True) if s == 486]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.99 * TIMERS.t1 and gaps[1] >= 1.99 * TIMERS.t1  # Timer G doubles
    tx.on_ack()
    assert tx.state is State.CONFIRMED
    count = len(wire.sent)
    tx.on_retransmission()  # absorbed in Confirmed
    await asyncio.wait_for(wire.terminated.wait(), 2)  # Timer I
    assert len(wire.sent) == count


async def test_invite_server_gives_up_after_timer_h() -> None:
    wire = Wire()
    no_ack: list[ServerTransaction] = []
    tx = InviteServerTransaction(request("INVITE"), wire.send, False, TIMERS, wire.on_terminated, no_ack.append)
    tx.respond(603)
    await asyncio.wait_for(wire.terminated.wait(), 64 * TIMERS.t1 + 2)
    assert no_ack == [tx] and tx.state is State.TERMINATED
    assert wire.statuses().count(603) > 3


async def test_invite_server_2xx_leaves_retransmission_to_the_dialog() -> None:
    wire = Wire()
    tx = InviteServerTransaction(request("INVITE"), wire.send, False, TIMERS, wire.on_terminated)
    tx.respond(200, to_tag="t")
    await asyncio.sleep(TIMERS.t1 * 4)
    assert wire.statuses() == [100, 200]
    assert tx.state is State.ACCEPTED
    tx.on_retransmission()  # RFC 6026: absorbed
    assert wire.statuses() == [100, 200]


async def test_reliable_transport_never_retransmits() -> None:
    wire = Wire()
    tx = InviteServerTransaction(request("INVITE"), wire.send, True, TIMERS, wire.on_terminated)
    tx.respond(486)
    await asyncio.sleep(TIMERS.t1 * 6)
    assert wire.statuses() == [100, 486]


async def test_non_invite_server_replays_final_response_until_timer_j() -> None:
    wire = Wire()
    tx = NonInviteServerTransaction(request("BYE"), wire.send, False, TIMERS, wire.on_terminated)
    assert wire.sent == []
    tx.on_retransmission()  # nothing to replay yet
    tx.respond(200)
    tx.on_retransmission()
    tx.respond(500)  # a second final response is ignored
    assert wire.statuses() == [200, 200]
    await asyncio.wait_for(wire.terminated.wait(), 64 * TIMERS.t1 + 2)


async def test_non_invite_client_retransmits_then_times_out_with_408() -> None:
    wire = Wire()
    tx = NonInviteClientTransaction(request("BYE"), wire.send, False, TIMERS, wire.on_terminated)
    tx.start()
    final = await asyncio.wait_for(tx.final, 64 * TIMERS.t1 + 2)
    assert final.status == 408
    assert len(wire.sent) >= 6  # Timer E: T1, 2T1, 4T1, then every T2
    gaps = [b[0] - a[0] for a, b in zip(wire.sent, wire.sent[1:], strict=False)]
    assert gaps[0] >= 0.99 * TIMERS.t1 and gaps[1] >= 1.99 * TIMERS.t1 and min(gaps[3:]) >= 0.99 * TIMERS.t2


async def test_non_invite_client_resolves_on_final_response() -> None:
    wire = Wire()
    bye = request("BYE")
    tx = NonInviteClientTransaction(bye, wire.send, False, TIMERS, wire.on_terminated)
    tx.start()
    tx.on_response(make_response(bye, 100))
    assert not tx.final.done()
    tx.on_response(make_response(bye, 200, to_tag="x"))
    assert (await tx.final).status == 200
    sent = len(wire.sent)
    await asyncio.wait_for(wire.terminated.wait(), 2)  # Timer K
    assert len(wire.sent) == sent
