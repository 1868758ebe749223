from __future__ import annotations

import numpy as np

from callbot.rtp.jitter import JitterBuffer, Released, extend_sequence

SSRC = 0x1234
Label = int | str | None


def pcm(n: int, samples: int = 160) -> bytes:
    """A recognisable packet: every sample holds n."""
    return np.full(samples, n, dtype="<i2").tobytes()


def label(item: Released | None) -> Label:
    if item is None:
        return None
    values = set(np.frombuffer(item.pcm, dtype="<i2").tolist())
    return values.pop() if len(values) == 1 else "mixed"


def pop_all(buffer: JitterBuffer) -> list[Label]:
    """What one clock tick releases."""
    out: list[Label] = []
    while (item := buffer.pop()) is not None:
        out.append(label(item))
    return out


def ticks(buffer: JitterBuffer, count: int) -> list[list[Label]]:
    """What each of `count` clock ticks releases."""
    out = []
    for _ in range(count):
        buffer.tick()
        out.append(pop_all(buffer))
    return out


def push(buffer: JitterBuffer, *seqs: int, ssrc: int = SSRC) -> None:
    for seq in seqs:
        buffer.push(ssrc, seq, pcm(seq), timestamp=seq * 160)


def test_extend_sequence_handles_wrap_around() -> None:
    assert extend_sequence(2, 65534) == 65538
    assert extend_sequence(65534, 65538) == 65534
    assert extend_sequence(10, 12) == 10
    assert extend_sequence(0, 0) == 0


def test_a_stream_starts_once_prefetch_packets_are_in_then_each_packet_goes_at_once() -> None:
    buffer = JitterBuffer(prefetch=3)
    push(buffer, 100, 101)
    assert pop_all(buffer) == []  # its first packets may still be reordered
    push(buffer, 102)
    assert pop_all(buffer) == [100, 101, 102]
    out = []
    for seq in range(103, 110):
        push(buffer, seq)
        out += ticks(buffer, 1)
    assert out == [[seq] for seq in range(103, 110)]  # in order: no waiting once started
    assert buffer.stats.lost == buffer.stats.late == buffer.stats.duplicates == 0


def test_a_lone_first_packet_goes_after_prefetch_ticks() -> None:
    buffer = JitterBuffer(prefetch=3)
    push(buffer, 7)
    assert ticks(buffer, 4) == [[], [], [7], []]


def test_packets_reordered_at_the_start_come_out_in_order() -> None:
    buffer = JitterBuffer(prefetch=3)
    push(buffer, 11, 10, 13, 12)
    assert pop_all(buffer) == [10, 11, 12, 13]


def test_a_packet_reordered_mid_stream_is_waited_for() -> None:
    buffer = JitterBuffer(prefetch=3)
    push(buffer, 1, 2, 3)
    assert pop_all(buffer) == [1, 2, 3]
    push(buffer, 5)
    assert ticks(buffer, 1) == [[]]
    push(buffer, 4)
    assert pop_all(buffer) == [4, 5]
    assert buffer.stats.lost == 0


def test_sequence_wrap_around_keeps_order() -> None:
    buffer = JitterBuffer(prefetch=3)
    for seq in [65534, 0, 65535, 1, 2]:
        buffer.push(SSRC, seq, pcm((seq + 10) % 65536))  # labels 8, 9, 10, 11, 12
    assert pop_all(buffer) == [8, 9, 10, 11, 12]
    assert buffer.stats.resyncs == 0


def test_duplicates_and_late_packets_are_dropped() -> None:
    buffer = JitterBuffer(prefetch=2)
    assert buffer.push(SSRC, 1, pcm(1))
    assert not buffer.push(SSRC, 1, pcm(1))
    buffer.push(SSRC, 2, pcm(2))
    assert pop_all(buffer) == [1, 2]
    assert not buffer.push(SSRC, 1, pcm(1))  # its turn has passed
    assert buffer.stats.duplicates == 1 and buffer.stats.late == 1


def test_a_gap_behind_prefetch_newer_packets_is_concealed_at_once() -> None:
    buffer = JitterBuffer(prefetch=2)
    push(buffer, 1, 2)
    assert pop_all(buffer) == [1, 2]
    for seq in [5, 6]:
        buffer.push(SSRC, seq, pcm(1000 * seq))
    # 3: half of packet 2 (repeated, attenuated); 4: silence (a second loss in a row)
    assert pop_all(buffer) == [1, 0, 5000, 6000]
    assert buffer.stats.lost == 2


def test_a_gap_is_waited_for_prefetch_ticks_then_concealed() -> None:
    buffer = JitterBuffer(prefetch=3)
    buffer.push(SSRC, 1, pcm(1000))
    assert ticks(buffer, 3)[-1] == [1000]
    buffer.push(SSRC, 3, pcm(3000))
    assert ticks(buffer, 3) == [[], [], [500, 3000]]  # 2 never came: concealed, and 3 follows
    assert not buffer.push(SSRC, 2, pcm(2000))  # too late now
    assert buffer.stats.lost == 1 and buffer.stats.late == 1


def test_a_pause_is_no_loss_and_the_next_packet_goes_at_once() -> None:
    buffer = JitterBuffer(prefetch=2)
    push(buffer, 1, 2)
    assert pop_all(buffer) == [1, 2]
    assert ticks(buffer, 10) == [[]] * 10  # caller silent (DTX): nothing to release, nothing lost
    push(buffer, 3)
    assert pop_all(buffer) == [3]
    assert buffer.stats.lost == 0 and buffer.stats.underruns == 1


def test_a_burst_longer_than_the_resync_gap_is_released_whole() -> None:
    buffer = JitterBuffer(prefetch=3, resync_gap=50)
    push(buffer, *range(1000, 1003))
    assert pop_all(buffer) == [1000, 1001, 1002]
    push(buffer, *range(1003, 1203))  # 4 s that queued up while the event loop was blocked
    assert pop_all(buffer) == list(range(1003, 1203))
    assert buffer.stats.resyncs == buffer.stats.lost == buffer.stats.overflow == 0


def test_depth_is_bounded_by_dropping_the_oldest() -> None:
    buffer = JitterBuffer(prefetch=3, max_depth=5)
    push(buffer, *range(20))
    assert buffer.depth == 5
    assert pop_all(buffer) == [15, 16, 17, 18, 19]
    assert buffer.stats.overflow == 15


def test_a_new_ssrc_flushes_the_old_stream_first() -> None:
    buffer = JitterBuffer(prefetch=2)
    push(buffer, 100, 101, 102)
    assert pop_all(buffer)[:1] == [100]
    push(buffer, 103)
    push(buffer, 7, 8, ssrc=SSRC + 1)
    assert pop_all(buffer) == [103, 7, 8]
    assert buffer.stats.resyncs == 1


def test_a_large_sequence_jump_resynchronises_without_losing_anything() -> None:
    buffer = JitterBuffer(prefetch=2, resync_gap=50)
    push(buffer, 1, 2)
    assert pop_all(buffer) == [1, 2]
    for seq in [30000, 30001]:
        buffer.push(SSRC, seq, pcm(seq % 1000), timestamp=seq)
    first, second = buffer.pop(), buffer.pop()
    assert label(first) == 0 and label(second) == 1
    assert first is not None and second is not None and first.stream == second.stream
    assert buffer.stats.resyncs == 1 and buffer.stats.lost == 0


def test_released_items_carry_timestamps_and_fillers_carry_none() -> None:
    buffer = JitterBuffer(prefetch=2)
    buffer.push(SSRC, 1, pcm(1), timestamp=160)
    buffer.push(SSRC, 2, None, timestamp=320)  # e.g. a DTMF packet in the same sequence space
    buffer.push(SSRC, 3, pcm(3), timestamp=480)
    buffer.push(SSRC, 5, pcm(5), timestamp=800)
    buffer.push(SSRC, 6, pcm(6), timestamp=960)
    items = [buffer.pop() for _ in range(5)]
    assert [label(i) for i in items] == [1, 0, 3, 1, 5]  # 4: concealed (half of 3)
    assert [i.timestamp for i in items if i is not None] == [160, None, 480, None, 800]
    assert buffer.stats.lost == 1  # the DTMF packet's slot is silence, not a loss


def test_concealment_has_the_size_of_the_last_packet() -> None:
    buffer = JitterBuffer(prefetch=1)
    buffer.push(SSRC, 1, pcm(1000, samples=480))  # 60 ms packets
    assert pop_all(buffer) == [1000]
    buffer.push(SSRC, 3, pcm(3000, samples=480))
    buffer.push(SSRC, 4, pcm(4000, samples=480))
    concealed = buffer.pop()
    assert concealed is not None and len(concealed.pcm) == 960 and concealed.timestamp is None
