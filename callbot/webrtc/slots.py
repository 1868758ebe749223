"""One limit on calls at once for SIP and WebRTC together (`sip.max_calls`).

The SIP endpoint refuses an INVITE (486) when its `active_calls` reach its `max_calls`; browser calls take their
slots from the same limit by lowering that figure while they last, so the endpoint's own check counts them too,
and a browser is told "busy" when SIP calls and browser calls together fill the limit.
"""

from __future__ import annotations

from typing import Protocol


class SipCalls(Protocol):
    """What of the SIP endpoint the limit reads and sets (callbot.sip.SipEndpoint)."""

    max_calls: int

    @property
    def active_calls(self) -> int: ...


class CallSlots:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.webrtc = 0  # browser calls holding a slot
        self._sip: SipCalls | None = None

    def attach(self, sip: SipCalls) -> None:
        """The SIP endpoint shares the limit from now on."""
        self._sip = sip
        self._update()

    @property
    def active(self) -> int:
        return self.webrtc + (self._sip.active_calls if self._sip is not None else 0)

    def has_room(self) -> bool:
        return self.active < self.limit

    def acquire(self) -> bool:
        """A slot for a browser call, or False when every line is taken."""
        if not self.has_room():
            return False
        self.webrtc += 1
        self._update()
        return True

    def release(self) -> None:
        self.webrtc = max(0, self.webrtc - 1)
        self._update()

    def _update(self) -> None:
        if self._sip is not None:
            self._sip.max_calls = max(0, self.limit - self.webrtc)
