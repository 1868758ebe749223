"""SIP URIs, name-addr values and Via values (RFC 3261 §19.1, §20.10, §20.42)."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

from callbot.sip.errors import SipParseError

BRANCH_COOKIE = "z9hG4bK"
_DEFAULT_SIP_PORT = 5060
_DEFAULT_SIPS_PORT = 5061  # sips: and transport=tls (RFC 3261 §19.1.2)


def _split_params(text: str) -> dict[str, str | None]:
    """Parse `;a=b;c` (leading ';' optional) into an ordered dict, names lower-cased."""
    params: dict[str, str | None] = {}
    for raw in text.split(";"):
        item = raw.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip().lower()
        if not name:
            raise SipParseError(f"empty parameter name in {text!r}")
        params[name] = value.strip() if sep else None
    return params


def _format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def _split_host_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):  # IPv6 reference
        end = text.find("]")
        if end < 0:
            raise SipParseError(f"unterminated IPv6 reference {text!r}")
        host, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise SipParseError(f"bad host:port {text!r}")
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = text.partition(":")
    if not host or any(c in host for c in " \t<>\"'"):
        raise SipParseError(f"bad host {text!r}")
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise SipParseError(f"bad port {text!r}")
    return host, int(port_text)


@dataclass
class SipUri:
    scheme: str
    host: str
    user: str | None = None
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SipUri:
        text = text.strip()
        scheme, sep, rest = text.partition(":")
        scheme = scheme.lower()
        if not sep or scheme not in ("sip", "sips"):
            raise SipParseError(f"not a SIP URI: {text!r}")
        rest, _, header_text = rest.partition("?")
        userinfo, at, hostpart = rest.rpartition("@")
        if not at:
            hostpart = rest
        user = userinfo.partition(":")[0] if at else None
        if at and not user:
            raise SipParseError(f"empty user part in {text!r}")
        hostport, _, param_text = hostpart.partition(";")
        host, port = _split_host_port(hostport)
        headers: dict[str, str] = {}
        for item in filter(None, header_text.split("&")):
            name, _, value = item.partition("=")
            headers[urllib.parse.unquote(name)] = urllib.parse.unquote(value)
        return cls(scheme, host, user, port, _split_params(param_text), headers)

    @property
    def host_port(self) -> tuple[str, int]:
        default = _DEFAULT_SIPS_PORT if self.scheme == "sips" or self.transport == "TLS" else _DEFAULT_SIP_PORT
        return self.host.strip("[]"), self.port or default

    @property
    def transport(self) -> str:
        """UDP, TCP or TLS (a sips: URI is TLS whatever its transport parameter says: RFC 5630 §3.1.2)."""
        value = self.params.get("transport")
        if self.scheme == "sips":
            return "TLS"
        return value.upper() if value else "UDP"

    def __str__(self) -> str:
        out = f"{self.scheme}:"
        if self.user is not None:
            out += f"{self.user}@"
        out += self.host
        if self.port is not None:
            out += f":{self.port}"
        out += _format_params(self.params)
        if self.headers:
            out += "?" + "&".join(
                f"{urllib.parse.quote(k, safe='-_.!~*()')}={urllib.parse.quote(v, safe='-_.!~*()')}"
                for k, v in self.headers.items()
            )
        return out


@dataclass
class NameAddr:
    """A From/To/Contact/Route value: optional display name, URI, header parameters."""

    uri: SipUri
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        text = text.strip()
        if not text:
            raise SipParseError("empty address")
        display: str | None = None
        if "<" in text:
            before, _, after = text.partition("<")
            uri_text, closed, param_text = after.partition(">")
            if not closed:
                raise SipParseError(f"unterminated '<' in {text!r}")
            display = before.strip().strip('"').strip() or None
        else:
            # addr-spec form: parameters after the URI belong to the header, not to the URI
            uri_text, _, param_text = text.partition(";")
        return cls(SipUri.parse(uri_text), display, _split_params(param_text))

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        display = f'"{self.display_name}" ' if self.display_name else ""
        return f"{display}<{self.uri}>{_format_params(self.params)}"


@dataclass
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        text = text.strip()
        proto, _, rest = text.partition(" ")
        parts = [p.strip() for p in proto.split("/")]
        if len(parts) != 3 or parts[0].upper() != "SIP" or parts[1] != "2.0" or not parts[2]:
            raise SipParseError(f"bad Via protocol in {text!r}")
        sent_by, _, param_text = rest.strip().partition(";")
        host, port = _split_host_port(sent_by.strip())
        return cls(parts[2].upper(), host, port, _split_params(param_text))

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def rfc3261_branch(self) -> bool:
        return bool(self.branch and self.branch.startswith(BRANCH_COOKIE))

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{_format_params(self.params)}"
