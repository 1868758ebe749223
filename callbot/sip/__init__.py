"""Asyncio SIP endpoint (RFC 3261) that answers the callbot's calls, and places the calls of its bridges."""

from callbot.sip.call import CallState, SipCall
from callbot.sip.endpoint import SipEndpoint
from callbot.sip.errors import SipError, SipParseError
from callbot.sip.outbound import CallFailed, OutboundCall
from callbot.sip.transaction import SipTimers

__all__ = [
    "CallFailed",
    "CallState",
    "OutboundCall",
    "SipCall",
    "SipEndpoint",
    "SipError",
    "SipParseError",
    "SipTimers",
]
