"""A small jitter buffer for one incoming RTP stream.

It knows nothing of time: the owner pops once per packet interval (clocked playout) and pushes packets as they
arrive. Packets are ordered by their extended sequence number (16-bit wrap-around handled), duplicates and
packets that arrive after their turn are dropped, a missing packet is concealed, and the buffered span is
bounded so latency stays near `prefetch` packets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_SEQ_MOD = 1 << 16
_HALF_SEQ = 1 << 15


@dataclass
class JitterStats:
    played: int = 0
    late: int = 0  # arrived after their turn (or older than what was played): dropped
    duplicates: int = 0
    lost: int = 0  # never arrived in time: concealed
    overflow: int = 0  # dropped to keep the buffer bounded
    resyncs: int = 0  # restarts on a new SSRC or a large sequence jump
    underruns: int = 0  # buffer ran dry (silence, DTX or a delay spike)


def extend_sequence(sequence: int, reference: int) -> int:
    """The extended sequence number nearest to `reference` whose low 16 bits are `sequence`."""
    delta = (sequence - reference + _HALF_SEQ) % _SEQ_MOD - _HALF_SEQ
    return reference + delta


def attenuate(pcm: bytes, factor: float) -> bytes:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) * factor
    return samples.astype("<i2").tobytes()


class JitterBuffer:
    """Reorders and de-duplicates decoded packets; `pop()` returns one packet's PCM per call."""

    def __init__(
        self, prefetch: int = 3, max_depth: int = 5, resync_gap: int = 50, default_packet_bytes: int = 320
    ) -> None:
        if not 1 <= prefetch <= max_depth:
            raise ValueError("need 1 <= prefetch <= max_depth")
        self.prefetch = prefetch
        self.max_depth = max_depth
        self.resync_gap = resync_gap
        self.stats = JitterStats()
        self._default_packet_bytes = default_packet_bytes
        self._ssrc: int | None = None
        # Extended sequence -> PCM, or None for a packet that holds no audio (DTMF, comfort noise).
        self._packets: dict[int, bytes | None] = {}
        self._next: int | None = None  # extended sequence number of the next packet to play
        self._buffering = True
        self._stream_started = False  # whether this stream has played anything yet
        self._buffering_pops = 0
        self._last_audio: bytes | None = None
        self._concealed_in_a_row = 0

    @property
    def ssrc(self) -> int | None:
        """SSRC of the stream being played."""
        return self._ssrc

    @property
    def depth(self) -> int:
        """Packets currently held."""
        return len(self._packets)

    def reset(self) -> None:
        self._packets.clear()
        self._next = None
        self._buffering = True
        self._stream_started = False
        self._buffering_pops = 0

    def push(self, ssrc: int, sequence: int, pcm: bytes | None) -> bool:
        """Offer one packet; returns False when it was dropped (late, duplicate)."""
        if ssrc != self._ssrc:
            if self._ssrc is not None:
                self.stats.resyncs += 1
            self._ssrc = ssrc
            self.reset()
        if self._next is None:
            self._next = sequence
        ext = extend_sequence(sequence, self._next)
        if abs(ext - self._next) > self.resync_gap:
            # The sender restarted or skipped far ahead: start over from this packet.
            self.stats.resyncs += 1
            self.reset()
            self._next = ext = sequence
        if ext < self._next:
            if self._stream_started:
                self.stats.late += 1
                return False
            self._next = ext  # reordered before playout began: nothing was played yet, take it
        if ext in self._packets:
            self.stats.duplicates += 1
            return False
        self._packets[ext] = pcm
        self._bound_depth(ext)
        return True

    def _bound_depth(self, newest: int) -> None:
        assert self._next is not None
        highest = max(newest, *self._packets) if self._packets else newest
        while highest - self._next + 1 > self.max_depth:
            if self._packets.pop(self._next, False) is not False:
                self.stats.overflow += 1
            else:
                self.stats.lost += 1
            self._next += 1
            self._stream_started = True

    def pop(self) -> bytes | None:
        """PCM for the next packet interval, concealment for a lost packet, or None when empty (underrun)."""
        if self._buffering:
            if not self._packets:
                return None
            self._buffering_pops += 1
            if len(self._packets) < self.prefetch and self._buffering_pops <= self.prefetch:
                return None
            self._buffering = False
            first = min(self._packets)
            assert self._next is not None
            if first > self._next and self._stream_started:
                self.stats.lost += first - self._next
            self._next = first
        assert self._next is not None
        if self._next in self._packets:
            pcm = self._packets.pop(self._next)
            self._next += 1
            self._stream_started = True
            self.stats.played += 1
            if pcm is None:
                return bytes(self._packet_bytes())
            self._last_audio = pcm
            self._concealed_in_a_row = 0
            return pcm
        if self._packets:
            self.stats.lost += 1
            self._next += 1
            return self._conceal()
        self.stats.underruns += 1
        self._buffering = True
        self._buffering_pops = 0
        return None

    def _packet_bytes(self) -> int:
        return len(self._last_audio) if self._last_audio else self._default_packet_bytes

    def _conceal(self) -> bytes:
        # One lost packet: repeat the last one at half amplitude (less audible than a hole); then silence.
        self._concealed_in_a_row += 1
        if self._concealed_in_a_row == 1 and self._last_audio is not None:
            return attenuate(self._last_audio, 0.5)
        return bytes(self._packet_bytes())
