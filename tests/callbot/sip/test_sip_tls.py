"""SIP over TLS (RFC 3261 §26): the TLS listener, its limits, Via/Contact over TLS, requests back over the caller's
connection, the certificate errors at start; and a real softphone (baresip) calling the real callbot over TLS."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import ssl
import subprocess
import sys
import time
import warnings
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callbot.sip import SipCall, SipEndpoint
from callbot.sip.limits import SipLimits
from callbot.sip.message import SipRequest, SipResponse, StreamFramer, parse_message
from callbot.sip.tls import TlsSetupError, server_context
from callbot.sip.uri import NameAddr, Via
from tests.callbot.sip.conftest import OFFER_PCMU
from tests.support.callbot_process import REPO, CallbotProcess
from tests.support.sip_peers import free_port, run_baresip_call, write_silence_padded_wav
from tests.support.tls import TestPki, make_pki, write_encrypted_key, write_unrelated_key

MakeEndpoint = Callable[..., Awaitable[SipEndpoint]]

LIMITS = SipLimits(
    max_tcp_connections=6, max_tcp_connections_per_source=2, tcp_idle_timeout_s=5.0, tcp_message_timeout_s=0.4
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_pki(tmp_path_factory.mktemp("pki"))


class TlsPeer:
    """A SIP UA on one TLS connection, driven by hand: messages framed by Content-Length like the endpoint's."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target_port: int) -> None:
        self.reader = reader
        self.writer = writer
        self.target_port = target_port
        self.port = int(writer.get_extra_info("sockname")[1])
        self._framer = StreamFramer()
        self._ready: list[bytes] = []

    @classmethod
    async def connect(cls, port: int, pki: TestPki) -> TlsPeer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=pki.client_context())
        return cls(reader, writer, port)

    def send(self, text: str) -> None:
        self.writer.write(text.encode())

    async def recv(self, within: float = 3.0) -> SipRequest | SipResponse:
        async with asyncio.timeout(within):
            while not self._ready:
                data = await self.reader.read(16384)
                if not data:
                    raise ConnectionError("the endpoint closed the connection")
                self._ready += self._framer.feed(data)
        return parse_message(self._ready.pop(0), stream=True)

    async def expect_response(self, status: int, within: float = 3.0) -> SipResponse:
        while True:
            message = await self.recv(within)
            if isinstance(message, SipResponse) and message.status == status:
                return message
            assert isinstance(message, SipResponse) and message.status < 200, message

    async def expect_request(self, method: str, within: float = 3.0) -> SipRequest:
        while True:
            message = await self.recv(within)
            if isinstance(message, SipRequest) and message.method == method:
                return message

    def request(
        self,
        method: str,
        call_id: str,
        *,
        uri: str | None = None,
        cseq: int = 1,
        to_tag: str | None = None,
        body: str = "",
        extra: str = "",
    ) -> str:
        uri = uri or f"sip:bot@127.0.0.1:{self.target_port};transport=tls"
        to = f"<sip:bot@127.0.0.1:{self.target_port}>" + (f";tag={to_tag}" if to_tag else "")
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/TLS 127.0.0.1:{self.port};branch=z9hG4bK{os.urandom(6).hex()};rport",
            "Max-Forwards: 70",
            "From: <sip:+33491000000@127.0.0.1>;tag=caller1",
            f"To: {to}",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:caller@127.0.0.1:{self.port};transport=tls>",
        ]
        if extra:
            lines.append(extra)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return "\r\n".join(lines) + "\r\n\r\n" + body

    def respond(self, request: SipRequest, status: int, reason: str = "OK") -> None:
        lines = [f"SIP/2.0 {status} {reason}"]
        lines += [f"Via: {via}" for via in request.headers.get_all("Via")]
        lines += [
            f"From: {request.headers.get('From')}",
            f"To: {request.headers.get('To')}",
            f"Call-ID: {request.call_id}",
            f"CSeq: {request.headers.get('CSeq')}",
            "Content-Length: 0",
        ]
        self.send("\r\n".join(lines) + "\r\n\r\n")

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def tls_peers(pki: TestPki) -> AsyncIterator[Callable[[SipEndpoint], Awaitable[TlsPeer]]]:
    peers: list[TlsPeer] = []

    async def connect(endpoint: SipEndpoint) -> TlsPeer:
        assert endpoint.tls_port
        peer = await TlsPeer.connect(endpoint.tls_port, pki)
        peers.append(peer)
        return peer

    yield connect
    for peer in peers:
        peer.close()


async def tls_endpoint(make_endpoint: MakeEndpoint, pki: TestPki, handler: Any, **kwargs: Any) -> SipEndpoint:
    context = server_context(pki.certificate, pki.key)
    return await make_endpoint(handler, tls_port=0, tls_context=context, limits=LIMITS, **kwargs)


async def closed_within(reader: asyncio.StreamReader, within: float) -> float:
    """Seconds until the endpoint closes the connection (fails past `within`)."""
    started = time.monotonic()
    async with asyncio.timeout(within):
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            while await reader.read(4096):
                pass
    return time.monotonic() - started


# --- the endpoint over TLS ---------------------------------------------------------------------------------------


async def test_options_over_tls_is_answered_on_the_same_connection_and_the_via_says_tls(
    make_endpoint: MakeEndpoint, pki: TestPki, tls_peers: Callable[[SipEndpoint], Awaitable[TlsPeer]]
) -> None:
    endpoint = await tls_endpoint(make_endpoint, pki, None)
    assert endpoint.tls_port and endpoint.tls_port != endpoint.port
    peer = await tls_peers(endpoint)
    peer.send(peer.request("OPTIONS", "opt-1"))
    answer = await peer.expect_response(200)
    via = Via.parse(answer.headers.get_all("Via")[0])
    assert via.transport == "TLS" and via.port == peer.port
    assert via.params["rport"] == str(peer.port)  # RFC 3581 filled in, as over TCP
    assert answer.call_id == "opt-1"
    # TLS 1.2 at least, whatever the client would accept
    version = peer.writer.get_extra_info("ssl_object").version()
    assert version in ("TLSv1.2", "TLSv1.3"), version


async def test_a_call_over_tls_answer_contact_bye_and_refer_go_over_the_callers_connection(
    make_endpoint: MakeEndpoint, pki: TestPki, tls_peers: Callable[[SipEndpoint], Awaitable[TlsPeer]]
) -> None:
    transferred: list[bool] = []
    handler_done = asyncio.Event()

    async def handler(call: SipCall) -> None:
        transferred.append(await call.transfer("sip:agent@127.0.0.1:5999", {}, timeout_s=3))
        handler_done.set()

    endpoint = await tls_endpoint(make_endpoint, pki, handler)
    peer = await tls_peers(endpoint)
    peer.send(peer.request("INVITE", "call-1", body=OFFER_PCMU))
    ok = await peer.expect_response(200)
    via = Via.parse(ok.headers.get_all("Via")[0])
    assert via.transport == "TLS"
    contact = NameAddr.parse(ok.headers.get("Contact") or "").uri
    # a sip: call over TLS: our Contact brings the caller's requests back to the TLS port, over TLS
    assert (contact.scheme, contact.port, contact.transport) == ("sip", endpoint.tls_port, "TLS")
    to_tag = ok.to_addr.tag
    peer.send(peer.request("ACK", "call-1", to_tag=to_tag))

    refer = await peer.expect_request("REFER")  # the transfer, on the caller's connection
    refer_via = Via.parse(refer.headers.get_all("Via")[0])
    assert (refer_via.transport, refer_via.port) == ("TLS", endpoint.tls_port)
    refer_contact = NameAddr.parse(refer.headers.get("Contact") or "").uri
    assert (refer_contact.port, refer_contact.transport) == (endpoint.tls_port, "TLS")
    assert refer.uri.startswith("sip:caller@127.0.0.1")
    peer.respond(refer, 202, "Accepted")
    notify_body = "SIP/2.0 200 OK\r\n"
    peer.send(
        peer.request(
            "NOTIFY",
            "call-1",
            uri=str(NameAddr.parse(refer.headers.get("Contact") or "").uri),
            cseq=2,
            to_tag=to_tag,
            extra="Event: refer\r\nSubscription-State: terminated;reason=noresource\r\nContent-Type: message/sipfrag",
        ).replace("Content-Length: 0", f"Content-Length: {len(notify_body)}")
        + notify_body
    )
    await peer.expect_response(200)
    bye = await peer.expect_request("BYE")  # the bot hangs up once the transfer succeeded
    assert Via.parse(bye.headers.get_all("Via")[0]).transport == "TLS"
    peer.respond(bye, 200)
    await asyncio.wait_for(handler_done.wait(), 3)
    assert transferred == [True] and endpoint.active_calls == 0


async def test_a_sips_request_uri_gets_a_sips_contact(
    make_endpoint: MakeEndpoint, pki: TestPki, tls_peers: Callable[[SipEndpoint], Awaitable[TlsPeer]]
) -> None:
    async def handler(call: SipCall) -> None:
        await call.hangup()

    endpoint = await tls_endpoint(make_endpoint, pki, handler)
    peer = await tls_peers(endpoint)
    peer.send(peer.request("INVITE", "call-2", uri=f"sips:bot@127.0.0.1:{endpoint.tls_port}", body=OFFER_PCMU))
    ok = await peer.expect_response(200)
    contact = NameAddr.parse(ok.headers.get("Contact") or "").uri
    # RFC 3261 §12.1.1: a sips: Request-URI means a sips: Contact; RFC 5630: without transport=tls
    assert (contact.scheme, contact.port, "transport" in contact.params) == ("sips", endpoint.tls_port, False)
    peer.send(peer.request("ACK", "call-2", to_tag=ok.to_addr.tag))
    bye = await peer.expect_request("BYE")
    assert Via.parse(bye.headers.get_all("Via")[0]).transport == "TLS"
    assert "sips:" in (bye.headers.get("Contact") or "")
    peer.respond(bye, 200)


async def test_plain_tcp_and_silent_clients_on_the_tls_port_are_dropped_and_others_still_served(
    make_endpoint: MakeEndpoint, pki: TestPki, tls_peers: Callable[[SipEndpoint], Awaitable[TlsPeer]]
) -> None:
    endpoint = await tls_endpoint(make_endpoint, pki, None)
    assert endpoint.tls_port
    # plain SIP over TCP on the TLS port: not a handshake, closed at once
    plain_reader, plain_writer = await asyncio.open_connection("127.0.0.1", endpoint.tls_port)
    plain_writer.write(TlsPeer(plain_reader, plain_writer, endpoint.tls_port).request("OPTIONS", "plain").encode())
    assert await closed_within(plain_reader, 2.0) < 1.0
    plain_writer.close()

    # connects and never says a word: dropped at the handshake timeout (tcp_message_timeout_s)
    opened_at = time.monotonic()
    silent = await asyncio.open_connection("127.0.0.1", endpoint.tls_port, local_addr=("127.0.0.8", 0))
    await asyncio.sleep(0.1)
    assert endpoint._transport.connections_from("127.0.0.8") == 1  # counted before any handshake
    # the per-source cap holds for handshakes in progress too: a third connection is refused at once
    more = [await asyncio.open_connection("127.0.0.1", endpoint.tls_port, local_addr=("127.0.0.8", 0))]
    more.append(await asyncio.open_connection("127.0.0.1", endpoint.tls_port, local_addr=("127.0.0.8", 0)))
    assert await closed_within(more[1][0], 1.0) < 0.3
    await closed_within(silent[0], 2.0)
    assert 0.35 < time.monotonic() - opened_at < 1.5  # LIMITS.tcp_message_timeout_s is 0.4
    await asyncio.sleep(0.6)
    assert endpoint._transport.connections_from("127.0.0.8") == 0
    for _, writer in [silent, *more]:
        writer.close()

    peer = await tls_peers(endpoint)  # the server goes on
    peer.send(peer.request("OPTIONS", "after"))
    assert (await peer.expect_response(200)).call_id == "after"
    assert endpoint.refusals.total >= 3


async def test_clients_offering_only_tls_1_1_are_refused(make_endpoint: MakeEndpoint, pki: TestPki) -> None:
    endpoint = await tls_endpoint(make_endpoint, pki, None)
    old = pki.client_context()
    with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with contextlib.suppress(ssl.SSLError):  # OpenSSL may refuse to even try TLS 1.1 at its security level
        old.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await asyncio.open_connection("127.0.0.1", endpoint.tls_port, ssl=old)


async def test_placed_call_to_a_tls_target_goes_over_tls(
    make_endpoint: MakeEndpoint, pki: TestPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call the bot places to a sip:...;transport=tls agent: the agent's certificate checked against the CAs
    (here the test CA, through SSL_CERT_FILE), Via and Contact over TLS, ACK and BYE on the same connection."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_certificate))
    received: asyncio.Queue[SipRequest] = asyncio.Queue()
    agents: list[TlsPeer] = []

    async def agent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = TlsPeer(reader, writer, 0)
        agents.append(peer)
        with contextlib.suppress(ConnectionError, TimeoutError):
            while True:
                message = await peer.recv(10)
                if isinstance(message, SipRequest):
                    received.put_nowait(message)

    server = await asyncio.start_server(agent, "127.0.0.1", 0, ssl=server_context(pki.certificate, pki.key))
    agent_port = int(server.sockets[0].getsockname()[1])
    endpoint = await tls_endpoint(make_endpoint, pki, None)
    try:
        placing = asyncio.create_task(endpoint.place_call(f"sip:agent@localhost:{agent_port};transport=tls", {}, 5))
        invite = await asyncio.wait_for(received.get(), 3)
        via = Via.parse(invite.headers.get_all("Via")[0])
        assert (via.transport, via.port) == ("TLS", endpoint.tls_port)
        contact = NameAddr.parse(invite.headers.get("Contact") or "").uri
        assert (contact.port, contact.transport) == (endpoint.tls_port, "TLS")
        answer_sdp = OFFER_PCMU
        agent_peer = agents[0]
        lines = [
            "SIP/2.0 200 OK",
            *[f"Via: {v}" for v in invite.headers.get_all("Via")],
            f"From: {invite.headers.get('From')}",
            f"To: {invite.headers.get('To')};tag=agent1",
            f"Call-ID: {invite.call_id}",
            f"CSeq: {invite.headers.get('CSeq')}",
            f"Contact: <sip:agent@127.0.0.1:{agent_port};transport=tls>",
            "Content-Type: application/sdp",
            f"Content-Length: {len(answer_sdp)}",
        ]
        agent_peer.send("\r\n".join(lines) + "\r\n\r\n" + answer_sdp)
        call = await asyncio.wait_for(placing, 3)
        ack = await asyncio.wait_for(received.get(), 3)
        assert ack.method == "ACK" and Via.parse(ack.headers.get_all("Via")[0]).transport == "TLS"
        hangup = asyncio.create_task(call.hangup())
        bye = await asyncio.wait_for(received.get(), 3)
        assert bye.method == "BYE"
        agent_peer.respond(bye, 200)
        await asyncio.wait_for(hangup, 3)
    finally:
        for peer in agents:
            peer.close()
        server.close()


async def test_the_bye_of_a_call_whose_tls_connection_closed_opens_one_to_the_callers_contact(
    make_endpoint: MakeEndpoint, pki: TestPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RFC 3261 §18.1.1: the caller's connection is gone, so the BYE goes over a new TLS connection to its Contact
    (the caller's certificate checked, here against the test CA), not to the source port of the old one."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_certificate))
    go_ahead = asyncio.Event()
    byes: asyncio.Queue[SipRequest] = asyncio.Queue()
    callers: list[TlsPeer] = []

    async def handler(call: SipCall) -> None:
        await go_ahead.wait()
        await call.hangup()

    async def caller_side(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = TlsPeer(reader, writer, 0)
        callers.append(peer)
        with contextlib.suppress(ConnectionError, TimeoutError):
            request = await peer.recv(5)
            if isinstance(request, SipRequest) and request.method == "BYE":
                peer.respond(request, 200)
                byes.put_nowait(request)

    listening = await asyncio.start_server(caller_side, "127.0.0.1", 0, ssl=server_context(pki.certificate, pki.key))
    contact_port = int(listening.sockets[0].getsockname()[1])
    endpoint = await tls_endpoint(make_endpoint, pki, handler)
    assert endpoint.tls_port
    peer = await TlsPeer.connect(endpoint.tls_port, pki)
    try:
        invite = peer.request("INVITE", "call-3", body=OFFER_PCMU)
        invite = invite.replace(
            f"caller@127.0.0.1:{peer.port};transport=tls", f"caller@127.0.0.1:{contact_port};transport=tls"
        )
        peer.send(invite)
        ok = await peer.expect_response(200)
        peer.send(peer.request("ACK", "call-3", to_tag=ok.to_addr.tag))
        await asyncio.sleep(0.1)
        peer.close()
        await asyncio.sleep(0.1)
        go_ahead.set()
        bye = await asyncio.wait_for(byes.get(), 5)
        via = Via.parse(bye.headers.get_all("Via")[0])
        assert (via.transport, via.port) == ("TLS", endpoint.tls_port)
        assert bye.call_id == "call-3"
    finally:
        for caller in callers:
            caller.close()
        listening.close()


# --- certificate errors --------------------------------------------------------------------------------------------


def test_unusable_certificate_or_key_is_a_clear_error(pki: TestPki, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    with pytest.raises(TlsSetupError, match=r"sip\.tls_certificate: cannot read .*nowhere\.pem"):
        server_context(missing, pki.key)
    with pytest.raises(TlsSetupError, match=r"sip\.tls_key: cannot read"):
        server_context(pki.certificate, missing)
    not_pem = tmp_path / "junk.pem"
    not_pem.write_text("hello\n")
    with pytest.raises(TlsSetupError, match=r"sip\.tls_certificate: .*junk\.pem is not a PEM file"):
        server_context(not_pem, pki.key)
    with pytest.raises(TlsSetupError, match=r"sip\.tls_certificate: no usable certificate"):
        server_context(pki.key, pki.key)  # a key where the certificate should be
    other_key = write_unrelated_key(tmp_path / "other.key")
    with pytest.raises(TlsSetupError, match=r"sip\.tls_key: .*other\.key is not the key of the certificate"):
        server_context(pki.certificate, other_key)
    encrypted = write_encrypted_key(pki.key, tmp_path / "encrypted.key")
    with pytest.raises(TlsSetupError, match=r"sip\.tls_key: the private key is encrypted"):
        server_context(pki.certificate, encrypted)  # refused: never a passphrase prompt on the terminal


def test_the_server_with_a_bad_certificate_stops_at_once_with_one_line(tmp_path: Path) -> None:
    process = CallbotProcess(
        tmp_path,
        env_overrides={
            "CALLBOT_SIP_TLS_PORT": "0",
            "CALLBOT_SIP_TLS_CERTIFICATE": str(tmp_path / "missing-cert.pem"),
            "CALLBOT_SIP_TLS_KEY": str(tmp_path / "missing-key.pem"),
        },
    )
    result = subprocess.run(
        [sys.executable, "-m", "callbot", "--config", str(process.config), "run"],
        cwd=REPO,
        env=process.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "sip.tls_certificate: cannot read" in output and "missing-cert.pem" in output, output
    assert "Traceback" not in output, output


# --- a real softphone over TLS ---------------------------------------------------------------------------------


def poll(predicate: Callable[[], bool], timeout_s: float) -> bool:
    """Ask a separate process until `predicate` holds (True) or `timeout_s` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.3)
    return True


@pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip is not installed")
async def test_baresip_calls_the_callbot_over_tls_hears_the_greeting_and_hangs_up(pki: TestPki, tmp_path: Path) -> None:
    from tests.reliability.sip_reliability_support import running_callbot

    tls_port = free_port()
    sip_env = {
        "CALLBOT_SIP_TLS_PORT": str(tls_port),
        "CALLBOT_SIP_TLS_CERTIFICATE": str(pki.certificate),
        "CALLBOT_SIP_TLS_KEY": str(pki.key),
    }
    with running_callbot(tmp_path / "callbot", sip_env) as callbot:
        log_text = callbot.log_path.read_text(errors="replace")
        assert f"SIP endpoint on 127.0.0.1:{tls_port} (tls)" in log_text, callbot.tail_log()
        microphone = write_silence_padded_wav(b"", tmp_path / "mic.wav", lead_s=8.0, tail_s=0.0)
        result = await run_baresip_call(
            f"sip:bot@127.0.0.1:{tls_port};transport=tls",
            microphone,
            tmp_path / "baresip",
            duration_s=8,
            tls_ca_file=pki.ca_certificate,
        )
        assert "Call established" in result.output, result.output[-3000:]
        assert result.heard_wavs, result.output[-3000:]
        with wave.open(str(result.heard_wavs[0])) as recording:
            heard = np.frombuffer(recording.readframes(recording.getnframes()), dtype="<i2").astype(float)
        # the greeting: speech (not G.711 silence) over a second or more of the first seconds
        frames = heard[: len(heard) // 160 * 160].reshape(-1, 160)
        loud_s = float(np.sum(np.sqrt(np.mean(frames**2, axis=1)) > 300)) * 0.02
        assert loud_s > 1.0, loud_s
        assert poll(lambda: "callbot_calls_active 0" in callbot.metrics(), 15), callbot.tail_log()
        page: Any = callbot.api("/api/calls?limit=1")
        assert page["items"], "no call stored"
        call_url = f"/api/calls/{page['items'][0]['call_id']}"

        def stored_call() -> Any:
            return callbot.api(call_url)

        poll(lambda: bool(stored_call().get("outcome")), 15)
        call = stored_call()
        assert call["turns"] and call["turns"][0]["speaker"] == "bot", call  # the greeting
        assert call["outcome"] == "caller_hung_up", call  # baresip's BYE came over TLS and was answered
        assert "transport=tls terminated" in result.output, result.output[-2000:]
