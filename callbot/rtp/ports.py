"""UDP port allocation for RTP: even ports (RFC 3550 section 11), inside a configured range."""

from __future__ import annotations

import errno
import random
import socket


class NoFreePortError(OSError):
    """Every even port of the configured range is in use."""


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _try_bind(host: str, port: int) -> socket.socket | None:
    sock = socket.socket(_family(host), socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            return None
        raise
    sock.setblocking(False)
    return sock


def bind_even_port(host: str, port_min: int = 0, port_max: int = 0) -> socket.socket:
    """A non-blocking UDP socket bound to an even port of [port_min, port_max]; 0/0 means any free port."""
    if port_min == 0 and port_max == 0:
        for _ in range(64):
            sock = _try_bind(host, 0)
            if sock is not None and sock.getsockname()[1] % 2 == 0:
                return sock
            if sock is not None:
                sock.close()
        raise NoFreePortError(errno.EADDRINUSE, "no free even UDP port found")
    if not 0 < port_min <= port_max <= 65535:
        raise ValueError(f"invalid RTP port range {port_min}-{port_max}")
    first_even = port_min + (port_min % 2)
    candidates = list(range(first_even, port_max + 1, 2))
    if not candidates:
        raise ValueError(f"RTP port range {port_min}-{port_max} holds no even port")
    # Start at a random place so concurrent calls (and processes) don't all race for the same first port.
    start = random.randrange(len(candidates))
    for port in candidates[start:] + candidates[:start]:
        sock = _try_bind(host, port)
        if sock is not None:
            return sock
    raise NoFreePortError(errno.EADDRINUSE, f"no free even UDP port in {port_min}-{port_max}")
