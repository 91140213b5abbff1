"""SOCKS5 server: a ``Service[Stream, None]`` serving CONNECT, BIND and UDP ASSOCIATE."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Final, TypeAlias, TypeVar

from pyrama_core import Extensions, Service
from pyrama_core.errors import ConfigError, PyramaTimeoutError
from pyrama_core.telemetry import debug_enabled, get_logger
from pyrama_net import (
    AddrLike,
    Authority,
    Basic,
    BridgeError,
    BufferedStream,
    EstablishedConnection,
    Host,
    SocketAddress,
    SocketInfo,
    Stream,
    TaskDeadline,
    bridge,
    open_socket_stream,
    to_bind_address,
)
from pyrama_net.errors import DnsError
from pyrama_socks5._proto import (
    AuthMethod,
    ClientGreeting,
    Command,
    MethodSelection,
    Reply,
    ReplyCode,
    Request,
    UdpPacket,
    UsernamePasswordRequest,
    UsernamePasswordResponse,
)
from pyrama_socks5.errors import (
    Socks5AuthError,
    Socks5Error,
    Socks5ProtocolError,
    Socks5ReplyError,
)
from pyrama_tcp import TcpConnector
from pyrama_udp import Datagram, UdpRelay, UdpSocket

__all__ = [
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "Socks5Acceptor",
    "Socks5Authorizer",
    "Socks5ConnectTarget",
    "Socks5ProxyService",
    "reply_code_for",
    "static_authorizer",
]

_log = get_logger("pyrama_socks5.server")

DEFAULT_HANDSHAKE_TIMEOUT: Final[float] = 10.0
"""Seconds a client has for greeting, authentication and request together."""

_READ_SIZE = 4096
_UNSPECIFIED = Authority(Host(IPv4Address(0)), 0)

Socks5Authorizer: TypeAlias = Callable[[Basic], Awaitable[object]]
"""Checks RFC 1929 credentials: ``True`` accepts, ``False``/``None`` refuses; any other value
accepts and is inserted into the connection's extensions (a user record, a quota...)."""


def static_authorizer(*allowed: Basic) -> Socks5Authorizer:
    """An authorizer that accepts exactly the given credentials (compared in constant time)."""
    if not allowed or not all(isinstance(c, Basic) for c in allowed):
        raise ConfigError("static_authorizer needs at least one Basic credential")
    table = tuple(allowed)

    async def authorize(credentials: Basic) -> object:
        ok = False
        for c in table:
            ok |= c.matches(credentials)  # no early exit: every entry is compared
        return ok

    return authorize


@dataclass(frozen=True, slots=True)
class Socks5ConnectTarget:
    """What the CONNECT connector gets: the destination and the connection's extensions.

    It has ``host`` and ``port``, so any pyrama transport connector (a
    :class:`~pyrama_tcp.TcpConnector`) takes it as is; a custom connector can look at
    :attr:`extensions` (what the authorizer put there, the peer's
    :class:`~pyrama_net.SocketInfo`) to pick an egress.
    """

    authority: Authority
    """The requested destination (a domain is resolved by the connector: ``socks5h``)."""
    extensions: Extensions = field(default_factory=Extensions, compare=False)
    """The client connection's extensions."""

    @property
    def host(self) -> Host:
        """The destination host."""
        return self.authority.host

    @property
    def port(self) -> int:
        """The destination port."""
        return self.authority.port

    def __str__(self) -> str:
        return str(self.authority)


def _errnos(exc: BaseException) -> Iterator[int]:
    """Errnos of *exc*, its connect attempts and its causes."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and isinstance(e.errno, int):
            yield e.errno
        for attempt in getattr(e, "attempts", ()) or ():
            err = getattr(attempt, "error", None)
            if isinstance(err, BaseException):
                todo.append(err)
        if e.__cause__ is not None:
            todo.append(e.__cause__)


_ERRNO_REPLY: Final = (
    (errno.ECONNREFUSED, ReplyCode.CONNECTION_REFUSED),
    (errno.EHOSTUNREACH, ReplyCode.HOST_UNREACHABLE),
    (errno.ENETUNREACH, ReplyCode.NETWORK_UNREACHABLE),
    (errno.ETIMEDOUT, ReplyCode.TTL_EXPIRED),
    (errno.EACCES, ReplyCode.CONNECTION_NOT_ALLOWED),
    (errno.EPERM, ReplyCode.CONNECTION_NOT_ALLOWED),
)


def reply_code_for(exc: BaseException) -> ReplyCode:
    """The reply code a server sends when a request failed with *exc*.

    * :class:`~pyrama_socks5.errors.Socks5ReplyError` -> its code (a connector may refuse
      with ``Socks5ReplyError(ReplyCode.CONNECTION_NOT_ALLOWED)``);
      :class:`~pyrama_socks5.errors.Socks5ProtocolError` -> its hint;
    * a name that did not resolve -> ``HOST_UNREACHABLE`` (0x04);
    * connection refused -> ``CONNECTION_REFUSED`` (0x05), host unreachable -> 0x04, network
      unreachable -> ``NETWORK_UNREACHABLE`` (0x03), permission denied -> 0x02 (looked up
      in the errno of the error, of each failed connect attempt and of its causes);
    * a timeout -> ``TTL_EXPIRED`` (0x06, as Dante answers a connect timeout);
    * anything else -> ``GENERAL_FAILURE`` (0x01).
    """
    if isinstance(exc, Socks5ReplyError):
        return exc.reply if exc.reply not in (None, ReplyCode.SUCCEEDED) else _general(exc)
    if isinstance(exc, Socks5ProtocolError) and exc.hint:
        try:
            return ReplyCode(exc.hint)
        except ValueError:
            return ReplyCode.GENERAL_FAILURE
    if isinstance(exc, DnsError):
        return ReplyCode.HOST_UNREACHABLE
    found = set(_errnos(exc))
    for num, code in _ERRNO_REPLY:
        if num in found:
            return code
    if isinstance(exc, TimeoutError):
        return ReplyCode.TTL_EXPIRED
    if isinstance(exc, PermissionError):  # pragma: no cover - found by errno above
        return ReplyCode.CONNECTION_NOT_ALLOWED
    return ReplyCode.GENERAL_FAILURE


def _general(_exc: BaseException) -> ReplyCode:
    return ReplyCode.GENERAL_FAILURE


class _Reader:
    """Sans-IO decoding over a stream: read chunks until a decoder has a whole message."""

    __slots__ = ("buf", "stream")

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.buf = bytearray()

    async def next(self, decode: Callable[[bytearray], tuple[Any, int] | None]) -> Any:
        while True:
            got = decode(self.buf)
            if got is not None:
                msg, n = got
                del self.buf[:n]
                return msg
            data = await self.stream.read(_READ_SIZE)
            if not data:
                raise Socks5ProtocolError("the client closed the connection during the handshake")
            self.buf += data

    def rest(self) -> Stream:
        """The stream with whatever was read past the request put back in front."""
        if self.buf:
            return BufferedStream(self.stream, bytes(self.buf))
        return self.stream


def _local_ip(stream: Stream) -> IPv4Address | IPv6Address | None:
    info = stream.extensions.get(SocketInfo)
    addr = None if info is None else info.local_address
    return None if addr is None else addr.ip


def _peer_addr(stream: Stream) -> SocketAddress | None:
    info = stream.extensions.get(SocketInfo)
    return None if info is None else info.peer_address


def _loopback_like(stream: Stream) -> SocketAddress:
    """A loopback address of the control connection's family, port 0."""
    ip = _local_ip(stream)
    if isinstance(ip, IPv6Address):
        return SocketAddress.local_ipv6(0)
    return SocketAddress.local_ipv4(0)


def _same_ip_port0(stream: Stream) -> SocketAddress:
    """The control connection's local IP, port 0 (loopback when unknown)."""
    ip = _local_ip(stream)
    if ip is None:
        return SocketAddress.local_ipv4(0)
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        return SocketAddress(ip.ipv4_mapped, 0)
    return SocketAddress(ip, 0)


def _established_local(established: EstablishedConnection[Any, Any]) -> Authority:
    info = established.extensions.get(SocketInfo)
    addr = None if info is None else info.local_address
    return _UNSPECIFIED if addr is None else addr.to_authority()


_SUCCESS_V4: Final = bytes((5, ReplyCode.SUCCEEDED, 0, 0x01))
_SUCCESS_V6: Final = bytes((5, ReplyCode.SUCCEEDED, 0, 0x04))


def _success_reply(established: EstablishedConnection[Any, Any]) -> bytes:
    """The ``SUCCEEDED`` reply naming the upstream socket's local address.

    Built straight from the OS's ``(host, port)`` tuple when it is a plain IPv4 or IPv6
    address (no address objects per tunnel); anything else (a zone, no socket info) takes
    the general path. Both give the same bytes.
    """
    info = established.extensions.get(SocketInfo)
    local = None if info is None else info.local
    if type(local) is tuple:
        try:
            host: str = local[0]
            port: int = local[1]
            if len(local) == 2:
                return _SUCCESS_V4 + socket.inet_pton(socket.AF_INET, host) + port.to_bytes(2)
            if len(local) == 4 and "%" not in host:
                return _SUCCESS_V6 + socket.inet_pton(socket.AF_INET6, host) + port.to_bytes(2)
        except (OSError, TypeError, ValueError, OverflowError, AttributeError):
            pass
    return Reply(ReplyCode.SUCCEEDED, _established_local(established)).encode()


_T = TypeVar("_T")


async def _within(
    work: Awaitable[_T],
    timeout: float,  # noqa: ASYNC109 - the deadline of *work*
    message: Callable[[], str],
    *,
    keep_own: bool,
) -> _T:
    """*work* under a timer-wheel deadline (cheaper than an ``asyncio.timeout`` per tunnel).

    When the deadline passes, or *work* raises a ``TimeoutError`` of its own, a
    :class:`~pyrama_core.errors.PyramaTimeoutError` with ``message()`` is raised; with
    *keep_own* one that *work* raised itself passes unchanged.
    """
    deadline = TaskDeadline(timeout)
    try:
        return await work
    except asyncio.CancelledError as exc:
        if not deadline.finish():
            raise
        cause = TimeoutError()
        cause.__cause__ = exc
        raise PyramaTimeoutError(message(), seconds=timeout) from cause
    except TimeoutError as exc:
        if keep_own and isinstance(exc, PyramaTimeoutError):
            raise
        raise PyramaTimeoutError(message(), seconds=timeout) from exc
    finally:
        deadline.finish()


class Socks5Acceptor:
    """A SOCKS5 proxy server (RFC 1928, RFC 1929): a ``Service[Stream, None]``.

    Serve it with a listener (``await TcpListener.bind(...)`` then
    ``listener.serve(Socks5Acceptor())``) or behind any stream layer, for example a TLS
    acceptor for SOCKS5 over TLS. Per connection it runs the handshake, then:

    * **CONNECT** (always on): *connector* opens the upstream connection to a
      :class:`Socks5ConnectTarget` (default :class:`~pyrama_tcp.TcpConnector`, which
      resolves domains here: ``socks5h``), the success reply names the upstream socket's
      local address, and :func:`~pyrama_net.bridge` relays both ways (zero-copy when both
      ends are plain sockets) with *idle_timeout*.
    * **BIND** (``bind=True``): listens on *bind_address* (a loopback address of the control
      connection's family by default), replies with it, waits up to *bind_accept_timeout*
      seconds for one inbound connection (from the requested IP, when the request names one),
      replies again with the peer's address and relays.
    * **UDP ASSOCIATE** (``udp_associate=True``): a UDP socket on *udp_bind* (default: the
      control connection's local IP) relays datagrams with a
      :class:`~pyrama_udp.UdpRelay`. Only datagrams from the client are taken (its control
      connection's IP, and the port it announced if not 0); fragments (FRAG != 0) and
      malformed headers are dropped; replies get the SOCKS5 UDP header with their source.
      Outgoing sockets bind *udp_session_bind* (default: the control connection's local IP,
      so a loopback proxy reaches loopback only; pass ``"0.0.0.0:0"`` to reach anywhere).
      The association ends when the control connection closes; its outgoing socket is
      closed after *udp_idle_timeout* seconds without datagrams (and reopened by the next).

    A disabled command gets reply ``0x07``, an unknown address type ``0x08``; connect
    failures are mapped by :func:`reply_code_for`.

    Authentication: without *authorizer* only "no authentication" is offered. With one, the
    client must use username/password (RFC 1929) unless *auth_optional*; the authorizer gets
    :class:`~pyrama_net.Basic` credentials and returns ``True``/``False``, or an object that
    is inserted into the stream's extensions (see :data:`Socks5Authorizer`). Wrong
    credentials get status ``0x01`` and the connection is closed before any request is read.

    Limits: greeting, auth and request must arrive within *handshake_timeout* seconds;
    *connect_timeout* bounds the upstream connect (``0x06`` when it passes). Limit
    concurrent connections with the listener's ``max_connections`` or a
    :class:`~pyrama_core.layer.ConcurrencyLimitLayer` in front.

    :meth:`serve` closes the stream before it returns. Failures are raised after the client
    got its reply: :class:`~pyrama_socks5.errors.Socks5ProtocolError`,
    :class:`~pyrama_socks5.errors.Socks5AuthError`,
    :class:`~pyrama_core.errors.PyramaTimeoutError`, the connector's error; all carry a
    ``side`` or are ``OSError``, so listeners log them in one line. A relay that ends with a
    reset is not an error.
    """

    __slots__ = (
        "_auth_optional",
        "_authorizer",
        "_bind",
        "_bind_accept_timeout",
        "_bind_address",
        "_connect_timeout",
        "_connector",
        "_handshake_timeout",
        "_idle_timeout",
        "_udp",
        "_udp_bind",
        "_udp_idle_timeout",
        "_udp_session_bind",
    )

    def __init__(
        self,
        *,
        authorizer: Socks5Authorizer | None = None,
        auth_optional: bool = False,
        connector: Service[Socks5ConnectTarget, EstablishedConnection[Any, Any]] | None = None,
        connect_timeout: float | None = 30.0,
        handshake_timeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT,
        idle_timeout: float | None = None,
        bind: bool = False,
        bind_address: AddrLike | None = None,
        bind_accept_timeout: float = 60.0,
        udp_associate: bool = False,
        udp_bind: AddrLike | None = None,
        udp_session_bind: AddrLike | None = None,
        udp_idle_timeout: float = 60.0,
    ) -> None:
        for name, value in (
            ("connect_timeout", connect_timeout),
            ("handshake_timeout", handshake_timeout),
            ("idle_timeout", idle_timeout),
            ("bind_accept_timeout", bind_accept_timeout),
            ("udp_idle_timeout", udp_idle_timeout),
        ):
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be > 0 seconds, got {value!r}")
        if auth_optional and authorizer is None:
            raise ConfigError("auth_optional needs an authorizer")
        self._authorizer = authorizer
        self._auth_optional = auth_optional
        self._connector: Service[Socks5ConnectTarget, EstablishedConnection[Any, Any]] = (
            connector if connector is not None else TcpConnector(connect_timeout=None)
        )
        self._connect_timeout = connect_timeout
        self._handshake_timeout = handshake_timeout
        self._idle_timeout = idle_timeout
        self._bind = bind
        self._bind_address = None if bind_address is None else to_bind_address(bind_address)
        self._bind_accept_timeout = bind_accept_timeout
        self._udp = udp_associate
        self._udp_bind = None if udp_bind is None else to_bind_address(udp_bind)
        self._udp_session_bind = (
            None if udp_session_bind is None else to_bind_address(udp_session_bind)
        )
        self._udp_idle_timeout = udp_idle_timeout

    # -- the service ---------------------------------------------------------------------------

    async def serve(self, stream: Stream, /) -> None:
        """Serve one client connection (handshake, then the requested command)."""
        try:
            reader = _Reader(stream)
            request = await self._timed_handshake(stream, reader)
            stream.extensions.insert(request)
            if request.command is Command.CONNECT:
                await self._connect(stream, reader, request)
            elif request.command is Command.BIND and self._bind:
                await self._do_bind(stream, reader, request)
            elif request.command is Command.UDP_ASSOCIATE and self._udp:
                await self._udp_associate(stream, reader, request)
            else:
                await _reply(stream, ReplyCode.COMMAND_NOT_SUPPORTED)
                raise Socks5ProtocolError(
                    f"command {request.command.name} is not enabled",
                    hint=ReplyCode.COMMAND_NOT_SUPPORTED,
                )
        finally:
            await stream.close()

    async def _timed_handshake(self, stream: Stream, reader: _Reader) -> Request:
        timeout = self._handshake_timeout
        if timeout is None:
            return await self._handshake(stream, reader)
        return await _within(
            self._handshake(stream, reader),
            timeout,
            lambda: f"the SOCKS5 handshake did not finish within {timeout:g}s",
            keep_own=False,  # a stream's own timeout ends the handshake the same way
        )

    async def _handshake(self, stream: Stream, reader: _Reader) -> Request:
        greeting: ClientGreeting = await reader.next(ClientGreeting.decode)
        method = self._select(greeting.methods)
        stream.write(MethodSelection(method).encode())
        await stream.drain()
        if method == AuthMethod.NO_ACCEPTABLE:
            raise Socks5AuthError(
                "the client offered no acceptable authentication method "
                f"(offered {', '.join(f'{m:#04x}' for m in greeting.methods)})"
            )
        if method == AuthMethod.USERNAME_PASSWORD:
            await self._authenticate(stream, reader)
        try:
            request: Request = await reader.next(Request.decode)
        except Socks5ProtocolError as exc:
            if exc.hint is not None:
                await _reply(stream, exc.hint)
            raise
        return request

    def _select(self, offered: tuple[int, ...]) -> int:
        if self._authorizer is not None:
            if AuthMethod.USERNAME_PASSWORD in offered:
                return AuthMethod.USERNAME_PASSWORD
            if self._auth_optional and AuthMethod.NO_AUTH in offered:
                return AuthMethod.NO_AUTH
            return AuthMethod.NO_ACCEPTABLE
        if AuthMethod.NO_AUTH in offered:
            return AuthMethod.NO_AUTH
        return AuthMethod.NO_ACCEPTABLE

    async def _authenticate(self, stream: Stream, reader: _Reader) -> None:
        assert self._authorizer is not None
        auth: UsernamePasswordRequest = await reader.next(UsernamePasswordRequest.decode)
        verdict: object = False
        try:
            credentials: Basic | None = auth.to_basic()
        except Socks5ProtocolError:
            credentials = None
        if credentials is not None:
            verdict = await self._authorizer(credentials)
        if verdict is None or verdict is False:
            stream.write(UsernamePasswordResponse(1).encode())
            await stream.drain()
            user = auth.username.decode("utf-8", "replace")
            raise Socks5AuthError(f"credentials of user {user!r} were refused")
        if verdict is not True:
            stream.extensions.insert(verdict)
        stream.write(UsernamePasswordResponse(0).encode())
        await stream.drain()

    # -- CONNECT -------------------------------------------------------------------------------

    async def _connect(self, stream: Stream, reader: _Reader, request: Request) -> None:
        target = Socks5ConnectTarget(request.destination, stream.extensions)
        timeout = self._connect_timeout
        try:
            if timeout is None:
                established = await self._connector.serve(target)
            else:
                established = await self._timed_connect(target, timeout)
        except (Exception, asyncio.CancelledError) as exc:
            if not isinstance(exc, asyncio.CancelledError):
                code = reply_code_for(exc)
                with contextlib.suppress(OSError, Socks5Error):
                    await _reply(stream, code)
                _log.info(
                    "socks5 connect failed",
                    target=str(target),
                    reply=code.name,
                    error=f"{type(exc).__name__}: {exc}",
                )
            raise
        upstream: Stream = established.conn
        try:
            stream.write(_success_reply(established))
            await stream.drain()
        except BaseException:
            await upstream.close()
            raise
        await self._relay(reader.rest(), upstream, str(target))

    async def _timed_connect(
        self,
        target: Socks5ConnectTarget,
        timeout: float,  # noqa: ASYNC109 - the connect deadline
    ) -> EstablishedConnection[Any, Any]:
        """The connector's connection within *timeout* seconds (a timer-wheel deadline)."""
        return await _within(
            self._connector.serve(target),
            timeout,
            lambda: f"connecting to {target} timed out after {timeout:g}s",
            keep_own=True,  # the connector's own deadline is already one of ours
        )

    async def _relay(self, client: Stream, upstream: Stream, target: str) -> None:
        try:
            stats = await bridge(client, upstream, idle_timeout=self._idle_timeout)
        except BridgeError as exc:
            if not debug_enabled(__name__):
                return
            _log.debug("socks5 relay ended", target=target, side=exc.side, error=str(exc))
            return
        if not debug_enabled(__name__):  # a line per tunnel: not built when filtered
            return
        _log.debug(
            "socks5 relay done",
            target=target,
            up=stats.a_to_b,
            down=stats.b_to_a,
            zero_copy=stats.zero_copy,
        )

    # -- BIND ----------------------------------------------------------------------------------

    async def _do_bind(self, stream: Stream, reader: _Reader, request: Request) -> None:
        local = self._bind_address or _loopback_like(stream)
        lsock = socket.socket(local.family, socket.SOCK_STREAM)
        try:
            lsock.setblocking(False)
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lsock.bind(local.to_tuple())
            lsock.listen(1)
            bound = SocketAddress.from_tuple(lsock.getsockname())
        except OSError:
            lsock.close()
            with contextlib.suppress(OSError, Socks5Error):
                await _reply(stream, ReplyCode.GENERAL_FAILURE)
            raise
        with lsock:
            await _reply(stream, ReplyCode.SUCCEEDED, bound.to_authority())
            wanted = request.destination.host.ip
            if wanted is not None and wanted.is_unspecified:
                wanted = None
            buffered = BufferedStream(reader.rest())
            try:
                conn, peer = await self._accept_bound(lsock, buffered, wanted)
            except (Exception, asyncio.CancelledError) as exc:
                if isinstance(exc, PyramaTimeoutError):
                    with contextlib.suppress(OSError, Socks5Error):
                        await _reply(stream, ReplyCode.TTL_EXPIRED)
                raise
        try:
            upstream = await open_socket_stream(conn)
        except BaseException:
            conn.close()
            raise
        try:
            await _reply(stream, ReplyCode.SUCCEEDED, peer.to_authority())
        except BaseException:
            await upstream.close()
            raise
        await self._relay(buffered, upstream, f"bind {bound} <- {peer}")

    async def _accept_bound(
        self,
        lsock: socket.socket,
        control: BufferedStream,
        wanted: IPv4Address | IPv6Address | None,
    ) -> tuple[socket.socket, SocketAddress]:
        """Accept the inbound connection; give up when the client goes away or time passes."""
        loop = asyncio.get_running_loop()
        watch: asyncio.Task[int] | None = loop.create_task(control.fill(1))
        try:
            async with asyncio.timeout(self._bind_accept_timeout):
                while True:
                    accept = loop.create_task(loop.sock_accept(lsock))
                    waiting: set[asyncio.Future[Any]] = {accept}
                    if watch is not None:
                        waiting.add(watch)
                    try:
                        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        if not accept.done():
                            accept.cancel()
                            with contextlib.suppress(asyncio.CancelledError):
                                await accept
                    if watch is not None and watch.done():
                        if watch.result() == 0:
                            raise Socks5ProtocolError(
                                "the client closed the control connection during BIND"
                            )
                        watch = None  # early data stays buffered; stop watching
                    if not accept.done() or accept.cancelled():
                        continue
                    conn, raw_peer = accept.result()
                    peer = SocketAddress.from_tuple(raw_peer)
                    if wanted is None or peer.ip == wanted:
                        return conn, peer
                    _log.info(
                        "socks5 bind: refused a connection", peer=str(peer), wanted=str(wanted)
                    )
                    conn.close()
        except TimeoutError as exc:
            raise PyramaTimeoutError(
                f"no connection to the BIND address within {self._bind_accept_timeout:g}s",
                seconds=self._bind_accept_timeout,
            ) from exc
        finally:
            if watch is not None and not watch.done():
                watch.cancel()
                with contextlib.suppress(asyncio.CancelledError, OSError, Exception):
                    await watch

    # -- UDP ASSOCIATE -------------------------------------------------------------------------

    async def _udp_associate(self, stream: Stream, reader: _Reader, request: Request) -> None:
        announced = request.destination
        peer = _peer_addr(stream)
        allowed_ip: IPv4Address | IPv6Address | None = announced.host.ip
        if allowed_ip is None or allowed_ip.is_unspecified:
            allowed_ip = None if peer is None else peer.ip
        if isinstance(allowed_ip, IPv6Address) and allowed_ip.ipv4_mapped is not None:
            allowed_ip = allowed_ip.ipv4_mapped
        allowed_port = announced.port or None
        try:
            sock = await UdpSocket.bind(self._udp_bind or _same_ip_port0(stream))
        except Exception:
            with contextlib.suppress(OSError, Socks5Error):
                await _reply(stream, ReplyCode.GENERAL_FAILURE)
            raise
        dropped = 0

        async def route(dgram: Datagram) -> tuple[bytes, AddrLike] | None:
            nonlocal allowed_ip, dropped
            src = dgram.peer
            src_ip = src.ip
            if isinstance(src_ip, IPv6Address) and src_ip.ipv4_mapped is not None:
                src_ip = src_ip.ipv4_mapped
            if allowed_ip is None:
                allowed_ip = src_ip  # unknown client: the first sender pins the association
            if src_ip != allowed_ip or (allowed_port is not None and src.port != allowed_port):
                dropped += 1
                return None
            try:
                packet = UdpPacket.decode(dgram.data)
            except Socks5ProtocolError:
                dropped += 1
                return None
            if packet.frag != 0:
                dropped += 1
                return None
            return packet.data, packet.destination

        def reply(data: bytes, source: SocketAddress, _client: SocketAddress) -> bytes:
            return UdpPacket(source.to_authority(), data).header() + data

        relay = UdpRelay(
            route=route,
            reply=reply,
            idle_timeout=self._udp_idle_timeout,
            max_sessions=1,
            session_bind=self._udp_session_bind or _same_ip_port0(stream),
        )
        loop = asyncio.get_running_loop()
        relay_task = loop.create_task(relay.serve(sock))
        try:
            await _reply(stream, ReplyCode.SUCCEEDED, sock.local_addr.to_authority())
            control = reader.rest()
            watch = loop.create_task(_until_eof(control))
            await asyncio.wait({watch, relay_task}, return_when=asyncio.FIRST_COMPLETED)
            if not watch.done():
                watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError, Exception):
                await watch
        finally:
            relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await relay_task
            await sock.close()
            _log.debug("socks5 udp association ended", local=str(sock.local_addr), dropped=dropped)

    def __repr__(self) -> str:
        commands = ["CONNECT"] + (["BIND"] if self._bind else [])
        commands += ["UDP ASSOCIATE"] if self._udp else []
        auth = "none" if self._authorizer is None else "username/password"
        return f"Socks5Acceptor(commands={commands}, auth={auth})"


Socks5ProxyService = Socks5Acceptor
"""Another name for :class:`Socks5Acceptor` (the SOCKS5 proxy service)."""


async def _until_eof(stream: Stream) -> None:
    """Read and discard until the client closes the control connection."""
    while await stream.read(_READ_SIZE):
        pass


async def _reply(stream: Stream, code: int, bound: Authority = _UNSPECIFIED) -> None:
    stream.write(Reply(code, bound).encode())
    await stream.drain()
