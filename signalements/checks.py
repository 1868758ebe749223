"""Checks on values given to the store: each raises InvalidRecord naming the field."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from signalements.errors import InvalidRecord


def check_aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRecord(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def check_text(name: str, value: str | None, max_len: int, *, required: bool = True) -> str | None:
    if value is None:
        if required:
            raise InvalidRecord(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise InvalidRecord(f"{name} must be a string, got {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise InvalidRecord(f"{name} must not be empty")
    if len(value) > max_len:
        raise InvalidRecord(f"{name} is longer than {max_len} characters")
    return value or None


def check_required(name: str, value: str | None, max_len: int) -> str:
    checked = check_text(name, value, max_len)
    assert checked is not None
    return checked


def check_confidence(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0 or math.isnan(value):
        raise InvalidRecord(f"{name} must be between 0 and 1, got {value!r}")
    return float(value)
