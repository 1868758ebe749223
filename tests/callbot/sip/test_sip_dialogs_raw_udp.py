"""Dialog behaviour of SipEndpoint driven by hand-written UDP messages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from callbot.sip import SipCall, SipEndpoint
from callbot.sip.message import SipResponse
from callbot.sip.sdp import parse_sdp
from callbot.sip.uri import NameAddr

from .conftest import OFFER_PCMU, MediaRecorder, RawPeer

MakeEndpoint = Callable[..., Awaitable[SipEndpoint]]
MakePeer = Callable[[SipEndpoint], Awaitable[RawPeer]]


async def wait_for_end(call: SipCall) -> None:
    await call.ended.wait()


async def establish(peer: RawPeer, call_id: str) -> SipResponse:
    peer.send(peer.invite(call_id))
    ok = await peer.expect_response(200)
    peer.send(peer.ack_for(ok, call_id))
    assert isinstance(ok, SipResponse)
    return ok


async def test_invite_is_answered_with_sdp_and_caller_bye_ends_call(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    calls: asyncio.Queue[SipCall] = asyncio.Queue()

    async def handler(call: SipCall) -> None:
        calls.put_nowait(call)
        await call.ended.wait()

    endpoint = await make_endpoint(handler)
    peer = await make_peer(endpoint)
    peer.send(peer.invite("call-1"))
    trying = await peer.expect_response(100)
    assert trying.to_addr.tag is None
    ringing = await peer.expect_response(180)
    ok = await peer.expect_response(200)
    assert ok.to_addr.tag and ok.to_addr.tag == ringing.to_addr.tag
    assert "INVITE" in ok.headers.get_all("Allow") and "BYE" in ok.headers.get_all("Allow")
    assert "Supported" in ok.headers
    assert NameAddr.parse(ok.headers.get("Contact") or "").uri.port == endpoint.port
    answer = parse_sdp(ok.body)
    assert answer.media[0].formats == ["0", "101"]
    assert answer.media[0].port == media.sessions[0].local_port
    assert media.sessions[0].started == (("127.0.0.1", 40000), ("PCMU", 0, 8000), 101)
    # without the ACK, the 200 comes again (RFC 3261 §13.3.1.4)
    again = await peer.expect_response(200)
    assert again.to_addr.tag == ok.to_addr.tag
    assert calls.empty()
    peer.send(peer.ack_for(ok, "call-1"))
    call = await asyncio.wait_for(calls.get(), 3)
    assert call.call_id == "call-1" and call.caller_number == "+33491000000"
    assert endpoint.active_calls == 1
    await peer.silent(0.3)  # the retransmissions stopped
    assert [m for m in await peer.silent(0.3) if m.startswith(b"SIP/2.0 200")] == []
    peer.send(peer.request("BYE", call_id="call-1", cseq=2, to_tag=ok.to_addr.tag))
    bye_ok = await peer.expect_response(200)
    assert bye_ok.cseq == (2, "BYE")
    await asyncio.wait_for(call.ended.wait(), 3)
    await asyncio.wait_for(media.sessions[0].closed.wait(), 3)
    assert endpoint.active_calls == 0


async def test_handler_return_sends_bye_with_next_cseq_to_contact(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    async def handler(call: SipCall) -> None:
        return None

    endpoint = await make_endpoint(handler)
    peer = await make_peer(endpoint)
    ok = await establish(peer, "call-2")
    bye = await peer.expect_request("BYE")
    assert bye.uri == f"sip:caller@127.0.0.1:{peer.port}"
    assert bye.from_addr.tag == ok.to_addr.tag and bye.to_addr.tag == "ft1"
    assert bye.cseq[1] == "BYE" and bye.call_id == "call-2"
    peer.respond(bye, 200)
    await asyncio.wait_for(media.sessions[0].closed.wait(), 3)
    assert endpoint.active_calls == 0


async def test_failing_handler_hangs_up_and_endpoint_keeps_serving(
    make_endpoint: MakeEndpoint, make_peer: MakePeer
) -> None:
    async def handler(call: SipCall) -> None:
        raise RuntimeError("boom")

    endpoint = await make_endpoint(handler)
    peer = await make_peer(endpoint)
    await establish(peer, "call-3")
    bye = await peer.expect_request("BYE")
    peer.respond(bye, 200)
    peer.send(peer.request("OPTIONS", call_id="opt-3"))
    await peer.expect_response(200)


async def test_cancel_before_answer_gives_487(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    handled: list[SipCall] = []

    async def handler(call: SipCall) -> None:
        handled.append(call)

    endpoint = await make_endpoint(handler, answer_delay=5.0)
    peer = await make_peer(endpoint)
    branch = "z9hG4bKcancelme"
    peer.send(peer.invite("call-4", branch=branch))
    await peer.expect_response(180)
    peer.send(peer.request("CANCEL", call_id="call-4", branch=branch, body=""))
    cancel_ok = await peer.expect_response(200)
    assert cancel_ok.cseq == (1, "CANCEL")
    terminated = await peer.expect_response(487)
    assert terminated.cseq == (1, "INVITE")
    # ACK for the 487 (same branch, RFC 3261 §17.1.1.3) stops its retransmission
    peer.send(peer.request("ACK", call_id="call-4", branch=branch, to_tag=terminated.to_addr.tag))
    await asyncio.wait_for(media.sessions[0].closed.wait(), 3)
    late = await peer.silent(0.5)
    assert not any(m.startswith(b"SIP/2.0 200") for m in late)
    assert handled == [] and endpoint.active_calls == 0


async def test_unanswered_487_is_retransmitted_until_ack(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    async def handler(call: SipCall) -> None:
        pass

    endpoint = await make_endpoint(handler, answer_delay=5.0)
    peer = await make_peer(endpoint)
    peer.send(peer.invite("call-4b", branch="z9hG4bKg1"))
    await peer.expect_response(180)
    peer.send(peer.request("CANCEL", call_id="call-4b", branch="z9hG4bKg1", body=""))
    await peer.expect_response(487)
    await peer.expect_response(487)  # Timer G
    await peer.expect_response(487)


async def test_cancel_for_unknown_transaction_gets_481(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    endpoint = await make_endpoint(wait_for_end)
    peer = await make_peer(endpoint)
    peer.send(peer.request("CANCEL", call_id="nothing", branch="z9hG4bKnone"))
    await peer.expect_response(481)


async def test_options_and_method_errors(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    endpoint = await make_endpoint(wait_for_end)
    peer = await make_peer(endpoint)
    peer.send(peer.request("OPTIONS", call_id="o1"))
    ok = await peer.expect_response(200)
    assert "INVITE" in ok.headers.get_all("Allow")
    assert ok.headers.get("Accept") == "application/sdp"
    peer.send(peer.request("REGISTER", call_id="o2"))
    assert "Allow" in (await peer.expect_response(405)).headers
    peer.send(peer.request("FROBNICATE", call_id="o3"))
    await peer.expect_response(501)
    peer.send(peer.request("BYE", call_id="o4", to_tag="nosuch"))
    await peer.expect_response(481)
    peer.send(peer.request("INFO", call_id="o5", to_tag="nosuch"))
    await peer.expect_response(481)
    peer.send(peer.request("OPTIONS", call_id="o6", extra="Require: 100rel"))
    assert (await peer.expect_response(420)).headers.get("Unsupported") == "100rel"


async def test_busy_when_max_calls_reached(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    endpoint = await make_endpoint(wait_for_end, max_calls=1)
    peer = await make_peer(endpoint)
    await establish(peer, "busy-1")
    peer.send(peer.invite("busy-2", from_tag="other"))
    busy = await peer.expect_response(503)  # a PBX or Kamailio then tries another instance
    assert busy.to_addr.tag and busy.headers.get("Retry-After") == "30"


async def test_busy_may_be_486_for_pbxs_that_play_it(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    endpoint = await make_endpoint(wait_for_end, max_calls=1, busy_status=486)
    peer = await make_peer(endpoint)
    await establish(peer, "busy486-1")
    peer.send(peer.invite("busy486-2", from_tag="other"))
    busy = await peer.expect_response(486)
    assert "Retry-After" not in busy.headers


async def test_draining_refuses_new_calls_and_probes_while_the_call_up_goes_on(
    make_endpoint: MakeEndpoint, make_peer: MakePeer
) -> None:
    endpoint = await make_endpoint(wait_for_end, max_calls=4, busy_retry_after_s=7)
    peer = await make_peer(endpoint)
    await establish(peer, "drain-1")
    peer.send(peer.request("OPTIONS", call_id="probe-1"))
    assert (await peer.expect_response(200)).status == 200
    endpoint.drain()
    peer.send(peer.invite("drain-2", from_tag="other"))
    refused = await peer.expect_response(503)
    assert refused.headers.get("Retry-After") == "7"
    peer.send(peer.request("OPTIONS", call_id="probe-2"))
    assert (await peer.expect_response(503)).headers.get("Retry-After") == "7"
    assert endpoint.active_calls == 1  # the call up is not touched


async def test_a_burst_of_invites_cannot_exceed_max_calls(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    async def slow_bind(host: str, port_min: int, port_max: int) -> object:
        await asyncio.sleep(0.2)  # the RTP port is bound while more INVITEs arrive
        return await media.bind(host, port_min, port_max)

    endpoint = await make_endpoint(wait_for_end, max_calls=1, media_binder=slow_bind)
    peer = await make_peer(endpoint)
    peer.send(peer.invite("burst-1", from_tag="a"))
    peer.send(peer.invite("burst-2", from_tag="b"))
    statuses: set[int] = set()
    async with asyncio.timeout(3):
        while not {200, 503} <= statuses:
            message = await peer.recv()
            if isinstance(message, SipResponse) and message.status >= 200:
                statuses.add(message.status)
    assert len(media.sessions) == 1


async def test_offer_problems_give_488_with_warning(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    endpoint = await make_endpoint(wait_for_end)
    peer = await make_peer(endpoint)
    hostname = OFFER_PCMU.replace("c=IN IP4 127.0.0.1", "c=IN IP4 media.example")
    peer.send(peer.invite("sdp-1", body=hostname))
    not_an_ip = await peer.expect_response(488)
    assert (not_an_ip.headers.get("Warning") or "").startswith("301 ")
    g729 = (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio 40000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"
    )
    peer.send(peer.invite("sdp-2", body=g729))
    no_codec = await peer.expect_response(488)
    assert (no_codec.headers.get("Warning") or "").startswith("305 ")
    peer.send(peer.request("ACK", call_id="sdp-2", to_tag=no_codec.to_addr.tag))
    assert endpoint.active_calls == 0


async def test_malformed_messages(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    endpoint = await make_endpoint(wait_for_end)
    peer = await make_peer(endpoint)
    # readable enough for a response: 400 with a Warning saying why
    bad_cseq = peer.request("OPTIONS", call_id="m1", cseq_method="INVITE")
    peer.send(bad_cseq)
    bad = await peer.expect_response(400)
    assert "CSeq" in (bad.headers.get("Warning") or "")
    # unreadable: dropped silently
    for junk in (b"\x00\xff" * 50, b"INVITE\r\n\r\n", b"SIP/2.0 200\r\n\r\n", b"A" * 70000):
        peer.send(junk)
    assert await peer.silent(0.3) == []
    peer.send(peer.request("OPTIONS", call_id="m2"))
    await peer.expect_response(200)


async def test_retransmitted_invite_is_absorbed_and_merged_invite_is_refused(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    endpoint = await make_endpoint(wait_for_end, answer_delay=0.3)
    peer = await make_peer(endpoint)
    invite = peer.invite("dup-1", branch="z9hG4bKdup")
    peer.send(invite)
    await peer.expect_response(100)
    peer.send(invite)  # retransmission: replays the last response, no second call
    await peer.expect_response(180)
    peer.send(peer.invite("dup-1", branch="z9hG4bKother"))  # same request by another path
    await peer.expect_response(482)
    ok = await peer.expect_response(200)
    peer.send(peer.ack_for(ok, "dup-1"))
    await asyncio.sleep(0.2)
    assert len(media.sessions) == 1 and endpoint.active_calls == 1


async def test_response_follows_rport_not_via_port(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    endpoint = await make_endpoint(wait_for_end)
    peer = await make_peer(endpoint)
    message = peer.request("OPTIONS", call_id="rport").replace(f"127.0.0.1:{peer.port};", "127.0.0.1:9;")
    peer.send(message)
    ok = await peer.expect_response(200)
    assert ok.top_via.params["rport"] == str(peer.port)
    assert ok.top_via.params["received"] == "127.0.0.1"


async def test_reinvite_gets_same_sdp_and_out_of_order_cseq_is_refused(
    make_endpoint: MakeEndpoint, make_peer: MakePeer
) -> None:
    endpoint = await make_endpoint(wait_for_end)
    peer = await make_peer(endpoint)
    ok = await establish(peer, "re-1")
    peer.send(peer.invite("re-1", cseq=2, to_tag=ok.to_addr.tag))
    re_ok = await peer.expect_response(200)
    assert re_ok.body == ok.body
    peer.send(peer.ack_for(re_ok, "re-1", cseq=2))
    peer.send(peer.request("OPTIONS", call_id="re-1", cseq=2, to_tag=ok.to_addr.tag))
    await peer.expect_response(500)
    assert endpoint.active_calls == 1


async def _transfer_call(
    make_endpoint: MakeEndpoint,
    make_peer: MakePeer,
    notify_status: str | None,
    refer_status: int = 202,
) -> tuple[bool, RawPeer, str]:
    results: asyncio.Queue[bool] = asyncio.Queue()

    async def handler(call: SipCall) -> None:
        results.put_nowait(await call.transfer("sip:agent@127.0.0.1:5999", {"X-Callbot-Call-Id": "abc 42"}))

    endpoint = await make_endpoint(handler, transfer_timeout=1.0)
    peer = await make_peer(endpoint)
    ok = await establish(peer, "xfer")
    refer = await peer.expect_request("REFER")
    refer_to = NameAddr.parse(refer.headers.get("Refer-To") or "")
    assert refer_to.uri.host_port == ("127.0.0.1", 5999)
    assert refer_to.uri.headers == {"X-Callbot-Call-Id": "abc 42"}
    assert "Referred-By" in refer.headers
    peer.respond(refer, refer_status, "Accepted" if refer_status == 202 else "Forbidden")
    if refer_status < 300:
        sipfrag_trying = "SIP/2.0 100 Trying\r\n"
        tag = ok.to_addr.tag
        notify = peer.request(
            "NOTIFY",
            call_id="xfer",
            cseq=2,
            to_tag=tag,
            body=sipfrag_trying,
            content_type="message/sipfrag;version=2.0",
            extra="Event: refer\r\nSubscription-State: active;expires=60",
        )
        peer.send(notify)
        await peer.expect_response(200)
        if notify_status is not None:
            final = f"SIP/2.0 {notify_status}\r\n"
            peer.send(
                peer.request(
                    "NOTIFY",
                    call_id="xfer",
                    cseq=3,
                    to_tag=tag,
                    body=final,
                    content_type="message/sipfrag;version=2.0",
                    extra="Event: refer\r\nSubscription-State: terminated;reason=noresource",
                )
            )
            await peer.expect_response(200)
    bye = await peer.expect_request("BYE", within=5.0)
    peer.respond(bye, 200)
    return await asyncio.wait_for(results.get(), 3), peer, refer.uri


async def test_transfer_succeeds_on_2xx_sipfrag(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    ok, _, _ = await _transfer_call(make_endpoint, make_peer, "200 OK")
    assert ok is True


async def test_transfer_fails_on_busy_agent(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    ok, _, _ = await _transfer_call(make_endpoint, make_peer, "486 Busy Here")
    assert ok is False


async def test_transfer_fails_when_refer_refused(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    ok, _, _ = await _transfer_call(make_endpoint, make_peer, None, refer_status=403)
    assert ok is False


async def test_transfer_times_out_without_final_notify(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    ok, _, _ = await _transfer_call(make_endpoint, make_peer, None)
    assert ok is False


async def test_stop_hangs_up_live_calls(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    endpoint = await make_endpoint(wait_for_end)
    peer = await make_peer(endpoint)
    await establish(peer, "stop-1")
    await asyncio.sleep(0.1)
    stopping = asyncio.ensure_future(endpoint.stop())
    bye = await peer.expect_request("BYE")
    peer.respond(bye, 200)
    await asyncio.wait_for(stopping, 5)


async def test_bye_follows_the_record_route_set(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    async def handler(call: SipCall) -> None:
        return None

    endpoint = await make_endpoint(handler)
    proxy = await make_peer(endpoint)  # plays the record-routing proxy; the UA's Contact is unreachable
    record_route = f"Record-Route: <sip:127.0.0.1:{proxy.port};lr>, <sip:10.9.9.9;lr>"
    invite = proxy.invite("rr-1", extra=record_route).replace(
        f"Contact: <sip:caller@127.0.0.1:{proxy.port}>", "Contact: <sip:caller@127.0.0.1:9>"
    )
    proxy.send(invite)
    ok = await proxy.expect_response(200)
    assert ok.headers.get_all("Record-Route") == [f"<sip:127.0.0.1:{proxy.port};lr>", "<sip:10.9.9.9;lr>"]
    proxy.send(proxy.ack_for(ok, "rr-1"))
    bye = await proxy.expect_request("BYE")
    assert bye.uri == "sip:caller@127.0.0.1:9"
    assert bye.headers.get_all("Route") == [f"<sip:127.0.0.1:{proxy.port};lr>", "<sip:10.9.9.9;lr>"]
    proxy.respond(bye, 200)


async def test_bye_on_early_dialog_terminates_the_invite(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    endpoint = await make_endpoint(wait_for_end, answer_delay=5.0)
    peer = await make_peer(endpoint)
    peer.send(peer.invite("early-1"))
    ringing = await peer.expect_response(180)
    peer.send(peer.request("BYE", call_id="early-1", cseq=2, to_tag=ringing.to_addr.tag))
    bye_ok = await peer.expect_response(200)
    assert bye_ok.cseq == (2, "BYE")
    assert (await peer.expect_response(487)).cseq == (1, "INVITE")
    await asyncio.wait_for(media.sessions[0].closed.wait(), 3)
    assert endpoint.active_calls == 0
