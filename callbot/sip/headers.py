"""An ordered, case-insensitive SIP header list with compact forms and comma-separated values."""

from __future__ import annotations

from collections.abc import Iterator

# RFC 3261 §7.3.3 and the extensions we meet (RFC 3515 r/b, RFC 3265 o/u, RFC 4028 x).
COMPACT_FORMS = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "r": "Refer-To",
    "b": "Referred-By",
    "o": "Event",
    "u": "Allow-Events",
    "x": "Session-Expires",
}

_CANONICAL = {
    name.lower(): name
    for name in (
        "Call-ID",
        "CSeq",
        "WWW-Authenticate",
        "Max-Forwards",
        "MIME-Version",
        "Record-Route",
        "Retry-After",
        "User-Agent",
        "Content-Length",
        "Content-Type",
        "Refer-To",
        "Referred-By",
        "Subscription-State",
        "Allow-Events",
        "Accept-Encoding",
        "Accept-Language",
        "RSeq",
        "RAck",
    )
}

# Headers whose values may be comma-joined lists (RFC 3261 §7.3.1); others (dates, auth) contain commas.
LIST_HEADERS = frozenset(
    name.lower()
    for name in (
        "Via",
        "Route",
        "Record-Route",
        "Contact",
        "Allow",
        "Supported",
        "Require",
        "Proxy-Require",
        "Unsupported",
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Allow-Events",
        "Content-Encoding",
    )
)


def canonical_name(name: str) -> str:
    name = name.strip()
    lower = name.lower()
    if lower in COMPACT_FORMS:
        return COMPACT_FORMS[lower]
    if lower in _CANONICAL:
        return _CANONICAL[lower]
    return "-".join(part.capitalize() for part in name.split("-"))


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value, ignoring commas inside quotes or <...>."""
    items: list[str] = []
    depth_angle = 0
    quoted = False
    start = 0
    i = 0
    while i < len(value):
        c = value[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "<":
            depth_angle += 1
        elif c == ">":
            depth_angle = max(0, depth_angle - 1)
        elif c == "," and depth_angle == 0:
            items.append(value[start:i].strip())
            start = i + 1
        i += 1
    items.append(value[start:].strip())
    return [item for item in items if item]


class Headers:
    """Header fields in wire order. Lookups are case-insensitive and accept compact forms."""

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._items: list[tuple[str, str]] = []
        for name, value in items or []:
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        self._items.append((canonical_name(name), value.strip()))

    def set(self, name: str, value: str) -> None:
        """Replace every field of that name by one, keeping the position of the first."""
        key = canonical_name(name)
        for index, (existing, _) in enumerate(self._items):
            if existing == key:
                self._items[index] = (key, value)
                self._items = self._items[: index + 1] + [item for item in self._items[index + 1 :] if item[0] != key]
                return
        self._items.append((key, value))

    def remove(self, name: str) -> None:
        key = canonical_name(name)
        self._items = [item for item in self._items if item[0] != key]

    def get(self, name: str) -> str | None:
        """First value (first list element for list headers)."""
        values = self.get_all(name)
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        key = canonical_name(name)
        split = key.lower() in LIST_HEADERS
        out: list[str] = []
        for existing, value in self._items:
            if existing == key:
                out.extend(split_list(value) if split else [value])
        return out

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k == canonical_name(name) for k, _ in self._items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def copy(self) -> Headers:
        return Headers(list(self._items))
