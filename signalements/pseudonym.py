"""Pseudonymisation of phone numbers: the caller's number is never stored in clear."""

from __future__ import annotations

import hashlib
import hmac

MIN_KEY_BYTES = 16


def check_key(key: bytes) -> bytes:
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise ValueError(f"pseudonym_key must be at least {MIN_KEY_BYTES} random bytes")
    return key


def pseudonymise(key: bytes, phone_number: str | None) -> str | None:
    """HMAC-SHA256 of the number, hex: stable for one key (repeat callers), useless without it.

    Only digits and "+" count, so "06 12 34 56 78" and "0612345678" match; no digits at all gives None.
    """
    if phone_number is None:
        return None
    normalised = "".join(ch for ch in phone_number if ch.isdigit() or ch == "+")
    if not any(ch.isdigit() for ch in normalised):
        return None
    return hmac.new(key, normalised.encode("ascii"), hashlib.sha256).hexdigest()
