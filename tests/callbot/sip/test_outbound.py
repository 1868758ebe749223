"""Calls the callbot places (callbot.sip.outbound): the INVITE client transaction on a fake wire, the placement
against a peer driven by hand, then against sipp as the agents (real RTP)."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import shutil
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from callbot.sip import CallFailed, SipCall, SipEndpoint, SipTimers
from callbot.sip.message import SipRequest, SipResponse, make_response, parse_message
from callbot.sip.transaction import InviteClientTransaction, State
from tests.callbot.sip.conftest import MediaRecorder, RawPeer
from tests.support.sip_peers import free_port, start_sipp_server

needs_sipp = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is not installed")

SCENARIOS = Path(__file__).parent / "scenarios"
TIMERS = SipTimers(t1=0.05, t2=0.1, t4=0.1)  # T2 below 4·T1: Timer A must not stop doubling at T2

ANSWER_SDP = (
    "v=0\r\no=agent 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
)


# --- the INVITE client transaction (RFC 3261 §17.1.1, RFC 6026) --------------------------------------------------


def invite_request(branch: str = "z9hG4bKout1") -> SipRequest:
    text = (
        f"INVITE sip:agents@127.0.0.1:5080 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={branch};rport\r\n"
        "From: <sip:callbot@127.0.0.1>;tag=ours\r\nTo: <sip:agents@127.0.0.1:5080>\r\nCall-ID: out-1\r\n"
        "CSeq: 1 INVITE\r\nRoute: <sip:proxy.example;lr>\r\nContact: <sip:callbot@127.0.0.1:5060>\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    message = parse_message(text.encode())
    assert isinstance(message, SipRequest)
    return message


class Wire:
    """What a transaction sends, with the loop time of each send."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, bytes]] = []
        self.terminated = asyncio.Event()
        self.answers: list[SipResponse] = []  # each 2xx handed to the dialog

    def send(self, data: bytes) -> None:
        self.sent.append((asyncio.get_running_loop().time(), data))

    def requests(self) -> list[SipRequest]:
        out = []
        for _, data in self.sent:
            message = parse_message(data)
            assert isinstance(message, SipRequest)
            out.append(message)
        return out

    def on_terminated(self, _tx: object) -> None:
        self.terminated.set()

    def transaction(self, invite: SipRequest, reliable: bool = False) -> InviteClientTransaction:
        return InviteClientTransaction(invite, self.send, reliable, TIMERS, self.on_terminated, self.answers.append)


async def test_timer_a_doubles_until_a_provisional_answer_then_nothing_is_resent() -> None:
    wire = Wire()
    tx = wire.transaction(invite_request())
    tx.start()
    await asyncio.sleep(TIMERS.t1 * 7.5)  # sent at 0, 1, 3 and 7 x T1
    times = [t for t, _ in wire.sent]
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.99 * TIMERS.t1 and gaps[1] >= 1.99 * TIMERS.t1 and gaps[2] >= 3.99 * TIMERS.t1  # past T2
    assert {r.top_via.branch for r in wire.requests()} == {"z9hG4bKout1"}
    tx.on_response(make_response(tx.request, 180, to_tag="agent"))
    assert tx.state is State.PROCEEDING and tx.provisional
    await asyncio.sleep(TIMERS.t1 * 70)  # past Timer B's 64·T1: in Proceeding the TU decides (CANCEL)
    assert len(wire.sent) == 4 and not tx.final.done()
    tx.close()
    assert (await tx.final).status == 408


async def test_timer_b_ends_a_call_nobody_answers_with_408() -> None:
    wire = Wire()
    tx = wire.transaction(invite_request())
    started = asyncio.get_running_loop().time()
    tx.start()
    final = await asyncio.wait_for(tx.final, 64 * TIMERS.t1 + 1)
    assert final.status == 408 and wire.terminated.is_set()
    assert asyncio.get_running_loop().time() - started >= 0.99 * 64 * TIMERS.t1
    assert len(wire.sent) == 7  # at 0, 1, 3, 7, 15, 31, 63 x T1


async def test_a_refusal_is_acked_by_the_transaction_and_again_when_it_comes_again() -> None:
    wire = Wire()
    invite = invite_request()
    tx = wire.transaction(invite, reliable=True)
    tx.start()
    busy = make_response(invite, 486, to_tag="agent")
    tx.on_response(busy)
    assert (await tx.final).status == 486
    ack = wire.requests()[-1]
    assert ack.method == "ACK" and ack.uri == invite.uri and ack.cseq == (1, "ACK")
    assert ack.top_via.branch == invite.top_via.branch  # the same transaction
    assert len(ack.headers.get_all("Via")) == 1 and ack.headers.get_all("Route") == ["<sip:proxy.example;lr>"]
    assert ack.to_addr.tag == "agent" and ack.from_addr.tag == "ours" and ack.body == b""
    await asyncio.wait_for(wire.terminated.wait(), 1)  # Timer D is 0 over a reliable transport
    assert wire.answers == []

    wire = Wire()
    tx = wire.transaction(invite)
    tx.start()
    tx.on_response(busy)
    tx.on_response(busy)  # our ACK was lost: the same ACK again
    assert [r.method for r in wire.requests()] == ["INVITE", "ACK", "ACK"]
    assert wire.sent[1][1] == wire.sent[2][1] and tx.state is State.COMPLETED
    tx.close()


async def test_every_2xx_goes_to_the_dialog_and_none_is_acked_by_the_transaction() -> None:
    wire = Wire()
    invite = invite_request()
    tx = wire.transaction(invite, reliable=True)
    tx.start()
    ok = make_response(invite, 200, to_tag="agent")
    tx.on_response(ok)
    tx.on_response(ok)  # retransmitted
    tx.on_response(make_response(invite, 200, to_tag="fork"))  # another fork
    tx.on_response(make_response(invite, 486, to_tag="late"))  # after a 2xx: nothing
    assert (await tx.final).status == 200 and tx.state is State.ACCEPTED
    assert [answer.to_addr.tag for answer in wire.answers] == ["agent", "agent", "fork"]
    assert [r.method for r in wire.requests()] == ["INVITE"]
    tx.close()


# --- placing calls: a peer driven by hand as the agents (FakeMedia) ----------------------------------------------


async def no_handler(call: SipCall) -> None:
    raise AssertionError("no call should come in")


MakeEndpoint = Callable[..., Awaitable[SipEndpoint]]
MakePeer = Callable[[SipEndpoint], Awaitable[RawPeer]]


def answer(request: SipRequest, status: int, tag: str, agent: RawPeer, sdp: str = "") -> str:
    """The agents' response to our INVITE (or CANCEL), with their Contact and an SDP answer when given."""
    lines = [f"SIP/2.0 {status} {'OK' if status == 200 else 'Whatever'}"]
    lines += [f"Via: {via}" for via in request.headers.get_all("Via")]
    lines += [
        f"From: {request.headers.get('From')}",
        f"To: {request.headers.get('To')};tag={tag}",
        f"Call-ID: {request.call_id}",
        f"CSeq: {request.headers.get('CSeq')}",
        f"Contact: <sip:agent@127.0.0.1:{agent.port}>",
    ]
    if sdp:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(sdp.encode())}")
    return "\r\n".join(lines) + "\r\n\r\n" + sdp


def agent_bye(invite: SipRequest, tag: str, agent: RawPeer, endpoint: SipEndpoint) -> str:
    return (
        f"BYE sip:callbot@127.0.0.1:{endpoint.port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{agent.port};branch=z9hG4bK{secrets.token_hex(6)}\r\n"
        f"From: {invite.headers.get('To')};tag={tag}\r\nTo: {invite.headers.get('From')}\r\n"
        f"Call-ID: {invite.call_id}\r\nCSeq: 5 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )


async def test_placed_call_offers_g711_acks_each_2xx_ends_forks_and_hears_the_agents_bye(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    endpoint = await make_endpoint(no_handler)
    agent = await make_peer(endpoint)
    placing = asyncio.create_task(
        endpoint.place_call(f"sip:agents@127.0.0.1:{agent.port}", {"X-Callbot-Call-Id": "call-1"}, 5)
    )
    invite = await agent.expect_request("INVITE")
    assert endpoint.active_calls == 1  # counted from the INVITE on, like an inbound call
    assert invite.uri == f"sip:agents@127.0.0.1:{agent.port}"
    assert invite.headers.get("X-Callbot-Call-Id") == "call-1" and invite.content_type == "application/sdp"
    assert invite.from_addr.tag and invite.to_addr.tag is None and invite.cseq == (1, "INVITE")
    assert invite.headers.get("Contact") == f"<sip:callbot@127.0.0.1:{endpoint.port}>"
    offer = invite.body.decode()
    assert f"m=audio {media.sessions[0].local_port} RTP/AVP 0 8 101" in offer
    assert "a=rtpmap:101 telephone-event/8000" in offer and "c=IN IP4 127.0.0.1" in offer

    agent.send(answer(invite, 180, "agent1", agent))
    agent.send(answer(invite, 200, "agent1", agent, ANSWER_SDP))
    call = await asyncio.wait_for(placing, 3)
    ack = await agent.expect_request("ACK")
    assert ack.uri == f"sip:agent@127.0.0.1:{agent.port}"  # the 2xx's Contact
    assert ack.cseq == (1, "ACK") and ack.top_via.branch != invite.top_via.branch  # a transaction of its own
    assert ack.to_addr.tag == "agent1" and ack.body == b""
    assert media.sessions[0].started == (("127.0.0.1", 40000), ("PCMU", 0, 8000), 101)
    assert endpoint.active_calls == 1 and not call.ended.is_set()

    agent.send(answer(invite, 200, "agent1", agent, ANSWER_SDP))  # retransmitted: our ACK was lost
    again = await agent.expect_request("ACK")
    assert again.to_bytes() == ack.to_bytes()

    agent.send(answer(invite, 200, "fork2", agent, ANSWER_SDP))  # a second phone answered too
    fork_ack = await agent.expect_request("ACK")
    fork_bye = await agent.expect_request("BYE")
    assert fork_ack.to_addr.tag == "fork2" and fork_bye.to_addr.tag == "fork2" and fork_bye.cseq[1] == "BYE"
    agent.respond(fork_bye, 200)
    assert not call.ended.is_set() and endpoint.active_calls == 1

    agent.send(agent_bye(invite, "agent1", agent, endpoint))
    ok = await agent.expect_response(200)
    assert ok.cseq == (5, "BYE")
    await asyncio.wait_for(call.ended.wait(), 1)
    assert call.ended_by == "agent" and endpoint.active_calls == 0
    await asyncio.wait_for(media.sessions[0].closed.wait(), 1)


async def test_our_hangup_sends_bye_in_the_dialog(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    endpoint = await make_endpoint(no_handler)
    agent = await make_peer(endpoint)
    placing = asyncio.create_task(endpoint.place_call(f"sip:agents@127.0.0.1:{agent.port}", {}, 5))
    invite = await agent.expect_request("INVITE")
    agent.send(answer(invite, 200, "agent1", agent, ANSWER_SDP))
    call = await asyncio.wait_for(placing, 3)
    hanging_up = asyncio.create_task(call.hangup())
    bye = await agent.expect_request("BYE")
    assert bye.cseq == (2, "BYE") and bye.to_addr.tag == "agent1" and bye.from_addr.tag == invite.from_addr.tag
    assert call.ended.is_set() and endpoint.active_calls == 0  # the slot is free at once
    agent.respond(bye, 200)
    await asyncio.wait_for(hanging_up, 2)
    assert call.ended_by == "bot"
    await asyncio.wait_for(media.sessions[0].closed.wait(), 1)


async def test_refusals_and_bad_answers_raise_call_failed(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    endpoint = await make_endpoint(no_handler)
    agent = await make_peer(endpoint)
    target = f"sip:agents@127.0.0.1:{agent.port}"

    placing = asyncio.create_task(endpoint.place_call(target, {}, 5))
    invite = await agent.expect_request("INVITE")
    agent.send(answer(invite, 603, "agent1", agent))
    with pytest.raises(CallFailed) as refused:
        await asyncio.wait_for(placing, 2)
    assert refused.value.status == 603
    ack = await agent.expect_request("ACK")
    assert ack.top_via.branch == invite.top_via.branch
    assert media.sessions[0].closed.is_set() and endpoint.active_calls == 0

    placing = asyncio.create_task(endpoint.place_call(target, {}, 5))
    invite = await agent.expect_request("INVITE")
    agent.send(answer(invite, 200, "agent1", agent))  # a 2xx without the SDP answer: no media, so no call
    ack = await agent.expect_request("ACK")
    bye = await agent.expect_request("BYE")
    agent.respond(bye, 200)
    with pytest.raises(CallFailed) as unusable:
        await asyncio.wait_for(placing, 2)
    assert unusable.value.status == 488 and ack.cseq == (1, "ACK") and endpoint.active_calls == 0

    with pytest.raises(CallFailed):
        await endpoint.place_call("sips:agents@127.0.0.1", {}, 1)  # no TLS
    with pytest.raises(ValueError):
        await endpoint.place_call(target, {"X-Evil": "a\r\nVia: x"}, 1)


async def test_no_answer_in_time_cancels_at_the_first_provisional_answer(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    endpoint = await make_endpoint(no_handler)
    agent = await make_peer(endpoint)
    started = time.monotonic()
    placing = asyncio.create_task(endpoint.place_call(f"sip:agents@127.0.0.1:{agent.port}", {}, 0.4))
    invite = await agent.expect_request("INVITE")
    resent = await agent.expect_request("INVITE")  # Timer A: nothing answered yet
    assert resent.top_via.branch == invite.top_via.branch
    with pytest.raises(CallFailed) as failure:
        await asyncio.wait_for(placing, 2)
    assert failure.value.status == 408 and time.monotonic() - started < 0.4 + 0.3  # no CANCEL to wait for
    assert endpoint.active_calls == 0 and media.sessions[0].closed.is_set()
    got = [parse_message(data) for data in await agent.silent(0.1)]
    assert all(isinstance(m, SipRequest) and m.method == "INVITE" for m in got)  # no CANCEL before a 1xx (§9.1)

    agent.send(answer(invite, 180, "agent1", agent))  # a late ring: now the INVITE can be cancelled
    cancel = await agent.expect_request("CANCEL")
    assert cancel.uri == invite.uri and cancel.cseq == (1, "CANCEL") and cancel.to_addr.tag is None
    assert cancel.top_via.branch == invite.top_via.branch and cancel.call_id == invite.call_id
    agent.respond(cancel, 200)
    agent.send(answer(invite, 487, "agent1", agent))
    ack = await agent.expect_request("ACK")
    assert ack.top_via.branch == invite.top_via.branch and ack.cseq == (1, "ACK")


async def test_an_answer_after_we_gave_up_is_acked_and_hung_up(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    endpoint = await make_endpoint(no_handler)
    agent = await make_peer(endpoint)
    started = time.monotonic()
    placing = asyncio.create_task(endpoint.place_call(f"sip:agents@127.0.0.1:{agent.port}", {}, 0.3))
    invite = await agent.expect_request("INVITE")
    agent.send(answer(invite, 180, "agent1", agent))
    cancel = await agent.expect_request("CANCEL", within=2)
    assert time.monotonic() - started >= 0.29
    agent.respond(cancel, 200)  # ... but the 487 never comes: the grace runs out
    with pytest.raises(CallFailed) as failure:
        await asyncio.wait_for(placing, 3)
    assert failure.value.status == 408
    agent.send(answer(invite, 200, "agent1", agent, ANSWER_SDP))  # the agent picks up, too late
    ack = await agent.expect_request("ACK")
    bye = await agent.expect_request("BYE")
    assert ack.to_addr.tag == bye.to_addr.tag == "agent1"
    agent.respond(bye, 200)
    await asyncio.sleep(0.1)
    assert endpoint.active_calls == 0 and media.sessions[0].closed.is_set()


async def test_an_answer_crossing_our_cancel_is_the_call(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    endpoint = await make_endpoint(no_handler)
    agent = await make_peer(endpoint)
    placing = asyncio.create_task(endpoint.place_call(f"sip:agents@127.0.0.1:{agent.port}", {}, 0.3))
    invite = await agent.expect_request("INVITE")
    agent.send(answer(invite, 180, "agent1", agent))
    cancel = await agent.expect_request("CANCEL", within=2)
    agent.send(answer(invite, 200, "agent1", agent, ANSWER_SDP))  # answered just before the CANCEL came
    agent.respond(cancel, 200)
    call = await asyncio.wait_for(placing, 2)
    await agent.expect_request("ACK")
    assert not call.ended.is_set() and endpoint.active_calls == 1
    hanging_up = asyncio.create_task(call.hangup())
    agent.respond(await agent.expect_request("BYE"), 200)
    await asyncio.wait_for(hanging_up, 2)
    assert endpoint.active_calls == 0


async def test_nobody_listening_gives_up_within_the_timeout(make_endpoint: MakeEndpoint, media: MediaRecorder) -> None:
    endpoint = await make_endpoint(no_handler)
    started = time.monotonic()
    with pytest.raises(CallFailed) as failure:
        await endpoint.place_call(f"sip:agents@127.0.0.1:{free_port()}", {}, 0.5)
    assert failure.value.status == 408 and 0.49 <= time.monotonic() - started < 0.5 + 0.3
    assert endpoint.active_calls == 0 and media.sessions[0].closed.is_set()


# --- against sipp as the agents, with the real RtpSession ---------------------------------------------------------


@pytest.fixture
async def real_endpoint() -> AsyncIterator[SipEndpoint]:
    endpoint = SipEndpoint("127.0.0.1", 0, no_handler, "127.0.0.1", 0, 0, "callbot-test", 10, True)
    await endpoint.start()
    yield endpoint
    await endpoint.stop()


def free_media_port() -> int:
    """An even port free with the one two above it: sipp's -rtp_echo binds both (audio and video)."""
    for _ in range(100):
        port = free_port(tcp_too=False)
        if port % 2 or port + 2 >= 65536:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port + 2))
            except OSError:
                continue
        return port
    raise OSError("no free media port pair")


@needs_sipp
@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_sipp_agent_answers_echoes_our_rtp_and_sees_our_bye(
    real_endpoint: SipEndpoint, tmp_path: Path, transport: str
) -> None:
    media_port = free_media_port()
    agent = await start_sipp_server(
        tmp_path, "uas", transport="u1" if transport == "udp" else "t1", extra=["-rtp_echo", "-mp", str(media_port)]
    )
    try:
        target = agent.uri + (";transport=tcp" if transport == "tcp" else "")
        call = await real_endpoint.place_call(target, {"X-Callbot-Call-Id": "call-7"}, 5)
        current = call.negotiation.current
        assert current is not None and current.codec_name == "PCMU" and current.remote == ("127.0.0.1", media_port)
        assert real_endpoint.active_calls == 1
        call.audio.play(b"\x10\x20" * 8000)  # one second: sipp sends it back
        heard = 0
        async with asyncio.timeout(3):
            while heard < 40:
                frame = await call.audio.read_frame()
                assert frame is not None
                heard += frame != b"\x00\x00" * 160
        await call.hangup()
        result = await agent.wait(15)
        assert result.returncode == 0, result.errors() + result.stdout[-2000:]
        messages = result.messages()
        assert "X-Callbot-Call-Id: call-7" in messages and "BYE sip:" in messages and "ACK sip:" in messages
        assert real_endpoint.active_calls == 0
    finally:
        await agent.stop()


@needs_sipp
async def test_sipp_busy_agents_refuse_with_486(real_endpoint: SipEndpoint, tmp_path: Path) -> None:
    agent = await start_sipp_server(tmp_path, SCENARIOS / "uas_busy.xml")
    try:
        with pytest.raises(CallFailed) as failure:
            await real_endpoint.place_call(agent.uri, {}, 5)
        assert failure.value.status == 486
        result = await agent.wait(10)
        assert result.returncode == 0, result.errors() + result.stdout[-2000:]  # it saw our ACK
        assert real_endpoint.active_calls == 0
    finally:
        await agent.stop()


@needs_sipp
async def test_sipp_agents_ringing_past_the_timeout_get_a_cancel(real_endpoint: SipEndpoint, tmp_path: Path) -> None:
    agent = await start_sipp_server(tmp_path, SCENARIOS / "uas_rings.xml")
    try:
        started = time.monotonic()
        with pytest.raises(CallFailed) as failure:
            await real_endpoint.place_call(agent.uri, {}, 1.0)
        assert failure.value.status == 487 and time.monotonic() - started < 1.0 + 0.5
        result = await agent.wait(10)
        assert result.returncode == 0, result.errors() + result.stdout[-2000:]  # CANCEL, then our ACK of the 487
        assert "CANCEL sip:" in result.messages()
    finally:
        await agent.stop()


@needs_sipp
async def test_sipp_agent_hangs_up(real_endpoint: SipEndpoint, tmp_path: Path) -> None:
    agent = await start_sipp_server(tmp_path, SCENARIOS / "uas_hangs_up.xml")
    try:
        call = await real_endpoint.place_call(agent.uri, {}, 5)
        await asyncio.wait_for(call.ended.wait(), 5)
        assert call.ended_by == "agent"
        result = await agent.wait(10)
        assert result.returncode == 0, result.errors() + result.stdout[-2000:]  # our 200 to its BYE
        assert real_endpoint.active_calls == 0
    finally:
        await agent.stop()
