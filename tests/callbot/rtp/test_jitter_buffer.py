from __future__ import annotations

import numpy as np

from callbot.rtp.jitter import JitterBuffer, extend_sequence

SSRC = 0x1234


def pcm(n: int) -> bytes:
    """A recognisable 20 ms packet: every sample holds n."""
    return np.full(160, n, dtype="<i2").tobytes()


def label(chunk: bytes | None) -> int | str | None:
    if chunk is None:
        return None
    values = set(np.frombuffer(chunk, dtype="<i2").tolist())
    return values.pop() if len(values) == 1 else "mixed"


def drain(buffer: JitterBuffer, pops: int) -> list[int | str | None]:
    return [label(buffer.pop()) for _ in range(pops)]


def test_extend_sequence_handles_wrap_around() -> None:
    assert extend_sequence(2, 65534) == 65538
    assert extend_sequence(65534, 65538) == 65534
    assert extend_sequence(10, 12) == 10
    assert extend_sequence(0, 0) == 0


def test_in_order_stream_starts_after_prefetch_and_plays_everything() -> None:
    buffer = JitterBuffer(prefetch=3, max_depth=5)
    out: list[int | str | None] = []
    for seq in range(100, 110):
        buffer.push(SSRC, seq, pcm(seq))
        out.append(label(buffer.pop()))
    out += drain(buffer, 3)
    assert out[:2] == [None, None]
    assert [x for x in out if x is not None] == list(range(100, 110))
    assert buffer.stats.lost == buffer.stats.late == buffer.stats.duplicates == 0


def test_reordered_packets_come_out_in_order() -> None:
    buffer = JitterBuffer(prefetch=3, max_depth=5)
    for seq in [11, 10, 13, 12]:
        buffer.push(SSRC, seq, pcm(seq))
    assert drain(buffer, 4) == [10, 11, 12, 13]


def test_sequence_wrap_around_keeps_order() -> None:
    buffer = JitterBuffer(prefetch=3, max_depth=5)
    order = [65534, 0, 65535, 1, 2]
    for seq in order:
        buffer.push(SSRC, seq, pcm((seq + 10) % 65536))  # labels 8, 9, 10, 11, 12
    assert drain(buffer, 5) == [8, 9, 10, 11, 12]
    assert buffer.stats.resyncs == 0


def test_duplicates_and_late_packets_are_dropped() -> None:
    buffer = JitterBuffer(prefetch=2, max_depth=5)
    assert buffer.push(SSRC, 1, pcm(1))
    assert not buffer.push(SSRC, 1, pcm(1))
    buffer.push(SSRC, 2, pcm(2))
    assert drain(buffer, 2) == [1, 2]
    assert not buffer.push(SSRC, 1, pcm(1))  # its turn has passed
    assert buffer.stats.duplicates == 1 and buffer.stats.late == 1


def test_a_lost_packet_is_concealed_by_an_attenuated_repeat_then_silence() -> None:
    buffer = JitterBuffer(prefetch=2, max_depth=5)
    for seq in [1, 2, 5]:
        buffer.push(SSRC, seq, pcm(1000 * seq))
    assert drain(buffer, 5) == [1000, 2000, 1000, 0, 5000]  # 3: half of 2000; 4: silence
    assert buffer.stats.lost == 2


def test_underrun_returns_none_and_rebuffers_on_resume() -> None:
    buffer = JitterBuffer(prefetch=2, max_depth=5)
    buffer.push(SSRC, 1, pcm(1))
    buffer.push(SSRC, 2, pcm(2))
    assert drain(buffer, 3) == [1, 2, None]  # caller silent (DTX): nothing to play
    buffer.push(SSRC, 3, pcm(3))
    assert drain(buffer, 1) == [None]  # one packet is not enough: waiting for the prefetch
    buffer.push(SSRC, 4, pcm(4))
    assert drain(buffer, 3) == [3, 4, None]
    assert buffer.stats.lost == 0 and buffer.stats.underruns == 2


def test_a_lone_packet_is_played_after_waiting_prefetch_intervals() -> None:
    buffer = JitterBuffer(prefetch=3, max_depth=5)
    buffer.push(SSRC, 7, pcm(7))
    assert drain(buffer, 4) == [None, None, None, 7]


def test_depth_is_bounded_by_dropping_the_oldest() -> None:
    buffer = JitterBuffer(prefetch=3, max_depth=5)
    for seq in range(20):
        buffer.push(SSRC, seq, pcm(seq))
    assert buffer.depth == 5
    assert drain(buffer, 5) == [15, 16, 17, 18, 19]
    assert buffer.stats.overflow == 15


def test_new_ssrc_resynchronises() -> None:
    buffer = JitterBuffer(prefetch=2, max_depth=5)
    for seq in [100, 101, 102]:
        buffer.push(SSRC, seq, pcm(seq))
    assert drain(buffer, 1) == [100]
    for seq in [7, 8]:
        buffer.push(SSRC + 1, seq, pcm(seq))
    assert drain(buffer, 3) == [7, 8, None]
    assert buffer.stats.resyncs == 1


def test_large_sequence_jump_resynchronises() -> None:
    buffer = JitterBuffer(prefetch=2, max_depth=5, resync_gap=50)
    for seq in [1, 2]:
        buffer.push(SSRC, seq, pcm(seq))
    assert drain(buffer, 2) == [1, 2]
    for seq in [30000, 30001]:
        buffer.push(SSRC, seq, pcm(seq % 1000))
    assert drain(buffer, 2) == [0, 1]
    assert buffer.stats.resyncs == 1 and buffer.stats.lost == 0


def test_non_audio_packet_plays_as_silence_without_counting_a_loss() -> None:
    buffer = JitterBuffer(prefetch=2, max_depth=5)
    buffer.push(SSRC, 1, pcm(1))
    buffer.push(SSRC, 2, None)  # e.g. a DTMF packet in the same sequence space
    buffer.push(SSRC, 3, pcm(3))
    assert drain(buffer, 3) == [1, 0, 3]
    assert buffer.stats.lost == 0
