"""Counters of one RTP session, exposed per call."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RtpStats:
    received: int = 0  # valid packets accepted from the caller (audio, DTMF, comfort noise)
    audio_packets: int = 0  # of which audio packets handed to the jitter buffer
    invalid: int = 0  # datagrams that are not valid RTP (or unusable payloads)
    strangers: int = 0  # valid RTP from an address that is not the caller's
    srtp_auth_failed: int = 0  # SRTP datagrams that failed authentication (forged, corrupted, other key): dropped
    srtp_replayed: int = 0  # SRTP datagrams already received, or older than the replay window: dropped
    unknown_payload_type: int = 0
    dtmf_packets: int = 0
    frames_released: int = 0  # 20 ms frames put in the inbound FIFO: audio, concealment and silence fill
    silence_filled: int = 0  # of which silence the clock inserted because nothing came (DTX, hold, outage)
    frames_read: int = 0  # frames taken by read_frame()
    inbound_overflow: int = 0  # oldest frames dropped because nobody read them for too long
    sent: int = 0
    send_errors: int = 0
    errors: int = 0  # unexpected exceptions while handling a datagram or a clock tick (logged, never raised)
