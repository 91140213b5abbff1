"""UdpRelay over real loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import uvloop

from pyrama_core import Shutdown, service_fn
from pyrama_core.errors import ConfigError
from pyrama_net import SocketAddress, StaticResolver
from pyrama_udp import AddrLike, Datagram, UdpRelay, UdpSocket, serve_datagrams

HANG = 10.0


async def wait_for(cond: Callable[[], bool]) -> None:
    async with asyncio.timeout(HANG):
        while not cond():  # noqa: ASYNC110 - polling a plain predicate
            await asyncio.sleep(0.002)


async def stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, HANG)


@contextlib.asynccontextmanager
async def echo_upstream() -> AsyncIterator[tuple[UdpSocket, list[SocketAddress]]]:
    """An upstream that answers ``<data> from <sender port>`` and records its senders."""
    senders: list[SocketAddress] = []

    async def answer(d: Datagram) -> bytes:
        senders.append(d.peer)
        return d.data + b" from %d" % d.peer.port

    sock = await UdpSocket.bind()
    task = asyncio.create_task(serve_datagrams(sock, service_fn(answer)))
    try:
        yield sock, senders
    finally:
        await stop(task)
        await sock.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def scenario_round_trip() -> None:
    async with echo_upstream() as (up, senders), await UdpSocket.bind() as front:
        relay = UdpRelay(up.local_addr)
        task = asyncio.create_task(relay.serve(front))
        clients = [await UdpSocket.connect_to(front.local_addr) for _ in range(3)]
        for i, c in enumerate(clients):
            await c.send(b"hi %d" % i)
        ports = set()
        for i, c in enumerate(clients):
            reply = await asyncio.wait_for(c.recv(), HANG)
            prefix, port = reply.rsplit(b" from ", 1)
            assert prefix == b"hi %d" % i
            ports.add(int(port))
        # every client got its own upstream socket (own source port), none is the front's
        assert len(ports) == 3
        assert front.local_addr.port not in ports
        assert relay.sessions == 3
        assert set(relay.session_clients()) == {c.local_addr for c in clients}
        # a second datagram reuses the session
        await clients[0].send(b"again")
        again = await asyncio.wait_for(clients[0].recv(), HANG)
        assert int(again.rsplit(b" from ", 1)[1]) in ports
        assert relay.sessions == 3
        assert len(senders) == 4
        assert {p.port for p in senders} == ports
        for c in clients:
            await c.close()
        await stop(task)
        assert relay.sessions == 0


async def test_round_trip() -> None:
    await scenario_round_trip()


def test_round_trip_under_uvloop() -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario_round_trip())


async def test_idle_sessions_are_evicted_by_the_clock() -> None:
    clock = FakeClock()
    async with echo_upstream() as (up, _), await UdpSocket.bind() as front:
        relay = UdpRelay(up.local_addr, idle_timeout=30.0, clock=clock)
        task = asyncio.create_task(relay.serve(front))
        a = await UdpSocket.connect_to(front.local_addr)
        b = await UdpSocket.connect_to(front.local_addr)
        await a.send(b"a")
        await asyncio.wait_for(a.recv(), HANG)
        clock.now += 20
        await b.send(b"b")
        await asyncio.wait_for(b.recv(), HANG)
        assert relay.sessions == 2
        clock.now += 15  # a idle for 35 s, b for 15 s
        assert relay.evict_idle() == 1
        await wait_for(lambda: relay.sessions == 1)
        assert relay.session_clients() == [b.local_addr]
        clock.now += 30
        assert relay.evict_idle() == 1
        await wait_for(lambda: relay.sessions == 0)
        # an evicted client simply gets a new session
        await a.send(b"back")
        assert (await asyncio.wait_for(a.recv(), HANG)).startswith(b"back from ")
        assert relay.sessions == 1
        await a.close()
        await b.close()
        await stop(task)


async def test_idle_eviction_runs_by_itself() -> None:
    async with echo_upstream() as (up, _), await UdpSocket.bind() as front:
        relay = UdpRelay(up.local_addr, idle_timeout=0.05)
        task = asyncio.create_task(relay.serve(front))
        c = await UdpSocket.connect_to(front.local_addr)
        await c.send(b"x")
        await asyncio.wait_for(c.recv(), HANG)
        await wait_for(lambda: relay.sessions == 0)
        await c.close()
        await stop(task)


async def test_max_sessions() -> None:
    clock = FakeClock()
    async with echo_upstream() as (up, _), await UdpSocket.bind() as front:
        relay = UdpRelay(up.local_addr, max_sessions=2, idle_timeout=30.0, clock=clock)
        task = asyncio.create_task(relay.serve(front))
        a, b, c = [await UdpSocket.connect_to(front.local_addr) for _ in range(3)]
        await a.send(b"a")
        await asyncio.wait_for(a.recv(), HANG)
        clock.now += 10
        await b.send(b"b")
        await asyncio.wait_for(b.recv(), HANG)
        await c.send(b"c")
        await wait_for(lambda: relay.refused == 1)
        assert relay.sessions == 2
        assert c.local_addr not in relay.session_clients()
        clock.now += 25  # only a is idle long enough
        relay.evict_idle()
        await wait_for(lambda: relay.sessions == 1)
        await c.send(b"c again")
        assert (await asyncio.wait_for(c.recv(), HANG)).startswith(b"c again from ")
        assert c.queued == 0  # the refused datagram never got an answer
        assert relay.refused == 1
        assert set(relay.session_clients()) == {b.local_addr, c.local_addr}
        for s in (a, b, c):
            await s.close()
        await stop(task)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"upstream": "127.0.0.1:1", "route": object()},
        {"upstream": "127.0.0.1:1", "idle_timeout": 0},
        {"upstream": "127.0.0.1:1", "shutdown_idle": -1},
        {"upstream": "127.0.0.1:1", "max_sessions": 0},
        {"upstream": "127.0.0.1:1", "queue_size": 0},
    ],
)
def test_config_is_validated(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        UdpRelay(**kwargs)


async def test_upstream_domain_is_resolved() -> None:
    async with echo_upstream() as (up, _), await UdpSocket.bind() as front:
        resolver = StaticResolver({"upstream.test": ["127.0.0.1"]})
        relay = UdpRelay(f"upstream.test:{up.local_addr.port}", resolver=resolver)
        task = asyncio.create_task(relay.serve(front))
        c = await UdpSocket.connect_to(front.local_addr)
        await c.send(b"named")
        assert (await asyncio.wait_for(c.recv(), HANG)).startswith(b"named from ")
        await c.close()
        await stop(task)


async def test_route_and_reply_hooks() -> None:
    """A SOCKS5-UDP-like shape: the client names the destination in a header."""
    async with (
        echo_upstream() as (up1, _),
        echo_upstream() as (up2, _),
        await UdpSocket.bind() as front,
    ):

        async def route(d: Datagram) -> tuple[bytes, AddrLike] | None:
            header, _, payload = d.data.partition(b"|")
            if header == b"drop":
                return None
            return payload, header.decode()

        def reply(data: bytes, src: SocketAddress, client: SocketAddress) -> bytes | None:
            return f"{src}|".encode() + data

        relay = UdpRelay(route=route, reply=reply, session_bind="127.0.0.1:0")
        task = asyncio.create_task(relay.serve(front))
        c = await UdpSocket.connect_to(front.local_addr)
        await c.send(b"drop|nothing")
        await c.send(f"{up1.local_addr}|one".encode())
        first = await asyncio.wait_for(c.recv(), HANG)
        await c.send(f"{up2.local_addr}|two".encode())
        second = await asyncio.wait_for(c.recv(), HANG)
        assert first.startswith(f"{up1.local_addr}|one from ".encode())
        assert second.startswith(f"{up2.local_addr}|two from ".encode())
        # one session (one upstream socket) served both destinations
        assert relay.sessions == 1
        assert first.rsplit(b" from ", 1)[1] == second.rsplit(b" from ", 1)[1]
        await c.close()
        await stop(task)


async def test_graceful_shutdown_relays_late_replies_then_ends() -> None:
    gate = asyncio.Event()
    asked = asyncio.Event()

    async def slow(d: Datagram) -> bytes:
        asked.set()
        await gate.wait()
        return b"late " + d.data

    async with await UdpSocket.bind() as up, await UdpSocket.bind() as front:
        upstream_task = asyncio.create_task(serve_datagrams(up, service_fn(slow)))
        shutdown = Shutdown(deadline=HANG)
        relay = UdpRelay(up.local_addr, shutdown_idle=HANG)
        serve = asyncio.create_task(relay.serve(front, guard=shutdown.guard()))
        c = await UdpSocket.connect_to(front.local_addr)
        await c.send(b"question")
        await asyncio.wait_for(asked.wait(), HANG)
        shutdown.trigger("test")
        await wait_for(lambda: relay._runs and next(iter(relay._runs)).draining)
        await c.send(b"too late")  # no longer taken from clients
        gate.set()
        assert await asyncio.wait_for(c.recv(), HANG) == b"late question"
        assert not serve.done()  # the session lingers for shutdown_idle
        result = await asyncio.wait_for(shutdown.wait_complete(0.05), HANG)
        assert result.cancelled == 1  # the lingering session's reader, at the deadline
        await asyncio.wait_for(serve, HANG)
        assert relay.sessions == 0
        assert shutdown.in_flight == 0
        await c.close()
        await stop(upstream_task)


async def test_graceful_shutdown_ends_when_sessions_go_idle() -> None:
    async with echo_upstream() as (up, _), await UdpSocket.bind() as front:
        shutdown = Shutdown(deadline=HANG)
        relay = UdpRelay(up.local_addr, shutdown_idle=0.05)
        serve = asyncio.create_task(relay.serve(front, guard=shutdown.guard()))
        c = await UdpSocket.connect_to(front.local_addr)
        await c.send(b"x")
        await asyncio.wait_for(c.recv(), HANG)
        result = await asyncio.wait_for(shutdown.shutdown(), HANG)
        assert result.clean
        await asyncio.wait_for(serve, HANG)
        assert relay.sessions == 0
        await c.close()


async def test_closing_the_front_socket_ends_serve() -> None:
    async with echo_upstream() as (up, _):
        front = await UdpSocket.bind()
        relay = UdpRelay(up.local_addr)
        task = asyncio.create_task(relay.serve(front))
        c = await UdpSocket.connect_to(front.local_addr)
        await c.send(b"x")
        await asyncio.wait_for(c.recv(), HANG)
        await front.close()
        await asyncio.wait_for(task, HANG)
        assert relay.sessions == 0
        await c.close()
