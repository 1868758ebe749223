"""Calls from a browser: the call page, its signalling WebSocket, and a WebRTC call leg (aiortc) that the same
CallSession serves as it serves SIP calls."""

from callbot.webrtc.calls import WEBRTC_SAMPLE_RATE, WebRtcCalls
from callbot.webrtc.candidates import use_host_addresses
from callbot.webrtc.leg import Bridged, BridgeFunction, WebRtcLeg
from callbot.webrtc.signalling import add_webrtc_routes
from callbot.webrtc.slots import CallSlots

__all__ = [
    "WEBRTC_SAMPLE_RATE",
    "BridgeFunction",
    "Bridged",
    "CallSlots",
    "WebRtcCalls",
    "WebRtcLeg",
    "add_webrtc_routes",
    "use_host_addresses",
]
