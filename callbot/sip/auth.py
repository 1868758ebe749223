"""Who may call: trunks (`sip.trunks`) by source address (IP/CIDR allow list) and/or HTTP digest (RFC 8760, 7616).

The endpoint asks `SipAuth.check_invite` before anything else is done for a new INVITE: an address outside every
trunk's allow list gets 403 at once; an allowed address of a trunk with a username gets a 401 challenge (one
WWW-Authenticate per algorithm offered, SHA-256 first) and its retry is verified. Nothing is kept per challenge:
the nonce carries its time and source, signed with a secret made at start (so a restart invalidates the nonces
given out: the next INVITE is challenged again). A nonce's nonce-counts seen are kept, bounded, to refuse replays.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import struct
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from callbot.sip.errors import SipParseError
from callbot.sip.message import SipRequest
from callbot.sip.uri import SipUri

if TYPE_CHECKING:
    from callbot.config import SipSettings

ALGORITHMS = {"SHA-256": "sha256", "MD5": "md5"}  # RFC 8760 names -> hashlib names
DEFAULT_REALM = "callbot"
NONCE_LIFETIME_S = 300.0
MAX_TRACKED_NONCES = 4_096  # nonces whose nonce-counts are remembered; older ones are then treated as stale
MAX_NC_PER_NONCE = 64  # requests under one nonce; beyond, the client is sent a new one (stale)
MAX_FAILURES_PER_SOURCE = 20  # failed authentications per source in FAILURE_WINDOW_S; beyond, 403 unverified
FAILURE_WINDOW_S = 60.0
MAX_TRACKED_SOURCES = 4_096
MAX_AUTH_PARAMS = 32
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class AuthSyntaxError(ValueError):
    """An Authorization header that cannot be read."""


def digest_hash(algorithm: str, text: str) -> str:
    return hashlib.new(ALGORITHMS[algorithm], text.encode("utf-8")).hexdigest()


def digest_response(
    algorithm: str,
    *,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    nc: str,
    cnonce: str,
    qop: str = "auth",
) -> str:
    """RFC 7616 §3.4.1 with qop=auth: H(H(user:realm:password):nonce:nc:cnonce:qop:H(method:uri))."""
    ha1 = digest_hash(algorithm, f"{username}:{realm}:{password}")
    ha2 = digest_hash(algorithm, f"{method}:{uri}")
    return digest_hash(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def parse_authorization(value: str) -> tuple[str, dict[str, str]]:
    """`Digest a="b", c=d, ...` -> ("digest", {"a": "b", "c": "d"}); AuthSyntaxError when it cannot be read."""
    text = value.strip()
    scheme_end = 0
    while scheme_end < len(text) and text[scheme_end] in _TOKEN_CHARS:
        scheme_end += 1
    scheme = text[:scheme_end]
    if not scheme or (scheme_end < len(text) and text[scheme_end] not in " \t"):
        raise AuthSyntaxError("no authentication scheme")
    params: dict[str, str] = {}
    i, n = scheme_end, len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            break
        start = i
        while i < n and text[i] in _TOKEN_CHARS:
            i += 1
        name = text[start:i].lower()
        while i < n and text[i] in " \t":
            i += 1
        if not name or i >= n or text[i] != "=":
            raise AuthSyntaxError(f"expected name=value at {start}")
        i += 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            chars: list[str] = []
            while True:
                if i >= n:
                    raise AuthSyntaxError("unterminated quoted string")
                c = text[i]
                if c == "\\" and i + 1 < n:
                    chars.append(text[i + 1])
                    i += 2
                    continue
                if c == '"':
                    i += 1
                    break
                chars.append(c)
                i += 1
            param = "".join(chars)
        else:
            start = i
            while i < n and text[i] in _TOKEN_CHARS:
                i += 1
            param = text[start:i]
            if not param:
                raise AuthSyntaxError(f"empty value for {name}")
        if name in params:
            raise AuthSyntaxError(f"{name} given twice")
        params[name] = param
        if len(params) > MAX_AUTH_PARAMS:
            raise AuthSyntaxError("too many parameters")
        while i < n and text[i] in " \t":
            i += 1
        if i < n:
            if text[i] != ",":
                raise AuthSyntaxError(f"expected a comma at {i}")
            i += 1
    return scheme.lower(), params


def _address(source: str) -> Address | None:
    try:
        address = ipaddress.ip_address(source.strip("[]").partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class Trunk:
    """A PBX or carrier allowed to call: by address (empty `allow`: any), by digest (a username), or both."""

    name: str
    allow: tuple[Network, ...] = ()
    username: str | None = None
    password: str | None = None
    algorithms: tuple[str, ...] = ("SHA-256", "MD5")
    realm: str = DEFAULT_REALM

    def admits(self, address: Address | None) -> bool:
        if not self.allow:
            return True
        return address is not None and any(address in network for network in self.allow)


@dataclass(frozen=True)
class Verdict:
    """What to do with a request: accept it (status 0), or answer `status` with `headers`."""

    status: int
    reason: str = ""  # for the refusal log: what was wrong, never a credential
    headers: tuple[tuple[str, str], ...] = ()
    trunk: str | None = None
    algorithm: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == 0


class SipAuth:
    """Checks new INVITEs (and out-of-dialog requests) against the trunks; keeps bounded state only."""

    def __init__(
        self,
        trunks: Sequence[Trunk],
        *,
        options_open: bool = True,
        clock: Callable[[], float] = time.monotonic,
        nonce_lifetime_s: float = NONCE_LIFETIME_S,
        max_tracked_nonces: int = MAX_TRACKED_NONCES,
        max_failures_per_source: int = MAX_FAILURES_PER_SOURCE,
        failure_window_s: float = FAILURE_WINDOW_S,
    ) -> None:
        if not trunks:
            raise ValueError("SipAuth needs at least one trunk")
        self.trunks = tuple(trunks)
        self.options_open = options_open
        self._clock = clock
        self.nonce_lifetime_s = nonce_lifetime_s
        self._secret = secrets.token_bytes(32)
        self.opaque = base64.urlsafe_b64encode(self._mac(b"opaque")[:12]).decode()
        self._nonces: OrderedDict[str, set[str]] = OrderedDict()  # nonce -> nonce-counts seen
        self._max_nonces = max_tracked_nonces
        self._floor_ms = -1  # nonces made at or before this instant are no longer tracked: stale
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._max_failures = max_failures_per_source
        self._failure_window_s = failure_window_s

    # --- nonces ----------------------------------------------------------------------------------
    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self._secret, data, hashlib.sha256).digest()

    def make_nonce(self, source: str) -> str:
        """Time made (ms) + 8 random bytes + HMAC of both and the source address, base64url: 44 characters."""
        head = struct.pack(">Q", int(self._clock() * 1000)) + secrets.token_bytes(8)
        mac = self._mac(head + source.encode())[:16]
        return base64.urlsafe_b64encode(head + mac).decode()

    def _nonce_time_ms(self, nonce: str, source: str) -> int | None:
        """When this nonce was made, if we made it for this source; None otherwise."""
        if len(nonce) != 44:
            return None
        try:
            raw = base64.urlsafe_b64decode(nonce.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            return None
        if len(raw) != 32 or not hmac.compare_digest(raw[16:], self._mac(raw[:16] + source.encode())[:16]):
            return None
        made_ms: int = struct.unpack(">Q", raw[:8])[0]
        return made_ms

    def _fresh(self, made_ms: int) -> bool:
        now_ms = self._clock() * 1000
        return made_ms > self._floor_ms and 0 <= now_ms - made_ms <= self.nonce_lifetime_s * 1000

    def _remember_nc(self, nonce: str, made_ms: int, nc: str) -> str:
        """Record a nonce-count: "ok"; "replay" when it was used already; "stale" when the nonce has run out of
        counts or is older than the nonces forgotten to keep the table bounded (a new nonce is then needed)."""
        seen = self._nonces.get(nonce)
        if seen is None:
            while len(self._nonces) >= self._max_nonces:
                old, _ = self._nonces.popitem(last=False)
                old_ms = struct.unpack(">Q", base64.urlsafe_b64decode(old)[:8])[0]
                self._floor_ms = max(self._floor_ms, old_ms)
            if made_ms <= self._floor_ms:
                return "stale"
            seen = self._nonces[nonce] = set()
        if nc in seen:
            return "replay"
        if len(seen) >= MAX_NC_PER_NONCE:
            return "stale"
        seen.add(nc)
        return "ok"

    def _forget_expired(self) -> None:
        limit_ms = self._clock() * 1000 - self.nonce_lifetime_s * 1000
        while self._nonces:
            oldest = next(iter(self._nonces))
            if struct.unpack(">Q", base64.urlsafe_b64decode(oldest)[:8])[0] >= limit_ms:
                break
            self._nonces.popitem(last=False)

    # --- failures per source ---------------------------------------------------------------------
    def _too_many_failures(self, source: str) -> bool:
        times = self._failures.get(source)
        if times is None:
            return False
        cutoff = self._clock() - self._failure_window_s
        while times and times[0] < cutoff:
            times.popleft()
        if not times:
            del self._failures[source]
            return False
        return len(times) >= self._max_failures

    def _note_failure(self, source: str) -> None:
        times = self._failures.pop(source, None)
        if times is None:
            times = deque(maxlen=self._max_failures)
            while len(self._failures) >= MAX_TRACKED_SOURCES:
                self._failures.popitem(last=False)
        times.append(self._clock())
        self._failures[source] = times  # most recent last

    # --- decisions -------------------------------------------------------------------------------
    def candidates(self, source: str) -> list[Trunk]:
        address = _address(source)
        return [trunk for trunk in self.trunks if trunk.admits(address)]

    def check_source(self, request: SipRequest, source: str) -> Verdict:
        """An out-of-dialog request other than INVITE: refused (403) from an address outside every allow list
        (OPTIONS answered from anywhere while `options_open`); never challenged."""
        if request.method == "OPTIONS" and self.options_open:
            return Verdict(0)
        if not self.candidates(source):
            return Verdict(403, "address not allowed (403)", _warning("address not allowed"))
        return Verdict(0)

    def challenge(self, trunks: Iterable[Trunk], source: str, *, stale: bool = False) -> tuple[tuple[str, str], ...]:
        """WWW-Authenticate fields, one per (realm, algorithm), in the trunks' order of preference (`digest:`;
        RFC 8760 §2.4: the preferred first, SHA-256 by default)."""
        offers: list[tuple[str, str]] = []
        for trunk in trunks:
            if trunk.username is None:
                continue
            for algorithm in trunk.algorithms:
                if (trunk.realm, algorithm) not in offers:
                    offers.append((trunk.realm, algorithm))
        nonce = self.make_nonce(source)
        stale_param = ", stale=true" if stale else ""
        return tuple(
            (
                "WWW-Authenticate",
                f'Digest realm="{_quote(realm)}", nonce="{nonce}", opaque="{self.opaque}", '
                f'algorithm={algorithm}, qop="auth"{stale_param}',
            )
            for realm, algorithm in offers
        )

    def check_invite(self, request: SipRequest, source: str) -> Verdict:
        """A new INVITE (out of any dialog): accept, challenge (401) or refuse (403)."""
        trunks = self.candidates(source)
        if not trunks:
            return Verdict(403, "address not allowed (403)", _warning("address not allowed"))
        open_trunk = next((trunk for trunk in trunks if trunk.username is None), None)
        if open_trunk is not None:
            return Verdict(0, trunk=open_trunk.name)
        credentials = self._our_credentials(request, trunks)
        if credentials is None:
            return Verdict(401, "no credentials (401)", self.challenge(trunks, source))
        if self._too_many_failures(source):  # not even verified: guessing passwords from here is slowed down
            return Verdict(403, "too many failed authentications (403)", _warning("too many failures, wait"))
        if isinstance(credentials, str):  # unreadable
            self._note_failure(source)
            return Verdict(403, "malformed Authorization (403)", _warning(credentials))
        verdict = self._verify(request, source, trunks, credentials)
        if verdict.status == 403:
            self._note_failure(source)
        return verdict

    def _our_credentials(self, request: SipRequest, trunks: list[Trunk]) -> dict[str, str] | str | None:
        """The Digest credentials for one of our realms; a str saying what is wrong when unreadable; None: none."""
        realms = {trunk.realm for trunk in trunks}
        problem: str | None = None
        for value in request.headers.get_all("Authorization"):
            try:
                scheme, params = parse_authorization(value)
            except AuthSyntaxError as exc:
                problem = f"malformed Authorization: {exc}"
                continue
            if scheme == "digest" and params.get("realm") in realms:
                return params
        return problem

    def _verify(self, request: SipRequest, source: str, trunks: list[Trunk], params: dict[str, str]) -> Verdict:
        missing = [name for name in ("username", "nonce", "uri", "response") if not params.get(name)]
        if missing:
            return Verdict(403, "incomplete credentials (403)", _warning(f"Authorization without {missing[0]}"))
        algorithm = params.get("algorithm", "MD5").upper()
        realm = params["realm"]
        offered = [t for t in trunks if t.username is not None and t.realm == realm and algorithm in t.algorithms]
        if not offered:
            return Verdict(403, "algorithm not offered (403)", _warning(f"algorithm {algorithm[:20]} not offered"))
        if params.get("qop", "").lower() != "auth" or not params.get("cnonce"):
            return Verdict(403, "qop=auth required (403)", _warning("qop=auth with a cnonce is required"))
        nc = params.get("nc", "")
        if len(nc) != 8 or any(c not in "0123456789abcdefABCDEF" for c in nc):
            return Verdict(403, "bad nonce-count (403)", _warning("nc must be 8 hex digits"))
        if params.get("opaque", self.opaque) != self.opaque:
            return Verdict(401, "unknown opaque (401)", self.challenge(trunks, source))
        made_ms = self._nonce_time_ms(params["nonce"], source)
        if made_ms is None:  # not ours (or from before a restart, or for another address): a new challenge
            return Verdict(401, "unknown nonce (401)", self.challenge(trunks, source))
        if not _same_resource(params["uri"], request.uri):
            return Verdict(403, "digest uri differs from the Request-URI (403)", _warning("uri mismatch"))
        trunk = self._matching_trunk(request, offered, algorithm, params)
        if trunk is None:
            return Verdict(403, "wrong credentials (403)", _warning("wrong credentials"))
        self._forget_expired()
        if not self._fresh(made_ms):  # right password, old nonce: RFC 7616 §3.3 stale=true, retry with a new one
            return Verdict(401, "stale nonce (401)", self.challenge(trunks, source, stale=True))
        counted = self._remember_nc(params["nonce"], made_ms, nc.lower())
        if counted == "replay":
            return Verdict(403, "replayed nonce-count (403)", _warning("nonce-count already used"))
        if counted == "stale":
            return Verdict(401, "stale nonce (401)", self.challenge(trunks, source, stale=True))
        return Verdict(0, trunk=trunk.name, algorithm=algorithm)

    @staticmethod
    def _matching_trunk(
        request: SipRequest, offered: list[Trunk], algorithm: str, params: dict[str, str]
    ) -> Trunk | None:
        userhash = params.get("userhash", "").lower() == "true"
        for trunk in offered:
            assert trunk.username is not None and trunk.password is not None
            name = digest_hash(algorithm, f"{trunk.username}:{trunk.realm}") if userhash else trunk.username
            if not hmac.compare_digest(name.encode(), params["username"].encode()):
                continue
            expected = digest_response(
                algorithm,
                username=trunk.username,
                realm=trunk.realm,
                password=trunk.password,
                method=request.method,
                uri=params["uri"],
                nonce=params["nonce"],
                nc=params["nc"],
                cnonce=params["cnonce"],
            )
            if hmac.compare_digest(expected.encode(), params["response"].lower().encode()):
                return trunk
        return None


def _same_resource(digest_uri: str, request_uri: str) -> bool:
    """RFC 7616 §3.4.6: the digest-uri names the Request-URI's resource. Equal, or the same host and port with
    no user part (what sipp sends by default: sip:host:port)."""
    if digest_uri == request_uri:
        return True
    try:
        ours, theirs = SipUri.parse(request_uri), SipUri.parse(digest_uri)
    except SipParseError:
        return False
    return (
        theirs.user in (None, ours.user)
        and theirs.scheme == ours.scheme
        and theirs.host.lower() == ours.host.lower()
        and theirs.port == ours.port
    )


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _warning(text: str) -> tuple[tuple[str, str], ...]:
    return (("Warning", f'399 callbot "{_quote(text)[:120]}"'),)


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs or single addresses; ValueError naming the bad one (host bits set is an error: a typo, likely)."""
    networks: list[Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=True))
        except ValueError as exc:
            raise ValueError(f"{entry!r} is not an IP address or CIDR network ({exc})") from None
    return tuple(networks)


def auth_from_settings(sip: SipSettings) -> SipAuth | None:
    """The endpoint's SipAuth for `sip.trunks`; None without trunks (every INVITE taken, as before trunks)."""
    if not sip.trunks:
        return None
    trunks = [
        Trunk(
            name=trunk.name,
            allow=parse_networks(trunk.allow),
            username=trunk.username,
            password=trunk.read_password(),
            algorithms=tuple(trunk.digest),
            realm=trunk.realm,
        )
        for trunk in sip.trunks
    ]
    return SipAuth(trunks, options_open=sip.options_open)
