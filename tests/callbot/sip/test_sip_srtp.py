"""SRTP keyed by SDES (RFC 4568) in SIP calls: a=crypto parsing, offer/answer per sip.srtp, and a whole call whose
media is SRTP between the endpoint (real RtpSession) and a peer protecting with pylibsrtp directly."""

from __future__ import annotations

import asyncio
import base64
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pylibsrtp
import pytest

from callbot.rtp import PCMU
from callbot.rtp.packet import RtpPacket, build_rtp, parse_rtp
from callbot.sip import SipCall, SipEndpoint
from callbot.sip.media import MediaSession
from callbot.sip.message import SipResponse
from callbot.sip.offer_answer import LocalSdp, MediaNegotiation
from callbot.sip.sdp import (
    SdpError,
    SrtpMode,
    accept_answer,
    build_answer,
    build_offer,
    negotiate,
    parse_crypto,
    parse_sdp,
)
from tests.reliability.sip_reliability_support import log_text, running_callbot
from tests.support.audio_match import locate, read_wav
from tests.support.callbot_process import CallbotProcess
from tests.support.sip_peers import run_baresip_call, write_silence_padded_wav

from .conftest import FakeMedia, MediaRecorder, RawPeer

MakeEndpoint = Callable[..., Awaitable[SipEndpoint]]
MakePeer = Callable[[SipEndpoint], Awaitable[RawPeer]]

SUITE_80 = "AES_CM_128_HMAC_SHA1_80"
SUITE_32 = "AES_CM_128_HMAC_SHA1_32"
THEIR_KEY = bytes(range(30))
THEIR_INLINE = base64.b64encode(THEIR_KEY).decode()


def offer(media: str) -> bytes:
    return (f"v=0\r\no=- 7 7 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n{media}").encode()


def savp(*crypto: str, proto: str = "RTP/SAVP") -> bytes:
    lines = "".join(f"a=crypto:{value}\r\n" for value in crypto)
    return offer(f"m=audio 4000 {proto} 0 101\r\na=rtpmap:101 telephone-event/8000\r\n{lines}")


PLAIN = offer("m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n")
GOOD_80 = f"1 {SUITE_80} inline:{THEIR_INLINE}"


def crypto_lines(sdp: bytes) -> list[str]:
    return [line[len("a=crypto:") :] for line in sdp.decode().splitlines() if line.startswith("a=crypto:")]


# --- a=crypto ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "tag", "suite"),
    [
        (GOOD_80, 1, SUITE_80),
        (f"42 {SUITE_32} inline:{THEIR_INLINE}", 42, SUITE_32),
        (f"1 {SUITE_80} INLINE:{THEIR_INLINE}", 1, SUITE_80),
        (f"1 {SUITE_80} inline:{THEIR_INLINE}|2^31", 1, SUITE_80),  # a lifetime we cannot exhaust
        (f"1 {SUITE_80} inline:{THEIR_INLINE}|2^48", 1, SUITE_80),
    ],
)
def test_usable_crypto_attributes(value: str, tag: int, suite: str) -> None:
    crypto = parse_crypto(value)
    assert (crypto.tag, crypto.suite, crypto.key) == (tag, suite, THEIR_KEY)
    assert THEIR_INLINE not in repr(crypto) and repr(THEIR_KEY) not in repr(crypto)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "1",
        f"1 {SUITE_80}",
        f"x {SUITE_80} inline:{THEIR_INLINE}",  # tag not a number
        f"1234567890 {SUITE_80} inline:{THEIR_INLINE}",  # tag longer than 9 digits
        f"1 AES_256_CM_HMAC_SHA1_80 inline:{base64.b64encode(bytes(46)).decode()}",  # a suite we do not take
        f"1 AEAD_AES_128_GCM inline:{base64.b64encode(bytes(28)).decode()}",
        f"1 F8_128_HMAC_SHA1_80 inline:{THEIR_INLINE}",
        f"1 {SUITE_80} inline:not*base64!",
        f"1 {SUITE_80} inline:{THEIR_INLINE[:-1]}",  # bad padding
        f"1 {SUITE_80} inline:{base64.b64encode(bytes(16)).decode()}",  # key without salt
        f"1 {SUITE_80} inline:{base64.b64encode(bytes(31)).decode()}",
        f"1 {SUITE_80} inline:",
        f"1 {SUITE_80} uri:https://keys.example/1",  # another key method
        f"1 {SUITE_80} inline:{THEIR_INLINE}|2^20",  # lifetime we could exhaust: we never rekey
        f"1 {SUITE_80} inline:{THEIR_INLINE}|1048576",
        f"1 {SUITE_80} inline:{THEIR_INLINE}|2^20|1:4",  # MKI
        f"1 {SUITE_80} inline:{THEIR_INLINE}|1:4",
        f"1 {SUITE_80} inline:{THEIR_INLINE}|2^31|2^31",
        f"1 {SUITE_80} inline:{THEIR_INLINE}|forever",
        f"1 {SUITE_80} inline:{THEIR_INLINE};inline:{THEIR_INLINE}",  # several keys
        f"1 {SUITE_80} inline:{THEIR_INLINE} KDR=10",  # session parameters
        f"1 {SUITE_80} inline:{THEIR_INLINE} UNENCRYPTED_SRTP",
    ],
)
def test_unusable_crypto_attributes_are_sdp_errors(value: str) -> None:
    with pytest.raises(SdpError):
        parse_crypto(value)


# --- offer/answer per sip.srtp ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["optional", "required"])
def test_an_srtp_offer_is_answered_with_srtp_and_our_own_key(mode: SrtpMode) -> None:
    ours = secrets.token_bytes(30)
    sdp = parse_sdp(savp(GOOD_80, f"2 {SUITE_32} inline:{THEIR_INLINE}"))
    index, chosen = negotiate(sdp, mode, ours)
    assert chosen.srtp is not None
    assert (chosen.srtp.tag, chosen.srtp.suite) == (1, SUITE_80)
    assert (chosen.srtp.local_key, chosen.srtp.remote_key) == (ours, THEIR_KEY)
    answer = build_answer(sdp, index, chosen, "127.0.0.1", 31000, 42, 1)
    assert b"m=audio 31000 RTP/SAVP 0 101\r\n" in answer
    assert crypto_lines(answer) == [f"1 {SUITE_80} inline:{base64.b64encode(ours).decode()}"]


def test_the_first_usable_crypto_line_is_taken() -> None:
    sdp = parse_sdp(
        savp(
            f"1 AEAD_AES_256_GCM inline:{base64.b64encode(bytes(44)).decode()}",
            f"2 {SUITE_80} inline:!!!",
            f"3 {SUITE_32} inline:{THEIR_INLINE}",
            GOOD_80.replace("1 ", "4 ", 1),
        )
    )
    _, chosen = negotiate(sdp, "required")
    assert chosen.srtp is not None and (chosen.srtp.tag, chosen.srtp.suite) == (3, SUITE_32)
    assert chosen.srtp.local_key != THEIR_KEY and len(chosen.srtp.local_key) == 30  # a fresh key when none given


def test_savpf_is_taken_too() -> None:
    _, chosen = negotiate(parse_sdp(savp(GOOD_80, proto="RTP/SAVPF")), "optional")
    assert chosen.srtp is not None


@pytest.mark.parametrize("mode", ["off", "optional"])
def test_a_plain_offer_is_answered_plain(mode: SrtpMode) -> None:
    sdp = parse_sdp(PLAIN)
    index, chosen = negotiate(sdp, mode)
    assert chosen.srtp is None
    answer = build_answer(sdp, index, chosen, "127.0.0.1", 31000, 42, 1)
    assert b"RTP/AVP 0 101" in answer and not crypto_lines(answer)


def test_required_refuses_a_plain_offer_with_a_clear_reason() -> None:
    with pytest.raises(SdpError) as error:
        negotiate(parse_sdp(PLAIN), "required")
    assert error.value.warning == 302 and "SRTP is required" in str(error.value)


def test_off_refuses_an_srtp_only_offer() -> None:
    with pytest.raises(SdpError) as error:
        negotiate(parse_sdp(savp(GOOD_80)), "off")
    assert error.value.warning == 302 and "SRTP is off" in str(error.value)


@pytest.mark.parametrize("mode", ["optional", "required"])
@pytest.mark.parametrize(
    "crypto",
    [
        (),
        (f"1 {SUITE_80} inline:{THEIR_INLINE}|2^20|1:4",),
        (f"1 {SUITE_80} inline:AAAA", f"2 SOME_FUTURE_SUITE inline:{THEIR_INLINE}"),
    ],
)
def test_an_srtp_offer_without_a_usable_key_is_refused(mode: SrtpMode, crypto: tuple[str, ...]) -> None:
    with pytest.raises(SdpError) as error:
        negotiate(parse_sdp(savp(*crypto)), mode)
    assert "crypto" in str(error.value)


def test_optional_takes_the_stream_it_can_use_when_there_are_two() -> None:
    # an SRTP stream with a key we cannot use, then a plain one: answered on the plain one
    two = offer(
        f"m=audio 4000 RTP/SAVP 0\r\na=crypto:1 {SUITE_80} inline:{THEIR_INLINE}|1:4\r\nm=audio 4002 RTP/AVP 0\r\n"
    )
    index, chosen = negotiate(parse_sdp(two), "optional")
    assert index == 1 and chosen.srtp is None


def test_our_offer_is_srtp_only_when_asked_and_its_answer_is_checked() -> None:
    key = secrets.token_bytes(30)
    plain = build_offer("127.0.0.1", 31000, 1, 1)
    assert b"RTP/AVP 0 8 101" in plain and not crypto_lines(plain)
    secure = build_offer("127.0.0.1", 31000, 1, 1, srtp_key=key)
    inline = base64.b64encode(key).decode()
    assert b"RTP/SAVP 0 8 101" in secure
    assert crypto_lines(secure) == [f"1 {SUITE_80} inline:{inline}", f"2 {SUITE_32} inline:{inline}"]

    answer = parse_sdp(savp(f"2 {SUITE_32} inline:{THEIR_INLINE}"))
    negotiated = accept_answer(answer, key)
    assert negotiated.srtp is not None
    assert (negotiated.srtp.suite, negotiated.srtp.local_key, negotiated.srtp.remote_key) == (SUITE_32, key, THEIR_KEY)
    for bad in (
        savp(f"2 {SUITE_80} inline:{THEIR_INLINE}"),  # tag 2 was _32
        savp(f"3 {SUITE_80} inline:{THEIR_INLINE}"),  # a tag we never offered
        PLAIN,  # plain answer to an SRTP offer
    ):
        with pytest.raises(SdpError):
            accept_answer(parse_sdp(bad), key)
    with pytest.raises(SdpError):
        accept_answer(parse_sdp(savp(GOOD_80)))  # SRTP answer to a plain offer


# --- a call's successive exchanges ---------------------------------------------------------------------------------


class KeyedMedia:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def start(self, remote: tuple[str, int], codec: object, dtmf_payload_type: int | None) -> None:
        self.calls.append(("start", remote))

    def set_direction(self, direction: str) -> None:
        self.calls.append(("direction", direction))

    def set_srtp(self, suite: str | None, send_key: bytes, receive_key: bytes) -> None:
        self.calls.append(("srtp", (suite, send_key, receive_key)))


def negotiation(mode: SrtpMode) -> tuple[MediaNegotiation, KeyedMedia]:
    media = KeyedMedia()
    local = LocalSdp("127.0.0.1", 31000, 77, "callbot-test")
    return MediaNegotiation(cast(MediaSession, media), lambda *codec: codec, local, mode), media


def srtp_calls(media: KeyedMedia) -> list[Any]:
    return [args for kind, args in media.calls if kind == "srtp"]


def test_the_call_keeps_its_key_across_a_refresh_and_follows_the_peers_rekey() -> None:
    state, media = negotiation("optional")
    first = state.answer_offer(savp(GOOD_80))
    ours = base64.b64decode(crypto_lines(first)[0].split("inline:")[1])
    assert state.answer_offer(savp(GOOD_80)) == first  # a refresh: same key, same SDP, same version
    new_key = secrets.token_bytes(30)
    rekeyed = state.answer_offer(savp(f"1 {SUITE_80} inline:{base64.b64encode(new_key).decode()}"))
    assert crypto_lines(rekeyed) == crypto_lines(first)  # our key does not change with theirs
    assert srtp_calls(media) == [(SUITE_80, ours, THEIR_KEY), (SUITE_80, ours, THEIR_KEY), (SUITE_80, ours, new_key)]
    state.answer_offer(PLAIN)  # "optional": back to plain RTP
    assert srtp_calls(media)[-1] == (None, b"", b"")


def test_plain_calls_never_touch_srtp() -> None:
    state, media = negotiation("optional")
    state.answer_offer(PLAIN)
    state.answer_offer(PLAIN)
    assert srtp_calls(media) == []


def test_a_required_call_offers_srtp_in_the_200_and_takes_the_acks_answer() -> None:
    state, media = negotiation("required")
    ours = state.make_offer()
    assert b"RTP/SAVP" in ours and len(crypto_lines(ours)) == 2
    state.take_answer(savp(GOOD_80))
    key = base64.b64decode(crypto_lines(ours)[0].split("inline:")[1])
    assert srtp_calls(media) == [(SUITE_80, key, THEIR_KEY)]
    # later offers of ours stay SRTP, whatever the setting, once the call is
    again = state.make_offer()
    assert b"RTP/SAVP" in again


def test_optional_offers_plain_rtp_and_refuses_an_srtp_answer() -> None:
    state, _ = negotiation("optional")
    ours = state.make_offer()
    assert b"RTP/AVP" in ours and not crypto_lines(ours)
    with pytest.raises(SdpError):
        state.take_answer(savp(GOOD_80))


def test_an_srtp_call_re_offers_srtp_even_when_optional() -> None:
    state, _ = negotiation("optional")
    state.answer_offer(savp(GOOD_80))
    assert b"RTP/SAVP" in state.make_offer()


# --- the endpoint: 488 per setting, and a whole SRTP call ---------------------------------------------------------


async def wait_for_end(call: SipCall) -> None:
    await call.ended.wait()


@pytest.mark.parametrize(
    ("mode", "body"),
    [
        ("required", PLAIN),
        ("off", savp(GOOD_80)),
        ("optional", savp(f"1 {SUITE_80} inline:{THEIR_INLINE}|2^20|1:4")),
        ("optional", savp(f"1 {SUITE_80} inline:%%%")),
        ("required", savp(f"1 {SUITE_80} inline:{base64.b64encode(bytes(12)).decode()}")),
        ("optional", savp(f"1 NOT_A_SUITE inline:{THEIR_INLINE}")),
        ("optional", savp("")),
    ],
)
async def test_unacceptable_offers_get_488_with_a_warning(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder, mode: SrtpMode, body: bytes
) -> None:
    endpoint = await make_endpoint(wait_for_end, srtp=mode)
    peer = await make_peer(endpoint)
    peer.send(peer.invite("srtp-488", body=body.decode()))
    refused = await peer.expect_response(488)
    assert refused.headers.get("Warning")
    assert media.sessions == []  # refused before any RTP port was bound
    assert endpoint.active_calls == 0


class KeyedFakeMedia(FakeMedia):
    def __init__(self, host: str) -> None:
        super().__init__(host)
        self.srtp: tuple[str | None, bytes, bytes] | None = None

    def set_srtp(self, suite: str | None, send_key: bytes, receive_key: bytes) -> None:
        self.srtp = (suite, send_key, receive_key)


async def test_a_required_endpoint_offers_srtp_to_an_invite_without_sdp(
    make_endpoint: MakeEndpoint, make_peer: MakePeer
) -> None:
    sessions: list[KeyedFakeMedia] = []

    async def bind(host: str, port_min: int, port_max: int) -> KeyedFakeMedia:
        sessions.append(KeyedFakeMedia(host))
        return sessions[-1]

    endpoint = await make_endpoint(wait_for_end, srtp="required", media_binder=bind)
    peer = await make_peer(endpoint)
    peer.send(peer.invite("srtp-delayed", body=""))
    ok = await peer.expect_response(200)
    assert b"RTP/SAVP" in ok.body and len(crypto_lines(ok.body)) == 2
    body = savp(f"2 {SUITE_32} inline:{THEIR_INLINE}").decode()
    peer.send(peer.request("ACK", call_id="srtp-delayed", to_tag=ok.to_addr.tag, body=body))
    for _ in range(50):
        if sessions and sessions[0].srtp is not None:
            break
        await asyncio.sleep(0.02)
    assert sessions[0].srtp is not None and sessions[0].srtp[0] == SUITE_32
    assert sessions[0].srtp[2] == THEIR_KEY


async def test_a_call_we_place_offers_srtp_when_required(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    from tests.callbot.sip.test_outbound import answer

    sessions: list[KeyedFakeMedia] = []

    async def bind(host: str, port_min: int, port_max: int) -> KeyedFakeMedia:
        sessions.append(KeyedFakeMedia(host))
        return sessions[-1]

    endpoint = await make_endpoint(wait_for_end, srtp="required", media_binder=bind)
    agent = await make_peer(endpoint)
    placing = asyncio.create_task(endpoint.place_call(f"sip:agents@127.0.0.1:{agent.port}", {}, 5))
    invite = await agent.expect_request("INVITE")
    assert b"RTP/SAVP 0 8 101" in invite.body and len(crypto_lines(invite.body)) == 2
    sdp = savp(f"1 {SUITE_80} inline:{THEIR_INLINE}").decode()
    agent.send(answer(invite, 200, "agent1", agent, sdp))
    call = await asyncio.wait_for(placing, 3)
    ours = base64.b64decode(crypto_lines(invite.body)[0].split("inline:")[1])
    assert sessions[0].srtp == (SUITE_80, ours, THEIR_KEY)
    hanging_up = asyncio.create_task(call.hangup())
    agent.respond(await agent.expect_request("BYE"), 200)
    await asyncio.wait_for(hanging_up, 2)


def tone(seconds: float, frequency: float) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return (8000 * np.sin(2 * np.pi * frequency * t)).astype("<i2").tobytes()


def dominant(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(float)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / 8000)[int(np.argmax(spectrum))])


class SrtpRtpPeer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.rx: pylibsrtp.Session | None = None
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.rx is not None:
            self.received.append(self.rx.unprotect(data))


async def test_a_whole_call_with_srtp_media_both_ways(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    """The endpoint with its real RtpSession: the peer's SRTP reaches the handler, the bot's tone comes back as
    SRTP under the key of the 200's a=crypto line."""
    heard: list[bytes] = []

    async def handler(call: SipCall) -> None:
        call.audio.play(tone(1.0, 440))
        while len(heard) < 40 and (frame := await call.audio.read_frame()) is not None:
            heard.append(frame)
        await call.ended.wait()

    from callbot.sip.media import bind_rtp_session, make_rtp_codec

    endpoint = await make_endpoint(handler, srtp="required", media_binder=bind_rtp_session, codec_maker=make_rtp_codec)
    peer = await make_peer(endpoint)
    loop = asyncio.get_running_loop()
    transport, rtp_peer = await loop.create_datagram_endpoint(SrtpRtpPeer, local_addr=("127.0.0.1", 0))
    try:
        rtp_port = transport.get_extra_info("sockname")[1]
        their_key = secrets.token_bytes(30)
        body = (
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {rtp_port} RTP/SAVP 0\r\n"
            f"a=crypto:5 {SUITE_80} inline:{base64.b64encode(their_key).decode()}\r\n"
        )
        peer.send(peer.invite("srtp-call", body=body))
        ok = await peer.expect_response(200)
        assert isinstance(ok, SipResponse)
        answer = parse_sdp(ok.body)
        [line] = crypto_lines(ok.body)
        assert line.startswith(f"5 {SUITE_80} inline:")
        profile = pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80
        bot_key = base64.b64decode(line.split("inline:")[1])
        rtp_peer.rx = pylibsrtp.Session(pylibsrtp.Policy(bot_key, pylibsrtp.Policy.SSRC_ANY_INBOUND, 0, profile))
        tx = pylibsrtp.Session(pylibsrtp.Policy(their_key, pylibsrtp.Policy.SSRC_ANY_OUTBOUND, 0, profile))
        peer.send(peer.ack_for(ok, "srtp-call"))

        bot = ("127.0.0.1", answer.media[0].port)
        pcm = tone(1.0, 1000)
        for seq in range(50):
            payload = PCMU.encode(pcm[seq * 320 : (seq + 1) * 320])
            transport.sendto(tx.protect(build_rtp(RtpPacket(0, seq, seq * 160, 0xCAFE, payload))), bot)
            await asyncio.sleep(0.02)
        for _ in range(100):
            if len(heard) >= 40:
                break
            await asyncio.sleep(0.02)
        assert len(heard) >= 40
        assert dominant(b"".join(heard)) == pytest.approx(1000, abs=20)
        bot_audio = b"".join(PCMU.decode(parse_rtp(p).payload) for p in rtp_peer.received[:40])
        assert len(rtp_peer.received) >= 40
        assert dominant(bot_audio) == pytest.approx(440, abs=20)
        peer.send(peer.request("BYE", call_id="srtp-call", cseq=2, to_tag=ok.to_addr.tag))
        await peer.expect_response(200)
    finally:
        transport.close()


# --- a real softphone: baresip with SDES-SRTP calls the real callbot ------------------------------------------------

BARESIP_SRTP = Path("/usr/lib/baresip/modules/srtp.so")
CALLER_CLIP = Path(__file__).parents[2] / "e2e" / "audio" / "stp_fr_07.wav"


def caller_microphone(path: Path, lead_s: float, tail_s: float) -> Path:
    """A French clip at the phone's rate, after `lead_s` of silence (the greeting cannot be interrupted)."""
    import soxr

    samples, rate = read_wav(CALLER_CLIP)
    pcm = soxr.resample(samples.astype(np.int16), rate, 8000).astype("<i2").tobytes()
    return write_silence_padded_wav(pcm, path, lead_s=lead_s, tail_s=tail_s)


async def greeting_rendering() -> np.ndarray:
    """The greeting as the demo voice says it with its noise off, which is what the caller must hear."""
    from callbot.config import load_settings, resolve_path
    from tts import TtsEngine, Voice, repeatable_synthesis

    settings = load_settings(Path("config/demo-models.yaml"), environ={})
    voice = Voice.load(resolve_path(settings.models.tts), None)
    engine = TtsEngine(voice, workers=1, cache_size=2, synthesis=repeatable_synthesis())
    pcm = await engine.render(settings.prompts.greeting, 8000)
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def stored_call(callbot: CallbotProcess, timeout_s: float = 20) -> dict[str, Any]:
    """The latest call once it has an outcome (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        page: Any = callbot.api("/api/calls?limit=1")
        assert page["items"], "no call was stored"
        call: Any = callbot.api(f"/api/calls/{page['items'][0]['call_id']}")
        if call.get("outcome") or time.monotonic() > deadline:
            return dict(call)
        time.sleep(0.3)


@pytest.mark.e2e
@pytest.mark.skipif(
    shutil.which("baresip") is None or not BARESIP_SRTP.exists(), reason="needs baresip and its srtp module"
)
async def test_baresip_with_srtp_talks_to_a_callbot_requiring_it_and_plain_baresip_gets_488(tmp_path: Path) -> None:
    env = {
        "CALLBOT_SIP_SRTP": "required",
        # Piper without its random noise, so what the caller hears can be compared to an exact rendering
        "CALLBOT_TTS_NOISE_SCALE": "0",
        "CALLBOT_TTS_NOISE_W_SCALE": "0",
        "CALLBOT_VAD_NO_INPUT_TIMEOUT_S": "30",
    }
    greeting = await greeting_rendering()
    speak_at = len(greeting) / 8000 + 2.0
    # a long tail: on a loaded machine the recogniser may need seconds after the words to store the turn
    microphone = caller_microphone(tmp_path / "caller.wav", lead_s=speak_at, tail_s=20.0)
    with running_callbot(tmp_path / "callbot", env) as callbot:
        target = f"sip:bot@127.0.0.1:{callbot.sip_port}"
        result = await run_baresip_call(
            target, microphone, tmp_path / "srtp", duration_s=int(speak_at + 25), mediaenc="srtp-mand"
        )
        assert "Call established" in result.output, result.output[-3000:]
        assert "SRTP is Enabled" in result.output, result.output[-3000:]
        # the greeting reached the caller: baresip decrypted it with the key of our answer
        assert result.heard_wavs, result.output[-2000:]
        heard, rate = read_wav(result.heard_wavs[0])
        assert rate == 8000
        match = locate(heard, greeting, 8000)
        assert match.correlation > 0.8 and match.offset_s < 2.0, match
        # the caller's words reached the bot: unprotected, recognised and stored as a caller turn
        call = stored_call(callbot)
        turns = call["turns"]
        assert turns[0]["speaker"] == "bot", turns
        caller_turns = [t for t in turns if t["speaker"] == "caller"]
        assert caller_turns and caller_turns[0]["text"].strip(), turns

        plain = await run_baresip_call(target, microphone, tmp_path / "plain", duration_s=3)
        assert "488 Not Acceptable Here" in plain.output, plain.output[-3000:]
        assert "Call established" not in plain.output
        assert "SRTP is required here" in log_text(callbot)
