"""re-INVITE and UPDATE offers (RFC 3264, RFC 3311) and the INVITE without SDP (RFC 3261 §13.2.1), driven by
hand-written UDP messages against SipEndpoint; the media is the recording stand-in of conftest."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from callbot.sip import SipCall, SipEndpoint
from callbot.sip.message import SipResponse
from callbot.sip.sdp import parse_sdp

from .conftest import OFFER_PCMU, MediaRecorder, RawPeer

MakeEndpoint = Callable[..., Awaitable[SipEndpoint]]
MakePeer = Callable[[SipEndpoint], Awaitable[RawPeer]]


async def wait_for_end(call: SipCall) -> None:
    await call.ended.wait()


def sdp(port: int = 40000, direction: str = "sendrecv", host: str = "127.0.0.1", formats: str = "0 8 101") -> str:
    return (
        OFFER_PCMU.replace("c=IN IP4 127.0.0.1", f"c=IN IP4 {host}")
        .replace("m=audio 40000 RTP/AVP 0 8 101", f"m=audio {port} RTP/AVP {formats}")
        .replace("a=sendrecv", f"a={direction}")
    )


def origin_version(response: SipResponse) -> int:
    origin = next(line for line in response.body.decode().splitlines() if line.startswith("o="))
    return int(origin.split()[2])


async def call_up(peer: RawPeer, call_id: str) -> str:
    peer.send(peer.invite(call_id))
    ok = await peer.expect_response(200)
    peer.send(peer.ack_for(ok, call_id))
    assert ok.to_addr.tag
    return ok.to_addr.tag


async def reinvite(peer: RawPeer, call_id: str, tag: str, cseq: int, body: str, status: int = 200) -> SipResponse:
    peer.send(peer.invite(call_id, cseq=cseq, to_tag=tag, body=body))
    response = await peer.expect_response(status)
    if status >= 200:
        peer.send(peer.ack_for(response, call_id, cseq=cseq))
    return response


async def test_reinvite_moves_media_and_hold_is_answered_without_send(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    endpoint = await make_endpoint(wait_for_end)
    peer = await make_peer(endpoint)
    tag = await call_up(peer, "move")
    session = media.sessions[0]

    moved = await reinvite(peer, "move", tag, 2, sdp(port=40100, formats="8 101"))
    assert session.started == (("127.0.0.1", 40100), ("PCMA", 8, 8000), 101)
    assert parse_sdp(moved.body).media[0].formats == ["8", "101"]
    assert origin_version(moved) == 2  # our codec changed

    held = await reinvite(peer, "move", tag, 3, sdp(port=40100, formats="8 101", direction="sendonly"))
    assert parse_sdp(held.body).media[0].direction == "recvonly" and session.direction == "recvonly"
    assert origin_version(held) == 3
    inactive = await reinvite(peer, "move", tag, 4, sdp(port=40100, formats="8 101", direction="inactive"))
    assert parse_sdp(inactive.body).media[0].direction == "inactive" and session.direction == "inactive"
    legacy = await reinvite(peer, "move", tag, 5, sdp(port=40100, formats="8 101", host="0.0.0.0"))
    assert parse_sdp(legacy.body).media[0].direction == "recvonly" and session.direction == "recvonly"

    resumed = await reinvite(peer, "move", tag, 6, sdp(port=40100, formats="8 101"))
    assert parse_sdp(resumed.body).media[0].direction == "sendrecv" and session.direction == "sendrecv"
    assert session.started == (("127.0.0.1", 40100), ("PCMA", 8, 8000), 101)
    assert endpoint.active_calls == 1


async def test_unacceptable_reinvite_gets_488_and_the_call_keeps_its_media(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    endpoint = await make_endpoint(wait_for_end)
    peer = await make_peer(endpoint)
    tag = await call_up(peer, "keep")
    session = media.sessions[0]
    before = session.started
    refused = await reinvite(peer, "keep", tag, 2, sdp(port=40200, host="rtp.example.org"), status=488)
    assert (refused.headers.get("Warning") or "").startswith("301 ")
    refused = await reinvite(peer, "keep", tag, 3, sdp(port=40200, formats="18"), status=488)
    assert (refused.headers.get("Warning") or "").startswith("305 ")
    assert session.started == before and session.direction == "sendrecv"
    assert endpoint.active_calls == 1
    # the dialog goes on: a later good offer is applied
    await reinvite(peer, "keep", tag, 4, sdp(port=40300))
    assert session.started is not None and session.started[0] == ("127.0.0.1", 40300)


async def test_update_with_an_offer_is_answered_in_its_200(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    endpoint = await make_endpoint(wait_for_end)
    peer = await make_peer(endpoint)
    peer.send(peer.request("OPTIONS", call_id="allow"))
    assert "UPDATE" in (await peer.expect_response(200)).headers.get_all("Allow")
    tag = await call_up(peer, "upd")
    session = media.sessions[0]
    peer.send(peer.request("UPDATE", call_id="upd", cseq=2, to_tag=tag, body=sdp(port=40400, direction="sendonly")))
    ok = await peer.expect_response(200)
    assert ok.cseq == (2, "UPDATE") and ok.headers.get("Content-Type") == "application/sdp"
    assert parse_sdp(ok.body).media[0].direction == "recvonly"
    assert session.started is not None and session.started[0] == ("127.0.0.1", 40400)
    assert session.direction == "recvonly"
    peer.send(peer.request("UPDATE", call_id="upd", cseq=3, to_tag=tag, body=sdp(host="media.example")))
    await peer.expect_response(488)
    assert session.started[0] == ("127.0.0.1", 40400)
    peer.send(peer.request("UPDATE", call_id="nosuch", cseq=1, to_tag="nope", body=sdp()))
    await peer.expect_response(481)


async def test_invite_without_sdp_gets_our_offer_and_the_ack_brings_the_answer(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    calls: asyncio.Queue[SipCall] = asyncio.Queue()

    async def handler(call: SipCall) -> None:
        calls.put_nowait(call)
        await call.ended.wait()

    endpoint = await make_endpoint(handler)
    peer = await make_peer(endpoint)
    peer.send(peer.invite("late", body=""))
    ok = await peer.expect_response(200)
    ours = parse_sdp(ok.body).media[0]
    assert ours.formats == ["0", "8", "101"] and ours.port == media.sessions[0].local_port
    assert media.sessions[0].started is None  # nothing to send to before the answer
    answer = sdp(port=40500, formats="8 101")
    peer.send(peer.request("ACK", call_id="late", to_tag=ok.to_addr.tag, body=answer))
    call = await asyncio.wait_for(calls.get(), 3)
    assert call.call_id == "late"
    assert media.sessions[0].started == (("127.0.0.1", 40500), ("PCMA", 8, 8000), 101)


async def test_ack_without_an_answer_to_our_offer_ends_the_call_with_bye(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    handled: list[SipCall] = []

    async def handler(call: SipCall) -> None:
        handled.append(call)

    endpoint = await make_endpoint(handler)
    peer = await make_peer(endpoint)
    peer.send(peer.invite("no-answer", body=""))
    ok = await peer.expect_response(200)
    peer.send(peer.ack_for(ok, "no-answer"))
    bye = await peer.expect_request("BYE")
    assert bye.call_id == "no-answer"
    peer.respond(bye, 200)
    await asyncio.wait_for(media.sessions[0].closed.wait(), 3)
    assert handled == [] and endpoint.active_calls == 0
