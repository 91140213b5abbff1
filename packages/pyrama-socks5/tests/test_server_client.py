"""Socks5Acceptor and the client helpers against each other, over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pyrama_core import Service, service_fn
from pyrama_core.errors import PyramaTimeoutError
from pyrama_core.layer import ConcurrencyLimitLayer
from pyrama_net import (
    Authority,
    Basic,
    BridgeStats,
    EstablishedConnection,
    ProxyAddress,
    SocketAddress,
    StaticResolver,
    Stream,
    bridge,
    read_exact,
)
from pyrama_net.errors import ConnectError, DnsError
from pyrama_socks5 import (
    Command,
    ReplyCode,
    Request,
    Socks5Acceptor,
    Socks5ConnectTarget,
    Socks5ProxyConnector,
    Socks5ProxyService,
    Socks5UdpClient,
    UdpPacket,
    reply_code_for,
    socks5_bind,
    socks5_connect,
    static_authorizer,
)
from pyrama_socks5.errors import Socks5AuthError, Socks5ProtocolError, Socks5ReplyError
from pyrama_tcp import TcpConnector, TcpListener, TcpStream
from pyrama_testing import mock_stream_pair
from pyrama_udp import Datagram, UdpSocket, serve_datagrams

HANG = 10.0
USER = Basic("john", "s3cret")


async def read_all(stream: Stream) -> bytes:
    out = bytearray()
    async with asyncio.timeout(HANG):
        while chunk := await stream.read():
            out += chunk
    return bytes(out)


async def stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, HANG)


@dataclass
class Origin:
    """A TCP echo origin that counts its connections."""

    addr: SocketAddress
    connections: int = 0


@contextlib.asynccontextmanager
async def origin() -> AsyncIterator[Origin]:
    listener = await TcpListener.bind()
    state = Origin(listener.local_addr)

    async def echo(stream: TcpStream) -> None:
        state.connections += 1
        while data := await stream.read():
            stream.write(b"echo:" + data)
            await stream.drain()
        stream.write_eof()

    task = asyncio.create_task(listener.serve(service_fn(echo)))
    try:
        yield state
    finally:
        await stop(task)
        await listener.close()


@contextlib.asynccontextmanager
async def proxy(service: Service[TcpStream, Any]) -> AsyncIterator[SocketAddress]:
    listener = await TcpListener.bind()
    task = asyncio.create_task(listener.serve(service))
    try:
        yield listener.local_addr
    finally:
        await stop(task)
        await listener.close()


async def dial(addr: SocketAddress) -> TcpStream:
    return await TcpConnector().connect(str(addr.ip), addr.port)


async def echo_once(stream: Stream, data: bytes = b"ping") -> bytes:
    stream.write(data)
    await stream.drain()
    return await read_exact(stream, len(data) + 5)


# -- CONNECT -------------------------------------------------------------------------------------


async def test_connect_no_auth_relays_both_ways() -> None:
    async with origin() as o, proxy(Socks5Acceptor()) as p:
        stream = await dial(p)
        bound = await socks5_connect(stream, o.addr.to_authority())
        assert bound.host.ip == o.addr.ip
        assert bound.port > 0
        assert await echo_once(stream) == b"echo:ping"
        stream.write_eof()
        assert await read_all(stream) == b""
        await stream.close()


async def test_relay_is_zero_copy_even_with_early_data(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyrama_socks5._server as server_module

    stats: list[BridgeStats] = []
    real_bridge = bridge

    async def spy(a: Stream, b: Stream, **kw: Any) -> BridgeStats:
        got = await real_bridge(a, b, **kw)
        stats.append(got)
        return got

    monkeypatch.setattr(server_module, "bridge", spy)
    async with origin() as o, proxy(Socks5Acceptor()) as p:
        stream = await dial(p)
        stream.write(
            b"\x05\x01\x00" + Request(Command.CONNECT, o.addr.to_authority()).encode() + b"early"
        )
        await read_exact(stream, 12)
        assert await read_exact(stream, 10) == b"echo:early"
        stream.write_eof()
        assert await read_all(stream) == b""
        await stream.close()
        async with asyncio.timeout(HANG):
            while not stats:  # noqa: ASYNC110 - the relay finishes after the client's close
                await asyncio.sleep(0.01)
    assert stats[0].zero_copy
    assert stats[0].a_to_b == 5


async def test_connect_by_domain_is_resolved_by_the_proxy() -> None:
    async with origin() as o:
        resolver = StaticResolver({"origin.test": [str(o.addr.ip)]})
        acceptor = Socks5Acceptor(connector=TcpConnector(resolver=resolver))
        async with proxy(acceptor) as p:
            stream = await dial(p)
            await socks5_connect(stream, Authority.parse(f"origin.test:{o.addr.port}"))
            assert await echo_once(stream) == b"echo:ping"
            await stream.close()


async def test_early_data_after_the_request_is_relayed() -> None:
    async with origin() as o, proxy(Socks5Acceptor()) as p:
        stream = await dial(p)
        # greeting, request and payload in one write, before any answer
        stream.write(
            b"\x05\x01\x00" + Request(Command.CONNECT, o.addr.to_authority()).encode() + b"early"
        )
        await stream.drain()
        assert await read_exact(stream, 2) == b"\x05\x00"
        reply = await read_exact(stream, 10)
        assert reply[:4] == b"\x05\x00\x00\x01"
        assert await read_exact(stream, 10) == b"echo:early"
        await stream.close()


async def test_username_password_accepted_and_refused() -> None:
    acceptor = Socks5Acceptor(authorizer=static_authorizer(USER))
    async with origin() as o, proxy(acceptor) as p:
        good = await dial(p)
        await socks5_connect(good, o.addr.to_authority(), credentials=USER)
        assert await echo_once(good) == b"echo:ping"
        await good.close()
        assert o.connections == 1

        bad = await dial(p)
        with pytest.raises(Socks5AuthError, match="refused the credentials"):
            await socks5_connect(bad, o.addr.to_authority(), credentials=Basic("john", "nope"))
        assert await read_all(bad) == b""  # closed, nothing forwarded
        await bad.close()

        anonymous = await dial(p)
        with pytest.raises(Socks5AuthError, match="none of the offered"):
            await socks5_connect(anonymous, o.addr.to_authority())
        await anonymous.close()
        assert o.connections == 1


async def test_wrong_credentials_raise_on_the_server() -> None:
    client, server = mock_stream_pair()
    acceptor = Socks5Acceptor(authorizer=static_authorizer(USER))
    task = asyncio.create_task(acceptor.serve(server))
    client.write(b"\x05\x01\x02\x01\x04john\x05wrong" + b"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50")
    with pytest.raises(Socks5AuthError):
        await asyncio.wait_for(task, HANG)
    assert b"".join(server.written) == b"\x05\x02\x01\x01"


async def test_authorizer_object_goes_into_extensions() -> None:
    @dataclass(frozen=True)
    class Account:
        name: str

    seen: list[Account | None] = []

    async def authorize(creds: Basic) -> object:
        return Account(creds.username) if creds.password == "pw" else False

    class Recording:
        async def serve(self, target: Socks5ConnectTarget) -> EstablishedConnection[Any, Any]:
            seen.append(target.extensions.get(Account))
            return await TcpConnector().serve(target)

    async with origin() as o:
        acceptor = Socks5Acceptor(authorizer=authorize, connector=Recording())
        async with proxy(acceptor) as p:
            stream = await dial(p)
            await socks5_connect(stream, o.addr.to_authority(), credentials=Basic("ann", "pw"))
            assert await echo_once(stream) == b"echo:ping"
            await stream.close()
    assert seen == [Account("ann")]


async def test_auth_optional_allows_anonymous() -> None:
    acceptor = Socks5Acceptor(authorizer=static_authorizer(USER), auth_optional=True)
    async with origin() as o, proxy(acceptor) as p:
        stream = await dial(p)
        await socks5_connect(stream, o.addr.to_authority())
        assert await echo_once(stream) == b"echo:ping"
        await stream.close()


@dataclass
class Failing:
    """A connector that raises *error* (or never answers when it is None)."""

    error: BaseException | None
    calls: list[Socks5ConnectTarget] = field(default_factory=list)

    async def serve(self, target: Socks5ConnectTarget) -> EstablishedConnection[Any, Any]:
        self.calls.append(target)
        if self.error is None:
            await asyncio.sleep(3600)
        raise self.error  # type: ignore[misc]


async def connect_code(acceptor: Socks5Acceptor, target: str = "127.0.0.1:9") -> int:
    async with proxy(acceptor) as p:
        stream = await dial(p)
        try:
            with pytest.raises(Socks5ReplyError) as info:
                await socks5_connect(stream, Authority.parse(target))
            assert await read_all(stream) == b""
        finally:
            await stream.close()
    return info.value.code


async def test_refused_upstream_is_0x05() -> None:
    dead = await TcpListener.bind()
    port = dead.local_addr.port
    await dead.close()
    assert await connect_code(Socks5Acceptor(), f"127.0.0.1:{port}") == ReplyCode.CONNECTION_REFUSED


async def test_unresolvable_name_is_0x04() -> None:
    acceptor = Socks5Acceptor(connector=TcpConnector(resolver=StaticResolver({})))
    assert await connect_code(acceptor, "nowhere.test:80") == ReplyCode.HOST_UNREACHABLE


async def test_connect_timeout_is_0x06() -> None:
    acceptor = Socks5Acceptor(connector=Failing(None), connect_timeout=0.05)
    assert await connect_code(acceptor) == ReplyCode.TTL_EXPIRED


async def test_connector_can_refuse_with_a_reply_code() -> None:
    failing = Failing(Socks5ReplyError(ReplyCode.CONNECTION_NOT_ALLOWED))
    assert await connect_code(Socks5Acceptor(connector=failing)) == 2
    assert [str(t) for t in failing.calls] == ["127.0.0.1:9"]


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ConnectError(111, "refused"), ReplyCode.CONNECTION_REFUSED),
        (ConnectError(113, "no route"), ReplyCode.HOST_UNREACHABLE),
        (ConnectError(101, "net down"), ReplyCode.NETWORK_UNREACHABLE),
        (PermissionError(1, "nope"), ReplyCode.CONNECTION_NOT_ALLOWED),
        (DnsError("no such name"), ReplyCode.HOST_UNREACHABLE),
        (PyramaTimeoutError(), ReplyCode.TTL_EXPIRED),
        (RuntimeError("bug"), ReplyCode.GENERAL_FAILURE),
        (Socks5ProtocolError("x", hint=8), ReplyCode.ADDRESS_TYPE_NOT_SUPPORTED),
        (Socks5ReplyError(0), ReplyCode.GENERAL_FAILURE),
        (Socks5ReplyError(0x42), ReplyCode.GENERAL_FAILURE),
    ],
)
def test_reply_code_for(exc: BaseException, code: ReplyCode) -> None:
    assert reply_code_for(exc) is code


async def raw_exchange(acceptor: Socks5Acceptor, data: bytes) -> tuple[bytes, BaseException | None]:
    client, server = mock_stream_pair()
    task = asyncio.create_task(acceptor.serve(server))
    client.write(data)
    client.write_eof()
    error: BaseException | None = None
    try:
        await asyncio.wait_for(task, HANG)
    except Exception as exc:
        error = exc
    return b"".join(server.written), error


async def test_disabled_command_is_0x07() -> None:
    out, err = await raw_exchange(Socks5Acceptor(), b"\x05\x01\x00\x05\x02\x00\x01" + bytes(6))
    assert out == b"\x05\x00\x05\x07\x00\x01" + bytes(6)
    assert isinstance(err, Socks5ProtocolError)
    assert err.hint == 7


async def test_unknown_command_and_address_type() -> None:
    out, err = await raw_exchange(Socks5Acceptor(), b"\x05\x01\x00\x05\x09\x00\x01" + bytes(6))
    assert out == b"\x05\x00\x05\x07\x00\x01" + bytes(6)
    out, err = await raw_exchange(Socks5Acceptor(), b"\x05\x01\x00\x05\x01\x00\x02" + bytes(6))
    assert out == b"\x05\x00\x05\x08\x00\x01" + bytes(6)
    assert isinstance(err, Socks5ProtocolError)
    assert err.hint == 8


async def test_wrong_version_is_closed_without_reply() -> None:
    out, err = await raw_exchange(Socks5Acceptor(), b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00")
    assert out == b""
    assert isinstance(err, Socks5ProtocolError)
    assert err.hint is None


async def test_handshake_timeout_limit() -> None:
    client, server = mock_stream_pair()
    acceptor = Socks5Acceptor(handshake_timeout=0.05)
    client.write(b"\x05\x01")  # half a greeting, then silence
    with pytest.raises(PyramaTimeoutError):
        await asyncio.wait_for(acceptor.serve(server), HANG)
    assert server.is_closing()


async def test_concurrency_limit_layer_in_front() -> None:
    service = ConcurrencyLimitLayer(1, "reject").layer(Socks5ProxyService())
    async with origin() as o, proxy(service) as p:
        first = await dial(p)
        await socks5_connect(first, o.addr.to_authority())
        second = await dial(p)
        with pytest.raises((Socks5ProtocolError, ConnectionError)):  # closed or reset
            await socks5_connect(second, o.addr.to_authority())
        await second.close()
        assert await echo_once(first) == b"echo:ping"
        await first.close()


# -- BIND -----------------------------------------------------------------------------------------


async def test_bind_two_replies_and_relay() -> None:
    async with proxy(Socks5Acceptor(bind=True)) as p:
        control = await dial(p)
        binding = await socks5_bind(control, Authority.parse("0.0.0.0:0"))
        assert binding.bound.host.ip is not None
        assert binding.bound.host.ip.is_loopback
        loop = asyncio.get_running_loop()
        inbound = socket.socket()
        inbound.setblocking(False)
        await loop.sock_connect(inbound, (str(binding.bound.host), binding.bound.port))
        peer = await asyncio.wait_for(binding.accept(), HANG)
        assert peer.port == inbound.getsockname()[1]
        await loop.sock_sendall(inbound, b"from inbound")
        assert await read_exact(control, 12) == b"from inbound"
        control.write(b"to inbound")
        await control.drain()
        assert await asyncio.wait_for(loop.sock_recv(inbound, 100), HANG) == b"to inbound"
        inbound.close()
        await control.close()


async def test_bind_accept_timeout_is_0x06() -> None:
    async with proxy(Socks5Acceptor(bind=True, bind_accept_timeout=0.05)) as p:
        control = await dial(p)
        binding = await socks5_bind(control, Authority.parse("0.0.0.0:0"))
        with pytest.raises(Socks5ReplyError) as info:
            await asyncio.wait_for(binding.accept(), HANG)
        assert info.value.code == ReplyCode.TTL_EXPIRED
        await control.close()


async def test_bind_admits_only_the_requested_peer() -> None:
    async with proxy(Socks5Acceptor(bind=True)) as p:
        control = await dial(p)
        binding = await socks5_bind(control, Authority.parse("127.0.0.2:0"))
        loop = asyncio.get_running_loop()
        wrong = socket.socket()
        wrong.setblocking(False)
        await loop.sock_connect(wrong, (str(binding.bound.host), binding.bound.port))
        assert await asyncio.wait_for(loop.sock_recv(wrong, 10), HANG) == b""  # turned away
        wrong.close()
        right = socket.socket()
        right.setblocking(False)
        right.bind(("127.0.0.2", 0))
        await loop.sock_connect(right, (str(binding.bound.host), binding.bound.port))
        peer = await asyncio.wait_for(binding.accept(), HANG)
        assert str(peer.host) == "127.0.0.2"
        right.close()
        await control.close()


# -- UDP ASSOCIATE ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def udp_echo() -> AsyncIterator[tuple[SocketAddress, list[bytes]]]:
    sock = await UdpSocket.bind()
    seen: list[bytes] = []

    async def answer(d: Datagram) -> bytes:
        seen.append(d.data)
        return b"echo:" + d.data

    task = asyncio.create_task(serve_datagrams(sock, service_fn(answer)))
    try:
        yield sock.local_addr, seen
    finally:
        await stop(task)
        await sock.close()


async def test_udp_associate_relays_and_filters() -> None:
    async with udp_echo() as (echo, seen), proxy(Socks5Acceptor(udp_associate=True)) as p:
        control = await dial(p)
        client = await Socks5UdpClient.associate(control)
        await client.send_to(b"one", echo.to_authority())
        data, source = await asyncio.wait_for(client.recv_from(), HANG)
        assert (data, source) == (b"echo:one", echo.to_authority())

        # a stranger (other port) and a fragment are dropped, not relayed
        stranger = await UdpSocket.bind()
        await stranger.send_to(UdpPacket(echo.to_authority(), b"intruder").encode(), client.relay)
        await stranger.close()
        await client._sock.send(UdpPacket(echo.to_authority(), b"frag", frag=1).encode())
        await client.send_to(b"two", echo.to_authority())
        data, _ = await asyncio.wait_for(client.recv_from(), HANG)
        assert data == b"echo:two"
        assert seen == [b"one", b"two"]
        await client.close()


async def test_udp_association_ends_with_the_control_connection() -> None:
    acceptor = Socks5Acceptor(udp_associate=True)
    listener = await TcpListener.bind()
    served: list[asyncio.Task[Any]] = []

    async def track(stream: TcpStream) -> None:
        served.append(asyncio.current_task())  # type: ignore[arg-type]
        await acceptor.serve(stream)

    task = asyncio.create_task(listener.serve(service_fn(track)))
    try:
        control = await dial(listener.local_addr)
        client = await Socks5UdpClient.associate(control)
        assert len(served) == 1
        assert not served[0].done()
        await control.close()
        await asyncio.wait_for(asyncio.shield(served[0]), HANG)
        await client.close()
    finally:
        await stop(task)
        await listener.close()


# -- client connector -------------------------------------------------------------------------


async def test_proxy_connector_socks5h_and_local_resolution() -> None:
    targets: list[str] = []

    class Recording:
        async def serve(self, target: Socks5ConnectTarget) -> EstablishedConnection[Any, Any]:
            targets.append(str(target))
            return await TcpConnector(
                resolver=StaticResolver({"origin.test": ["127.0.0.1"]})
            ).serve(target)

    acceptor = Socks5Acceptor(authorizer=static_authorizer(USER), connector=Recording())
    async with origin() as o, proxy(acceptor) as p:
        remote = Socks5ProxyConnector(ProxyAddress.parse(f"socks5h://john:s3cret@{p}"))
        assert remote.resolve_remotely
        conn = await remote.serve(Authority.parse(f"origin.test:{o.addr.port}"))
        assert await echo_once(conn.conn) == b"echo:ping"
        await conn.conn.close()

        local = Socks5ProxyConnector(
            f"socks5://{p}",
            credentials=USER,
            resolver=StaticResolver({"origin.test": ["127.0.0.1"]}),
        )
        assert not local.resolve_remotely
        conn = await local.serve(("origin.test", o.addr.port))
        assert await echo_once(conn.conn) == b"echo:ping"
        await conn.conn.close()
    assert targets == [f"origin.test:{o.addr.port}", f"127.0.0.1:{o.addr.port}"]


async def test_proxy_connector_closes_on_refusal() -> None:
    async with proxy(Socks5Acceptor(authorizer=static_authorizer(USER))) as p:
        connector = Socks5ProxyConnector(p.to_authority(), credentials=Basic("x", "y"))
        with pytest.raises(Socks5AuthError):
            await connector.serve(Authority.parse("127.0.0.1:9"))


# -- limits and IPv6 --------------------------------------------------------------------------


async def test_idle_timeout_ends_a_silent_tunnel() -> None:
    async with origin() as o, proxy(Socks5Acceptor(idle_timeout=0.05)) as p:
        stream = await dial(p)
        await socks5_connect(stream, o.addr.to_authority())
        assert await read_all(stream) == b""  # closed by the proxy once idle
        await stream.close()


async def test_udp_session_is_recycled_after_udp_idle_timeout() -> None:
    echo = await UdpSocket.bind()
    senders: list[SocketAddress] = []

    async def answer(d: Datagram) -> bytes:
        senders.append(d.peer)
        return b"echo:" + d.data

    serving = asyncio.create_task(serve_datagrams(echo, service_fn(answer)))
    target = echo.local_addr.to_authority()
    try:
        async with proxy(Socks5Acceptor(udp_associate=True, udp_idle_timeout=0.05)) as p:
            control = await dial(p)
            async with await Socks5UdpClient.associate(control) as client:
                async with asyncio.timeout(HANG):
                    # the echo answers the relay's outgoing socket; after an idle spell the
                    # relay opens a new one, so the echo sees a second source port
                    while len(set(senders)) < 2:
                        await client.send_to(b"b", target)
                        data, source = await client.recv_from()
                        assert (data, source) == (b"echo:b", target)
                        await asyncio.sleep(0.1)
                # the association (the control connection) outlives its idle sockets
                assert not control.is_closing()
    finally:
        await stop(serving)
        await echo.close()


async def test_connect_over_ipv6() -> None:
    listener = await TcpListener.bind("[::1]:0")
    task = asyncio.create_task(listener.serve(Socks5Acceptor()))
    try:
        async with origin() as o:
            stream = await TcpConnector().connect("::1", listener.local_addr.port)
            bound = await socks5_connect(stream, o.addr.to_authority())
            assert bound.port > 0
            assert await echo_once(stream) == b"echo:ping"
            await stream.close()
    finally:
        await stop(task)
        await listener.close()


async def test_proxy_connector_handshake_timeout_limit() -> None:
    silent = await TcpListener.bind()

    async def say_nothing(stream: TcpStream) -> None:
        await asyncio.sleep(3600)

    task = asyncio.create_task(silent.serve(service_fn(say_nothing)))
    try:
        connector = Socks5ProxyConnector(silent.local_addr.to_authority(), handshake_timeout=0.05)
        with pytest.raises(PyramaTimeoutError, match="handshake"):
            await asyncio.wait_for(connector.serve(Authority.parse("127.0.0.1:9")), HANG)
    finally:
        await stop(task)
        await silent.close()


async def test_bind_ends_when_the_client_leaves_while_waiting() -> None:
    listener = await TcpListener.bind()
    task = asyncio.create_task(listener.serve(Socks5Acceptor(bind=True)))
    try:
        control = await dial(listener.local_addr)
        binding = await socks5_bind(control, Authority.parse("0.0.0.0:0"))
        assert listener.connections == 1
        await control.close()
        async with asyncio.timeout(HANG):
            while listener.connections:  # noqa: ASYNC110 - the server notices the EOF
                await asyncio.sleep(0.01)
        # and it stopped listening for the inbound connection
        with pytest.raises(ConnectError):
            await TcpConnector().connect(str(binding.bound.host), binding.bound.port)
    finally:
        await stop(task)
        await listener.close()
