"""Errors the store raises: callers never see a raw database driver exception."""

from __future__ import annotations

from datetime import datetime


class StoreError(Exception):
    """Base class of every error raised by `signalements`."""


class StoreUnavailable(StoreError):
    """The database cannot be reached (down, locked, unreachable): the operation may succeed later."""


class NotFound(StoreError):
    """No call or report with that id."""


class InvalidRecord(StoreError, ValueError):
    """The data given to the store is malformed (unknown speaker, naive datetime, bad status filter...)."""


class InvalidTransition(StoreError):
    """The report workflow does not allow this change (e.g. validating a rejected report)."""


class Conflict(StoreError):
    """Someone else changed the record since the version the caller read: nothing was overwritten."""


class LoginRefused(StoreError):
    """Wrong name or password, or a locked or disabled account (the message never says which of the first two)."""

    def __init__(self, message: str, *, locked_until: datetime | None = None) -> None:
        super().__init__(message)
        self.locked_until = locked_until
