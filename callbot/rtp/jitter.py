"""A small jitter buffer for one incoming RTP stream: order, de-duplication and loss concealment.

It knows time only as ticks: the owner calls `tick()` once per 20 ms and then `pop()` until it returns None.
Packets are ordered by their extended sequence number (16-bit wrap-around handled). A packet goes out as soon as
every packet before it went out; a missing one is waited for at most `prefetch` ticks, or until `prefetch`
newer packets are in, and then concealed. Duplicates and packets that come after their turn are dropped.
Nothing else is ever dropped: a new stream (SSRC change, sequence jump) first flushes what the old one left.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

_SEQ_MOD = 1 << 16
_HALF_SEQ = 1 << 15


@dataclass
class JitterStats:
    played: int = 0  # packets released (audio and placeholders)
    late: int = 0  # arrived after their turn (or older than what was played): dropped
    duplicates: int = 0
    lost: int = 0  # never arrived in time: concealed
    overflow: int = 0  # dropped to keep the buffer bounded (only if nothing pops for max_depth packets)
    resyncs: int = 0  # restarts on a new SSRC or a large sequence jump
    underruns: int = 0  # dry spells: ticks went by without a packet (DTX, end of a talkspurt, a delay spike)


class Released(NamedTuple):
    pcm: bytes
    # RTP timestamp of a caller's audio packet; None for concealment and for a packet that holds no audio
    # (DTMF, comfort noise), which only fill their slot.
    timestamp: int | None
    stream: int  # changes at each resync: timestamps of two streams are not comparable


def extend_sequence(sequence: int, reference: int) -> int:
    """The extended sequence number nearest to `reference` whose low 16 bits are `sequence`."""
    delta = (sequence - reference + _HALF_SEQ) % _SEQ_MOD - _HALF_SEQ
    return reference + delta


def attenuate(pcm: bytes, factor: float) -> bytes:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) * factor
    return samples.astype("<i2").tobytes()


class JitterBuffer:
    """Reorders and de-duplicates decoded packets; `pop()` returns them in order, one packet per call."""

    def __init__(
        self, prefetch: int = 3, max_depth: int = 500, resync_gap: int = 50, default_packet_bytes: int = 320
    ) -> None:
        if not 1 <= prefetch <= max_depth:
            raise ValueError("need 1 <= prefetch <= max_depth")
        self.prefetch = prefetch
        self.max_depth = max_depth
        self.resync_gap = resync_gap
        self.stats = JitterStats()
        self._default_packet_bytes = default_packet_bytes
        self._ssrc: int | None = None
        self._stream = 0
        # Extended sequence -> (PCM or None for a packet that holds no audio, RTP timestamp).
        self._packets: dict[int, tuple[bytes | None, int]] = {}
        self._flushed: deque[Released] = deque()  # a previous stream's leftovers, released first
        self._next: int | None = None  # extended sequence number of the next packet to release
        self._last_pushed: int | None = None
        self._starting = True  # a new stream waits for `prefetch` packets or ticks: its first ones may be reordered
        self._playing = False  # this stream released something: older packets are now late
        self._waited = 0  # ticks spent holding packets without releasing any
        self._released = False  # since the last tick
        self._dry = False
        self._last_audio: bytes | None = None
        self._concealed_in_a_row = 0

    @property
    def ssrc(self) -> int | None:
        """SSRC of the stream being played."""
        return self._ssrc

    @property
    def depth(self) -> int:
        """Packets currently held."""
        return len(self._packets) + len(self._flushed)

    def push(self, ssrc: int, sequence: int, pcm: bytes | None, timestamp: int = 0) -> bool:
        """Offer one packet (pcm None: it holds no audio); returns False when it was dropped (late, duplicate)."""
        if ssrc != self._ssrc:
            if self._ssrc is not None:
                self.stats.resyncs += 1
            self._ssrc = ssrc
            self._new_stream()
        reference = self._last_pushed if self._last_pushed is not None else self._next
        ext = sequence if reference is None else extend_sequence(sequence, reference)
        if reference is not None and abs(ext - reference) > self.resync_gap:
            # The sender restarted or skipped far ahead: start over from this packet.
            self.stats.resyncs += 1
            self._new_stream()
            ext = sequence
        if self._next is None:
            self._next = ext
        if ext < self._next:
            if self._playing:
                self.stats.late += 1
                return False
            self._next = ext  # reordered before this stream released anything: take it
        if ext in self._packets:
            self.stats.duplicates += 1
            return False
        self._packets[ext] = (pcm, timestamp)
        self._last_pushed = ext
        self._bound_depth(ext)
        return True

    def tick(self) -> None:
        """One 20 ms slot went by: packets held behind a gap (or a stream start) wait one tick longer."""
        if self._packets:
            self._waited += 1
        if self._released:
            self._released = False
            self._dry = False
        elif self._playing and not self._dry:
            self.stats.underruns += 1
            self._dry = True  # counted once per dry spell

    def pop(self) -> Released | None:
        """The next packet, concealment for a lost one, or None when the next one may still come."""
        if self._flushed:
            return self._flushed.popleft()
        if not self._packets:
            return None
        if self._starting:
            if len(self._packets) < self.prefetch and self._waited < self.prefetch:
                return None
            self._starting = False
            self._next = min(self._packets)
        assert self._next is not None
        entry = self._packets.pop(self._next, None)
        if entry is not None:
            self._next += 1
            self._waited = 0
            return self._release(*entry)
        newest = max(self._packets)
        if newest - self._next < self.prefetch and self._waited < self.prefetch:
            return None  # a gap, but the missing packet may just be late
        self.stats.lost += 1
        self._next += 1
        return Released(self._conceal(), None, self._stream)

    def _release(self, pcm: bytes | None, timestamp: int) -> Released:
        self._playing = True
        self._released = True
        self.stats.played += 1
        if pcm is None:
            return Released(bytes(self._packet_bytes()), None, self._stream)
        self._last_audio = pcm
        self._concealed_in_a_row = 0
        return Released(pcm, timestamp, self._stream)

    def _new_stream(self) -> None:
        # What the previous stream left goes out first, in its order: a new SSRC must not cost the old audio.
        for ext in sorted(self._packets):
            pcm, timestamp = self._packets[ext]
            self._flushed.append(self._release(pcm, timestamp))
        self._packets.clear()
        self._stream += 1
        self._next = None
        self._last_pushed = None
        self._starting = True
        self._playing = False
        self._waited = 0

    def _bound_depth(self, newest: int) -> None:
        assert self._next is not None
        while newest - self._next + 1 > self.max_depth:
            if self._packets.pop(self._next, None) is not None:
                self.stats.overflow += 1
            else:
                self.stats.lost += 1
            self._next += 1
            self._playing = True

    def _packet_bytes(self) -> int:
        return len(self._last_audio) if self._last_audio else self._default_packet_bytes

    def _conceal(self) -> bytes:
        # One lost packet: repeat the last one at half amplitude (less audible than a hole); then silence.
        self._concealed_in_a_row += 1
        if self._concealed_in_a_row == 1 and self._last_audio is not None:
            return attenuate(self._last_audio, 0.5)
        return bytes(self._packet_bytes())
