"""Denial-of-service limits of the SIP endpoint: per-source quotas, stateless answers, TCP deadlines, the ACK
timeout that frees a call slot, refusals logged as counts, and no task left pending after a call."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Awaitable, Callable

import pytest

from callbot.config import ConfigError, load_settings
from callbot.sip import SipCall, SipEndpoint, SipTimers
from callbot.sip.limits import SipLimits, SourceQuota
from callbot.sip.refusals import RefusalLog

from .conftest import FAST_TIMERS, RawPeer, _Receiver

MakeEndpoint = Callable[..., Awaitable[SipEndpoint]]
MakePeer = Callable[[SipEndpoint], Awaitable[RawPeer]]
# An offer refused with 488 (an INVITE without SDP is a delayed offer, answered 200).
G729_ONLY = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 18\r\n"


async def peer_from(source: str, endpoint: SipEndpoint) -> RawPeer:
    """A raw UDP peer bound to another loopback address: another source for the endpoint."""
    loop = asyncio.get_running_loop()
    transport, receiver = await loop.create_datagram_endpoint(_Receiver, local_addr=(source, 0))
    return RawPeer(transport, receiver, ("127.0.0.1", endpoint.port))


async def wait_until(condition: Callable[[], bool], within: float) -> float:
    """Seconds until `condition` holds (polled: the endpoint has no event for these)."""
    started = time.monotonic()
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return time.monotonic() - started


# --- SourceQuota ---------------------------------------------------------------------------------------------


def test_quota_caps_each_source_and_the_total() -> None:
    quota = SourceQuota(total_cap=5, per_source_cap=2)
    assert quota.acquire("a") and quota.acquire("a")
    assert not quota.acquire("a") and quota.refusal("a") == "per-source limit"
    assert quota.acquire("b") and quota.acquire("b") and quota.acquire("c")
    assert quota.refusal("d") == "global limit" and not quota.acquire("d")
    quota.release("a")
    assert quota.acquire("d") and quota.total == 5


def test_quota_forgets_sources_that_hold_nothing_and_ignores_extra_releases() -> None:
    quota = SourceQuota(total_cap=5, per_source_cap=2)
    quota.acquire("a")
    quota.release("a")
    quota.release("a")
    assert quota.total == 0 and quota.held_by("a") == 0
    assert quota.acquire("a") and quota.acquire("a")


# --- RefusalLog ----------------------------------------------------------------------------------------------


def test_refusals_are_logged_as_counts_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.refusals")
    refusals = RefusalLog(logger, interval_s=60)
    with caplog.at_level(logging.WARNING, "test.refusals"):
        for _ in range(500):
            refusals.note("busy (486)", "192.0.2.1")
        refusals.note("transaction per-source limit (503)", "192.0.2.2")
        refusals.flush()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines  # the first at once, then one sum
    assert "busy (486) 499" in lines[1] and "per-source limit (503) 1" in lines[1] and "192.0.2.1 (499)" in lines[1]
    assert refusals.total == 501


# --- transactions ----------------------------------------------------------------------------------------------


async def test_one_source_at_its_transaction_limit_does_not_refuse_another(make_endpoint: MakeEndpoint) -> None:
    async def handler(call: SipCall) -> None:
        await call.ended.wait()

    limits = SipLimits(max_transactions=10, max_transactions_per_source=3)
    endpoint = await make_endpoint(handler, limits=limits)
    flooder, caller = await peer_from("127.0.0.2", endpoint), await peer_from("127.0.0.3", endpoint)
    try:
        for n in range(3):  # no codec we know: 488, held until the ACK that never comes
            flooder.send(flooder.invite(f"junk-{n}", body=G729_ONLY))
            await flooder.expect_response(488)
        flooder.send(flooder.invite("junk-4", body=G729_ONLY))
        assert (await flooder.expect_response(503)).headers.get("Retry-After") == "5"
        caller.send(caller.invite("real-call"))
        await caller.expect_response(200)
        assert endpoint.refusals.total == 1
    finally:
        flooder.close()
        caller.close()


async def test_requests_that_need_no_state_keep_no_transaction(
    make_endpoint: MakeEndpoint, make_peer: MakePeer
) -> None:
    async def handler(call: SipCall) -> None:
        return None

    endpoint = await make_endpoint(handler, limits=SipLimits(max_transactions=1, max_transactions_per_source=1))
    peer = await make_peer(endpoint)
    options = peer.request("OPTIONS", call_id="probe")
    tags = []
    for _ in range(2):  # the same request again: the same answer, with the same To tag (RFC 3261 §8.2.7)
        peer.send(options)
        tags.append((await peer.expect_response(200)).to_addr.tag)
    assert tags[0] and tags[0] == tags[1]
    for request, status in [
        (peer.request("BYE", call_id="nothing"), 481),
        (peer.request("BYE", call_id="nothing", to_tag="gone"), 481),
        (peer.request("CANCEL", call_id="nothing"), 481),
        (peer.request("REGISTER", call_id="r"), 405),
        (peer.request("FROB", call_id="f"), 501),
        (peer.request("OPTIONS", call_id="o", extra="Require: 100rel"), 420),
    ]:
        peer.send(request)
        await peer.expect_response(status)
    assert endpoint._server_txs == {}  # a table of one would have refused the second of these


# --- calls never acknowledged ----------------------------------------------------------------------------------


async def test_a_2xx_never_acked_frees_its_call_slot_at_the_ack_timeout(
    make_endpoint: MakeEndpoint, make_peer: MakePeer
) -> None:
    async def handler(call: SipCall) -> None:
        await call.ended.wait()

    timers = SipTimers(t1=FAST_TIMERS.t1, t2=FAST_TIMERS.t2, t4=FAST_TIMERS.t4, ack_timeout=0.3)
    endpoint = await make_endpoint(handler, timers=timers, max_calls=1)
    silent = await make_peer(endpoint)
    silent.send(silent.invite("never-acked"))
    await silent.expect_response(200)
    assert endpoint.active_calls == 1
    took = await wait_until(lambda: endpoint.active_calls == 0, within=2.0)
    assert took < 0.5  # ack_timeout, well before 64·T1 = 3.2 s, and without waiting for the BYE's answer
    await silent.expect_request("BYE")
    caller = await make_peer(endpoint)
    caller.send(caller.invite("next"))
    await caller.expect_response(200)


def test_the_ack_wait_never_exceeds_64_t1() -> None:
    assert SipTimers(t1=0.5).ack_wait == 32.0
    assert SipTimers(t1=0.5, ack_timeout=100).ack_wait == 32.0
    assert SipTimers(t1=0.5, ack_timeout=4).ack_wait == 4.0


async def test_no_task_of_a_call_is_left_pending_when_it_ends(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(call: SipCall) -> None:
        await call.ended.wait()

    endpoint = await make_endpoint(handler)
    peer = await make_peer(endpoint)
    peer.send(peer.invite("short-call"))
    ok = await peer.expect_response(200)
    peer.send(peer.ack_for(ok, "short-call"))
    await asyncio.sleep(0.1)
    peer.send(peer.request("BYE", call_id="short-call", cseq=2, to_tag=ok.to_addr.tag))
    await peer.expect_response(200)
    await wait_until(lambda: endpoint.active_calls == 0, within=2.0)
    await asyncio.sleep(0.1)
    assert [t.get_name() for t in asyncio.all_tasks() if "short-call" in t.get_name()] == []
    with caplog.at_level(logging.ERROR, "asyncio"):
        gc.collect()
        await asyncio.sleep(0)
    assert not [r for r in caplog.records if "Task was destroyed" in r.getMessage()]


# --- TCP -------------------------------------------------------------------------------------------------------

TCP_LIMITS = SipLimits(
    max_tcp_connections=6, max_tcp_connections_per_source=2, tcp_idle_timeout_s=0.6, tcp_message_timeout_s=0.3
)


async def closed_after(reader: asyncio.StreamReader, within: float) -> float:
    started = time.monotonic()
    async with asyncio.timeout(within):
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass
    return time.monotonic() - started


async def connect(port: int, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def test_tcp_trickling_is_cut_at_the_message_deadline_and_idle_at_the_idle_timeout(
    make_endpoint: MakeEndpoint,
) -> None:
    async def handler(call: SipCall) -> None:
        return None

    endpoint = await make_endpoint(handler, limits=TCP_LIMITS)
    idle_reader, idle_writer = await connect(endpoint.port, "127.0.0.4")
    trickle_reader, trickle_writer = await connect(endpoint.port, "127.0.0.5")

    async def trickle() -> None:  # a byte every 50 ms: each one would have reset a plain read timeout
        for byte in b"OPTIONS sip:bot@127.0.0.1 SIP/2.0\r\n":
            trickle_writer.write(bytes([byte]))
            await asyncio.sleep(0.05)

    sender = asyncio.create_task(trickle())
    try:
        idle_s, trickle_s = await asyncio.gather(closed_after(idle_reader, 2.0), closed_after(trickle_reader, 2.0))
    finally:
        sender.cancel()
        idle_writer.close()
        trickle_writer.close()
    assert 0.5 < idle_s < 1.0 and trickle_s < 0.5, (idle_s, trickle_s)


async def test_tcp_connections_are_capped_per_source(make_endpoint: MakeEndpoint) -> None:
    async def handler(call: SipCall) -> None:
        return None

    endpoint = await make_endpoint(handler, limits=TCP_LIMITS)
    opened = [await connect(endpoint.port, "127.0.0.6") for _ in range(4)]
    other = await connect(endpoint.port, "127.0.0.7")
    try:
        await asyncio.sleep(0.1)
        assert endpoint._transport.connections_from("127.0.0.6") == 2
        assert endpoint._transport.connections_from("127.0.0.7") == 1
    finally:
        for _, writer in [*opened, other]:
            writer.close()


# --- settings ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CALLBOT_SIP_MAX_TRANSACTIONS_PER_SOURCE", "6000", "must not exceed max_transactions"),
        ("CALLBOT_SIP_MAX_TCP_CONNECTIONS_PER_SOURCE", "300", "must not exceed max_tcp_connections"),
        ("CALLBOT_SIP_TCP_MESSAGE_TIMEOUT_S", "90", "must not exceed tcp_idle_timeout_s"),
        ("CALLBOT_SIP_ACK_TIMEOUT_S", "64", "sip.ack_timeout_s"),
        ("CALLBOT_SIP_TCP_IDLE_TIMEOUT_S", "0", "sip.tcp_idle_timeout_s"),
    ],
)
def test_bad_limits_are_refused_at_start_with_the_key_named(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={variable: value})


def test_the_default_limits_load() -> None:
    sip = load_settings(environ={}).sip
    assert sip.ack_timeout_s <= 32 and sip.max_transactions_per_source <= sip.max_transactions
