"""UdpSocket: an async UDP socket with a bounded receive queue and send backpressure."""

from __future__ import annotations

import asyncio
import enum
import errno
import socket
from collections import deque
from types import TracebackType
from typing import Any, cast

from pyrama_core import Extensions
from pyrama_core.errors import ConfigError
from pyrama_net import AddrLike, DnsResolver, SocketAddress, to_bind_address
from pyrama_udp._addr import AddrMap, resolve
from pyrama_udp.errors import (
    DatagramTooLargeError,
    UdpBindError,
    UdpClosedError,
    UdpError,
    UdpSendError,
)

__all__ = ["DEFAULT_QUEUE_SIZE", "OverflowPolicy", "UdpSocket"]

DEFAULT_QUEUE_SIZE = 1024
"""Datagrams a :class:`UdpSocket` keeps queued for :meth:`UdpSocket.recv_from` by default."""

_WRITE_HIGH_WATER = 256 * 1024


class OverflowPolicy(enum.Enum):
    """What a :class:`UdpSocket` does with a datagram that arrives while its queue is full.

    UDP has no flow control, so a reader that falls behind must lose datagrams somewhere; the
    queue bound decides where. Every lost datagram is counted in :attr:`UdpSocket.dropped`.
    """

    DROP_OLDEST = "drop-oldest"
    """Discard the oldest queued datagram to make room: the reader sees the freshest traffic
    (best for telemetry, games, media, DNS answers that would be stale anyway)."""

    DROP_NEWEST = "drop-newest"
    """Discard the datagram that just arrived: the queue keeps what came first (what the
    kernel itself does when a socket buffer is full)."""


class _UdpProtocol(asyncio.DatagramProtocol):
    """Queues received datagrams (bounded) and tracks send backpressure."""

    __slots__ = (
        "_closed",
        "_drain_waiter",
        "_error",
        "_paused",
        "_read_waiter",
        "_sync_error",
        "dropped",
        "loop",
        "maxlen",
        "policy",
        "queue",
        "transport",
    )

    def __init__(
        self, loop: asyncio.AbstractEventLoop, maxlen: int, policy: OverflowPolicy
    ) -> None:
        self.loop = loop
        self.maxlen = maxlen
        self.policy = policy
        self.queue: deque[tuple[bytes, Any]] = deque()
        self.dropped = 0
        self.transport: asyncio.DatagramTransport | None = None
        self._read_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._error: OSError | None = None  # an asynchronous error for the next recv
        self._sync_error: OSError | None = None  # an error raised while inside send_to
        self._closed: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.DatagramTransport without subclassing it
        transport = cast(asyncio.DatagramTransport, transport)
        self.transport = transport
        # both asyncio's and uvloop's datagram transports have flow control limits
        cast(Any, transport).set_write_buffer_limits(high=_WRITE_HIGH_WATER)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        q = self.queue
        if len(q) >= self.maxlen:
            self.dropped += 1
            if self.policy is OverflowPolicy.DROP_NEWEST:
                return
            q.popleft()
        q.append((data, addr))
        w = self._read_waiter
        if w is not None:
            self._read_waiter = None
            if not w.done():
                w.set_result(None)

    def error_received(self, exc: Exception) -> None:
        if not isinstance(exc, OSError):  # pragma: no cover - asyncio only passes OSError
            return
        self._sync_error = exc
        self._error = exc
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        if isinstance(exc, OSError) and self._error is None:
            self._error = exc
        self._wake()
        dw = self._drain_waiter
        if dw is not None and not dw.done():
            dw.set_result(None)
        if not self._closed.done():
            self._closed.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        dw = self._drain_waiter
        if dw is not None:
            self._drain_waiter = None
            if not dw.done():
                dw.set_result(None)

    def take_sync_error(self) -> OSError | None:
        """Return and forget the error reported during the last ``sendto`` call."""
        exc = self._sync_error
        self._sync_error = None
        return exc

    def _wake(self) -> None:
        w = self._read_waiter
        if w is not None:
            self._read_waiter = None
            if not w.done():
                w.set_result(None)


def _send_error(exc: OSError, data_len: int) -> UdpSendError:
    if exc.errno == errno.EMSGSIZE:
        err: UdpSendError = DatagramTooLargeError(
            f"datagram of {data_len} bytes is too large to send", limit=None
        )
        err.errno = exc.errno
        err.strerror = exc.strerror
    else:
        err = UdpSendError(exc.errno or 0, f"sending a datagram failed: {exc}")
    err.__cause__ = exc
    return err


class UdpSocket:
    """An async UDP socket.

    Create one with :meth:`bind` (a server, or any socket that needs a known local port) or
    :meth:`connect_to` (a client socket with one fixed peer). Received datagrams wait in a
    bounded queue (*queue_size*, default 1024); when it is full the *overflow* policy drops
    the oldest or the newest datagram and counts it in :attr:`dropped`, so a slow reader can
    never make memory grow. Sending applies backpressure: :meth:`send_to` waits while more
    than 256 KiB of datagrams wait in user space for the kernel.

    Addresses are given as ``"host:port"`` text, ``(host, port)`` tuples,
    :class:`~pyrama_net.SocketAddress` or :class:`~pyrama_net.Authority`; domains are resolved
    with *resolver* (the system resolver by default). Peers are reported as
    :class:`~pyrama_net.SocketAddress`. The socket is an async context manager that closes on
    exit.
    """

    __slots__ = (
        "_extensions",
        "_local",
        "_map",
        "_peer",
        "_peer_raw",
        "_proto",
        "_resolver",
        "_sock",
        "_transport",
    )

    def __init__(
        self,
        sock: socket.socket,
        transport: asyncio.DatagramTransport,
        protocol: _UdpProtocol,
        resolver: DnsResolver | None = None,
    ) -> None:
        """Wrap an endpoint made by :meth:`bind`/:meth:`connect_to` (not for direct use)."""
        self._sock = sock
        self._transport = transport
        self._proto = protocol
        self._resolver = resolver
        self._map = AddrMap(sock.family)
        self._local: SocketAddress = self._map.from_raw(sock.getsockname())
        # the target handed to transport.sendto for the connected peer: None when the socket
        # was connected before the transport existed (the transport then knows the peer, and
        # uvloop refuses an explicit address), the raw address when connected later
        self._peer_raw: Any = None
        try:
            self._peer: SocketAddress | None = self._map.from_raw(sock.getpeername())
        except OSError:
            self._peer = None
        self._extensions = Extensions()

    # -- construction ---------------------------------------------------------------------

    @classmethod
    async def bind(
        cls,
        addr: AddrLike = "127.0.0.1:0",
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
        reuse_port: bool = False,
        broadcast: bool = False,
        dual_stack: bool | None = None,
        resolver: DnsResolver | None = None,
    ) -> UdpSocket:
        """Bind a UDP socket to *addr* (an ephemeral port on 127.0.0.1 unless told otherwise).

        *addr* must be an IP address (or ``localhost``). *dual_stack* applies to IPv6 binds:
        ``True`` also receives IPv4 traffic (``[::]`` with ``IPV6_V6ONLY`` off), ``False``
        forbids it, ``None`` keeps the OS default. *resolver* resolves the domains later given
        to :meth:`send_to` and :meth:`connect`. Raises
        :class:`~pyrama_udp.errors.UdpBindError` when binding fails.
        """
        _check_queue_size(queue_size)
        local = to_bind_address(addr)
        family = local.family
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if broadcast:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            if family == socket.AF_INET6 and dual_stack is not None:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual_stack else 1)
            sock.bind(local.to_tuple())
        except OSError as exc:
            sock.close()
            raise UdpBindError(exc.errno or 0, f"cannot bind UDP {local}: {exc}") from exc
        return await cls._wrap(sock, queue_size, overflow, resolver)

    @classmethod
    async def connect_to(
        cls,
        remote: AddrLike,
        *,
        local: AddrLike | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
        resolver: DnsResolver | None = None,
    ) -> UdpSocket:
        """Open a UDP socket connected to *remote*: only its datagrams are received.

        A domain is resolved with *resolver* (IPv4 first). Without *local*, the kernel picks
        an ephemeral port on the address that routes to *remote*. Raises
        :class:`~pyrama_net.errors.DnsError` or :class:`~pyrama_udp.errors.UdpBindError`.
        """
        _check_queue_size(queue_size)
        bind_to = None if local is None else to_bind_address(local)
        family = None if bind_to is None else bind_to.family
        target = await resolve(remote, resolver=resolver, family=family)
        if family is None:
            family = target.family
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            raw = AddrMap(family).to_raw(target)
            if bind_to is not None:
                sock.bind(bind_to.to_tuple())
            sock.connect(raw)
        except OSError as exc:
            sock.close()
            raise UdpBindError(exc.errno or 0, f"cannot open UDP to {target}: {exc}") from exc
        except BaseException:
            sock.close()
            raise
        return await cls._wrap(sock, queue_size, overflow, resolver)

    @classmethod
    async def from_socket(
        cls,
        sock: socket.socket,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
        resolver: DnsResolver | None = None,
    ) -> UdpSocket:
        """Adopt a bound ``AF_INET``/``AF_INET6`` ``SOCK_DGRAM`` socket (it is owned from now)."""
        if sock.type != socket.SOCK_DGRAM or sock.family not in (socket.AF_INET, socket.AF_INET6):
            raise ConfigError("from_socket needs an AF_INET/AF_INET6 SOCK_DGRAM socket")
        _check_queue_size(queue_size)
        return await cls._wrap(sock, queue_size, overflow, resolver)

    @classmethod
    async def _wrap(
        cls,
        sock: socket.socket,
        queue_size: int,
        overflow: OverflowPolicy,
        resolver: DnsResolver | None,
    ) -> UdpSocket:
        loop = asyncio.get_running_loop()
        sock.setblocking(False)
        try:
            transport, proto = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(loop, queue_size, overflow), sock=sock
            )
        except BaseException:
            sock.close()
            raise
        return cls(sock, transport, proto, resolver)

    # -- facts ------------------------------------------------------------------------------

    @property
    def local_addr(self) -> SocketAddress:
        """The address this socket is bound to."""
        return self._local

    @property
    def peer_addr(self) -> SocketAddress | None:
        """The connected peer, or ``None`` for an unconnected socket."""
        return self._peer

    @property
    def family(self) -> socket.AddressFamily:
        """The socket family (``AF_INET`` or ``AF_INET6``)."""
        return socket.AddressFamily(self._sock.family)

    @property
    def socket(self) -> socket.socket:
        """The OS socket (for socket options; do not read or write it directly)."""
        return self._sock

    @property
    def extensions(self) -> Extensions:
        """Facts about this socket, for services above it."""
        return self._extensions

    @property
    def dropped(self) -> int:
        """How many received datagrams the overflow policy discarded so far."""
        return self._proto.dropped

    @property
    def queued(self) -> int:
        """How many received datagrams wait to be read."""
        return len(self._proto.queue)

    @property
    def queue_size(self) -> int:
        """The bound of the receive queue."""
        return self._proto.maxlen

    @property
    def overflow(self) -> OverflowPolicy:
        """What happens to datagrams that arrive while the queue is full."""
        return self._proto.policy

    # -- sending ----------------------------------------------------------------------------

    async def send_to(self, data: bytes | bytearray | memoryview, addr: AddrLike, /) -> None:
        """Send one datagram to *addr*, waiting while the send queue is above its limit.

        Raises :class:`~pyrama_udp.errors.DatagramTooLargeError` for a datagram the kernel
        will not send in one piece, :class:`~pyrama_udp.errors.UdpSendError` for other kernel
        refusals, :class:`~pyrama_udp.errors.UdpClosedError` once closed.
        """
        if type(addr) is not SocketAddress:
            addr = await resolve(addr, resolver=self._resolver, family=self.family)
        peer = self._peer
        if peer is None:
            self._send(data, self._map.to_raw(addr))
        elif addr == peer:
            self._send(data, self._peer_raw)
        else:
            raise UdpError(f"this socket is connected to {peer}; it cannot send to {addr}")
        if self._proto._paused:
            await self._drain()

    async def send(self, data: bytes | bytearray | memoryview, /) -> None:
        """Send one datagram to the connected peer (see :meth:`connect`)."""
        if self._peer is None:
            raise UdpError("send() needs a connected socket; use send_to() or connect() first")
        self._send(data, self._peer_raw)
        if self._proto._paused:
            await self._drain()

    def _send(self, data: bytes | bytearray | memoryview, target: Any) -> None:
        t = self._transport
        if t.is_closing():
            raise UdpClosedError("the UDP socket is closed")
        p = self._proto
        p._sync_error = None
        t.sendto(data, target)
        exc = p.take_sync_error()
        if exc is not None:
            # asyncio reports an immediate send failure through error_received: it is ours
            if p._error is exc:
                p._error = None
            raise _send_error(exc, len(data))

    async def _drain(self) -> None:
        p = self._proto
        while p._paused and not self._transport.is_closing():
            w = p._drain_waiter
            if w is None or w.done():
                w = p.loop.create_future()
                p._drain_waiter = w
            await asyncio.shield(w)
        if self._transport.is_closing():
            raise UdpClosedError("the UDP socket closed while sending")

    # -- receiving --------------------------------------------------------------------------

    async def recv_from(self) -> tuple[bytes, SocketAddress]:
        """Wait for the next datagram; return ``(data, peer)``.

        On a connected socket an ICMP error reported by the kernel (the peer's port is
        closed, ...) raises :class:`~pyrama_udp.errors.UdpSendError` once. Raises
        :class:`~pyrama_udp.errors.UdpClosedError` when the socket is closed.
        """
        p = self._proto
        q = p.queue
        while not q:
            exc = p._error
            if exc is not None:
                p._error = None
                if self._peer is not None:
                    raise _send_error(exc, 0)
                continue  # unconnected sockets cannot attribute errors; keep receiving
            if self._transport.is_closing():
                raise UdpClosedError("the UDP socket is closed")
            w = p.loop.create_future()
            p._read_waiter = w
            try:
                await w
            finally:
                if p._read_waiter is w:
                    p._read_waiter = None
        data, raw = q.popleft()
        return data, self._map.from_raw(raw)

    async def recv(self) -> bytes:
        """Wait for the next datagram and return its payload."""
        data, _ = await self.recv_from()
        return data

    def recv_nowait(self) -> tuple[bytes, SocketAddress] | None:
        """Return the next queued datagram, or ``None`` when the queue is empty."""
        q = self._proto.queue
        if not q:
            return None
        data, raw = q.popleft()
        return data, self._map.from_raw(raw)

    # -- connecting ---------------------------------------------------------------------------

    async def connect(self, addr: AddrLike, /) -> None:
        """Fix the peer: :meth:`send`/:meth:`recv` use it, and only its datagrams arrive.

        A connected socket sends only to its peer (:meth:`send_to` another address raises
        :class:`~pyrama_udp.errors.UdpError`).

        Datagrams from other peers that were already queued are discarded (not counted as
        dropped).
        """
        target = await resolve(addr, resolver=self._resolver, family=self.family)
        raw = self._map.to_raw(target)
        try:
            self._sock.connect(raw)
        except OSError as exc:
            raise UdpSendError(exc.errno or 0, f"cannot connect to {target}: {exc}") from exc
        peer = self._map.from_raw(self._sock.getpeername())
        self._peer = peer
        self._peer_raw = raw
        q = self._proto.queue
        if q:
            keep = [(d, raw) for d, raw in q if self._map.from_raw(raw) == peer]
            q.clear()
            q.extend(keep)

    # -- closing ------------------------------------------------------------------------------

    def is_closing(self) -> bool:
        """Whether the socket is closed or closing."""
        return self._transport.is_closing()

    async def close(self) -> None:
        """Close the socket (queued outgoing datagrams are flushed first); idempotent."""
        if not self._transport.is_closing():
            self._transport.close()
        self._proto._wake()
        await asyncio.shield(self._proto._closed)

    def abort(self) -> None:
        """Close at once, dropping queued outgoing datagrams."""
        self._transport.abort()
        self._proto._wake()

    async def __aenter__(self) -> UdpSocket:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        peer = f", peer={self._peer}" if self._peer is not None else ""
        return f"UdpSocket(local={self._local}{peer})"


def _check_queue_size(queue_size: int) -> None:
    if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
        raise ConfigError(f"queue_size must be an int >= 1, got {queue_size!r}")
