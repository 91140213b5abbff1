"""SOCKS5 client: CONNECT, BIND and UDP ASSOCIATE over any connected Stream.

The functions here speak to a proxy over a stream the caller already has (TCP, TLS, a
tunnel...). They read exactly the bytes of each reply, never more, so whatever the proxy
relays right after its reply stays in the stream for the caller.
"""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from pyrama_core import Service
from pyrama_core.errors import ConfigError, PyramaTimeoutError
from pyrama_net import (
    AddrLike,
    Authority,
    Basic,
    ConnectTarget,
    DnsResolver,
    EstablishedConnection,
    Host,
    ProxyAddress,
    SocketAddress,
    SocketInfo,
    Stream,
    SystemResolver,
    read_exact,
    target_host_port,
)
from pyrama_net.errors import AddressError, DnsError, UnexpectedEofError
from pyrama_socks5._proto import (
    AddressType,
    AuthMethod,
    ClientGreeting,
    Command,
    MethodSelection,
    Reply,
    Request,
    UdpPacket,
    UsernamePasswordRequest,
    UsernamePasswordResponse,
)
from pyrama_socks5.errors import Socks5AuthError, Socks5ProtocolError, Socks5ReplyError
from pyrama_tcp import TcpConnector
from pyrama_udp import UdpSocket

__all__ = [
    "Socks5Binding",
    "Socks5ProxyConnector",
    "Socks5UdpClient",
    "socks5_bind",
    "socks5_connect",
]

# bytes after the 4 reply header bytes and the first address byte, by ATYP
_REST_AFTER_FIRST = {AddressType.IPV4: 3 + 2, AddressType.IPV6: 15 + 2}


async def _read(stream: Stream, n: int, what: str) -> bytes:
    try:
        return await read_exact(stream, n)
    except UnexpectedEofError as exc:
        raise Socks5ProtocolError(f"the proxy closed the connection during {what}") from exc


async def _negotiate(stream: Stream, credentials: Basic | None) -> None:
    """Greeting, method selection and (when chosen) RFC 1929 auth."""
    if credentials is None:
        methods: tuple[int, ...] = (AuthMethod.NO_AUTH,)
    else:
        methods = (AuthMethod.USERNAME_PASSWORD, AuthMethod.NO_AUTH)
    stream.write(ClientGreeting(methods).encode())
    await stream.drain()
    got = MethodSelection.decode(await _read(stream, 2, "method selection"))
    assert got is not None
    method = got[0].method
    if method == AuthMethod.NO_AUTH:
        return
    if method == AuthMethod.USERNAME_PASSWORD and credentials is not None:
        stream.write(UsernamePasswordRequest.from_basic(credentials).encode())
        await stream.drain()
        status = UsernamePasswordResponse.decode(await _read(stream, 2, "authentication"))
        assert status is not None
        if not status[0].success:
            raise Socks5AuthError(
                f"the proxy refused the credentials of {credentials.username!r} "
                f"(status {status[0].status:#04x})"
            )
        return
    if method == AuthMethod.NO_ACCEPTABLE:
        raise Socks5AuthError(
            "the proxy accepts none of the offered authentication methods"
            + ("" if credentials is not None else " (it may want a username and password)")
        )
    raise Socks5ProtocolError(f"the proxy selected method {method:#04x}, which was not offered")


async def _read_reply(stream: Stream) -> Reply:
    head = await _read(stream, 5, "the reply")
    atyp = head[3]
    if atyp == AddressType.DOMAIN:
        rest = head[4] + 2
    else:
        try:
            rest = _REST_AFTER_FIRST[AddressType(atyp)]
        except (ValueError, KeyError):
            raise Socks5ProtocolError(f"the reply has unknown address type {atyp:#04x}") from None
    got = Reply.decode(head + await _read(stream, rest, "the reply"))
    assert got is not None
    return got[0]


async def _request(stream: Stream, command: Command, target: Authority) -> Authority:
    stream.write(Request(command, target).encode())
    await stream.drain()
    reply = await _read_reply(stream)
    if not reply.success:
        raise Socks5ReplyError(reply.code)
    return reply.bound


async def socks5_connect(
    stream: Stream, target: Authority, *, credentials: Basic | None = None
) -> Authority:
    """Ask the SOCKS5 proxy at the other end of *stream* to connect to *target*.

    Runs the greeting (no auth, or username/password when *credentials* are given), the
    RFC 1929 sub-negotiation when the proxy picks it, and the CONNECT request. A domain in
    *target* is sent as a domain: the proxy resolves it (``socks5h``). On success *stream*
    is the tunnel to *target*; the proxy's bound address (BND.ADDR, BND.PORT) is returned.

    Raises :class:`~pyrama_socks5.errors.Socks5ReplyError` (with the reply ``code``) when the
    proxy refuses, :class:`~pyrama_socks5.errors.Socks5AuthError` when authentication fails
    and :class:`~pyrama_socks5.errors.Socks5ProtocolError` when the proxy breaks the
    protocol or closes early. *stream* is left open either way; closing it is the caller's.
    """
    await _negotiate(stream, credentials)
    return await _request(stream, Command.CONNECT, target)


class Socks5Binding:
    """A BIND in progress: the proxy listens at :attr:`bound` for one inbound connection.

    Tell the peer to connect to :attr:`bound`, then ``await accept()``: it returns the
    address the inbound connection came from, and :attr:`stream` is from then on the relay
    to that connection.
    """

    __slots__ = ("_accepted", "bound", "stream")

    def __init__(self, stream: Stream, bound: Authority) -> None:
        """Wrap *stream* after the proxy's first BIND reply named *bound*."""
        self.stream = stream
        self.bound = bound
        self._accepted: Authority | None = None

    async def accept(self) -> Authority:
        """Wait for the proxy's second reply; return the inbound peer's address.

        Raises :class:`~pyrama_socks5.errors.Socks5ReplyError` when the proxy reports a
        failure (for example no connection in time).
        """
        if self._accepted is None:
            reply = await _read_reply(self.stream)
            if not reply.success:
                raise Socks5ReplyError(reply.code)
            self._accepted = reply.bound
        return self._accepted

    def __repr__(self) -> str:
        return f"Socks5Binding(bound={self.bound!s}, accepted={self._accepted!s})"


async def socks5_bind(
    stream: Stream, target: Authority, *, credentials: Basic | None = None
) -> Socks5Binding:
    """Ask the proxy at the other end of *stream* to listen for a connection from *target*.

    *target* is the peer expected to connect (a proxy may only admit that address; use
    ``0.0.0.0:0`` for any). Returns a :class:`Socks5Binding` whose ``bound`` is where the
    proxy listens; ``await binding.accept()`` waits for the inbound connection. Errors as for
    :func:`socks5_connect`.
    """
    await _negotiate(stream, credentials)
    return Socks5Binding(stream, await _request(stream, Command.BIND, target))


def _is_unspecified(host: Host) -> bool:
    ip = host.ip
    return ip is not None and ip.is_unspecified


class Socks5UdpClient:
    """A UDP ASSOCIATE session: datagrams through a SOCKS5 proxy's UDP relay.

    Make one with :meth:`associate` over a connected control stream. :meth:`send_to` wraps
    each payload in the SOCKS5 UDP header; :meth:`recv_from` unwraps what the relay sends back
    and says where it came from. The association lives as long as the control stream:
    :meth:`close` closes both.
    """

    __slots__ = ("_control", "_sock", "relay")

    def __init__(self, control: Stream, sock: UdpSocket, relay: SocketAddress) -> None:
        """Use :meth:`associate`."""
        self._control = control
        self._sock = sock
        self.relay = relay
        """The proxy's relay address the datagrams go to."""

    @classmethod
    async def associate(
        cls,
        stream: Stream,
        *,
        credentials: Basic | None = None,
        local: AddrLike = "127.0.0.1:0",
        resolver: DnsResolver | None = None,
    ) -> Socks5UdpClient:
        """Run UDP ASSOCIATE over the control *stream*; bind the local UDP socket at *local*.

        The request names the local socket's address, so the proxy admits only it. When the
        proxy answers with an unspecified relay address (``0.0.0.0``), the control stream's
        peer address is used instead. On failure the UDP socket is closed and the error
        raised (see :func:`socks5_connect`); *stream* stays open.
        """
        sock = await UdpSocket.bind(local, resolver=resolver)
        try:
            await _negotiate(stream, credentials)
            bound = await _request(stream, Command.UDP_ASSOCIATE, sock.local_addr.to_authority())
            if _is_unspecified(bound.host):
                info = stream.extensions.get(SocketInfo)
                peer = None if info is None else info.peer_address
                if peer is None:
                    raise Socks5ProtocolError(
                        "the proxy named no relay address and the control peer is unknown"
                    )
                bound = Authority(peer.host, bound.port)
            relay = await _resolve(bound, resolver)
            await sock.connect(relay)
        except BaseException:
            sock.abort()
            raise
        return cls(stream, sock, relay)

    @property
    def local_addr(self) -> SocketAddress:
        """The local UDP socket's address."""
        return self._sock.local_addr

    @property
    def control(self) -> Stream:
        """The TCP control stream (the association ends when it closes)."""
        return self._control

    async def send_to(self, data: bytes, target: Authority) -> None:
        """Send *data* to *target* through the relay (a domain is resolved by the proxy)."""
        await self._sock.send(UdpPacket(target, bytes(data)).encode())

    async def recv_from(self) -> tuple[bytes, Authority]:
        """Return the next relayed datagram and the address it came from.

        Datagrams that are not valid SOCKS5 UDP packets, or are fragments, are skipped.
        """
        while True:
            raw = await self._sock.recv()
            try:
                packet = UdpPacket.decode(raw)
            except Socks5ProtocolError:
                continue
            if packet.frag == 0:
                return packet.data, packet.destination

    async def close(self) -> None:
        """Close the UDP socket and the control stream (which ends the association)."""
        try:
            await self._sock.close()
        finally:
            await self._control.close()

    async def __aenter__(self) -> Socks5UdpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Socks5UdpClient(local={self.local_addr!s}, relay={self.relay!s})"


async def _resolve(address: Authority, resolver: DnsResolver | None) -> SocketAddress:
    ip = address.host.ip
    if ip is not None:
        return SocketAddress(ip, address.port)
    domain = address.host.domain
    assert domain is not None
    r = resolver if resolver is not None else SystemResolver()
    ips: list[IPv4Address] | list[IPv6Address]
    try:
        ips = await r.ipv4_lookup(str(domain))
    except DnsError:
        ips = await r.ipv6_lookup(str(domain))
    return SocketAddress(ips[0], address.port)


def _as_authority(target: ConnectTarget) -> Authority:
    if isinstance(target, Authority):
        return target
    if isinstance(target, SocketAddress):
        return target.to_authority()
    host, port = target_host_port(target)
    try:
        return Authority(Host.parse(host), port)
    except AddressError as exc:
        raise Socks5ProtocolError(f"cannot send {target!r} as a SOCKS5 destination") from exc


class Socks5ProxyConnector:
    """A connector through a SOCKS5 proxy: ``Connector[ConnectTarget, Stream]``.

    :meth:`serve` dials the proxy with *connector* (a :class:`~pyrama_tcp.TcpConnector` by
    default; pass one with TLS on top for SOCKS5 over TLS), runs :func:`socks5_connect` and
    returns an :class:`~pyrama_net.EstablishedConnection` whose ``conn`` is the tunnel to the
    target.

    *proxy* is a :class:`~pyrama_net.ProxyAddress` (``socks5://`` or ``socks5h://``, with
    optional credentials), an :class:`~pyrama_net.Authority` or ``"host:port"`` text.
    *credentials* override the proxy address's. *resolve_remotely*: ``True`` sends domains to
    the proxy (``socks5h``), ``False`` resolves them here first with *resolver* and sends the
    IP (``socks5``); by default it follows the proxy address's scheme (``socks5`` -> local),
    and is ``True`` for a bare authority. *handshake_timeout* bounds the SOCKS5 exchange
    (:class:`~pyrama_core.errors.PyramaTimeoutError`); the dial has the inner connector's own
    timeout.
    """

    __slots__ = (
        "_connector",
        "_credentials",
        "_proxy",
        "_remote",
        "_resolver",
        "_timeout",
    )

    def __init__(
        self,
        proxy: ProxyAddress | Authority | str,
        *,
        credentials: Basic | None = None,
        resolve_remotely: bool | None = None,
        connector: Service[Authority, EstablishedConnection[Any, Any]] | None = None,
        resolver: DnsResolver | None = None,
        handshake_timeout: float | None = 30.0,
    ) -> None:
        if isinstance(proxy, str):
            proxy = ProxyAddress.parse(proxy) if "://" in proxy else Authority.parse(proxy)
        if isinstance(proxy, ProxyAddress):
            if not proxy.protocol.is_socks5:
                raise ConfigError(f"not a SOCKS5 proxy address: {proxy!r}")
            if credentials is None:
                credentials = proxy.credential
            if resolve_remotely is None:
                resolve_remotely = proxy.protocol.scheme == "socks5h"
            proxy = proxy.authority
        if handshake_timeout is not None and not handshake_timeout > 0:
            raise ConfigError(f"handshake_timeout must be > 0 seconds, got {handshake_timeout!r}")
        self._proxy: Authority = proxy
        self._credentials = credentials
        self._remote = True if resolve_remotely is None else resolve_remotely
        self._connector: Service[Authority, EstablishedConnection[Any, Any]] = (
            connector if connector is not None else TcpConnector()
        )
        self._resolver: DnsResolver = resolver if resolver is not None else SystemResolver()
        self._timeout = handshake_timeout

    @property
    def proxy(self) -> Authority:
        """Where the proxy is."""
        return self._proxy

    @property
    def resolve_remotely(self) -> bool:
        """Whether domains go to the proxy unresolved (``socks5h``)."""
        return self._remote

    async def serve(self, target: ConnectTarget, /) -> EstablishedConnection[ConnectTarget, Stream]:
        """Open a tunnel to *target* through the proxy."""
        destination = _as_authority(target)
        if not self._remote and destination.host.is_domain:
            resolved = await _resolve(destination, self._resolver)
            destination = resolved.to_authority()
        established = await self._connector.serve(self._proxy)
        stream: Stream = established.conn
        try:
            if self._timeout is None:
                await socks5_connect(stream, destination, credentials=self._credentials)
            else:
                try:
                    async with asyncio.timeout(self._timeout):
                        await socks5_connect(stream, destination, credentials=self._credentials)
                except TimeoutError as exc:
                    raise PyramaTimeoutError(
                        f"SOCKS5 handshake with {self._proxy} timed out", seconds=self._timeout
                    ) from exc
        except BaseException:
            await stream.close()
            raise
        return EstablishedConnection(conn=stream, target=target, extensions=stream.extensions)

    def __repr__(self) -> str:
        return (
            f"Socks5ProxyConnector(proxy={self._proxy!s}, resolve_remotely={self._remote}, "
            f"auth={self._credentials is not None})"
        )
