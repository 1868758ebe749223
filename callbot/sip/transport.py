"""UDP and TCP listeners on one port; messages out to a peer; framing of TCP streams."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from callbot.sip.errors import SipParseError
from callbot.sip.limits import SipLimits, SourceQuota
from callbot.sip.message import MAX_MESSAGE_BYTES, StreamFramer
from callbot.sip.refusals import RefusalLog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Peer:
    """Where a message came from / goes to: transport ("UDP" or "TCP") and address."""

    transport: str
    addr: tuple[str, int]

    @property
    def reliable(self) -> bool:
        return self.transport != "UDP"


MessageSink = Callable[[bytes, Peer], None]


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, sink: MessageSink) -> None:
        self._sink = sink

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if len(data) > MAX_MESSAGE_BYTES or len(addr) < 2:
            return
        host, port = str(addr[0]), int(str(addr[1]))
        if data.strip(b"\r\n\x00 ") == b"":
            return  # keep-alive
        self._sink(data, Peer("UDP", (host, port)))

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error: %s", exc)  # e.g. ICMP port unreachable from a gone peer


class _TcpConnection:
    def __init__(self, owner: SipTransport, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.owner = owner
        self.reader = reader
        self.writer = writer
        name = writer.get_extra_info("peername")
        self.peer = Peer("TCP", (str(name[0]), int(name[1])))
        self.framer = StreamFramer()

    async def run(self) -> None:
        limits = self.owner.limits
        loop = asyncio.get_running_loop()
        # One deadline: the idle timeout after each complete message, cut to the message timeout when a
        # message starts. Bytes that complete nothing never push it back, so trickling cannot hold a slot.
        deadline = loop.time() + limits.tcp_idle_timeout_s
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError
                data = await asyncio.wait_for(self.reader.read(16384), remaining)
                if not data:
                    break
                was_between_messages = not self.framer.buffer
                messages = self.framer.feed(data)
                now = loop.time()
                if messages:
                    deadline = now + limits.tcp_idle_timeout_s
                if self.framer.buffer and (was_between_messages or messages):
                    deadline = min(deadline, now + limits.tcp_message_timeout_s)
                for raw in messages:
                    self.owner.sink(raw, self.peer)
        except SipParseError as exc:
            log.warning("closing TCP connection from %s: %s", self.peer.addr, exc.reason)
        except TimeoutError:
            reason = "TCP message timeout" if self.framer.buffer else "TCP idle timeout"
            self.owner.refusals.note(reason, self.peer.addr[0])
        except (ConnectionError, OSError):
            pass
        finally:
            self.owner.forget(self)
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()


class SipTransport:
    """One UDP socket and (optionally) a TCP listener on the same port; symmetric replies."""

    def __init__(
        self,
        host: str,
        port: int,
        sink: MessageSink,
        tcp: bool,
        limits: SipLimits | None = None,
        refusals: RefusalLog | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sink = sink
        self.tcp = tcp
        self.limits = limits or SipLimits()
        self.refusals = refusals or RefusalLog(log)
        self._connection_quota = SourceQuota(
            self.limits.max_tcp_connections, self.limits.max_tcp_connections_per_source
        )
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._connections: dict[tuple[str, int], _TcpConnection] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for _attempt in range(20):  # with port 0, the UDP port may be taken on TCP: try another
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self.sink), local_addr=(self.host, self.port)
            )
            bound_port = int(udp.get_extra_info("sockname")[1])
            if not self.tcp:
                self._udp, self.port = udp, bound_port
                return
            try:
                self._server = await asyncio.start_server(self._accept, self.host, bound_port)
            except OSError:
                udp.close()
                if self.port:
                    raise
                continue
            self._udp, self.port = udp, bound_port
            return
        raise OSError("could not bind UDP and TCP on the same port")

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        source = str(writer.get_extra_info("peername")[0])
        if not self._connection_quota.acquire(source):
            self.refusals.note(f"TCP connection {self._connection_quota.refusal(source)}", source)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return
        connection = _TcpConnection(self, reader, writer)
        self._connections[connection.peer.addr] = connection
        try:
            await connection.run()
        finally:
            self._connection_quota.release(source)

    def forget(self, connection: _TcpConnection) -> None:
        if self._connections.get(connection.peer.addr) is connection:
            del self._connections[connection.peer.addr]

    def connections_from(self, source: str) -> int:
        """Inbound TCP connections held for `source` now."""
        return self._connection_quota.held_by(source)

    def send(self, data: bytes, peer: Peer) -> None:
        if peer.transport == "UDP":
            if self._udp is not None and not self._udp.is_closing():
                self._udp.sendto(data, peer.addr)
            return
        connection = self._connections.get(peer.addr)
        if connection is not None and not connection.writer.is_closing():
            connection.writer.write(data)
            return
        task = asyncio.get_running_loop().create_task(self._connect_and_send(data, peer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect_and_send(self, data: bytes, peer: Peer) -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(*peer.addr), 5.0)
        except (OSError, TimeoutError) as exc:
            log.warning("TCP connect to %s failed: %s", peer.addr, exc)
            return
        connection = _TcpConnection(self, reader, writer)
        connection.peer = peer
        self._connections[peer.addr] = connection
        writer.write(data)
        await connection.run()

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections.values()):
            connection.writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
