"""Errors raised by the SIP stack."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from callbot.sip.message import SipRequest


class SipParseError(ValueError):
    """The bytes are not a valid SIP message.

    `partial` holds the request as far as it could be read, so the endpoint can still
    answer 400 when the headers needed to build a response are readable.
    """

    def __init__(self, reason: str, partial: SipRequest | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial


class SipError(Exception):
    """A SIP operation failed (transport error, timeout, bad state)."""
