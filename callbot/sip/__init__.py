"""Asyncio SIP user agent server (RFC 3261) that answers the callbot's calls."""

from callbot.sip.call import CallState, SipCall
from callbot.sip.endpoint import SipEndpoint
from callbot.sip.errors import SipError, SipParseError
from callbot.sip.transaction import SipTimers

__all__ = ["CallState", "SipCall", "SipEndpoint", "SipError", "SipParseError", "SipTimers"]
