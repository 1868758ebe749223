"""The secured SIP edge (sip.trunks): digest authentication (RFC 8760 / RFC 7616) and allow lists, by unit, by a
hand-driven UDP peer, and by sipp answering the 401 itself."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from callbot.config import ConfigError, load_settings
from callbot.sip import SipCall, SipEndpoint
from callbot.sip.auth import (
    MAX_NC_PER_NONCE,
    AuthSyntaxError,
    SipAuth,
    Trunk,
    Verdict,
    auth_from_settings,
    digest_response,
    parse_authorization,
    parse_networks,
)
from callbot.sip.headers import Headers
from callbot.sip.message import SipRequest
from tests.callbot.sip.conftest import MediaRecorder, RawPeer
from tests.support.sip_peers import run_sipp

SCENARIOS = Path(__file__).parent / "scenarios"
URI = "sip:bot@127.0.0.1:5060"

# RFC 7616 §3.9.1: the same credentials and exchange, answered with MD5 and with SHA-256.
RFC = {
    "username": "Mufasa",
    "realm": "http-auth@example.org",
    "password": "Circle of Life",
    "method": "GET",
    "uri": "/dir/index.html",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "nc": "00000001",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
}
RFC_MD5 = "8ca523f5e9506fed4657c9700eebdbec"
RFC_SHA256 = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def trunk(**kwargs: object) -> Trunk:
    fields: dict[str, object] = {"name": "pbx", "username": "pbx1", "password": "s3cret-Passw0rd"}
    fields.update(kwargs)
    return Trunk(**fields)  # type: ignore[arg-type]


def invite(authorization: str | None = None, uri: str = URI) -> SipRequest:
    headers = Headers([("Call-ID", "c1"), ("CSeq", "2 INVITE")])
    if authorization is not None:
        headers.add("Authorization", authorization)
    return SipRequest(headers, method="INVITE", uri=uri)


def challenge_params(verdict: Verdict) -> list[dict[str, str]]:
    return [parse_authorization(value)[1] for name, value in verdict.headers if name == "WWW-Authenticate"]


def answer(
    challenge: dict[str, str],
    *,
    username: str = "pbx1",
    password: str = "s3cret-Passw0rd",
    nc: str = "00000001",
    uri: str = URI,
    cnonce: str = "0a4f113b",
    algorithm: str | None = None,
) -> str:
    algorithm = algorithm or challenge["algorithm"]
    response = digest_response(
        algorithm,
        username=username,
        realm=challenge["realm"],
        password=password,
        method="INVITE",
        uri=uri,
        nonce=challenge["nonce"],
        nc=nc,
        cnonce=cnonce,
    )
    return (
        f'Digest username="{username}", realm="{challenge["realm"]}", nonce="{challenge["nonce"]}", uri="{uri}", '
        f'response="{response}", algorithm={algorithm}, qop=auth, nc={nc}, cnonce="{cnonce}", '
        f'opaque="{challenge["opaque"]}"'
    )


# --- the digest computation, against the RFC's example ------------------------------------------------
def test_md5_and_sha256_match_rfc_7616_example() -> None:
    assert digest_response("MD5", **RFC) == RFC_MD5
    assert digest_response("SHA-256", **RFC) == RFC_SHA256


def test_parses_the_rfc_7616_authorization_example() -> None:
    header = (
        'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, '
        'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, '
        f'response="{RFC_SHA256}", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    scheme, params = parse_authorization(header)
    assert scheme == "digest"
    assert params["username"] == "Mufasa" and params["algorithm"] == "SHA-256" and params["nc"] == "00000001"
    assert params["response"] == RFC_SHA256
    assert parse_authorization(r'Digest realm="a \"quoted\" realm", x=y')[1]["realm"] == 'a "quoted" realm'


# --- challenges and verification -----------------------------------------------------------------------
def test_challenge_offers_sha256_then_md5_and_the_answer_is_accepted() -> None:
    auth = SipAuth([trunk()], clock=Clock())
    verdict = auth.check_invite(invite(), "192.0.2.10")
    assert verdict.status == 401
    offers = challenge_params(verdict)
    assert [offer["algorithm"] for offer in offers] == ["SHA-256", "MD5"]
    assert all(offer["qop"] == "auth" and offer["realm"] == "callbot" and "stale" not in offer for offer in offers)
    for count, offer in enumerate(offers, 1):  # one nonce for both: counts go on
        accepted = auth.check_invite(invite(answer(offer, nc=f"{count:08x}")), "192.0.2.10")
        assert accepted.accepted and accepted.trunk == "pbx" and accepted.algorithm == offer["algorithm"]


def test_md5_only_for_an_old_pbx() -> None:
    auth = SipAuth([trunk(algorithms=("MD5",))], clock=Clock())
    (offer,) = challenge_params(auth.check_invite(invite(), "192.0.2.10"))
    assert offer["algorithm"] == "MD5"
    # an answer with an algorithm not offered to this trunk is refused even with the right password
    assert auth.check_invite(invite(answer(offer, algorithm="SHA-256")), "192.0.2.10").status == 403
    assert auth.check_invite(invite(answer(offer)), "192.0.2.10").accepted


def test_wrong_password_or_user_is_403() -> None:
    auth = SipAuth([trunk()], clock=Clock())
    offer = challenge_params(auth.check_invite(invite(), "192.0.2.10"))[0]
    assert auth.check_invite(invite(answer(offer, password="guess")), "192.0.2.10").status == 403
    assert auth.check_invite(invite(answer(offer, username="other")), "192.0.2.10").status == 403
    assert auth.check_invite(invite(answer(offer, nc="00000002")), "192.0.2.10").accepted


def test_nonce_is_bound_to_the_source_and_to_this_process() -> None:
    auth = SipAuth([trunk()], clock=Clock())
    offer = challenge_params(auth.check_invite(invite(), "192.0.2.10"))[0]
    elsewhere = auth.check_invite(invite(answer(offer)), "192.0.2.99")
    assert elsewhere.status == 401 and "stale" not in challenge_params(elsewhere)[0]  # a new challenge
    restarted = SipAuth([trunk()], clock=Clock())
    assert restarted.check_invite(invite(answer(offer)), "192.0.2.10").status == 401
    forged = dict(offer, nonce=offer["nonce"][:-2] + ("AA" if not offer["nonce"].endswith("AA") else "BB"))
    assert auth.check_invite(invite(answer(forged)), "192.0.2.10").status == 401


def test_expired_nonce_is_stale_only_with_the_right_password() -> None:
    clock = Clock()
    auth = SipAuth([trunk()], clock=clock, nonce_lifetime_s=300)
    offer = challenge_params(auth.check_invite(invite(), "192.0.2.10"))[0]
    clock.now += 299
    assert auth.check_invite(invite(answer(offer)), "192.0.2.10").accepted
    clock.now += 2
    stale = auth.check_invite(invite(answer(offer, nc="00000002")), "192.0.2.10")
    assert stale.status == 401
    assert all(params.get("stale") == "true" for params in challenge_params(stale))
    fresh = challenge_params(stale)[0]
    assert fresh["nonce"] != offer["nonce"]
    assert auth.check_invite(invite(answer(fresh)), "192.0.2.10").accepted
    # an old nonce with the wrong password is no invitation to retry
    assert auth.check_invite(invite(answer(offer, nc="00000003", password="x")), "192.0.2.10").status == 403


def test_nonce_count_replay_is_refused() -> None:
    auth = SipAuth([trunk()], clock=Clock())
    offer = challenge_params(auth.check_invite(invite(), "192.0.2.10"))[0]
    header = answer(offer)
    assert auth.check_invite(invite(header), "192.0.2.10").accepted
    replay = auth.check_invite(invite(header), "192.0.2.10")
    assert replay.status == 403 and "replayed" in replay.reason
    assert auth.check_invite(invite(answer(offer, nc="00000002")), "192.0.2.10").accepted
    assert auth.check_invite(invite(answer(offer, nc="00000002", cnonce="other")), "192.0.2.10").status == 403


def test_a_nonce_serves_a_bounded_number_of_requests_then_goes_stale() -> None:
    auth = SipAuth([trunk()], clock=Clock())
    offer = challenge_params(auth.check_invite(invite(), "192.0.2.10"))[0]
    for count in range(1, MAX_NC_PER_NONCE + 1):
        assert auth.check_invite(invite(answer(offer, nc=f"{count:08x}")), "192.0.2.10").accepted
    spent = auth.check_invite(invite(answer(offer, nc=f"{MAX_NC_PER_NONCE + 1:08x}")), "192.0.2.10")
    assert spent.status == 401 and challenge_params(spent)[0].get("stale") == "true"


def test_nonce_memory_is_bounded_and_evicted_nonces_go_stale() -> None:
    clock = Clock()
    auth = SipAuth([trunk()], clock=clock, max_tracked_nonces=3)
    offers = []
    for _ in range(5):
        offers.append(challenge_params(auth.check_invite(invite(), "192.0.2.10"))[0])
        clock.now += 0.01
    for offer in offers[:4]:
        assert auth.check_invite(invite(answer(offer)), "192.0.2.10").accepted
    assert len(auth._nonces) == 3
    # the first nonce's counts were forgotten: it cannot be replayed, it is stale
    evicted = auth.check_invite(invite(answer(offers[0])), "192.0.2.10")
    assert evicted.status == 401 and challenge_params(evicted)[0].get("stale") == "true"
    assert auth.check_invite(invite(answer(offers[4])), "192.0.2.10").accepted


def test_digest_uri_must_name_the_request_uri() -> None:
    auth = SipAuth([trunk()], clock=Clock())
    offer = challenge_params(auth.check_invite(invite(), "192.0.2.10"))[0]
    for i, uri in enumerate(["sip:other@127.0.0.1:5060", "sip:bot@127.0.0.1:5061", "sip:bot@10.0.0.1:5060", "x"]):
        assert auth.check_invite(invite(answer(offer, uri=uri, nc=f"{i + 1:08x}")), "192.0.2.10").status == 403
    # sipp's default digest-uri is sip:host:port, without the user
    assert auth.check_invite(invite(answer(offer, uri="sip:127.0.0.1:5060", nc="00000009")), "192.0.2.10").accepted


def test_allow_lists_and_trunks_combined() -> None:
    auth = SipAuth(
        [
            Trunk("carrier", allow=parse_networks(["10.0.0.0/8", "2001:db8::/32"])),  # by address only
            trunk(name="branch-office", allow=parse_networks(["192.0.2.0/24"])),  # address and digest
            trunk(name="roaming", username="roam", password="pw-roaming-123"),  # digest, any address
        ],
        clock=Clock(),
        options_open=False,
    )
    by_address = auth.check_invite(invite(), "10.1.2.3")
    assert by_address.accepted and by_address.trunk == "carrier" and by_address.algorithm is None
    assert auth.check_invite(invite(), "::ffff:10.1.2.3").accepted  # IPv4-mapped
    assert auth.check_invite(invite(), "2001:db8::5").accepted
    challenged = auth.check_invite(invite(), "192.0.2.7")
    assert challenged.status == 401
    offer = challenge_params(challenged)[0]
    roaming = auth.check_invite(invite(answer(offer, username="roam", password="pw-roaming-123")), "192.0.2.7")
    assert roaming.trunk == "roaming"
    branch = auth.check_invite(invite(answer(offer, nc="00000002")), "192.0.2.7")
    assert branch.trunk == "branch-office"
    # from elsewhere only the roaming trunk's credentials work
    offer = challenge_params(auth.check_invite(invite(), "198.51.100.1"))[0]
    assert auth.check_invite(invite(answer(offer)), "198.51.100.1").status == 403


def test_only_allowed_addresses_when_every_trunk_has_a_list() -> None:
    auth = SipAuth([Trunk("pbx", allow=parse_networks(["10.0.0.0/8"]))], options_open=False)
    refused = auth.check_invite(invite(), "127.0.0.1")
    assert refused.status == 403 and refused.headers[0][0] == "Warning" and not challenge_params(refused)
    options = SipRequest(Headers(), method="OPTIONS", uri=URI)
    assert auth.check_source(options, "127.0.0.1").status == 403
    assert auth.check_source(options, "10.9.9.9").accepted
    assert SipAuth([Trunk("pbx", allow=parse_networks(["10.0.0.0/8"]))]).check_source(options, "127.0.0.1").accepted
    assert auth.check_invite(invite(), "not an address").status == 403


def test_repeated_failures_from_one_source_are_refused_unverified() -> None:
    clock = Clock()
    auth = SipAuth([trunk()], clock=clock, max_failures_per_source=3, failure_window_s=60)
    offer = challenge_params(auth.check_invite(invite(), "192.0.2.10"))[0]
    for i in range(3):
        assert auth.check_invite(invite(answer(offer, password=f"guess{i}")), "192.0.2.10").reason.startswith("wrong")
    blocked = auth.check_invite(invite(answer(offer)), "192.0.2.10")
    assert blocked.status == 403 and "too many" in blocked.reason  # even the right password waits
    other = challenge_params(auth.check_invite(invite(), "192.0.2.11"))[0]
    assert auth.check_invite(invite(answer(other)), "192.0.2.11").accepted  # other sources are not held back
    clock.now += 61
    assert auth.check_invite(invite(answer(offer, nc="00000002")), "192.0.2.10").accepted


MALFORMED = [
    "",
    "Digest",
    "Digest ",
    "Basic cGJ4MTpzM2NyZXQ=",
    "Digest username",
    "Digest username=",
    'Digest username="unterminated',
    'Digest username="a",,',
    'Digest username="a" realm="callbot"',
    'Digest username="a", username="b", realm="callbot"',
    'Digest realm="callbot"',
    'Digest realm="callbot", username="pbx1"',
    'Digest realm="callbot", username="pbx1", nonce="x", uri="sip:a", response="y"',
    'Digest realm="callbot", username="pbx1", nonce="x", uri="sip:a", response="y", qop=auth, nc=1, cnonce=c',
    'Digest realm="callbot", username="pbx1", nonce="x", uri="sip:a", response="y", qop=auth, nc=zzzzzzzz, cnonce=c',
    'Digest realm="callbot", username="pbx1", nonce="' + "A" * 44 + '", uri="' + URI + '", response="y", '
    "qop=auth, nc=00000001, cnonce=c, algorithm=SHA-512",
    'Digest realm="callbot", username="pbx1", nonce="' + "=" * 44 + '", uri="' + URI + '", response="y", '
    "qop=auth, nc=00000001, cnonce=c",
    'Digest realm="callbot", username="pbx1", nonce="\u00e9\u00e9", uri="' + URI + '", response="y", '
    "qop=auth, nc=00000001, cnonce=c",
    'Digest realm="callbot", =x',
    "Digest realm=callbot, " + ", ".join(f"p{i}=v" for i in range(40)),
    'Digest\trealm="callbot"\t,\tusername="pbx1"',
    'Digest realm="callbot\\',
    'Digest realm="callbot", userhash=true, username="' + "0" * 64 + '"',
    "\x00\x01\x02",
    'Digest realm="callbot", response="' + "f" * 5000 + '"',
]


@pytest.mark.parametrize("header", MALFORMED)
def test_malformed_authorization_never_crashes_nor_passes(header: str) -> None:
    auth = SipAuth([trunk()], clock=Clock())
    verdict = auth.check_invite(invite(header), "192.0.2.10")
    assert verdict.status in (401, 403)


def test_fuzzed_authorization_headers_never_crash_nor_pass() -> None:
    rng = random.Random(11)
    auth = SipAuth([trunk()], clock=Clock(), max_failures_per_source=10**6)
    offer = challenge_params(auth.check_invite(invite(), "192.0.2.10"))[0]
    good = answer(offer)
    alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789=",\\ \t/:;@-\u00e9'
    for _ in range(400):
        chars = list(good)
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(len(chars))
            action = rng.random()
            if action < 0.4:
                chars[position] = rng.choice(alphabet)
            elif action < 0.7:
                del chars[position]
            else:
                chars.insert(position, rng.choice(alphabet))
        mutated = "".join(chars)
        if mutated == good:
            continue
        try:
            parse_authorization(mutated)
        except AuthSyntaxError:
            pass
        verdict = auth.check_invite(invite(mutated), "192.0.2.10")
        assert verdict.status in (0, 401, 403)
        # a change the digest does not cover (spaces, quotes around a token) may pass, the first time only
        if verdict.accepted:
            assert auth.check_invite(invite(mutated), "192.0.2.10").status == 403
    assert auth.check_invite(invite(good), "192.0.2.10").status in (0, 403)  # may have been taken by a mutant


# --- configuration -------------------------------------------------------------------------------------
def overlay(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "overlay.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_trunks_from_config(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("from-a-file-123\n", encoding="utf-8")
    settings = load_settings(
        overlay(
            tmp_path,
            f"""
sip:
  trunks:
    - name: asterisk
      allow: [10.0.0.0/8, 192.0.2.5]
      username: pbx1
      password_file: {tmp_path / "pw"}
      digest: [md5]
    - name: carrier
      allow: ["2001:db8::/32"]
""",
        ),
        environ={},
    )
    auth = auth_from_settings(settings.sip)
    assert auth is not None
    first, second = auth.trunks
    assert first.password == "from-a-file-123" and first.algorithms == ("MD5",)
    assert first.allow == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.0.2.5/32"))
    assert second.username is None and second.password is None
    assert "from-a-file" not in settings.model_dump_json()
    assert auth_from_settings(load_settings(environ={}).sip) is None


@pytest.mark.parametrize(
    ("trunk_yaml", "message"),
    [
        ("{name: a, allow: [10.0.0.1/8]}", "sip.trunks.0.allow"),
        ("{name: a, allow: [not-an-ip]}", "not-an-ip"),
        ("{name: a, password: x123}", "a password without a username"),
        ("{name: a, username: u}", "without a password"),
        ("{name: a, username: u, password: p, digest: [SHA-512]}", "unknown digest algorithm 'SHA-512'"),
        ("{name: a, username: u, password: p, digest: []}", "sip.trunks.0.digest"),
        ("{name: a}", "an allow list, a username, or both"),
        ("{name: a, username: u, password: p, password_file: /nonexistent}", "not both"),
        ("{name: a, username: u, password_file: /nonexistent/pw}", "cannot read password_file"),
        ("{name: a, allow: [10.0.0.0/8], extra: 1}", "sip.trunks.0.extra"),
    ],
)
def test_bad_trunks_are_refused_naming_the_key(tmp_path: Path, trunk_yaml: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(overlay(tmp_path, f"sip:\n  trunks:\n    - {trunk_yaml}\n"), environ={})
    assert "sip.trunks.0" in str(error.value) and message in str(error.value)


def test_two_trunks_with_one_name_are_refused(tmp_path: Path) -> None:
    text = "sip:\n  trunks:\n    - {name: a, allow: [10.0.0.0/8]}\n    - {name: a, allow: [10.0.0.0/8]}\n"
    with pytest.raises(ConfigError, match="own name"):
        load_settings(overlay(tmp_path, text), environ={})


# --- the endpoint, driven by hand ----------------------------------------------------------------------
MakeEndpoint = Callable[..., Awaitable[SipEndpoint]]
MakePeer = Callable[[SipEndpoint], Awaitable[RawPeer]]


async def no_handler(call: SipCall) -> None:
    await call.ended.wait()


def peer_answer(peer: RawPeer, challenge: dict[str, str], **kwargs: str) -> str:
    return answer(challenge, uri=f"sip:bot@127.0.0.1:{peer.target[1]}", **kwargs)


async def test_endpoint_401_then_authenticated_invite_then_200(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder
) -> None:
    endpoint = await make_endpoint(no_handler, auth=SipAuth([trunk()]))
    peer = await make_peer(endpoint)
    call_id = "auth-" + secrets.token_hex(4)
    peer.send(peer.invite(call_id))
    challenge = await peer.expect_response(401)
    assert challenge.reason == "Unauthorized" and challenge.to_addr.tag
    offers = [parse_authorization(v)[1] for v in challenge.headers.get_all("WWW-Authenticate")]
    assert [offer["algorithm"] for offer in offers] == ["SHA-256", "MD5"]
    assert media.sessions == [] and endpoint.active_calls == 0  # no RTP port for a challenge
    peer.send(peer.ack_for(challenge, call_id, branch=challenge.top_via.branch))
    peer.send(peer.invite(call_id, cseq=2, extra=f"Authorization: {peer_answer(peer, offers[0])}"))
    ok = await peer.expect_response(200)
    assert len(media.sessions) == 1
    peer.send(peer.ack_for(ok, call_id, cseq=2))
    # in the dialog, nothing is challenged: the BYE is answered at once
    peer.send(peer.request("BYE", call_id=call_id, cseq=3, to_tag=ok.to_addr.tag))
    await peer.expect_response(200)
    assert endpoint.refusals.total == 0  # the challenge is not a refusal


async def test_endpoint_md5_for_an_old_pbx(make_endpoint: MakeEndpoint, make_peer: MakePeer) -> None:
    endpoint = await make_endpoint(no_handler, auth=SipAuth([trunk(algorithms=("MD5",))]))
    peer = await make_peer(endpoint)
    peer.send(peer.invite("md5-call"))
    challenge = await peer.expect_response(401)
    (offer,) = [parse_authorization(v)[1] for v in challenge.headers.get_all("WWW-Authenticate")]
    assert offer["algorithm"] == "MD5"
    peer.send(peer.invite("md5-call", cseq=2, extra=f"Authorization: {peer_answer(peer, offer)}"))
    ok = await peer.expect_response(200)
    peer.send(peer.ack_for(ok, "md5-call", cseq=2))


async def test_endpoint_wrong_password_is_403_and_logged(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = await make_endpoint(no_handler, auth=SipAuth([trunk()]))
    peer = await make_peer(endpoint)
    peer.send(peer.invite("bad-pw"))
    offer = parse_authorization((await peer.expect_response(401)).headers.get_all("WWW-Authenticate")[0])[1]
    caplog.set_level(logging.WARNING, logger="callbot.sip.endpoint")
    peer.send(peer.invite("bad-pw", cseq=2, extra=f"Authorization: {peer_answer(peer, offer, password='guess')}"))
    refused = await peer.expect_response(403)
    assert "wrong credentials" in (refused.headers.get("Warning") or "")
    assert media.sessions == [] and endpoint.active_calls == 0 and endpoint.refusals.total == 1
    assert any("INVITE wrong credentials (403)" in r.getMessage() for r in caplog.records)
    assert not any("guess" in r.getMessage() for r in caplog.records)


async def test_endpoint_address_not_allowed_is_403_without_challenge(
    make_endpoint: MakeEndpoint, make_peer: MakePeer, media: MediaRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="callbot.sip.endpoint")
    auth = SipAuth([trunk(allow=parse_networks(["10.0.0.0/8"]))], options_open=False)
    endpoint = await make_endpoint(no_handler, auth=auth)
    peer = await make_peer(endpoint)
    for i in range(5):  # retransmissions and a burst: each answered, one log line
        peer.send(peer.invite(f"outsider-{i}", branch="z9hG4bKsame" if i < 2 else None))
        refused = await peer.expect_response(403)
        assert refused.headers.get("WWW-Authenticate") is None
        assert "address not allowed" in (refused.headers.get("Warning") or "")
    peer.send(peer.request("OPTIONS", call_id="probe"))
    await peer.expect_response(403)
    peer.send(peer.request("MESSAGE", call_id="spam"))
    await peer.expect_response(403)
    assert media.sessions == [] and endpoint.active_calls == 0 and endpoint.refusals.total == 7
    assert len(endpoint._server_txs) == 0  # refused statelessly: no transaction held
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1 and "address not allowed" in lines[0] and "127.0.0.1" in lines[0]


async def test_endpoint_options_open_by_default_and_allowed_trunk_by_address(
    make_endpoint: MakeEndpoint, make_peer: MakePeer
) -> None:
    auth = SipAuth([trunk(allow=parse_networks(["10.0.0.0/8"])), Trunk("local", allow=parse_networks(["127.0.0.0/8"]))])
    endpoint = await make_endpoint(no_handler, auth=auth)
    peer = await make_peer(endpoint)
    peer.send(peer.request("OPTIONS", call_id="probe"))
    await peer.expect_response(200)
    peer.send(peer.invite("by-address"))  # the "local" trunk: no credentials needed from 127.0.0.1
    ok = await peer.expect_response(200)
    peer.send(peer.ack_for(ok, "by-address"))


def test_warning_when_open_on_a_public_address(caplog: pytest.LogCaptureFixture) -> None:
    async def run(host: str, auth: SipAuth | None) -> None:
        endpoint = SipEndpoint(host, 0, no_handler, "127.0.0.1", 0, 0, "t", 1, False, auth=auth)
        await endpoint.start()
        await endpoint.stop()

    caplog.set_level(logging.WARNING, logger="callbot.sip.endpoint")
    asyncio.run(run("127.0.0.1", None))
    assert not any("any address" in r.getMessage() for r in caplog.records)
    asyncio.run(run("0.0.0.0", SipAuth([trunk()])))
    assert not any("any address" in r.getMessage() for r in caplog.records)
    asyncio.run(run("0.0.0.0", None))
    assert sum("takes calls from any address" in r.getMessage() for r in caplog.records) == 1


# --- sipp answering the challenge itself -----------------------------------------------------------------
needs_sipp = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is not installed")


class Holder:
    def __init__(self) -> None:
        self.calls: list[SipCall] = []

    async def __call__(self, call: SipCall) -> None:
        self.calls.append(call)
        call.audio.play(b"\x00\x00" * 1600)
        await asyncio.wait_for(call.ended.wait(), 10)


@pytest.fixture
async def real_endpoint() -> AsyncIterator[Callable[..., Awaitable[SipEndpoint]]]:
    endpoints: list[SipEndpoint] = []

    async def factory(handler: Holder, auth: SipAuth) -> SipEndpoint:
        endpoint = SipEndpoint("127.0.0.1", 0, handler, "127.0.0.1", 0, 0, "callbot-test", 10, True, auth=auth)
        await endpoint.start()
        endpoints.append(endpoint)
        return endpoint

    yield factory
    for endpoint in endpoints:
        await endpoint.stop()


@needs_sipp
@pytest.mark.parametrize("transport", ["u1", "t1"])
async def test_sipp_answers_the_challenge_and_the_call_is_taken(
    real_endpoint: Callable[..., Awaitable[SipEndpoint]], tmp_path: Path, transport: str
) -> None:
    handler = Holder()
    # sipp 3.6 computes MD5 digests only: the old-PBX case
    endpoint = await real_endpoint(handler, SipAuth([trunk(algorithms=("MD5",))]))
    result = await run_sipp(
        SCENARIOS / "uac_digest_auth.xml",
        f"127.0.0.1:{endpoint.port}",
        tmp_path,
        transport=transport,
        extra=["-au", "pbx1", "-ap", "s3cret-Passw0rd"],
    )
    assert result.returncode == 0, result.errors() + result.stdout[-2000:]
    assert len(handler.calls) == 1
    assert "algorithm=MD5" in result.messages() and "Authorization: Digest" in result.messages()


@needs_sipp
async def test_sipp_with_a_wrong_password_is_refused(
    real_endpoint: Callable[..., Awaitable[SipEndpoint]], tmp_path: Path
) -> None:
    handler = Holder()
    endpoint = await real_endpoint(handler, SipAuth([trunk(algorithms=("MD5",))]))
    refused = await run_sipp(
        SCENARIOS / "uac_digest_auth_refused.xml",
        f"127.0.0.1:{endpoint.port}",
        tmp_path / "refused",
        extra=["-au", "pbx1", "-ap", "not-the-password"],
    )
    assert refused.returncode == 0, refused.errors() + refused.stdout[-2000:]
    assert handler.calls == [] and endpoint.refusals.total == 1
    # the scenario that expects a 200 fails with that password: the test can fail
    failed = await run_sipp(
        SCENARIOS / "uac_digest_auth.xml",
        f"127.0.0.1:{endpoint.port}",
        tmp_path / "failed",
        timeout_s=10,
        extra=["-au", "pbx1", "-ap", "not-the-password"],
    )
    assert failed.returncode != 0 and "403" in failed.messages()
    assert handler.calls == []


@needs_sipp
async def test_sipp_from_an_address_not_allowed_gets_403(
    real_endpoint: Callable[..., Awaitable[SipEndpoint]], tmp_path: Path
) -> None:
    handler = Holder()
    endpoint = await real_endpoint(handler, SipAuth([Trunk("lan", allow=parse_networks(["10.0.0.0/8"]))]))
    result = await run_sipp("uac", f"127.0.0.1:{endpoint.port}", tmp_path, timeout_s=10)
    assert result.returncode != 0
    assert "SIP/2.0 403 Forbidden" in result.messages()
    assert handler.calls == [] and endpoint.refusals.total >= 1
