"""TcpConnector: the connector service that opens TCP streams (DNS + happy eyeballs)."""

from __future__ import annotations

import asyncio
import errno
import functools
import math
import os
import socket
from collections.abc import Awaitable, Callable, Coroutine
from ipaddress import IPv4Address, IPv6Address
from typing import Any, cast

from pyrama_core.errors import ConfigError
from pyrama_net import (
    ConnectTarget,
    DnsResolver,
    EstablishedConnection,
    IpMode,
    SocketAddress,
    SocketStreamProtocol,
    SystemResolver,
    happy_eyeballs_connect,
    ip_literal,
    target_host_port,
)
from pyrama_net.errors import AddressError, ConnectError
from pyrama_tcp._socket_options import TcpSocketOptions
from pyrama_tcp._stream import TcpStream

__all__ = ["TcpConnector"]

BindLike = str | IPv4Address | IPv6Address | SocketAddress | tuple[str, int]


def _bind_address(bind: BindLike) -> SocketAddress:
    try:
        if isinstance(bind, SocketAddress):
            return bind
        if isinstance(bind, IPv4Address | IPv6Address):
            return SocketAddress(bind, 0)
        if isinstance(bind, tuple):
            return SocketAddress.from_tuple(bind)
        ip = ip_literal(bind)
        return SocketAddress(ip, 0) if ip is not None else SocketAddress.parse(bind)
    except AddressError as exc:
        raise ConfigError(f"bad bind_address {bind!r}: {exc}") from exc


_IP_TEXT: dict[int, tuple[IPv4Address | IPv6Address, str]] = {}
_IP_TEXT_MAX = 1024


def _ip_text(ip: IPv4Address | IPv6Address) -> str:
    """``str(ip)``, remembered by the address object's identity (bounded).

    ``ipaddress`` builds the text in Python (some 9k instructions for an IPv4 address); a
    proxy dials the same few addresses over and over, each the same object (the race keeps
    parsed literals), and a look-up by ``id()`` costs a few hundred. Each entry holds its
    address, so its id cannot be reused while the entry exists.
    """
    hit = _IP_TEXT.get(id(ip))
    if hit is not None and hit[0] is ip:
        return hit[1]
    if len(_IP_TEXT) >= _IP_TEXT_MAX:
        _IP_TEXT.clear()
    text = str(ip)
    _IP_TEXT[id(ip)] = (ip, text)
    return text


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def _sock_connect(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, sockaddr: tuple[Any, ...]
) -> None:
    """Connect the non-blocking *sock* to the numeric *sockaddr*.

    ``loop.sock_connect`` would do the same, but uvloop's passes every address through
    ``getaddrinfo`` on its thread pool first, even an IP literal; this waits for the
    connection with ``add_writer`` on either loop.
    """
    err = sock.connect_ex(sockaddr)
    if err == 0:
        return
    if err not in (errno.EINPROGRESS, errno.EAGAIN, errno.EINTR):
        raise OSError(err, os.strerror(err))
    fd = sock.fileno()
    while True:
        fut = loop.create_future()
        loop.add_writer(fd, _wake, fut)
        try:
            await fut
        finally:
            loop.remove_writer(fd)
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err == 0:
            return
        if err not in (errno.EINPROGRESS, errno.EAGAIN, errno.EINTR):
            raise OSError(err, os.strerror(err))


def _connect_error(exc: OSError, doing: str) -> ConnectError:
    """A ConnectError for an OS error, keeping its errno (``err.errno``) when it has one."""
    if exc.errno is None:
        return ConnectError(f"{doing}: {exc}")
    return ConnectError(exc.errno, f"{doing}: {exc.strerror or exc}")


class TcpConnector:
    """Opens TCP connections: a ``Connector[ConnectTarget, TcpStream]``.

    :meth:`serve` takes a target (an :class:`~pyrama_net.Authority`, a
    :class:`~pyrama_net.SocketAddress`, anything with ``.host``/``.port``, or a
    ``(host, port)`` tuple) and returns an :class:`~pyrama_net.EstablishedConnection` holding
    a :class:`~pyrama_tcp.TcpStream`, the target, and the stream's extensions (with its
    :class:`~pyrama_net.SocketInfo`).

    Names are resolved with *resolver*, by default :class:`~pyrama_net.SystemResolver`
    (``getaddrinfo``): it honours ``/etc/hosts``, ``nsswitch`` and VPN split DNS, so
    connections go where every other program on the host would go; pass a
    :class:`~pyrama_net.DnspythonResolver` for a resolver that does not block a thread per
    lookup, or :class:`~pyrama_net.DnsOverrides` to pin names. IP literals skip DNS.

    With *happy_eyeballs* (default) the addresses race per RFC 8305 (IPv6 first unless
    *ip_mode* says otherwise, *attempt_delay* between starts); without, they are tried one
    after another. *connect_timeout* (seconds, DNS included) raises
    :class:`~pyrama_net.ConnectTimeoutError`. *bind_address* sets the local address (an IP,
    ``"ip:port"``, ``(ip, port)`` or a :class:`~pyrama_net.SocketAddress`) and limits the
    race to its address family. *socket_options* are applied to every socket before connect.

    Errors: :class:`~pyrama_net.ConnectAttemptsError` (a
    :class:`~pyrama_net.errors.ConnectError`) when every address failed, each OS error kept
    with its errno; :class:`~pyrama_net.errors.DnsError` when the name did not resolve.
    """

    __slots__ = (
        "_attempt_delay",
        "_bind",
        "_ip_mode",
        "_options",
        "_plain",
        "_resolution_delay",
        "_resolver",
        "_timeout",
    )

    def __init__(
        self,
        *,
        resolver: DnsResolver | None = None,
        happy_eyeballs: bool = True,
        ip_mode: IpMode = IpMode.DUAL,
        attempt_delay: float = 0.25,
        resolution_delay: float = 0.05,
        connect_timeout: float | None = 30.0,
        bind_address: BindLike | None = None,
        socket_options: TcpSocketOptions | None = None,
    ) -> None:
        if connect_timeout is not None and not connect_timeout > 0:
            raise ConfigError(f"connect_timeout must be > 0 seconds, got {connect_timeout!r}")
        if not attempt_delay >= 0 or not resolution_delay >= 0:
            raise ConfigError("happy eyeballs delays must be >= 0")
        self._resolver: DnsResolver = resolver if resolver is not None else SystemResolver()
        self._attempt_delay = attempt_delay if happy_eyeballs else math.inf
        self._resolution_delay = resolution_delay
        self._timeout = connect_timeout
        self._bind = _bind_address(bind_address) if bind_address is not None else None
        if self._bind is not None:
            wanted = IpMode.IPV4 if self._bind.is_ipv4 else IpMode.IPV6
            if ip_mode in (IpMode.IPV4, IpMode.IPV6) and ip_mode is not wanted:
                raise ConfigError(f"ip_mode {ip_mode.name} conflicts with bind {self._bind}")
            ip_mode = wanted
        self._ip_mode = ip_mode
        self._options = socket_options if socket_options is not None else TcpSocketOptions()
        # nothing to set before connect (TCP_NODELAY, on by default, is set by every loop)
        self._plain = self._bind is None and self._options == TcpSocketOptions()

    @property
    def resolver(self) -> DnsResolver:
        """The resolver used for names."""
        return self._resolver

    @property
    def socket_options(self) -> TcpSocketOptions:
        """The options set on each socket."""
        return self._options

    @property
    def bind_address(self) -> SocketAddress | None:
        """The local address sockets bind to, if any."""
        return self._bind

    async def serve(
        self, target: ConnectTarget, /
    ) -> EstablishedConnection[ConnectTarget, TcpStream]:
        """Connect to *target*; return the stream with the target and its extensions."""
        host, port = target_host_port(target)
        # the race itself, not through connect(): one coroutine less per connection
        stream = await self._race(host, port)
        # positional: a dataclass __init__ called with keywords costs ~1.4k instructions more
        return EstablishedConnection(stream, target, stream.extensions)

    async def connect(self, host: str, port: int) -> TcpStream:
        """Connect to *host*:*port* (a name or an IP literal) and return the stream."""
        return await self._race(host, port)

    def _race(self, host: str, port: int) -> Coroutine[Any, Any, TcpStream]:
        """The happy-eyeballs race to *host*:*port* with this connector's settings.

        A plain function returning the race's coroutine: awaiting it adds no coroutine layer.
        """
        return happy_eyeballs_connect(
            host,
            port,
            resolver=self._resolver,
            connect_one=self._connect_one(),
            resolution_delay=self._resolution_delay,
            attempt_delay=self._attempt_delay,
            timeout=self._timeout,
            ip_mode=self._ip_mode,
        )

    def _connect_one(self) -> Callable[[IPv4Address | IPv6Address, int], Awaitable[TcpStream]]:
        """The attempt the race runs per address.

        :meth:`connect_addr`, or straight to the loop when there is nothing to set up and no
        subclass changed :meth:`connect_addr`.
        """
        if self._plain and type(self).connect_addr is TcpConnector.connect_addr:
            return self._connect_plain_attempt
        return self.connect_addr

    async def _connect_plain_attempt(self, ip: IPv4Address | IPv6Address, port: int) -> TcpStream:
        """:meth:`connect_addr` without options to apply: one coroutine instead of two.

        No option to set before ``connect`` and no local address: the loop does it all. Given
        a numeric host the loop neither resolves nor waits on the socket from Python: uvloop
        connects inside libuv with the watcher the transport reads with afterwards, which
        saves a descriptor registration per connection.
        """
        if type(ip) is IPv4Address:
            family = socket.AF_INET
        elif not ip.scope_id:  # type: ignore[union-attr]
            family = socket.AF_INET6
        else:  # a zone: the numeric host text cannot carry it, the general path can
            return await self.connect_addr(ip, port)
        loop = asyncio.get_running_loop()
        factory = functools.partial(SocketStreamProtocol, loop, stream_factory=TcpStream)
        try:
            _, proto = await loop.create_connection(
                factory, host=_ip_text(ip), port=port, family=family, proto=socket.IPPROTO_TCP
            )
        except OSError as exc:
            raise _connect_error(exc, f"connecting to {SocketAddress(ip, port)}") from exc
        stream: Any = proto.take_stream()
        tcp: TcpStream = stream
        return tcp

    async def connect_addr(self, ip: IPv4Address | IPv6Address, port: int) -> TcpStream:
        """Make one connection attempt to *ip*:*port* (no DNS, no timeout of its own).

        This is the step the happy-eyeballs race runs per address; subclasses may override
        it (to count attempts, to inject faults in tests). OS errors are raised as
        :class:`~pyrama_net.errors.ConnectError` carrying the ``errno``, with the ``OSError``
        as cause.
        """
        v4 = isinstance(ip, IPv4Address)
        family = socket.AF_INET if v4 else socket.AF_INET6
        loop = asyncio.get_running_loop()
        if self._plain and (v4 or not cast(IPv6Address, ip).scope_id):
            return await self._connect_plain_attempt(ip, port)
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            raise _connect_error(exc, f"connecting to {SocketAddress(ip, port)}") from exc
        try:
            sock.setblocking(False)
            bind = self._bind
            self._options.apply(sock, binding_port_zero=bind is not None and bind.port == 0)
            if bind is not None:
                try:
                    sock.bind(bind.to_tuple())
                except OSError as exc:
                    where = SocketAddress(ip, port)
                    raise _connect_error(exc, f"binding to {bind} to connect to {where}") from exc
            # an IPv6 address may carry a zone: SocketAddress turns it into a scope id
            sockaddr = (str(ip), port) if v4 else SocketAddress(ip, port).to_tuple()
            try:
                await _sock_connect(loop, sock, sockaddr)
                factory = functools.partial(SocketStreamProtocol, loop, stream_factory=TcpStream)
                _, proto = await loop.create_connection(factory, sock=sock)
            except OSError as exc:
                raise _connect_error(exc, f"connecting to {SocketAddress(ip, port)}") from exc
        except BaseException:
            sock.close()
            raise
        stream = proto.take_stream()
        assert isinstance(stream, TcpStream)
        if not self._options.nodelay:
            # asyncio switches TCP_NODELAY on for every TCP transport; honour the option
            stream.set_nodelay(False)
        return stream

    def __repr__(self) -> str:
        return (
            f"TcpConnector(resolver={self._resolver!r}, ip_mode={self._ip_mode.name}, "
            f"bind_address={self._bind}, timeout={self._timeout})"
        )
