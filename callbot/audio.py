"""The audio contract between a transport (SIP/RTP, WebRTC) and a call session."""

from __future__ import annotations

from typing import Protocol


class AudioPort(Protocol):
    """What a transport (SIP/RTP, WebRTC) gives a call session."""

    sample_rate: int  # rate of the frames read and of the PCM played

    async def read_frame(self) -> bytes | None:
        """The next 20 ms of caller audio, in order: one every 20 ms on average while the call lives (silence
        on loss/DTX), and a reader that fell behind gets the backlog at once, nothing dropped. None once closed."""
        ...

    @property
    def frames_dropped(self) -> int:
        """Caller frames dropped before they were read (a reader stalled longer than the buffer): 0 normally."""
        ...

    def play(self, pcm: bytes) -> None:
        """Queue bot audio (any length) for paced sending."""
        ...

    def clear_playback(self) -> None:
        """Barge-in: drop whatever is queued."""
        ...

    def playback_pending(self) -> float:
        """Seconds of bot audio still queued."""
        ...

    async def wait_played(self) -> None:
        """Return once the queue has been sent out."""
        ...
