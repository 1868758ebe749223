"""A UDP receiver on its own thread that timestamps each RTP packet as it arrives, per SSRC.

On a thread of its own so arrival times do not depend on the event loop being measured (tests and benchmarks).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import defaultdict


class RtpReceiver(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.arrivals: dict[int, list[tuple[int, float]]] = defaultdict(list)  # ssrc -> (sequence, monotonic)
        self.running = True

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return (host, port)

    def run(self) -> None:
        while self.running:
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                continue
            sequence, _, ssrc = struct.unpack_from("!HII", data, 2)
            self.arrivals[ssrc].append((sequence, time.monotonic()))
