"""RTP media for SIP calls: packets, G.711, jitter buffer, RFC 4733 DTMF and the paced RtpSession."""

from callbot.rtp.codec import PCMA, PCMU, RtpCodec
from callbot.rtp.session import RtpSession, RtpStats

__all__ = ["PCMA", "PCMU", "RtpCodec", "RtpSession", "RtpStats"]
