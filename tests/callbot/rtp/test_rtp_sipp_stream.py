"""A real sipp streams a G.711 µ-law file (rtp_stream) into an RtpSession.

sipp only streams RTP inside a call, so a second sipp plays the called party: its 200 OK announces our
RtpSession's port, and the calling sipp streams there. No SIP code of ours is involved.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest

from callbot.rtp import PCMU, RtpSession
from callbot.rtp.g711 import ulaw_encode
from tests.support.sip_peers import free_port

SCENARIOS = Path(__file__).parent / "scenarios"
SIPP = shutil.which("sipp")

pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp not installed (Debian package sip-tester)")


def free_udp_port() -> int:
    """An even UDP port (RTP's), below the ephemeral range: between now and sipp's bind, another process's socket
    (a resolver, a browser) may be given any free ephemeral port, as happened once in the suite."""
    while (port := free_port(tcp_too=False)) % 2:
        pass
    return port


async def run(*args: str, cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *args, cwd=cwd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
    await process.wait()


async def test_sipp_rtp_stream_is_received_decoded_and_kept_for_the_reader(
    tmp_path: Path, rtp_session_factory: Callable[..., Awaitable[RtpSession]]
) -> None:
    assert SIPP is not None
    t = np.arange(8000) / 8000  # 1 s, 50 packets of 20 ms
    (tmp_path / "tone.ulaw").write_bytes(ulaw_encode((9000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()))
    session = await rtp_session_factory()
    uas_scenario = (SCENARIOS / "uas_answer_with_rtp_port.xml").read_text()
    (tmp_path / "uas.xml").write_text(uas_scenario.replace("RTP_PORT", str(session.local_port)))
    uac_scenario = (SCENARIOS / "uac_stream_ulaw.xml").read_text()
    (tmp_path / "uac.xml").write_text(uac_scenario.replace("ULAW_FILE", "tone.ulaw"))
    uas_port, uac_port, uac_media_port = free_udp_port(), free_udp_port(), free_udp_port()
    # The caller's SDP announces uac_media_port, which is where sipp streams from.
    session.start(("127.0.0.1", uac_media_port), PCMU, None)

    common = ["-i", "127.0.0.1", "-m", "1", "-timeout", "20s", "-nostdin"]
    uas = await run(SIPP, "-sf", "uas.xml", "-p", str(uas_port), *common, cwd=tmp_path)
    uac = None
    try:
        await asyncio.sleep(0.3)
        uac = await run(
            SIPP,
            f"127.0.0.1:{uas_port}",
            "-sf",
            "uac.xml",
            "-p",
            str(uac_port),
            "-mp",
            str(uac_media_port),
            *common,
            cwd=tmp_path,
        )
        _, uac_errors = await asyncio.wait_for(uac.communicate(), 20)
        assert uac.returncode == 0, uac_errors.decode(errors="replace")
        await asyncio.sleep(0.2)  # the last packets through the jitter buffer
        # Nobody read during the call: the whole timeline since start() waits, silence around the tone.
        frames = [await session.read_frame() for _ in range(session.inbound_backlog)]
    finally:
        if uac is not None:
            await stop(uac)
        await stop(uas)

    assert all(frame is not None and len(frame) == 320 for frame in frames)
    assert session.latched and session.remote == ("127.0.0.1", uac_media_port)
    assert session.stats.received >= 45 and session.stats.invalid == 0
    assert len(frames) == session.stats.frames_released and session.stats.inbound_overflow == 0
    audio = np.frombuffer(b"".join(f for f in frames if f is not None), dtype="<i2").astype(np.float64)
    loud = audio[np.abs(audio) > 1000]
    assert len(loud) > 0.8 * 8000 * 0.9  # most of the 1 s tone came through (peaks excluded)
    spectrum = np.abs(np.fft.rfft(audio))
    assert np.fft.rfftfreq(len(audio), 1 / 8000)[int(np.argmax(spectrum))] == pytest.approx(440, abs=2)
