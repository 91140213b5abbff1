"""TcpConnector and TcpSocketOptions over real loopback sockets."""

from __future__ import annotations

import asyncio
import errno
import socket
import struct
from collections.abc import AsyncIterator
from ipaddress import IPv4Address, IPv6Address

import pytest
import uvloop

from pyrama_core import Service
from pyrama_core.errors import ConfigError, PyramaTimeoutError
from pyrama_net import (
    Authority,
    ConnectAttemptsError,
    Connector,
    ConnectTarget,
    ConnectTimeoutError,
    DnsNoRecordsError,
    EstablishedConnection,
    IpMode,
    SocketAddress,
    SocketInfo,
    SocketStreamProtocol,
    StaticResolver,
    SystemResolver,
)
from pyrama_net.errors import ConnectError
from pyrama_tcp import TcpConnector, TcpSocketOptions, TcpStream
from pyrama_testing import free_port

HANG = 10.0  # hang guard only


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def echo_v4() -> AsyncIterator[int]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def echo_v6() -> AsyncIterator[int]:
    server = await asyncio.start_server(_echo, "::1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def roundtrip(stream: TcpStream, payload: bytes = b"ping") -> bytes:
    stream.write(payload)
    await stream.drain()
    got = b""
    async with asyncio.timeout(HANG):
        while len(got) < len(payload):
            chunk = await stream.read()
            assert chunk
            got += chunk
    return got


# --- connecting ---------------------------------------------------------------------------------


async def test_serve_tuple_target_returns_established_stream(echo_v4: int) -> None:
    connector = TcpConnector()
    target = ("127.0.0.1", echo_v4)
    est = await connector.serve(target)
    try:
        assert isinstance(est, EstablishedConnection)
        assert isinstance(est.conn, TcpStream)
        assert est.target is target
        assert est.extensions is est.conn.extensions
        info = est.extensions.require(SocketInfo)
        assert info.peer[:2] == ("127.0.0.1", echo_v4)
        assert est.conn.peer_addr == SocketAddress.parse(f"127.0.0.1:{echo_v4}")
        assert await roundtrip(est.conn) == b"ping"
    finally:
        await est.conn.close()


async def test_serve_authority_and_socket_address_targets(echo_v4: int, echo_v6: int) -> None:
    connector = TcpConnector()
    for target in (
        Authority.parse(f"127.0.0.1:{echo_v4}"),
        Authority.parse(f"[::1]:{echo_v6}"),
        SocketAddress.parse(f"[::1]:{echo_v6}"),
    ):
        est = await connector.serve(target)
        try:
            assert await roundtrip(est.conn) == b"ping"
        finally:
            await est.conn.close()


async def test_localhost_through_the_system_resolver(echo_v4: int) -> None:
    connector = TcpConnector(resolver=SystemResolver())
    est = await connector.serve(Authority.parse(f"localhost:{echo_v4}"))
    try:
        assert est.conn.peer_addr.ip == IPv4Address("127.0.0.1")
        assert await roundtrip(est.conn) == b"ping"
    finally:
        await est.conn.close()


@pytest.mark.parametrize("happy_eyeballs", [True, False])
async def test_ipv6_refused_falls_back_to_ipv4(echo_v4: int, happy_eyeballs: bool) -> None:
    # nothing listens on [::1]:port, so IPv6 (tried first) is refused and IPv4 wins
    resolver = StaticResolver({"dual.test": ["::1", "127.0.0.1"]})
    connector = TcpConnector(resolver=resolver, happy_eyeballs=happy_eyeballs)
    stream = await connector.connect("dual.test", echo_v4)
    try:
        assert stream.peer_addr.ip == IPv4Address("127.0.0.1")
        assert await roundtrip(stream) == b"ping"
    finally:
        await stream.close()


async def test_prefers_ipv6_when_both_listen(echo_v6: int) -> None:
    # bind the same port on 127.0.0.1 too, so both families would work
    v4 = await asyncio.start_server(_echo, "127.0.0.1", echo_v6)
    try:
        resolver = StaticResolver({"dual.test": ["127.0.0.1", "::1"]})
        stream = await TcpConnector(resolver=resolver).connect("dual.test", echo_v6)
        try:
            assert stream.peer_addr.ip == IPv6Address("::1")
        finally:
            await stream.close()
        v4_first = TcpConnector(resolver=resolver, ip_mode=IpMode.DUAL_PREFER_IPV4)
        stream = await v4_first.connect("dual.test", echo_v6)
        try:
            assert stream.peer_addr.ip == IPv4Address("127.0.0.1")
        finally:
            await stream.close()
    finally:
        v4.close()
        await v4.wait_closed()


async def test_is_a_connector_service(echo_v4: int) -> None:
    connector: Connector[ConnectTarget, TcpStream] = TcpConnector()
    assert isinstance(connector, Service)
    est = await connector.serve(("127.0.0.1", echo_v4))
    await est.conn.close()


# --- failures -----------------------------------------------------------------------------------


async def test_refused_port_raises_connect_error_with_errno() -> None:
    port = free_port()
    with pytest.raises(ConnectAttemptsError) as info:
        await TcpConnector().connect("127.0.0.1", port)
    err = info.value
    assert isinstance(err, ConnectError)
    assert len(err.attempts) == 1
    attempt = err.attempts[0].error
    assert isinstance(attempt, ConnectError)
    assert attempt.errno == errno.ECONNREFUSED
    assert isinstance(attempt.__cause__, ConnectionRefusedError)
    assert f"127.0.0.1:{port}" in str(err)


async def test_every_address_refused_lists_every_attempt() -> None:
    port = free_port()
    resolver = StaticResolver({"dual.test": ["::1", "127.0.0.1"]})
    with pytest.raises(ConnectAttemptsError) as info:
        await TcpConnector(resolver=resolver).connect("dual.test", port)
    assert [str(a.ip) for a in info.value.attempts] == ["::1", "127.0.0.1"]


async def test_dns_failure_is_a_dns_error() -> None:
    with pytest.raises(DnsNoRecordsError):
        await TcpConnector(resolver=StaticResolver({})).connect("nowhere.test", 80)


async def test_bad_target_is_a_connect_error() -> None:
    with pytest.raises(ConnectError):
        await TcpConnector().serve(("127.0.0.1", 0))


class HangingConnector(TcpConnector):
    __slots__ = ("attempts",)

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.attempts: list[str] = []

    async def connect_addr(self, ip: IPv4Address | IPv6Address, port: int) -> TcpStream:
        self.attempts.append(str(ip))
        await asyncio.Event().wait()
        raise AssertionError


async def test_connect_timeout() -> None:
    connector = HangingConnector(connect_timeout=0.05)
    with pytest.raises(ConnectTimeoutError) as info:
        await connector.connect("127.0.0.1", 9)
    assert isinstance(info.value, PyramaTimeoutError)
    assert isinstance(info.value, ConnectError)
    assert connector.attempts == ["127.0.0.1"]


async def test_config_validation() -> None:
    with pytest.raises(ConfigError):
        TcpConnector(connect_timeout=0)
    with pytest.raises(ConfigError):
        TcpConnector(attempt_delay=-1)
    with pytest.raises(ConfigError):
        TcpConnector(bind_address="not an address")
    with pytest.raises(ConfigError):
        TcpConnector(bind_address="127.0.0.1", ip_mode=IpMode.IPV6)


# --- local bind ---------------------------------------------------------------------------------


async def test_bind_address_ip_only(echo_v4: int) -> None:
    connector = TcpConnector(bind_address="127.0.0.1")
    assert connector.bind_address == SocketAddress.parse("127.0.0.1:0")
    stream = await connector.connect("127.0.0.1", echo_v4)
    try:
        assert stream.local_addr.ip == IPv4Address("127.0.0.1")
        assert stream.local_addr.port != 0
    finally:
        await stream.close()


async def test_bind_address_with_port(echo_v4: int) -> None:
    local = free_port()
    opts = TcpSocketOptions(reuse_address=True)
    connector = TcpConnector(bind_address=("127.0.0.1", local), socket_options=opts)
    stream = await connector.connect("127.0.0.1", echo_v4)
    try:
        assert stream.local_addr == SocketAddress.parse(f"127.0.0.1:{local}")
    finally:
        await stream.close()


async def test_bind_family_limits_the_race(echo_v4: int) -> None:
    resolver = StaticResolver({"v6only.test": ["::1"], "dual.test": ["::1", "127.0.0.1"]})
    connector = TcpConnector(resolver=resolver, bind_address=IPv4Address("127.0.0.1"))
    with pytest.raises(DnsNoRecordsError):  # no A record, and AAAA is not asked for
        await connector.connect("v6only.test", echo_v4)
    stream = await connector.connect("dual.test", echo_v4)
    await stream.close()


async def test_bind_failure_is_a_connect_error(echo_v4: int) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        connector = TcpConnector(bind_address=f"127.0.0.1:{port}")
        with pytest.raises(ConnectAttemptsError) as info:
            await connector.connect("127.0.0.1", echo_v4)
        assert info.value.attempts[0].error.errno == errno.EADDRINUSE  # type: ignore[attr-defined]
    finally:
        taken.close()


# --- socket options -----------------------------------------------------------------------------


def sockopt(stream: TcpStream, level: int, opt: int, size: int = 0) -> int | bytes:
    sock = stream.get_extra_info("socket")
    if size:
        raw: bytes = sock.getsockopt(level, opt, size)
        return raw
    value: int = sock.getsockopt(level, opt)
    return value


async def test_default_options_set_nodelay(echo_v4: int) -> None:
    stream = await TcpConnector().connect("127.0.0.1", echo_v4)
    try:
        assert stream.nodelay
        assert sockopt(stream, socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0
    finally:
        await stream.close()


async def test_socket_options_are_applied(echo_v4: int) -> None:
    opts = TcpSocketOptions(
        nodelay=False,
        keepalive=True,
        keepalive_idle=30,
        keepalive_interval=5,
        keepalive_count=3,
        recv_buffer_size=64 * 1024,
        send_buffer_size=64 * 1024,
        linger=0,
    )
    stream = await TcpConnector(socket_options=opts).connect("127.0.0.1", echo_v4)
    try:
        assert not stream.nodelay
        assert sockopt(stream, socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sockopt(stream, socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 30
        assert sockopt(stream, socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 5
        assert sockopt(stream, socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
        rcv = sockopt(stream, socket.SOL_SOCKET, socket.SO_RCVBUF)
        assert isinstance(rcv, int)
        assert rcv >= 64 * 1024
        linger = sockopt(stream, socket.SOL_SOCKET, socket.SO_LINGER, 8)
        assert isinstance(linger, bytes)
        assert struct.unpack("ii", linger) == (1, 0)
        assert await roundtrip(stream) == b"ping"
    finally:
        await stream.close()


async def test_user_timeout_option(echo_v4: int) -> None:
    opts = TcpSocketOptions(user_timeout=5000)
    stream = await TcpConnector(socket_options=opts).connect("127.0.0.1", echo_v4)
    try:
        assert sockopt(stream, socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 5000
    finally:
        await stream.close()


async def test_mark_is_applied_or_refused_with_connect_error(echo_v4: int) -> None:
    opts = TcpSocketOptions(mark=42)
    try:
        stream = await TcpConnector(socket_options=opts).connect("127.0.0.1", echo_v4)
    except ConnectAttemptsError as exc:  # unprivileged: the kernel says EPERM
        err = exc.attempts[0].error
        assert isinstance(err, ConnectError)
        assert err.errno == errno.EPERM
        assert "SO_MARK" in str(err)
        return
    try:
        assert sockopt(stream, socket.SOL_SOCKET, socket.SO_MARK) == 42
    finally:
        await stream.close()


def test_socket_options_validation() -> None:
    with pytest.raises(ConfigError, match="keepalive"):
        TcpSocketOptions(keepalive_idle=10)
    with pytest.raises(ConfigError):
        TcpSocketOptions(keepalive=True, keepalive_count=0)
    with pytest.raises(ConfigError):
        TcpSocketOptions(recv_buffer_size=0)
    with pytest.raises(ConfigError):
        TcpSocketOptions(linger=-1)
    with pytest.raises(ConfigError):
        TcpSocketOptions(mark=True)
    with pytest.raises(ConfigError):
        TcpSocketOptions(bind_device="")


def test_unsupported_option_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(socket, "SO_MARK")
    sock = socket.socket()
    try:
        with pytest.raises(ConfigError, match="SO_MARK"):
            TcpSocketOptions(mark=1).apply(sock)
    finally:
        sock.close()


# --- uvloop ---------------------------------------------------------------------------------------


def test_connects_under_uvloop() -> None:
    async def main() -> bytes:
        server = await asyncio.start_server(_echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            opts = TcpSocketOptions(nodelay=False)
            stream = await TcpConnector(socket_options=opts).connect("127.0.0.1", port)
            try:
                assert not stream.nodelay
                return await roundtrip(stream, b"uvloop")
            finally:
                await stream.close()
        finally:
            server.close()
            await server.wait_closed()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(main()) == b"uvloop"


# --- IP literals: one attempt, no resolver, no getaddrinfo ----------------------------------------


class _NoGetaddrinfoUvloop(uvloop.Loop):  # type: ignore[misc]
    async def getaddrinfo(self, *args: object, **kwargs: object) -> list[object]:
        raise AssertionError(f"getaddrinfo{args} for an IP literal")


class _NoGetaddrinfoAsyncio(asyncio.SelectorEventLoop):
    async def getaddrinfo(self, *args: object, **kwargs: object) -> list[object]:  # type: ignore[override]
        raise AssertionError(f"getaddrinfo{args} for an IP literal")


class _NoResolver:
    async def ipv4_lookup(self, name: str, /) -> list[IPv4Address]:
        raise AssertionError(f"resolved the IP literal {name}")

    async def ipv6_lookup(self, name: str, /) -> list[IPv6Address]:
        raise AssertionError(f"resolved the IP literal {name}")

    async def txt_lookup(self, name: str, /) -> list[bytes]:
        raise AssertionError(f"resolved the IP literal {name}")


@pytest.mark.parametrize("loop_class", [_NoGetaddrinfoUvloop, _NoGetaddrinfoAsyncio])
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_ip_literal_connects_without_any_name_lookup_or_task(loop_class: type, host: str) -> None:
    # uvloop's sock_connect sends every address through getaddrinfo on its thread pool; the
    # connector connects literals itself, on either loop, never asks the resolver and starts
    # no happy-eyeballs task (the kernel completes the handshake from the listen backlog)
    async def main() -> None:
        with socket.create_server(
            (host, 0), family=socket.AF_INET6 if ":" in host else socket.AF_INET
        ) as ls:
            port = ls.getsockname()[1]
            connector = TcpConnector(resolver=_NoResolver())  # type: ignore[arg-type]
            loop = asyncio.get_running_loop()
            made: list[object] = []
            loop.set_task_factory(lambda lp, coro: made.append(coro) or asyncio.Task(coro, loop=lp))  # type: ignore[arg-type,func-returns-value]
            try:
                stream = await connector.connect(host, port)
            finally:
                loop.set_task_factory(None)
            try:
                assert made == []
                assert stream.peer_addr.port == port
            finally:
                await stream.close()

    with asyncio.Runner(loop_factory=loop_class) as runner:
        runner.run(asyncio.wait_for(main(), HANG))


@pytest.mark.parametrize("loop_class", [_NoGetaddrinfoUvloop, _NoGetaddrinfoAsyncio])
def test_ip_literal_refusal_is_one_attempt_with_errno(loop_class: type) -> None:
    async def main() -> None:
        port = free_port()
        with pytest.raises(ConnectAttemptsError) as info:
            await TcpConnector(resolver=_NoResolver()).connect("127.0.0.1", port)  # type: ignore[arg-type]
        err = info.value
        assert len(err.attempts) == 1
        cause = err.attempts[0].error
        assert isinstance(cause, ConnectError)
        assert cause.errno == errno.ECONNREFUSED
        assert isinstance(err.__cause__, ExceptionGroup)

    with asyncio.Runner(loop_factory=loop_class) as runner:
        runner.run(asyncio.wait_for(main(), HANG))


def test_streams_of_finished_connections_are_freed_without_the_cyclic_gc() -> None:
    # stream <-> protocol <-> transport used to form reference cycles: every connection
    # then waited for the cyclic GC, whose runs cost a busy proxy a tenth of its CPU
    import gc

    def alive() -> int:
        return sum(1 for o in gc.get_objects() if type(o) in (TcpStream, SocketStreamProtocol))

    async def main() -> None:
        server = await asyncio.start_server(_echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            before = alive()
            stream = await TcpConnector().connect("127.0.0.1", port)
            assert await roundtrip(stream) == b"ping"
            assert alive() == before + 2
            await stream.close()
            del stream
            for _ in range(5):
                await asyncio.sleep(0)
            assert alive() == before
        finally:
            server.close()
            await server.wait_closed()

    gc.collect()
    gc.disable()
    try:
        for factory in (asyncio.new_event_loop, uvloop.new_event_loop):
            with asyncio.Runner(loop_factory=factory) as runner:
                runner.run(asyncio.wait_for(main(), HANG))
    finally:
        gc.enable()
