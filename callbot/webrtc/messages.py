"""The signalling messages of the call page, one JSON object per WebSocket text message.

Page -> server: {"type": "offer", "sdp": ...} (once, ICE gathering complete), {"type": "dtmf", "key": "0"},
{"type": "hangup"}. Server -> page: {"type": "ready", "iceServers": [...]}, {"type": "answer", "sdp": ...},
{"type": "state", "state": "connected" | "transferred" | "ended", "reason": ...},
{"type": "caption", "who": "bot" | "caller", "text": ...}, {"type": "busy"}, {"type": "unavailable"},
{"type": "error", "error": ...}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


class MessageError(ValueError):
    """Not a message of the call page."""


@dataclass(frozen=True)
class Offer:
    sdp: str


@dataclass(frozen=True)
class Key:
    key: str


@dataclass(frozen=True)
class Hangup:
    pass


PageMessage = Offer | Key | Hangup


def parse_message(text: str) -> PageMessage:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise MessageError("not JSON") from None
    if not isinstance(data, dict):
        raise MessageError("not a JSON object")
    kind = data.get("type")
    if kind == "offer":
        sdp = data.get("sdp")
        if not isinstance(sdp, str) or not sdp:
            raise MessageError('an offer needs "sdp" (a string)')
        return Offer(sdp)
    if kind == "dtmf":
        key = data.get("key")
        if not isinstance(key, str) or len(key) != 1 or key not in "0123456789*#":
            raise MessageError('"key" must be one of 0-9, * and #')
        return Key(key)
    if kind == "hangup":
        return Hangup()
    raise MessageError("unknown message type")
