"""SIP requests and responses: parsing (datagram and stream framing), validation, serialisation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from callbot.sip.errors import SipParseError
from callbot.sip.headers import Headers
from callbot.sip.uri import NameAddr, Via

MAX_MESSAGE_BYTES = 65_535  # larger than any UDP datagram we accept; also bounds a TCP message
MAX_HEADER_FIELDS = 100
MAX_LINE_BYTES = 8_192

_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")

REASONS = {
    100: "Trying",
    180: "Ringing",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    420: "Bad Extension",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    603: "Decline",
}


@dataclass
class SipMessage:
    headers: Headers
    body: bytes = b""

    @property
    def call_id(self) -> str:
        value = self.headers.get("Call-ID")
        if not value:
            raise SipParseError("missing Call-ID")
        return value

    @property
    def cseq(self) -> tuple[int, str]:
        value = self.headers.get("CSeq")
        if value is None:
            raise SipParseError("missing CSeq")
        number, _, method = value.strip().partition(" ")
        method = method.strip()
        if not number.isdigit() or int(number) >= 2**31 or not _TOKEN.match(method or "-"):
            raise SipParseError(f"bad CSeq {value!r}")
        if not method:
            raise SipParseError(f"bad CSeq {value!r}")
        return int(number), method.upper()

    def _address(self, name: str) -> NameAddr:
        value = self.headers.get(name)
        if value is None:
            raise SipParseError(f"missing {name}")
        return NameAddr.parse(value)

    @property
    def from_addr(self) -> NameAddr:
        return self._address("From")

    @property
    def to_addr(self) -> NameAddr:
        return self._address("To")

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(v) for v in self.headers.get_all("Via")]

    @property
    def top_via(self) -> Via:
        values = self.headers.get_all("Via")
        if not values:
            raise SipParseError("missing Via")
        return Via.parse(values[0])

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").partition(";")[0].strip().lower()

    def _serialise(self, start_line: str) -> bytes:
        lines = [start_line]
        lines.extend(f"{name}: {value}" for name, value in self.headers if name != "Content-Length")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


@dataclass
class SipRequest(SipMessage):
    method: str = ""
    uri: str = ""

    def to_bytes(self) -> bytes:
        return self._serialise(f"{self.method} {self.uri} SIP/2.0")

    def __str__(self) -> str:
        return f"{self.method} {self.uri}"


@dataclass
class SipResponse(SipMessage):
    status: int = 0
    reason: str = ""

    def to_bytes(self) -> bytes:
        return self._serialise(f"SIP/2.0 {self.status} {self.reason}")

    def __str__(self) -> str:
        return f"{self.status} {self.reason}"


def parse_message(data: bytes, *, stream: bool = False) -> SipRequest | SipResponse:
    """Parse one complete message. For datagrams the body is what follows the headers."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
        if not sep:
            head, body = data.rstrip(b"\r\n"), b""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError("header section is not UTF-8") from exc
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)  # RFC 3261 §7.5: ignore CRLFs before the start line
    if not lines:
        raise SipParseError("empty message")
    start, header_lines = lines[0], lines[1:]
    if len(start) > MAX_LINE_BYTES:
        raise SipParseError("start line too long")
    headers = _parse_headers(header_lines)
    message = _parse_start_line(start, headers)
    message.body = _take_body(headers, body, stream)
    if isinstance(message, SipRequest):
        _validate_request(message)
    else:
        _validate_response(message)
    return message


def _parse_headers(lines: list[str]) -> Headers:
    fields: list[tuple[str, str]] = []
    for line in lines:
        if len(line) > MAX_LINE_BYTES:
            raise SipParseError("header line too long")
        if line[:1] in (" ", "\t"):
            if not fields:
                raise SipParseError("continuation line before any header")
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {line.strip()}")  # RFC 3261 §7.3.1 line folding
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not _TOKEN.match(name):
            raise SipParseError(f"malformed header line {line[:80]!r}")
        fields.append((name, value.strip()))
        if len(fields) > MAX_HEADER_FIELDS:
            raise SipParseError(f"more than {MAX_HEADER_FIELDS} header fields")
    return Headers(fields)


def _parse_start_line(line: str, headers: Headers) -> SipRequest | SipResponse:
    parts = line.split(" ", 2)
    if line.startswith("SIP/"):
        if len(parts) < 2 or parts[0] != "SIP/2.0":
            raise SipParseError(f"bad status line {line[:80]!r}")
        if not (parts[1].isdigit() and len(parts[1]) == 3 and 100 <= int(parts[1]) <= 699):
            raise SipParseError(f"bad status code in {line[:80]!r}")
        return SipResponse(headers, status=int(parts[1]), reason=parts[2] if len(parts) > 2 else "")
    if len(parts) != 3 or parts[2] != "SIP/2.0":
        raise SipParseError(f"bad request line {line[:80]!r}")
    method, uri = parts[0], parts[1]
    request = SipRequest(headers, method=method.upper(), uri=uri)
    if not _TOKEN.match(method):
        raise SipParseError(f"bad method {method[:40]!r}", request)
    if not _URI.match(uri):
        raise SipParseError(f"bad Request-URI {uri[:80]!r}", request)
    return request


def _take_body(headers: Headers, rest: bytes, stream: bool) -> bytes:
    value = headers.get("Content-Length")
    if value is None:
        if stream:
            raise SipParseError("Content-Length is required on stream transports")
        return rest
    if not value.isdigit() or len(value) > 6:
        raise SipParseError(f"bad Content-Length {value!r}")
    length = int(value)
    if length > len(rest):
        raise SipParseError(f"Content-Length {length} exceeds the {len(rest)} body bytes received")
    return rest[:length]


def _validate_common(message: SipMessage) -> None:
    for name in ("Via", "Call-ID", "CSeq", "From", "To"):
        if name not in message.headers:
            raise SipParseError(f"missing {name}")
    _ = message.call_id, message.cseq, message.from_addr, message.to_addr, message.vias


def _validate_request(request: SipRequest) -> None:
    try:
        _validate_common(request)
        if request.cseq[1] != request.method:
            raise SipParseError(f"CSeq method {request.cseq[1]} does not match {request.method}")
        forwards = request.headers.get("Max-Forwards")
        if forwards is not None and not (forwards.isdigit() and int(forwards) <= 255):
            raise SipParseError(f"bad Max-Forwards {forwards!r}")
    except SipParseError as exc:
        raise SipParseError(exc.reason, request) from None


def _validate_response(response: SipResponse) -> None:
    _validate_common(response)


def can_answer(request: SipRequest) -> bool:
    """True when the fields a response copies (RFC 3261 §8.2.6.2) are readable."""
    try:
        _ = request.top_via, request.call_id, request.cseq, request.from_addr, request.to_addr
    except SipParseError:
        return False
    return True


def make_response(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    extra: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    content_type: str | None = None,
) -> SipResponse:
    """Build a response copying Via, From, To (adding our tag), Call-ID and CSeq."""
    headers = Headers()
    for via in request.headers.get_all("Via"):
        headers.add("Via", via)
    headers.add("From", request.headers.get("From") or "")
    to = request.to_addr
    if to_tag and to.tag is None and status > 100:
        to.params["tag"] = to_tag
        headers.add("To", str(to))
    else:
        headers.add("To", request.headers.get("To") or "")
    headers.add("Call-ID", request.call_id)
    headers.add("CSeq", request.headers.get("CSeq") or "")
    for name, value in extra or []:
        headers.add(name, value)
    if body and content_type:
        headers.add("Content-Type", content_type)
    return SipResponse(headers, body, status=status, reason=reason or REASONS.get(status, "Unknown"))


@dataclass
class StreamFramer:
    """Cut a TCP byte stream into messages by Content-Length (RFC 3261 §18.3)."""

    buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[bytes]:
        """Return the complete raw messages; raise SipParseError when the stream cannot be framed."""
        self.buffer.extend(data)
        out: list[bytes] = []
        while True:
            # keep-alive CRLFs between messages (RFC 5626 §3.5.1)
            while self.buffer[:2] == b"\r\n":
                del self.buffer[:2]
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_MESSAGE_BYTES:
                    raise SipParseError("header section too large")
                return out
            head = bytes(self.buffer[:end])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() in (b"content-length", b"l"):
                    if not value.strip().isdigit():
                        raise SipParseError("bad Content-Length on stream")
                    length = int(value.strip())
            total = end + 4 + length
            if total > MAX_MESSAGE_BYTES:
                raise SipParseError(f"message of {total} bytes exceeds {MAX_MESSAGE_BYTES}")
            if len(self.buffer) < total:
                return out
            out.append(bytes(self.buffer[:total]))
            del self.buffer[:total]
