"""UdpServer / serve_datagrams over real loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest
import structlog
import uvloop

from pyrama_core import Shutdown, service_fn
from pyrama_core.errors import ConfigError
from pyrama_udp import Datagram, UdpServer, UdpSocket, serve_datagrams

HANG = 10.0


async def wait_for(cond: Callable[[], bool]) -> None:
    async with asyncio.timeout(HANG):
        while not cond():  # noqa: ASYNC110 - polling a plain predicate
            await asyncio.sleep(0.002)


async def stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, HANG)


async def upper(d: Datagram) -> bytes:
    return d.data.upper()


async def scenario_echo_service() -> None:
    async with await UdpSocket.bind() as server_sock:
        task = asyncio.create_task(serve_datagrams(server_sock, service_fn(upper)))
        clients = [await UdpSocket.connect_to(server_sock.local_addr) for _ in range(8)]
        for i, c in enumerate(clients):
            for k in range(10):
                await c.send(b"client %d msg %d" % (i, k))
        for i, c in enumerate(clients):
            got = sorted([await asyncio.wait_for(c.recv(), HANG) for _ in range(10)])
            assert got == sorted(b"CLIENT %d MSG %d" % (i, k) for k in range(10))
            await c.close()
        await stop(task)


async def test_echo_service() -> None:
    await scenario_echo_service()


def test_echo_service_under_uvloop() -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario_echo_service())


async def test_datagram_fields_and_extensions() -> None:
    seen: list[Datagram] = []

    class Marker:
        pass

    async def record(d: Datagram) -> None:
        d.extensions.insert("per-datagram")
        seen.append(d)

    marker = Marker()
    async with await UdpSocket.bind() as sock, await UdpSocket.bind() as client:
        sock.extensions.insert(marker)
        task = asyncio.create_task(serve_datagrams(sock, service_fn(record)))
        await client.send_to(b"one", sock.local_addr)
        await client.send_to(b"two", sock.local_addr)
        await wait_for(lambda: len(seen) == 2)
        await stop(task)
    assert [d.data for d in seen] == [b"one", b"two"]
    for d in seen:
        assert d.peer == client.local_addr
        assert d.local == sock.local_addr
        assert d.extensions.get(Marker) is marker  # falls through to the socket's
        assert d.extensions.get(str) == "per-datagram"
    assert sock.extensions.get(str) is None  # nothing leaked into the socket's extensions


async def test_none_or_empty_reply_sends_nothing() -> None:
    async def quiet(d: Datagram) -> bytes | None:
        return None if d.data == b"none" else (b"" if d.data == b"empty" else b"loud")

    async with await UdpSocket.bind() as sock:
        task = asyncio.create_task(serve_datagrams(sock, service_fn(quiet)))
        client = await UdpSocket.connect_to(sock.local_addr)
        await client.send(b"none")
        await client.send(b"empty")
        await client.send(b"other")
        assert await asyncio.wait_for(client.recv(), HANG) == b"loud"
        assert client.queued == 0
        await client.close()
        await stop(task)


async def test_service_error_is_logged_and_server_continues() -> None:
    async def picky(d: Datagram) -> bytes:
        if d.data == b"bad":
            raise ValueError("cannot handle this")
        return b"ok " + d.data

    async with await UdpSocket.bind() as sock:
        task = asyncio.create_task(serve_datagrams(sock, service_fn(picky)))
        client = await UdpSocket.connect_to(sock.local_addr)
        with structlog.testing.capture_logs() as logs:
            await client.send(b"bad")
            await client.send(b"good")
            assert await asyncio.wait_for(client.recv(), HANG) == b"ok good"
        errors = [e for e in logs if e["event"] == "datagram service failed"]
        assert len(errors) == 1
        assert "cannot handle this" in errors[0]["error"]
        assert not task.done()
        await client.close()
        await stop(task)


async def test_concurrency_limit() -> None:
    limit = 3
    total = 10
    active = 0
    peak = 0
    entered: asyncio.Queue[asyncio.Event] = asyncio.Queue()

    async def held(d: Datagram) -> bytes:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        release = asyncio.Event()
        await entered.put(release)
        try:
            await release.wait()
            return d.data
        finally:
            active -= 1

    server = UdpServer(service_fn(held), concurrency=limit)
    assert server.concurrency == limit
    async with await UdpSocket.bind() as sock:
        task = asyncio.create_task(server.serve(sock))
        client = await UdpSocket.connect_to(sock.local_addr)
        for i in range(total):
            await client.send(b"%d" % i)
        first = [await asyncio.wait_for(entered.get(), HANG) for _ in range(limit)]
        await wait_for(lambda: sock.queued == total - limit)  # the rest wait in the socket queue
        await asyncio.sleep(0.05)  # a wrongly admitted datagram would show up now
        assert entered.empty()
        assert server.in_flight == limit
        for ev in first:
            ev.set()
        for _ in range(total - limit):
            (await asyncio.wait_for(entered.get(), HANG)).set()
        replies = {await asyncio.wait_for(client.recv(), HANG) for _ in range(total)}
        assert replies == {b"%d" % i for i in range(total)}
        assert peak == limit
        await client.close()
        await stop(task)


@pytest.mark.parametrize("bad", [0, -1, True])
def test_concurrency_is_validated(bad: Any) -> None:
    with pytest.raises(ConfigError):
        UdpServer(service_fn(upper), concurrency=bad)


async def test_graceful_shutdown_finishes_in_flight() -> None:
    entered = asyncio.Event()
    gate = asyncio.Event()
    calls: list[bytes] = []

    async def slow(d: Datagram) -> bytes:
        calls.append(d.data)
        entered.set()
        await gate.wait()
        return b"late reply"

    shutdown = Shutdown(deadline=HANG)
    async with await UdpSocket.bind() as sock:
        serve = asyncio.create_task(serve_datagrams(sock, service_fn(slow), guard=shutdown.guard()))
        client = await UdpSocket.connect_to(sock.local_addr)
        await client.send(b"work")
        await asyncio.wait_for(entered.wait(), HANG)
        drained = asyncio.create_task(shutdown.shutdown())
        await asyncio.sleep(0)
        await client.send(b"after shutdown")  # not taken any more
        assert not serve.done()
        gate.set()
        assert await asyncio.wait_for(client.recv(), HANG) == b"late reply"
        result = await asyncio.wait_for(drained, HANG)
        assert result.clean
        await asyncio.wait_for(serve, HANG)
        assert shutdown.in_flight == 0
        assert calls == [b"work"]
        await client.close()


async def test_graceful_shutdown_cancels_after_deadline() -> None:
    cancelled = asyncio.Event()
    entered = asyncio.Event()

    async def forever(d: Datagram) -> bytes:
        entered.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return b""

    shutdown = Shutdown(deadline=0.05)
    async with await UdpSocket.bind() as sock:
        serve = asyncio.create_task(
            serve_datagrams(sock, service_fn(forever), guard=shutdown.guard())
        )
        client = await UdpSocket.connect_to(sock.local_addr)
        await client.send(b"stuck")
        await asyncio.wait_for(entered.wait(), HANG)
        result = await asyncio.wait_for(shutdown.shutdown(), HANG)
        assert result.cancelled == 1
        assert cancelled.is_set()
        await asyncio.wait_for(serve, HANG)
        await client.close()


async def test_serve_ends_when_socket_closes() -> None:
    sock = await UdpSocket.bind()
    task = asyncio.create_task(serve_datagrams(sock, service_fn(upper)))
    await asyncio.sleep(0)
    await sock.close()
    await asyncio.wait_for(task, HANG)


async def test_cancel_cancels_in_flight() -> None:
    cancelled = asyncio.Event()
    entered = asyncio.Event()

    async def forever(d: Datagram) -> bytes:
        entered.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return b""

    server = UdpServer(service_fn(forever))
    async with await UdpSocket.bind() as sock:
        task = asyncio.create_task(server.serve(sock))
        client = await UdpSocket.connect_to(sock.local_addr)
        await client.send(b"x")
        await asyncio.wait_for(entered.wait(), HANG)
        await stop(task)
        assert cancelled.is_set()
        assert server.in_flight == 0
        await client.close()
