"""InboundAudio driven tick by tick, without sockets: the caller's timeline frame by frame."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest

from callbot.rtp.inbound import InboundAudio
from callbot.rtp.jitter import JitterBuffer
from callbot.rtp.stats import RtpStats

FRAME = 320  # bytes of 20 ms at 8 kHz
SPF = 160
FILL_AFTER = 5


class Caller:
    """A caller's RTP stream: sequence numbers per packet, timestamps per sample."""

    def __init__(self, jitter: JitterBuffer, samples: int = SPF) -> None:
        self.jitter = jitter
        self.samples = samples
        self.seq = 1000
        self.ts = 50_000

    def send(self, value: int) -> None:
        self.jitter.push(0xCA11, self.seq & 0xFFFF, np.full(self.samples, value, "<i2").tobytes(), self.ts)
        self.lose()

    def lose(self) -> None:
        self.seq += 1
        self.ts += self.samples

    def pause(self, frames: int) -> None:
        """DTX: nothing sent for a while; the timestamp follows time, the sequence does not."""
        self.ts += frames * SPF

    def dtmf(self) -> None:
        """An RFC 4733 packet: a sequence number, no audio, the timestamp of the event's start."""
        self.jitter.push(0xCA11, self.seq & 0xFFFF, None, self.ts)
        self.seq += 1


def make(prefetch: int = 3, max_frames: int = 500) -> tuple[JitterBuffer, InboundAudio, RtpStats]:
    jitter = JitterBuffer(prefetch=prefetch)
    stats = RtpStats()
    return jitter, InboundAudio(jitter, stats, FRAME, fill_after=FILL_AFTER, max_frames=max_frames), stats


def drain(inbound: InboundAudio) -> list[bytes]:
    frames = list(inbound._frames)
    inbound._frames.clear()
    return frames


def labels(frames: list[bytes]) -> list[int | str]:
    out: list[int | str] = []
    for frame in frames:
        values = set(np.frombuffer(frame, "<i2").tolist())
        out.append(values.pop() if len(values) == 1 else "mixed")
    return out


def between_audio(frames: list[bytes]) -> list[int | str]:
    """Labels from the first non-silent frame to the last one."""
    found = labels(frames)
    loud = [i for i, v in enumerate(found) if v != 0]
    return found[loud[0] : loud[-1] + 1]


def test_one_frame_per_tick_in_order_and_no_silence_inserted() -> None:
    jitter, inbound, stats = make()
    caller = Caller(jitter)
    for tick in range(100):
        caller.send(tick + 1)
        inbound.on_tick()
    for _ in range(3):
        inbound.on_tick()
    assert labels(drain(inbound)) == list(range(1, 101))
    assert stats.frames_released == 100 and stats.silence_filled == 0


@pytest.mark.parametrize("ptime_ms", [10, 30, 60])
def test_other_packet_sizes_are_cut_into_20ms_frames_without_gaps(ptime_ms: int) -> None:
    jitter, inbound, _ = make()
    caller = Caller(jitter, samples=8 * ptime_ms)
    sent = 0
    for tick in range(150):  # 3 s; a packet is sent once its audio is complete
        while (sent + 1) * ptime_ms <= tick * 20:
            sent += 1
            caller.send(sent)
        inbound.on_tick()
    for _ in range(FILL_AFTER + 3):  # until silence pads the last partial frame out
        inbound.on_tick()
    expected = np.repeat(np.arange(1, sent + 1), 8 * ptime_ms).astype("<i2")
    out = np.frombuffer(b"".join(drain(inbound)), "<i2")
    start = int(np.argmax(out != 0))
    assert np.array_equal(out[start : start + len(expected)], expected)
    assert not out[start + len(expected) :].any()  # and silence only after the stream


def test_silence_keeps_real_time_pace_during_a_pause_and_the_gap_is_exact() -> None:
    jitter, inbound, stats = make()
    caller = Caller(jitter)
    released = []
    for value in range(1, 11):
        caller.send(value)
        inbound.on_tick()
    for _ in range(50):  # 1 s of DTX
        inbound.on_tick()
        released.append(stats.frames_released)
    caller.pause(50)
    for value in range(11, 21):
        caller.send(value)
        inbound.on_tick()
    for _ in range(3):
        inbound.on_tick()
    # Once the jitter buffer's wait is over, one silent frame per tick: the VAD's clock keeps running.
    assert np.diff(released[FILL_AFTER + 3 :]).tolist() == [1] * (50 - FILL_AFTER - 4)
    found = between_audio(drain(inbound))
    assert found == [*range(1, 11), *[0] * 50, *range(11, 21)]  # the last few silences added at resume
    assert stats.silence_filled == 50


def test_a_burst_of_lost_packets_is_as_long_as_it_was() -> None:
    jitter, inbound, _ = make()
    caller = Caller(jitter)
    for value in range(1, 21):
        caller.send(1000 + value)
        inbound.on_tick()
    for _ in range(10):  # 200 ms lost in the network: silence is inserted meanwhile
        caller.lose()
        inbound.on_tick()
    for value in range(21, 41):
        caller.send(1000 + value)
        inbound.on_tick()
    for _ in range(3):
        inbound.on_tick()
    found = between_audio(drain(inbound))
    assert len(found) == 40 + 10
    assert found[:20] == list(range(1001, 1021)) and found[30:] == list(range(1021, 1041))
    assert set(found[20:30]) <= {0, 510}  # silence, or the last packet at half amplitude


def test_an_isolated_loss_is_concealed_in_its_slot() -> None:
    jitter, inbound, _ = make()
    caller = Caller(jitter)
    for value in range(1, 21):
        if value == 10:
            caller.lose()
        else:
            caller.send(1000 + value)
        inbound.on_tick()
    for _ in range(3):
        inbound.on_tick()
    found = between_audio(drain(inbound))
    assert found == [*range(1001, 1010), 504, *range(1011, 1021)]


def test_a_delay_spike_shorter_than_the_wait_adds_nothing() -> None:
    jitter, inbound, stats = make()
    caller = Caller(jitter)
    for value in range(1, 11):
        caller.send(value)
        inbound.on_tick()
    for _ in range(4):  # 80 ms without packets, then they all arrive
        inbound.on_tick()
    for value in range(11, 25):
        caller.send(value)
        if value >= 15:
            inbound.on_tick()
    assert labels(drain(inbound)) == list(range(1, 25))
    assert stats.silence_filled == 0


def test_dtmf_packets_stand_for_their_slots() -> None:
    jitter, inbound, stats = make()
    caller = Caller(jitter)
    for value in range(1, 11):
        caller.send(value)
        inbound.on_tick()
    for _ in range(20):  # a key held 400 ms, the phone sending events instead of audio
        caller.dtmf()
        caller.pause(1)
        inbound.on_tick()
    for value in range(11, 21):
        caller.send(value)
        inbound.on_tick()
    for _ in range(3):
        inbound.on_tick()
    assert between_audio(drain(inbound)) == [*range(1, 11), *[0] * 20, *range(11, 21)]
    assert stats.silence_filled == 0  # each event packet was its slot's frame


def test_silence_flows_before_the_first_packet() -> None:
    _, inbound, stats = make()
    for _ in range(20):
        inbound.on_tick()
    assert labels(drain(inbound)) == [0] * (20 - FILL_AFTER)
    assert stats.silence_filled == stats.frames_released == 20 - FILL_AFTER


def test_after_a_burst_silence_comes_as_soon_as_after_any_packet() -> None:
    jitter, inbound, stats = make()
    caller = Caller(jitter)
    for value in range(1, 6):
        caller.send(value)
        inbound.on_tick()
    for value in range(6, 31):  # a stall: 25 packets waited in the socket, read before the next tick
        caller.send(value)
    inbound.on_tick()
    assert stats.frames_released == 30
    for _ in range(FILL_AFTER + 1):
        inbound.on_tick()
    assert stats.silence_filled == 1  # the pause after the burst is not hidden by the burst's length


def test_a_late_reader_gets_its_whole_backlog_in_order() -> None:
    jitter, inbound, stats = make()
    caller = Caller(jitter)
    for value in range(1, 101):
        caller.send(value)
        inbound.on_tick()
    for _ in range(3):
        inbound.on_tick()

    async def read_all() -> list[bytes]:
        return [frame for _ in range(inbound.backlog) if (frame := await inbound.read()) is not None]

    assert labels(asyncio.run(read_all())) == list(range(1, 101))
    assert stats.frames_read == 100 and stats.inbound_overflow == 0


def test_overflow_drops_the_oldest_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    jitter, inbound, stats = make(max_frames=10)
    caller = Caller(jitter)
    with caplog.at_level(logging.WARNING, logger="callbot.rtp.inbound"):
        for value in range(1, 26):
            caller.send(value)
            inbound.on_tick()
        for _ in range(3):
            inbound.on_tick()
    assert labels(drain(inbound)) == list(range(16, 26))
    assert stats.inbound_overflow == 15 and stats.frames_released == 25
    assert len(caplog.records) == 1


async def test_read_waits_for_a_frame_and_gives_none_once_closed() -> None:
    jitter, inbound, _ = make(prefetch=1)
    reader = asyncio.create_task(inbound.read())
    await asyncio.sleep(0.01)
    assert not reader.done()
    Caller(jitter).send(7)
    inbound.on_tick()
    frame = await asyncio.wait_for(reader, 1)
    assert frame is not None and labels([frame]) == [7]
    waiting = asyncio.create_task(inbound.read())
    await asyncio.sleep(0.01)
    inbound.close()
    assert await asyncio.wait_for(waiting, 1) is None
    assert await inbound.read() is None
