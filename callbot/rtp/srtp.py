"""SRTP (RFC 3711) for one RTP stream, keyed by SDES (RFC 4568): a thin typed layer over libsrtp (pylibsrtp).

SDES gives each direction its own master key and salt (30 bytes for the AES_CM_128 suites): ours protects what
we send, the peer's unprotects what we receive. libsrtp allows one wildcard-SSRC template per session, so each
direction gets its own libsrtp session.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pylibsrtp

# RFC 4568 §6.2 suite names → libsrtp profiles. _32 shortens the RTP tag only (RTCP keeps 80 bits, RFC 3711 §5.2).
SUITES: dict[str, int] = {
    "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}
MASTER_KEY_BYTES = 30  # 128-bit master key followed by the 112-bit master salt
# pylibsrtp works in a 1500-byte buffer that must also hold the trailer (tag, room for an MKI)
MAX_PROTECT_BYTES = 1500 - pylibsrtp.SRTP_MAX_TRAILER_LEN
MAX_UNPROTECT_BYTES = 1500
_REPLAY_ERRORS = ("replay check failed", "packet index is too old")


class SrtpError(Exception):
    """A packet could not be protected or unprotected."""


class SrtpAuthError(SrtpError):
    """An incoming packet failed authentication: forged, corrupted, or keyed differently."""


class SrtpReplayError(SrtpError):
    """An incoming packet was already received (or is older than the replay window)."""


def new_master_key() -> bytes:
    """A fresh master key and salt for our side of a call (RFC 4568 §6.1: never reused across sessions)."""
    return secrets.token_bytes(MASTER_KEY_BYTES)


@dataclass(frozen=True)
class SrtpKey:
    """One direction's keying: the crypto suite and its master key || master salt."""

    suite: str
    key: bytes

    def __post_init__(self) -> None:
        if self.suite not in SUITES:
            raise ValueError(f"unsupported SRTP crypto suite {self.suite!r}")
        if len(self.key) != MASTER_KEY_BYTES:
            raise ValueError(f"SRTP master key and salt must be {MASTER_KEY_BYTES} bytes, got {len(self.key)}")

    def __repr__(self) -> str:  # never the key itself: reprs end up in logs
        return f"SrtpKey({self.suite})"


def _session(key: SrtpKey, ssrc_type: int) -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(key=key.key, ssrc_type=ssrc_type, srtp_profile=SUITES[key.suite])
    return pylibsrtp.Session(policy)


class SrtpSession:
    """Protects what we send with `send` and unprotects what we receive with `receive`.

    `rekey()` keeps a direction's libsrtp state when its key did not change (a re-INVITE refreshing the same
    keys): starting over would reset the rollover counter and replay window, and reuse keystream.
    """

    def __init__(self, send: SrtpKey, receive: SrtpKey) -> None:
        self._send_key = send
        self._receive_key = receive
        self._tx = _session(send, pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        self._rx = _session(receive, pylibsrtp.Policy.SSRC_ANY_INBOUND)

    @property
    def suite(self) -> str:
        return self._send_key.suite

    def rekey(self, send: SrtpKey, receive: SrtpKey) -> None:
        if send != self._send_key:
            self._tx = _session(send, pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
            self._send_key = send
        if receive != self._receive_key:
            self._rx = _session(receive, pylibsrtp.Policy.SSRC_ANY_INBOUND)
            self._receive_key = receive

    def protect(self, packet: bytes) -> bytes:
        """The SRTP packet for an RTP packet; SrtpError if libsrtp refuses it (too long, index exhausted)."""
        if len(packet) > MAX_PROTECT_BYTES:
            raise SrtpError(f"RTP packet of {len(packet)} bytes is too long to protect")
        try:
            return self._tx.protect(packet)
        except pylibsrtp.Error as exc:
            raise SrtpError(f"SRTP protect failed: {exc}") from None

    def unprotect(self, data: bytes) -> bytes:
        """The RTP packet inside an SRTP datagram: SrtpAuthError, SrtpReplayError or SrtpError when unusable."""
        if len(data) > MAX_UNPROTECT_BYTES:
            raise SrtpError(f"SRTP datagram of {len(data)} bytes is too long")
        try:
            return self._rx.unprotect(data)
        except pylibsrtp.Error as exc:
            reason = str(exc)
            if reason.startswith(_REPLAY_ERRORS):
                raise SrtpReplayError(f"SRTP replay: {reason}") from None
            if reason == "authentication failure":
                raise SrtpAuthError("SRTP authentication failed") from None
            raise SrtpError(f"SRTP unprotect failed: {reason}") from None
