"""One limit for SIP and browser calls together: each kind's calls take lines from the other's."""

from __future__ import annotations

from callbot.webrtc.slots import CallSlots


class FakeEndpoint:
    """The SIP endpoint's own check: an INVITE is refused when active_calls >= max_calls."""

    def __init__(self, max_calls: int) -> None:
        self.max_calls = max_calls
        self.active_calls = 0

    def invite(self) -> bool:
        if self.active_calls >= self.max_calls:
            return False
        self.active_calls += 1
        return True


def test_browser_calls_and_sip_calls_share_the_limit() -> None:
    sip = FakeEndpoint(3)
    slots = CallSlots(3)
    slots.attach(sip)
    assert sip.invite()  # one phone call
    assert slots.acquire() and slots.acquire()  # two browser calls
    assert slots.active == 3 and not slots.has_room()
    assert not sip.invite()  # the phone gets busy
    assert not slots.acquire()  # and so does the page
    slots.release()
    assert sip.invite()  # the line a browser call freed goes to the phone
    assert not slots.acquire()
    sip.active_calls = 0
    slots.release()
    assert sip.max_calls == 3 and slots.webrtc == 0


def test_before_sip_is_up_only_browser_calls_count() -> None:
    slots = CallSlots(1)
    assert slots.acquire() and not slots.acquire()
    sip = FakeEndpoint(1)
    slots.attach(sip)
    assert sip.max_calls == 0 and not sip.invite()
