"""RTP media for SIP calls: packets, G.711, jitter buffer, RFC 4733 DTMF, and RtpSession on the shared media clock."""

from callbot.rtp.clock import MediaClock, default_clock
from callbot.rtp.codec import PCMA, PCMU, RtpCodec
from callbot.rtp.session import RtpSession
from callbot.rtp.stats import RtpStats

__all__ = ["PCMA", "PCMU", "MediaClock", "RtpCodec", "RtpSession", "RtpStats", "default_clock"]
