"""TcpListener over real loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import structlog
import uvloop

from pyrama_core import (
    Executor,
    ExponentialBackoff,
    Shutdown,
    service_fn,
)
from pyrama_core.errors import ConfigError, PyramaError
from pyrama_net import SocketAddress
from pyrama_net.errors import AddressError
from pyrama_tcp import TcpListener, TcpStream
from pyrama_tcp.errors import (
    AcceptError,
    AddressInUseError,
    BindError,
    ListenerClosedError,
    TcpError,
)

HANG = 10.0  # hang guard for waits that must complete


async def echo(stream: TcpStream) -> None:
    while data := await stream.read():
        stream.write(data)
        await stream.drain()


async def connect(listener: TcpListener) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    addr = listener.local_addr
    return await asyncio.open_connection(str(addr.ip), addr.port)


async def read_all(reader: asyncio.StreamReader) -> bytes:
    """Read until EOF; a reset counts as EOF (an aborted connection)."""
    try:
        return await asyncio.wait_for(reader.read(), HANG)
    except ConnectionResetError:
        return b""


async def wait_for(cond: Callable[[], bool]) -> None:
    async with asyncio.timeout(HANG):
        while not cond():  # noqa: ASYNC110 - polling a plain predicate
            await asyncio.sleep(0.005)


async def stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, HANG)


# -- scenarios (also run under uvloop below) ----------------------------------------------


async def scenario_echo_many_clients() -> None:
    listener = await TcpListener.bind()
    task = asyncio.create_task(listener.serve(service_fn(echo)))

    async def client(i: int) -> bytes:
        r, w = await connect(listener)
        chunks = [f"client {i} part {k};".encode() * (k + 1) for k in range(5)]
        for c in chunks:
            w.write(c)
            await w.drain()
        w.write_eof()
        got = await read_all(r)
        w.close()
        assert got == b"".join(chunks)
        return got

    results = await asyncio.wait_for(asyncio.gather(*(client(i) for i in range(64))), HANG)
    assert len(results) == 64
    await stop(task)
    assert listener.is_closed()


async def scenario_graceful_waits_for_in_flight() -> None:
    listener = await TcpListener.bind()
    gate = asyncio.Event()
    entered = asyncio.Event()

    async def slow(stream: TcpStream) -> None:
        await stream.read(1)
        entered.set()
        await gate.wait()
        stream.write(b"bye")
        await stream.drain()

    shutdown = Shutdown(deadline=HANG)
    serve = asyncio.create_task(listener.serve(service_fn(slow), guard=shutdown.guard()))
    r, w = await connect(listener)
    w.write(b"x")
    await asyncio.wait_for(entered.wait(), HANG)
    drained = asyncio.create_task(shutdown.shutdown())
    await wait_for(listener.is_closed)
    # stopped accepting: the port refuses new connections while the old one is in flight
    with pytest.raises(ConnectionRefusedError):
        await connect(listener)
    assert not serve.done()
    gate.set()
    assert await read_all(r) == b"bye"
    w.close()
    result = await asyncio.wait_for(drained, HANG)
    assert result.clean
    assert result.cancelled == 0
    await asyncio.wait_for(serve, HANG)


SCENARIOS: list[Callable[[], Awaitable[None]]] = [
    scenario_echo_many_clients,
    scenario_graceful_waits_for_in_flight,
]


async def test_echo_many_concurrent_clients() -> None:
    await scenario_echo_many_clients()


async def test_graceful_shutdown_waits_for_in_flight_connection() -> None:
    await scenario_graceful_waits_for_in_flight()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_scenarios_under_uvloop(scenario: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        await scenario()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


# -- binding ---------------------------------------------------------------------------


async def test_default_bind_is_loopback_ephemeral() -> None:
    async with await TcpListener.bind() as listener:
        addr = listener.local_addr
        assert isinstance(addr, SocketAddress)
        assert str(addr.ip) == "127.0.0.1"
        assert addr.port != 0
        assert repr(listener) == f"TcpListener(local={addr})"


@pytest.mark.parametrize(
    "form",
    ["text", "tuple", "socket_address", "localhost"],
)
async def test_bind_accepts_address_forms(form: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    addr: Any = {
        "text": f"127.0.0.1:{port}",
        "tuple": ("127.0.0.1", port),
        "socket_address": SocketAddress.local_ipv4(port),
        "localhost": f"localhost:{port}",
    }[form]
    async with await TcpListener.bind(addr) as listener:
        assert listener.local_addr == SocketAddress.local_ipv4(port)


async def test_bind_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.fail("this platform has no IPv6 support")
    listener = await TcpListener.bind("[::1]:0", dual_stack=False)
    task = asyncio.create_task(listener.serve(service_fn(echo)))
    r, w = await asyncio.open_connection("::1", listener.local_addr.port)
    w.write(b"six")
    w.write_eof()
    assert await read_all(r) == b"six"
    w.close()
    await stop(task)


async def test_bind_refuses_domains() -> None:
    with pytest.raises(AddressError):
        await TcpListener.bind("example.com:80")


async def test_address_in_use() -> None:
    async with await TcpListener.bind() as first:
        with pytest.raises(AddressInUseError) as info:
            await TcpListener.bind(first.local_addr, reuse_address=False)
        assert info.value.errno == errno.EADDRINUSE
        assert isinstance(info.value, BindError)
        assert isinstance(info.value, OSError)
        assert isinstance(info.value, TcpError)
        assert isinstance(info.value, PyramaError)


async def test_reuse_port_lets_two_listeners_share() -> None:
    a = await TcpListener.bind(reuse_port=True)
    b = await TcpListener.bind(a.local_addr, reuse_port=True)
    assert a.local_addr == b.local_addr
    await a.close()
    await b.close()


@pytest.mark.parametrize("backlog", [0, -1, True])
async def test_backlog_is_validated(backlog: Any) -> None:
    with pytest.raises(ConfigError):
        await TcpListener.bind(backlog=backlog)


async def test_from_socket_adopts_a_listening_socket() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    listener = TcpListener.from_socket(sock)
    task = asyncio.create_task(listener.serve(service_fn(echo)))
    r, w = await connect(listener)
    w.write(b"adopted")
    w.write_eof()
    assert await read_all(r) == b"adopted"
    w.close()
    await stop(task)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, pytest.raises(ConfigError):
        TcpListener.from_socket(udp)


# -- serving --------------------------------------------------------------------------------


async def test_stream_facts_and_options() -> None:
    seen: dict[str, Any] = {}

    async def inspect(stream: TcpStream) -> None:
        seen["peer"] = stream.peer_addr
        seen["local"] = stream.local_addr
        seen["nodelay_default"] = stream.nodelay
        stream.set_nodelay(False)
        seen["nodelay_off"] = stream.nodelay
        stream.set_keepalive(idle=30, interval=5, count=3)
        seen["keepalive"] = stream.get_extra_info("socket").getsockopt(
            socket.SOL_SOCKET, socket.SO_KEEPALIVE
        )
        seen["executor"] = stream.extensions.get(Executor)
        seen["repr"] = repr(stream)
        stream.write(b"ok")

    async with await TcpListener.bind() as listener:
        task = asyncio.create_task(listener.serve(service_fn(inspect)))
        r, w = await connect(listener)
        client_local = w.get_extra_info("sockname")
        assert await read_all(r) == b"ok"
        w.close()
        await stop(task)
    assert seen["peer"] == SocketAddress.from_tuple(client_local)
    assert seen["local"] == listener.local_addr
    assert seen["nodelay_default"] is True
    assert seen["nodelay_off"] is False
    assert seen["keepalive"] == 1
    assert isinstance(seen["executor"], Executor)
    assert seen["repr"].startswith("TcpStream(local=")


async def test_service_error_is_logged_and_does_not_kill_listener() -> None:
    calls = 0

    async def flaky(stream: TcpStream) -> None:
        nonlocal calls
        calls += 1
        data = await stream.read()
        if data == b"boom":
            raise RuntimeError("service exploded")
        stream.write(data)

    listener = await TcpListener.bind()
    task = asyncio.create_task(listener.serve(service_fn(flaky)))
    with structlog.testing.capture_logs() as logs:
        r1, w1 = await connect(listener)
        w1.write(b"boom")
        assert await read_all(r1) == b""  # the failing connection is closed
        w1.close()
        for i in range(3):
            r, w = await connect(listener)
            w.write(b"fine %d" % i)
            assert await read_all(r) == b"fine %d" % i
            w.close()
    assert calls == 4
    errors = [e for e in logs if e["event"] == "connection service failed"]
    assert len(errors) == 1
    assert "service exploded" in errors[0]["error"]
    assert not task.done()
    await stop(task)


async def test_max_connections_is_enforced() -> None:
    limit = 3
    clients = 10
    active = 0
    peak = 0
    served = 0
    entered = asyncio.Queue[asyncio.Event]()

    async def held(stream: TcpStream) -> None:
        nonlocal active, peak, served
        active += 1
        peak = max(peak, active)
        release = asyncio.Event()
        await entered.put(release)
        try:
            await release.wait()
            stream.write(b"done")
            await stream.drain()
        finally:
            active -= 1
            served += 1

    listener = await TcpListener.bind()
    task = asyncio.create_task(listener.serve(service_fn(held), max_connections=limit))
    conns = [await connect(listener) for _ in range(clients)]
    # every client is connected at the kernel level; only `limit` are being served
    first = [await asyncio.wait_for(entered.get(), HANG) for _ in range(limit)]
    await asyncio.sleep(0.05)  # give a wrongly admitted connection the chance to show up
    assert entered.empty()
    assert listener.connections == limit
    assert active == limit
    for ev in first:
        ev.set()
    # release the rest one by one as they get their slot
    for _ in range(clients - limit):
        (await asyncio.wait_for(entered.get(), HANG)).set()
    for r, w in conns:
        assert await read_all(r) == b"done"
        w.close()
    await wait_for(lambda: served == clients)
    assert peak == limit
    await stop(task)


@pytest.mark.parametrize("bad", [0, -2, True, 1.5])
async def test_max_connections_is_validated(bad: Any) -> None:
    async with await TcpListener.bind() as listener:
        with pytest.raises(ConfigError):
            await listener.serve(service_fn(echo), max_connections=bad)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
async def test_connection_timeout_is_validated(bad: float) -> None:
    async with await TcpListener.bind() as listener:
        with pytest.raises(ConfigError):
            await listener.serve(service_fn(echo), connection_timeout=bad)


async def test_connection_timeout_closes_a_stuck_connection() -> None:
    cancelled = asyncio.Event()

    async def stuck(stream: TcpStream) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    listener = await TcpListener.bind()
    task = asyncio.create_task(listener.serve(service_fn(stuck), connection_timeout=0.05))
    with structlog.testing.capture_logs() as logs:
        r, w = await connect(listener)
        assert await read_all(r) == b""
        w.close()
        await asyncio.wait_for(cancelled.wait(), HANG)
    assert any(e["event"] == "connection deadline reached; closing" for e in logs)
    assert not task.done()
    # the listener still serves
    r, w = await connect(listener)
    assert await read_all(r) == b""
    w.close()
    await stop(task)


async def test_service_timeout_error_is_not_mistaken_for_the_deadline() -> None:
    async def raises_timeout(stream: TcpStream) -> None:
        raise TimeoutError("the service's own timeout")

    listener = await TcpListener.bind()
    task = asyncio.create_task(listener.serve(service_fn(raises_timeout), connection_timeout=HANG))
    with structlog.testing.capture_logs() as logs:
        r, w = await connect(listener)
        assert await read_all(r) == b""
        w.close()
        # a TimeoutError from the service is reported as the connection's own failure (one
        # line: timeouts are connection faults), never as the listener's deadline
        await wait_for(lambda: any(e["event"] == "connection ended with an error" for e in logs))
    assert not [e for e in logs if e["event"] == "connection deadline reached; closing"]
    await stop(task)


async def test_graceful_shutdown_cancels_after_deadline() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def forever(stream: TcpStream) -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    listener = await TcpListener.bind()
    shutdown = Shutdown(deadline=0.05)
    serve = asyncio.create_task(listener.serve(service_fn(forever), guard=shutdown.guard()))
    r, w = await connect(listener)
    await asyncio.wait_for(started.wait(), HANG)
    result = await asyncio.wait_for(shutdown.shutdown(), HANG)
    assert result.cancelled == 1
    assert cancelled.is_set()
    assert await read_all(r) == b""
    w.close()
    await asyncio.wait_for(serve, HANG)
    assert listener.is_closed()
    assert shutdown.in_flight == 0


async def test_serve_releases_its_guard() -> None:
    shutdown = Shutdown(deadline=HANG)
    listener = await TcpListener.bind()
    serve = asyncio.create_task(listener.serve(service_fn(echo), guard=shutdown.guard()))
    await wait_for(lambda: listener.serving)
    assert shutdown.in_flight == 1
    result = await asyncio.wait_for(shutdown.shutdown(), HANG)
    assert result.clean
    await serve
    assert shutdown.in_flight == 0


async def test_already_triggered_shutdown_serves_nothing() -> None:
    shutdown = Shutdown()
    guard = shutdown.guard()
    shutdown.trigger()
    listener = await TcpListener.bind()
    await asyncio.wait_for(listener.serve(service_fn(echo), guard=guard), HANG)
    assert listener.is_closed()
    assert shutdown.in_flight == 0


async def test_serve_graceful_returns_the_drain_result() -> None:
    shutdown = Shutdown(deadline=HANG)
    listener = await TcpListener.bind()
    done = asyncio.create_task(listener.serve_graceful(service_fn(echo), shutdown))
    r, w = await connect(listener)
    w.write(b"ping")
    assert await asyncio.wait_for(r.readexactly(4), HANG) == b"ping"
    shutdown.trigger("test")
    await wait_for(listener.is_closed)
    w.write_eof()
    assert await read_all(r) == b""
    w.close()
    result = await asyncio.wait_for(done, HANG)
    assert result.clean


async def test_serve_graceful_with_its_own_shutdown_ends_when_closed() -> None:
    listener = await TcpListener.bind()
    done = asyncio.create_task(listener.serve_graceful(service_fn(echo)))
    await wait_for(lambda: listener.serving)
    await listener.close()
    result = await asyncio.wait_for(done, HANG)
    assert result.clean


async def test_cancelling_serve_cancels_connections() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def forever(stream: TcpStream) -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    listener = await TcpListener.bind()
    task = asyncio.create_task(listener.serve(service_fn(forever)))
    r, w = await connect(listener)
    await asyncio.wait_for(started.wait(), HANG)
    await stop(task)
    assert cancelled.is_set()
    assert listener.is_closed()
    assert listener.connections == 0
    assert await read_all(r) == b""
    w.close()


async def test_close_stops_accepting_and_serve_returns_after_in_flight() -> None:
    gate = asyncio.Event()
    entered = asyncio.Event()

    async def slow(stream: TcpStream) -> None:
        entered.set()
        await gate.wait()
        stream.write(b"late")

    listener = await TcpListener.bind()
    task = asyncio.create_task(listener.serve(service_fn(slow)))
    r, w = await connect(listener)
    await asyncio.wait_for(entered.wait(), HANG)
    await listener.close()
    assert listener.is_closed()
    with pytest.raises(ConnectionRefusedError):
        await connect(listener)
    assert not task.done()
    gate.set()
    assert await read_all(r) == b"late"
    w.close()
    await asyncio.wait_for(task, HANG)
    await listener.close()  # idempotent


async def test_serving_twice_or_after_close_is_refused() -> None:
    listener = await TcpListener.bind()
    task = asyncio.create_task(listener.serve(service_fn(echo)))
    await wait_for(lambda: listener.serving)
    shutdown = Shutdown()
    guard = shutdown.guard()
    with pytest.raises(ListenerClosedError):
        await listener.serve(service_fn(echo), guard=guard)
    assert guard.released  # serve owns the guard even when it refuses to run
    await stop(task)
    with pytest.raises(ListenerClosedError):
        await listener.serve(service_fn(echo))


# -- accept errors ----------------------------------------------------------------------------


class FlakySocket(socket.socket):
    """A listening socket whose accept() fails with chosen errnos first."""

    failures: list[int]

    def accept(self) -> tuple[socket.socket, Any]:
        if self.failures:
            code = self.failures.pop(0)
            raise OSError(code, errno.errorcode.get(code, "?"))
        return super().accept()


def flaky_listener(failures: list[int]) -> TcpListener:
    sock = FlakySocket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.failures = failures
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return TcpListener.from_socket(sock)


async def test_resource_exhaustion_backs_off_exponentially() -> None:
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0)

    backoff = ExponentialBackoff(0.01, 0.04, jitter="none", sleep=record)
    listener = flaky_listener([errno.EMFILE, errno.ENFILE, errno.EMFILE, errno.EMFILE])
    task = asyncio.create_task(listener.serve(service_fn(echo), accept_backoff=backoff))
    with structlog.testing.capture_logs() as logs:
        r, w = await connect(listener)
        w.write(b"after backoff")
        w.write_eof()
        assert await read_all(r) == b"after backoff"
        w.close()
    assert delays == [0.01, 0.02, 0.04, 0.04]
    assert listener.socket.failures == []  # type: ignore[attr-defined]
    assert backoff.attempts == 0  # reset after the successful accept
    events = [e["event"] for e in logs]
    assert events.count("accept failed: out of resources; backing off") == 1
    assert "accept recovered" in events
    await stop(task)


async def test_transient_accept_errors_are_skipped_without_backoff() -> None:
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    backoff = ExponentialBackoff(0.01, 0.04, jitter="none", sleep=record)
    listener = flaky_listener([errno.ECONNABORTED, errno.EPROTO])
    task = asyncio.create_task(listener.serve(service_fn(echo), accept_backoff=backoff))
    r, w = await connect(listener)
    w.write(b"fine")
    w.write_eof()
    assert await read_all(r) == b"fine"
    w.close()
    assert delays == []
    assert listener.socket.failures == []  # type: ignore[attr-defined]
    await stop(task)


async def test_exhausted_backoff_ends_serve_with_accept_error() -> None:
    async def no_sleep(delay: float) -> None:
        return None

    backoff = ExponentialBackoff(0.01, 0.04, max_attempts=2, sleep=no_sleep)
    listener = flaky_listener([errno.EMFILE] * 5)
    with pytest.raises(AcceptError) as info:
        await asyncio.wait_for(listener.serve(service_fn(echo), accept_backoff=backoff), HANG)
    assert info.value.__cause__.errno == errno.EMFILE  # type: ignore[union-attr]
    assert listener.socket.failures == [errno.EMFILE] * 2  # type: ignore[attr-defined]
    assert listener.is_closed()


async def test_unexpected_accept_error_ends_serve_with_accept_error() -> None:
    listener = flaky_listener([errno.EINVAL])
    with pytest.raises(AcceptError) as info:
        await asyncio.wait_for(listener.serve(service_fn(echo)), HANG)
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == errno.EINVAL
    assert listener.is_closed()


EMFILE_CHILD = textwrap.dedent(
    """
    import asyncio, errno, os, resource, socket, sys
    from pyrama_core import ExponentialBackoff, service_fn
    from pyrama_tcp import TcpListener

    async def main():
        hold = []
        sleeps = []
        served = asyncio.Event()

        async def sleep(delay):
            sleeps.append(delay)
            if len(sleeps) == 3:
                for s in hold:  # free descriptors: the next accept can succeed
                    s.close()
                hold.clear()
            await asyncio.sleep(0)

        async def echo(stream):
            stream.write(await stream.read())
            served.set()

        listener = await TcpListener.bind()
        backoff = ExponentialBackoff(0.001, 0.01, jitter="none", sleep=sleep)
        task = asyncio.create_task(listener.serve(service_fn(echo), accept_backoff=backoff))
        await asyncio.sleep(0)
        highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 8, hard))
        try:
            while True:
                hold.append(socket.socket())
        except OSError as exc:
            assert exc.errno == errno.EMFILE, exc
        print(listener.local_addr.port, flush=True)
        await asyncio.wait_for(served.wait(), 30)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        print("backoffs", len(sleeps), flush=True)

    asyncio.run(main())
    """
)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc (Linux)")
def test_real_emfile_backs_off_then_recovers() -> None:
    """Exhaust the descriptor table in a child process: accept backs off, then serves."""
    child = subprocess.Popen(
        [sys.executable, "-c", EMFILE_CHILD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        with socket.create_connection(("127.0.0.1", port), timeout=HANG) as client:
            client.sendall(b"hi")
            assert client.recv(16) == b"hi"
        out, err = child.communicate(timeout=HANG * 3)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    backoffs = int(out.split()[-1])
    assert backoffs >= 3


async def test_peer_faults_are_logged_in_one_line_without_traceback() -> None:
    from pyrama_core.errors import ProtocolError, Side

    async def strict(stream: TcpStream) -> None:
        await stream.read()
        raise ProtocolError("peer sent garbage", side=Side.REMOTE)

    listener = await TcpListener.bind()
    task = asyncio.create_task(listener.serve(service_fn(strict)))
    with structlog.testing.capture_logs() as logs:
        r, w = await connect(listener)
        w.write(b"garbage")
        assert await read_all(r) == b""
        w.close()
        await wait_for(lambda: any(e["event"] == "connection ended with an error" for e in logs))
    faults = [e for e in logs if e["event"] == "connection ended with an error"]
    assert len(faults) == 1
    assert "peer sent garbage" in faults[0]["error"]
    assert "exc_info" not in faults[0]
    assert faults[0]["log_level"] == "info"
    assert not [e for e in logs if e["event"] == "connection service failed"]
    assert not task.done()
    await stop(task)
