"""UdpSocket over real loopback sockets."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest
import uvloop
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core.errors import ConfigError, LimitError, PyramaError
from pyrama_net import Authority, SocketAddress, StaticResolver
from pyrama_net.errors import AddressError, DnsError
from pyrama_udp import DEFAULT_QUEUE_SIZE, OverflowPolicy, UdpSocket
from pyrama_udp._addr import AddrMap
from pyrama_udp.errors import (
    DatagramTooLargeError,
    UdpBindError,
    UdpClosedError,
    UdpError,
    UdpSendError,
)

HANG = 10.0


async def wait_for(cond: Callable[[], bool]) -> None:
    async with asyncio.timeout(HANG):
        while not cond():  # noqa: ASYNC110 - polling a plain predicate
            await asyncio.sleep(0.002)


async def scenario_send_and_receive() -> None:
    async with await UdpSocket.bind() as a, await UdpSocket.bind() as b:
        assert str(a.local_addr.ip) == "127.0.0.1"
        assert a.local_addr.port != 0
        assert a.peer_addr is None
        for i in range(20):
            await a.send_to(b"ping %d" % i, b.local_addr)
        for i in range(20):
            data, peer = await asyncio.wait_for(b.recv_from(), HANG)
            assert data == b"ping %d" % i
            assert peer == a.local_addr
            await b.send_to(data.upper(), peer)
        for i in range(20):
            assert await asyncio.wait_for(a.recv(), HANG) == b"PING %d" % i
        assert a.dropped == b.dropped == 0


async def scenario_overflow(policy: OverflowPolicy) -> list[bytes]:
    """Send 10 datagrams to a socket with room for 4; return what it kept."""
    async with (
        await UdpSocket.bind(queue_size=4, overflow=policy) as rx,
        await UdpSocket.bind() as tx,
    ):
        for i in range(10):
            await tx.send_to(b"%d" % i, rx.local_addr)
        await wait_for(lambda: rx.queued + rx.dropped == 10)
        assert rx.queued == 4
        assert rx.dropped == 6
        kept = []
        while (item := rx.recv_nowait()) is not None:
            kept.append(item[0])
        assert rx.queued == 0
        return kept


async def test_send_and_receive() -> None:
    await scenario_send_and_receive()


async def test_drop_oldest_keeps_the_newest() -> None:
    kept = await scenario_overflow(OverflowPolicy.DROP_OLDEST)
    assert kept == [b"6", b"7", b"8", b"9"]


async def test_drop_newest_keeps_the_first() -> None:
    kept = await scenario_overflow(OverflowPolicy.DROP_NEWEST)
    assert kept == [b"0", b"1", b"2", b"3"]


def test_under_uvloop() -> None:
    async def main() -> None:
        await scenario_send_and_receive()
        assert await scenario_overflow(OverflowPolicy.DROP_OLDEST) == [b"6", b"7", b"8", b"9"]
        assert await scenario_overflow(OverflowPolicy.DROP_NEWEST) == [b"0", b"1", b"2", b"3"]
        await scenario_connected()
        await scenario_connect_later()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


async def test_defaults() -> None:
    async with await UdpSocket.bind() as s:
        assert s.queue_size == DEFAULT_QUEUE_SIZE
        assert s.overflow is OverflowPolicy.DROP_OLDEST
        assert s.family == socket.AF_INET
        assert s.socket.type == socket.SOCK_DGRAM
        assert repr(s) == f"UdpSocket(local={s.local_addr})"


@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
async def test_queue_size_is_validated(bad: Any) -> None:
    with pytest.raises(ConfigError):
        await UdpSocket.bind(queue_size=bad)


async def scenario_connected() -> None:
    async with await UdpSocket.bind() as server:
        client = await UdpSocket.connect_to(server.local_addr)
        assert client.peer_addr == server.local_addr
        await client.send(b"hello")
        data, peer = await asyncio.wait_for(server.recv_from(), HANG)
        assert data == b"hello"
        assert peer == client.local_addr
        await server.send_to(b"world", peer)
        assert await asyncio.wait_for(client.recv(), HANG) == b"world"
        assert repr(client) == f"UdpSocket(local={client.local_addr}, peer={server.local_addr})"
        await client.send_to(b"to the peer by address", server.local_addr)
        assert await asyncio.wait_for(server.recv(), HANG) == b"to the peer by address"
        with pytest.raises(UdpError):
            await client.send_to(b"elsewhere", client.local_addr)
        await client.close()


async def test_connect_to_and_send_recv() -> None:
    await scenario_connected()


async def test_connect_filters_other_peers() -> None:
    await scenario_connect_later()


async def scenario_connect_later() -> None:
    async with (
        await UdpSocket.bind() as rx,
        await UdpSocket.bind() as friend,
        await UdpSocket.bind() as stranger,
    ):
        await stranger.send_to(b"noise", rx.local_addr)
        await friend.send_to(b"early", rx.local_addr)
        await wait_for(lambda: rx.queued == 2)
        await rx.connect(friend.local_addr)
        assert rx.peer_addr == friend.local_addr
        assert rx.queued == 1  # the stranger's queued datagram is gone
        await stranger.send_to(b"more noise", rx.local_addr)  # the kernel filters this one
        await friend.send_to(b"late", rx.local_addr)
        assert await asyncio.wait_for(rx.recv(), HANG) == b"early"
        assert await asyncio.wait_for(rx.recv(), HANG) == b"late"
        await rx.send(b"back")
        assert await asyncio.wait_for(friend.recv(), HANG) == b"back"
        with pytest.raises(UdpError):
            await rx.send_to(b"x", stranger.local_addr)


async def test_send_needs_a_connected_socket() -> None:
    async with await UdpSocket.bind() as s:
        with pytest.raises(UdpError):
            await s.send(b"x")


async def test_icmp_unreachable_surfaces_on_connected_socket() -> None:
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens on this port now
    async with await UdpSocket.connect_to(("127.0.0.1", port)) as client:
        await client.send(b"anyone?")
        with pytest.raises(UdpSendError) as info:
            await asyncio.wait_for(client.recv(), HANG)
        assert info.value.errno == errno.ECONNREFUSED
        assert isinstance(info.value.__cause__, ConnectionRefusedError)


async def test_datagram_too_large() -> None:
    async with await UdpSocket.bind() as a, await UdpSocket.bind() as b:
        with pytest.raises(DatagramTooLargeError) as info:
            await a.send_to(b"x" * 70_000, b.local_addr)
        err = info.value
        assert err.errno == errno.EMSGSIZE
        assert isinstance(err, LimitError)
        assert isinstance(err, OSError)
        assert isinstance(err, PyramaError)
        await a.send_to(b"small is fine", b.local_addr)
        assert await asyncio.wait_for(b.recv(), HANG) == b"small is fine"


async def test_closed_socket_refuses_and_wakes_readers() -> None:
    s = await UdpSocket.bind()
    reader = asyncio.create_task(s.recv_from())
    await asyncio.sleep(0)
    await s.close()
    assert s.is_closing()
    with pytest.raises(UdpClosedError):
        await asyncio.wait_for(reader, HANG)
    with pytest.raises(UdpClosedError):
        await s.send_to(b"x", s.local_addr)
    with pytest.raises(UdpClosedError):
        await s.recv()
    await s.close()  # idempotent


async def test_send_waits_while_paused() -> None:
    async with await UdpSocket.bind() as a, await UdpSocket.bind() as b:
        proto = a._proto
        proto.pause_writing()  # what the transport does above its high-water mark
        sending = asyncio.create_task(a.send_to(b"held", b.local_addr))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not sending.done()
        proto.resume_writing()
        await asyncio.wait_for(sending, HANG)
        assert await asyncio.wait_for(b.recv(), HANG) == b"held"


async def test_send_wait_ends_when_closed() -> None:
    a = await UdpSocket.bind()
    a._proto.pause_writing()
    sending = asyncio.create_task(a.send_to(b"held", a.local_addr))
    await asyncio.sleep(0)
    a.abort()
    with pytest.raises(UdpClosedError):
        await asyncio.wait_for(sending, HANG)


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a,
        lambda a: str(a),
        lambda a: a.to_tuple(),
        lambda a: Authority.parse(str(a)),
    ],
    ids=["socket_address", "text", "tuple", "authority"],
)
async def test_address_forms(make: Callable[[SocketAddress], Any]) -> None:
    async with await UdpSocket.bind() as a, await UdpSocket.bind() as b:
        await a.send_to(b"form", make(b.local_addr))
        assert await asyncio.wait_for(b.recv(), HANG) == b"form"


async def test_domains_go_through_the_resolver() -> None:
    resolver = StaticResolver({"echo.test": ["127.0.0.1"]})
    async with await UdpSocket.bind(resolver=resolver) as a, await UdpSocket.bind() as b:
        await a.send_to(b"named", f"echo.test:{b.local_addr.port}")
        assert await asyncio.wait_for(b.recv(), HANG) == b"named"
        with pytest.raises(DnsError):
            await a.send_to(b"x", "unknown.test:53")
    client = await UdpSocket.connect_to("echo.test:9", resolver=resolver)
    assert client.peer_addr == SocketAddress.local_ipv4(9)
    await client.close()


async def test_bind_refuses_domains_but_takes_localhost() -> None:
    with pytest.raises(AddressError):
        await UdpSocket.bind("example.com:53")
    async with await UdpSocket.bind("localhost:0") as s:
        assert str(s.local_addr.ip) == "127.0.0.1"


async def test_bind_errors() -> None:
    async with await UdpSocket.bind() as first:
        with pytest.raises(UdpBindError) as info:
            await UdpSocket.bind(first.local_addr)
        assert info.value.errno == errno.EADDRINUSE
        assert isinstance(info.value, OSError)


async def test_reuse_port() -> None:
    a = await UdpSocket.bind(reuse_port=True)
    b = await UdpSocket.bind(a.local_addr, reuse_port=True)
    assert a.local_addr == b.local_addr
    await a.close()
    await b.close()


async def test_ipv6_loopback() -> None:
    async with (
        await UdpSocket.bind("[::1]:0", dual_stack=False) as a,
        await UdpSocket.bind("[::1]:0") as b,
    ):
        assert a.family == socket.AF_INET6
        await a.send_to(b"six", b.local_addr)
        data, peer = await asyncio.wait_for(b.recv_from(), HANG)
        assert data == b"six"
        assert peer == a.local_addr
        assert isinstance(peer.ip, IPv6Address)


async def test_from_socket() -> None:
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    raw.bind(("127.0.0.1", 0))
    async with await UdpSocket.from_socket(raw, queue_size=2) as s:
        assert s.queue_size == 2
        assert s.local_addr == SocketAddress.from_tuple(raw.getsockname())
    with socket.socket() as tcp, pytest.raises(ConfigError):
        await UdpSocket.from_socket(tcp)


def test_addr_map_converts_and_caches() -> None:
    v6 = AddrMap(socket.AF_INET6)
    v4addr = SocketAddress(IPv4Address("192.0.2.1"), 53)
    assert v6.to_raw(v4addr) == ("::ffff:192.0.2.1", 53, 0, 0)
    assert v6.to_raw(v4addr) is v6.to_raw(v4addr)  # cached
    v4 = AddrMap(socket.AF_INET)
    assert v4.to_raw(v4addr) == ("192.0.2.1", 53)
    mapped = SocketAddress(IPv6Address("::ffff:192.0.2.1"), 53)
    assert v4.to_raw(mapped) == ("192.0.2.1", 53)
    with pytest.raises(AddressError):
        v4.to_raw(SocketAddress(IPv6Address("2001:db8::1"), 53))
    first = v4.from_raw(("192.0.2.1", 53))
    assert first == v4addr
    assert v4.from_raw(("192.0.2.1", 53)) is first


def test_addr_map_caches_are_bounded() -> None:
    m = AddrMap(socket.AF_INET)
    for port in range(1, 5000):
        m.from_raw(("127.0.0.1", port))
        m.to_raw(SocketAddress.local_ipv4(port))
    assert len(m._from_raw) <= 4096
    assert len(m._to_raw) <= 4096


@given(
    ip=st.one_of(
        st.integers(0, 2**32 - 1).map(IPv4Address),
        st.integers(0, 2**128 - 1).map(IPv6Address),
    ),
    port=st.integers(0, 65535),
)
def test_addr_map_round_trips(ip: IPv4Address | IPv6Address, port: int) -> None:
    addr = SocketAddress(ip, port)
    own = AddrMap(addr.family)
    assert own.from_raw(own.to_raw(addr)) == addr
    if isinstance(ip, IPv4Address):
        # through an IPv6 socket an IPv4 peer is its mapped address
        v6 = AddrMap(socket.AF_INET6)
        back = v6.from_raw(v6.to_raw(addr))
        assert isinstance(back.ip, IPv6Address)
        assert back.ip.ipv4_mapped == ip
        assert back.port == port
