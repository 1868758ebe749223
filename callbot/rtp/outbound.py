"""Our outgoing RTP stream: its identity (SSRC, sequence, timestamps) and the packet of each clock tick."""

from __future__ import annotations

import secrets

from callbot.rtp.codec import RtpCodec
from callbot.rtp.packet import RtpPacket, build_rtp


class OutboundStream:
    def __init__(self, samples_per_frame: int, send_silence: bool = True) -> None:
        self.send_silence = send_silence  # keep-alive: a silent packet on ticks when the bot is quiet
        self._samples_per_frame = samples_per_frame
        self._codec: RtpCodec | None = None
        self._silent_payload = b""
        self._talking = False
        # RFC 3550: random initial values.
        self.ssrc = secrets.randbits(32)
        self._sequence = secrets.randbits(16)
        self._timestamp_base = secrets.randbits(32)

    def set_codec(self, codec: RtpCodec) -> None:
        self._codec = codec
        self._silent_payload = bytes([codec.silence_byte]) * self._samples_per_frame

    def packet(self, frame: bytes | None, tick: int, send: bool) -> bytes | None:
        """The datagram for clock tick `tick` carrying `frame` (None: the bot is quiet), or None if nothing goes
        out. The timestamp follows the clock whether or not packets are sent; the sequence only counts packets
        sent, and the marker opens each talkspurt (RFC 3551 §4.1)."""
        marker = frame is not None and not self._talking
        self._talking = frame is not None
        codec = self._codec
        if not send or codec is None or (frame is None and not self.send_silence):
            return None
        payload = self._silent_payload if frame is None else codec.encode(frame)
        data = build_rtp(
            RtpPacket(
                payload_type=codec.payload_type,
                sequence=self._sequence,
                timestamp=(self._timestamp_base + tick * self._samples_per_frame) & 0xFFFFFFFF,
                ssrc=self.ssrc,
                payload=payload,
                marker=marker,
            )
        )
        self._sequence = (self._sequence + 1) & 0xFFFF
        return data
