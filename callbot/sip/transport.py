"""UDP and TCP listeners on one port, TLS on another (RFC 3261 §26); messages out to a peer; framing of streams."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field

from callbot.sip.errors import SipParseError
from callbot.sip.limits import SipLimits, SourceQuota
from callbot.sip.message import MAX_MESSAGE_BYTES, StreamFramer
from callbot.sip.refusals import RefusalLog
from callbot.sip.tls import client_context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Peer:
    """Where a message came from / goes to: transport ("UDP", "TCP" or "TLS") and address. `name`, for TLS
    connections we open, is the host name the peer's certificate must carry (the address when None)."""

    transport: str
    addr: tuple[str, int]
    name: str | None = field(default=None, compare=False)

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
    """One TCP or TLS connection, inbound or opened by us: the same framing and timeouts for both."""

    def __init__(
        self, owner: SipTransport, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transport: str = "TCP"
    ) -> None:
        self.owner = owner
        self.reader = reader
        self.writer = writer
        name = writer.get_extra_info("peername")
        self.peer = Peer(transport, (str(name[0]), int(name[1])))
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
            log.warning("closing %s connection from %s: %s", self.peer.transport, self.peer.addr, exc.reason)
        except TimeoutError:
            reason = "message timeout" if self.framer.buffer else "idle timeout"
            self.owner.refusals.note(f"{self.peer.transport} {reason}", self.peer.addr[0])
        except (ConnectionError, OSError):
            pass
        finally:
            self.owner.forget(self)
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()


class SipTransport:
    """One UDP socket and (optionally) a TCP listener on the same port, and (optionally) a TLS listener on its own
    port; symmetric replies. TCP and TLS connections share one quota and the same timeouts."""

    def __init__(
        self,
        host: str,
        port: int,
        sink: MessageSink,
        tcp: bool,
        limits: SipLimits | None = None,
        refusals: RefusalLog | None = None,
        *,
        tls_port: int | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sink = sink
        self.tcp = tcp
        self.limits = limits or SipLimits()
        self.refusals = refusals or RefusalLog(log)
        if (tls_port is None) != (tls_context is None):
            raise ValueError("TLS needs both a port and a context")
        self.tls_port = tls_port
        self._tls_context = tls_context
        self._tls_client_context: ssl.SSLContext | None = None  # made at the first connection we open
        self._connection_quota = SourceQuota(
            self.limits.max_tcp_connections, self.limits.max_tcp_connections_per_source
        )
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._tls_listener: socket.socket | None = None
        self._tls_accepting: asyncio.Task[None] | None = None
        self._connections: dict[Peer, _TcpConnection] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def tls(self) -> bool:
        return self._tls_context is not None

    async def start(self) -> None:
        await self._start_udp_tcp()
        if self._tls_context is not None:
            try:
                self._start_tls()
            except OSError:
                await self.close()
                raise

    async def _start_udp_tcp(self) -> None:
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

    def _start_tls(self) -> None:
        # A plain listening socket, accepted by hand: the connection counts in the quota from its accept,
        # before the handshake, so that clients that never finish one cannot hold sockets beyond the limits.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.create_server((self.host, self.tls_port or 0), family=family, backlog=128)
        listener.setblocking(False)
        self._tls_listener = listener
        self.tls_port = int(listener.getsockname()[1])
        self._tls_accepting = self._spawn(self._accept_tls(listener))

    def _spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _accept_tls(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, addr = await loop.sock_accept(listener)
            except OSError as exc:  # e.g. EMFILE: wait rather than spin; closed at stop: the task is cancelled
                log.warning("TLS accept failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            source = str(addr[0])
            if not self._connection_quota.acquire(source):
                self.refusals.note(f"TLS connection {self._connection_quota.refusal(source)}", source)
                sock.close()
                continue
            self._spawn(self._serve_tls(sock, source))

    async def _serve_tls(self, sock: socket.socket, source: str) -> None:
        assert self._tls_context is not None
        loop = asyncio.get_running_loop()
        try:
            reader = asyncio.StreamReader()
            try:
                transport, protocol = await loop.connect_accepted_socket(
                    lambda: asyncio.StreamReaderProtocol(reader),
                    sock,
                    ssl=self._tls_context,
                    ssl_handshake_timeout=self.limits.tcp_message_timeout_s,
                )
            except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError; a slow handshake is aborted
                timed_out = isinstance(exc, (TimeoutError, ConnectionAbortedError))
                self.refusals.note("TLS handshake timeout" if timed_out else "TLS handshake failed", source)
                log.debug("TLS handshake from %s failed: %s", source, exc)
                sock.close()
                return
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
            connection = _TcpConnection(self, reader, writer, "TLS")
            self._connections[connection.peer] = connection
            await connection.run()
        finally:
            self._connection_quota.release(source)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        source = str(writer.get_extra_info("peername")[0])
        if not self._connection_quota.acquire(source):
            self.refusals.note(f"TCP connection {self._connection_quota.refusal(source)}", source)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return
        connection = _TcpConnection(self, reader, writer)
        self._connections[connection.peer] = connection
        try:
            await connection.run()
        finally:
            self._connection_quota.release(source)

    def forget(self, connection: _TcpConnection) -> None:
        if self._connections.get(connection.peer) is connection:
            del self._connections[connection.peer]

    def connected(self, peer: Peer) -> bool:
        """A TCP or TLS connection to `peer` is open now."""
        connection = self._connections.get(peer)
        return connection is not None and not connection.writer.is_closing()

    def connections_from(self, source: str) -> int:
        """Inbound TCP and TLS connections held for `source` now."""
        return self._connection_quota.held_by(source)

    def send(self, data: bytes, peer: Peer) -> None:
        if peer.transport == "UDP":
            if self._udp is not None and not self._udp.is_closing():
                self._udp.sendto(data, peer.addr)
            return
        connection = self._connections.get(peer)
        if connection is not None and not connection.writer.is_closing():
            connection.writer.write(data)
            return
        if peer.transport == "TLS" and not self.tls:
            log.warning("no TLS listener: message to %s over TLS dropped", peer.addr)
            return
        self._spawn(self._connect_and_send(data, peer))

    async def _connect_and_send(self, data: bytes, peer: Peer) -> None:
        context: ssl.SSLContext | None = None
        if peer.transport == "TLS":
            if self._tls_client_context is None:
                self._tls_client_context = client_context()
            context = self._tls_client_context
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    *peer.addr, ssl=context, server_hostname=(peer.name or peer.addr[0]) if context else None
                ),
                5.0,
            )
        except (OSError, TimeoutError) as exc:
            log.warning("%s connect to %s failed: %s", peer.transport, peer.addr, exc)
            return
        connection = _TcpConnection(self, reader, writer, peer.transport)
        connection.peer = peer
        self._connections[peer] = connection
        writer.write(data)
        await connection.run()

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._server is not None:
            self._server.close()
        if self._tls_accepting is not None:  # out of the selector before its socket is closed
            self._tls_accepting.cancel()
            await asyncio.wait({self._tls_accepting})
        if self._tls_listener is not None:
            self._tls_listener.close()
        for connection in list(self._connections.values()):
            connection.writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
