"""SipEndpoint against the real sipp (Debian sip-tester), over UDP and TCP, with the real RtpSession."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from callbot.sip import SipCall, SipEndpoint
from tests.support.sip_peers import run_sipp, start_sipp_server

pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is not installed")

SCENARIOS = Path(__file__).parent / "scenarios"
SILENCE_20MS = b"\x00\x00" * 160


class Recorder:
    """A call handler that plays silence until the caller hangs up or `hold_s` elapses."""

    def __init__(self, hold_s: float = 10.0) -> None:
        self.hold_s = hold_s
        self.calls: list[SipCall] = []
        self.transfers: list[bool] = []
        self.transfer_to: str | None = None

    async def __call__(self, call: SipCall) -> None:
        self.calls.append(call)
        call.audio.play(SILENCE_20MS * 10)
        if self.transfer_to is not None:
            self.transfers.append(await call.transfer(self.transfer_to, {"X-Callbot-Call-Id": "call-42"}))
            return
        try:
            await asyncio.wait_for(call.ended.wait(), self.hold_s)
        except TimeoutError:
            pass  # the handler returns: the endpoint hangs up


MakeEndpoint = Callable[..., Awaitable[SipEndpoint]]


@pytest.fixture
async def real_endpoint() -> AsyncIterator[MakeEndpoint]:
    endpoints: list[SipEndpoint] = []

    async def factory(handler: Recorder, **kwargs: object) -> SipEndpoint:
        endpoint = SipEndpoint("127.0.0.1", 0, handler, "127.0.0.1", 0, 0, "callbot-test", 10, True, **kwargs)  # type: ignore[arg-type]
        await endpoint.start()
        endpoints.append(endpoint)
        return endpoint

    yield factory
    for endpoint in endpoints:
        await endpoint.stop()


async def test_sipp_uac_full_call_with_caller_bye(real_endpoint: MakeEndpoint, tmp_path: Path) -> None:
    handler = Recorder()
    endpoint = await real_endpoint(handler)
    result = await run_sipp("uac", f"127.0.0.1:{endpoint.port}", tmp_path, calls=2, extra=["-d", "500"])
    assert result.returncode == 0, result.errors() + result.stdout[-2000:]
    assert len(handler.calls) == 2
    assert all(call.ended.is_set() for call in handler.calls)
    assert endpoint.active_calls == 0


async def test_sipp_uac_over_tcp(real_endpoint: MakeEndpoint, tmp_path: Path) -> None:
    handler = Recorder()
    endpoint = await real_endpoint(handler)
    result = await run_sipp("uac", f"127.0.0.1:{endpoint.port}", tmp_path, transport="t1", extra=["-d", "500"])
    assert result.returncode == 0, result.errors() + result.stdout[-2000:]
    assert len(handler.calls) == 1 and handler.calls[0].dialog.peer.transport == "TCP"


async def test_bot_hangs_up_when_handler_returns(real_endpoint: MakeEndpoint, tmp_path: Path) -> None:
    handler = Recorder(hold_s=0.5)
    endpoint = await real_endpoint(handler)
    result = await run_sipp(SCENARIOS / "uac_bot_hangs_up.xml", f"127.0.0.1:{endpoint.port}", tmp_path)
    assert result.returncode == 0, result.errors() + result.stdout[-2000:]
    assert len(handler.calls) == 1


async def test_bot_hangs_up_over_tcp(real_endpoint: MakeEndpoint, tmp_path: Path) -> None:
    handler = Recorder(hold_s=0.5)
    endpoint = await real_endpoint(handler)
    result = await run_sipp(SCENARIOS / "uac_bot_hangs_up.xml", f"127.0.0.1:{endpoint.port}", tmp_path, transport="t1")
    assert result.returncode == 0, result.errors() + result.stdout[-2000:]


async def test_cancel_before_answer(real_endpoint: MakeEndpoint, tmp_path: Path) -> None:
    handler = Recorder()
    endpoint = await real_endpoint(handler, answer_delay=3.0)
    result = await run_sipp(SCENARIOS / "uac_cancel.xml", f"127.0.0.1:{endpoint.port}", tmp_path)
    assert result.returncode == 0, result.errors() + result.stdout[-2000:]
    assert handler.calls == [] and endpoint.active_calls == 0


async def test_refer_to_sipp_agent(real_endpoint: MakeEndpoint, tmp_path: Path) -> None:
    agent = await start_sipp_server(tmp_path / "agent", "uas", timeout_s=30)
    try:
        handler = Recorder()
        handler.transfer_to = agent.uri
        endpoint = await real_endpoint(handler)
        caller = await run_sipp(SCENARIOS / "uac_accepts_refer.xml", f"127.0.0.1:{endpoint.port}", tmp_path / "caller")
        assert caller.returncode == 0, caller.errors() + caller.stdout[-2000:]
        assert handler.transfers == [True]
        agent_result = await agent.wait(15)
        assert agent_result.returncode == 0, agent_result.errors()
        assert "X-Callbot-Call-Id: call-42" in agent_result.messages()
    finally:
        await agent.stop()


async def test_malformed_burst_then_options_and_call_still_work(real_endpoint: MakeEndpoint, tmp_path: Path) -> None:
    handler = Recorder()
    endpoint = await real_endpoint(handler)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    junk = [
        b"\xff" * 1400,
        b"INVITE sip:x SIP/2.0\r\n" + b"X-A: b\r\n" * 500 + b"\r\n",
        b"INVITE sip:bot@127.0.0.1 SIP/2.0\r\nVia: nonsense\r\nContent-Length: 99999\r\n\r\n",
        b"SIP/2.0 99999 Nope\r\n\r\n",
        b"BYE sip:bot@127.0.0.1 SIP/2.0\r\nCall-ID: x\r\nCSeq: -1 BYE\r\n\r\n",
        b"\r\n\r\n",
        b"INVITE sip:bot@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKa\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:bot@c>\r\nCall-ID: j\r\nCSeq: 1 INVITE\r\n"
        b"Contact: <sip:a@127.0.0.1:1>\r\nContent-Type: application/sdp\r\nContent-Length: 12\r\n\r\nv=0\r\nm=junk\r\n",
    ]
    try:
        for _ in range(50):
            for datagram in junk:
                transport.sendto(datagram, ("127.0.0.1", endpoint.port))
        await asyncio.sleep(0.2)
    finally:
        transport.close()
    options = await run_sipp(SCENARIOS / "uac_options.xml", f"127.0.0.1:{endpoint.port}", tmp_path / "options")
    assert options.returncode == 0, options.errors()
    call = await run_sipp("uac", f"127.0.0.1:{endpoint.port}", tmp_path / "call", extra=["-d", "300"])
    assert call.returncode == 0, call.errors()
    assert len(handler.calls) == 1
