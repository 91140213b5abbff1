"""bridge(): buffered and zero-copy relays over socketpairs and loopback TCP, on both loops.

Every test runs on asyncio's default loop and on uvloop (``run`` fixture), under a hang guard,
and checks afterwards that no file descriptor and no task was leaked.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import pytest
import uvloop
from net_socket_support import recv_all as _recv_all
from net_socket_support import recv_n as _recv_n
from net_socket_support import recv_stream as _recv_stream
from net_socket_support import send_stream as _send_stream
from net_socket_support import until as _until

from pyrama_core.errors import ConfigError, PyramaTimeoutError
from pyrama_net import (
    BridgeError,
    BridgeIdleTimeoutError,
    BufferedStream,
    BytesTrackerStream,
    SocketStream,
    Stream,
    ThrottledStream,
    bridge,
    open_socket_stream,
    peek,
)
from pyrama_net._splice import SPLICE_AVAILABLE
from pyrama_testing import MockStream, mock_stream_pair

T = TypeVar("T")

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}

Runner = Callable[[Callable[[], Awaitable[Any]]], Any]


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Runner:
    factory = LOOPS[request.param]

    def _run(fn: Callable[[], Awaitable[T]]) -> T:
        async def guarded() -> T:
            result = await asyncio.wait_for(fn(), 60)
            others = asyncio.all_tasks() - {asyncio.current_task()}
            assert not others, f"leaked tasks: {others}"
            return result

        # libuv opens a few process-wide descriptors on first use: warm up before counting
        with asyncio.Runner(loop_factory=factory) as r:
            r.run(asyncio.sleep(0))
        gc.collect()
        before = _fd_count()
        with asyncio.Runner(loop_factory=factory) as r:
            result = r.run(guarded())
        gc.collect()
        assert _fd_count() == before, "file descriptors leaked"
        return result

    return _run


Kind = Literal["tcp", "unix"]


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as ls:
        c = socket.create_connection(ls.getsockname())
        s, _ = ls.accept()
    return c, s


def _pair(kind: Kind) -> tuple[socket.socket, socket.socket]:
    return _tcp_pair() if kind == "tcp" else socket.socketpair()


@dataclass
class Rig:
    """client <-> a ==bridge== b <-> server; client and server are raw non-blocking sockets."""

    client: socket.socket
    server: socket.socket
    a: SocketStream
    b: SocketStream

    def close(self) -> None:
        self.client.close()
        self.server.close()


async def _rig(kind: Kind = "tcp") -> Rig:
    client, a_sock = _pair(kind)
    b_sock, server = _pair(kind)
    client.setblocking(False)
    server.setblocking(False)
    return Rig(client, server, await open_socket_stream(a_sock), await open_socket_stream(b_sock))


async def _send(sock: socket.socket, data: bytes, *, shut: bool = False) -> None:
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(sock, data)
    if shut:
        sock.shutdown(socket.SHUT_WR)


def _rst_close(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


ZERO_COPY = pytest.mark.parametrize("zero_copy", [True, False], ids=["splice", "buffered"])


def test_splice_is_available_here() -> None:
    # the suite runs on Linux: make sure the zero-copy tests really exercise splice
    assert SPLICE_AVAILABLE


@ZERO_COPY
@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_large_transfer_both_directions(run: Runner, kind: Kind, zero_copy: bool) -> None:
    up, down = 64 << 20, 16 << 20

    async def main() -> None:
        rig = await _rig(kind)
        try:
            relay = asyncio.create_task(bridge(rig.a, rig.b, zero_copy=zero_copy))
            sent_up, sent_down, got_up, got_down = await asyncio.gather(
                _send_stream(rig.client, 1, up),
                _send_stream(rig.server, 2, down),
                _recv_stream(rig.server),
                _recv_stream(rig.client),
            )
            stats = await relay
        finally:
            rig.close()
        assert got_up == (up, sent_up)
        assert got_down == (down, sent_down)
        assert (stats.a_to_b, stats.b_to_a) == (up, down)
        assert stats.zero_copy is zero_copy
        assert rig.a.is_closing()
        assert rig.b.is_closing()

    run(main)


@ZERO_COPY
def test_half_close_client_first(run: Runner, zero_copy: bool) -> None:
    async def main() -> None:
        rig = await _rig()
        try:
            relay = asyncio.create_task(bridge(rig.a, rig.b, zero_copy=zero_copy))
            await _send(rig.client, b"request", shut=True)
            assert await _recv_all(rig.server) == b"request"  # EOF forwarded
            # the other direction keeps flowing after the first one ended
            await _send(rig.server, b"response, sent after EOF", shut=True)
            assert await _recv_all(rig.client) == b"response, sent after EOF"
            stats = await relay
        finally:
            rig.close()
        assert (stats.a_to_b, stats.b_to_a) == (7, 24)

    run(main)


@ZERO_COPY
def test_half_close_server_first(run: Runner, zero_copy: bool) -> None:
    async def main() -> None:
        rig = await _rig()
        try:
            relay = asyncio.create_task(bridge(rig.a, rig.b, zero_copy=zero_copy))
            await _send(rig.server, b"banner", shut=True)
            assert await _recv_all(rig.client) == b"banner"
            await _send(rig.client, b"late upload" * 1000, shut=True)
            assert await _recv_all(rig.server) == b"late upload" * 1000
            stats = await relay
        finally:
            rig.close()
        assert (stats.a_to_b, stats.b_to_a) == (11000, 6)

    run(main)


@ZERO_COPY
def test_leftover_bytes_are_delivered_first(run: Runner, zero_copy: bool) -> None:
    async def main() -> None:
        rig = await _rig()
        try:
            # bytes that reached the socket streams before the bridge started
            await _send(rig.client, b"early-up|")
            await _send(rig.server, b"early-down|")
            await _until(lambda: rig.a.buffered() >= 9 and rig.b.buffered() >= 11)
            relay = asyncio.create_task(bridge(rig.a, rig.b, zero_copy=zero_copy))
            await _send(rig.client, b"late-up", shut=True)
            await _send(rig.server, b"late-down", shut=True)
            up, down = await asyncio.gather(_recv_all(rig.server), _recv_all(rig.client))
            stats = await relay
        finally:
            rig.close()
        assert up == b"early-up|late-up"
        assert down == b"early-down|late-down"
        assert (stats.a_to_b, stats.b_to_a) == (16, 20)
        assert stats.zero_copy is zero_copy

    run(main)


def test_peeked_stream_keeps_the_zero_copy_path(run: Runner) -> None:
    async def main() -> None:
        rig = await _rig()
        try:
            await _send(rig.client, b"\x05\x01\x00 then payload")
            data, peeked = await peek(rig.a, 3)
            assert data == b"\x05\x01\x00"
            relay = asyncio.create_task(bridge(peeked, rig.b))
            rig.client.shutdown(socket.SHUT_WR)
            assert await _recv_all(rig.server) == b"\x05\x01\x00 then payload"
            rig.server.shutdown(socket.SHUT_WR)
            stats = await relay
        finally:
            rig.close()
        assert stats.zero_copy
        assert stats.a_to_b == 16

    run(main)


@ZERO_COPY
def test_peer_reset_mid_transfer_raises_and_closes_both(run: Runner, zero_copy: bool) -> None:
    async def main() -> None:
        rig = await _rig()
        try:
            relay = asyncio.create_task(bridge(rig.a, rig.b, zero_copy=zero_copy))

            async def flood() -> None:
                with pytest.raises((ConnectionResetError, BrokenPipeError)):  # bridge went away
                    await _send_stream(rig.client, 3, 1 << 30)

            sender = asyncio.create_task(flood())
            await _recv_n(rig.server, 1 << 20)
            _rst_close(rig.server)
            with pytest.raises(BridgeError) as ei:
                await relay
            await sender
            err = ei.value
            assert err.side == "b"
            assert isinstance(err.__cause__, OSError)
            assert err.stats.a_to_b >= 1 << 20
            assert err.stats.zero_copy is zero_copy
            assert rig.a.is_closing()
            assert rig.b.is_closing()
        finally:
            rig.client.close()

    run(main)


@ZERO_COPY
def test_client_reset_while_idle_is_reported_as_side_a(run: Runner, zero_copy: bool) -> None:
    async def main() -> None:
        rig = await _rig()
        try:
            relay = asyncio.create_task(bridge(rig.a, rig.b, zero_copy=zero_copy))
            await _send(rig.client, b"x")
            assert await _recv_n(rig.server, 1) == b"x"
            _rst_close(rig.client)
            with pytest.raises(BridgeError) as ei:
                await relay
            assert ei.value.side == "a"
            # the server sees its connection closed
            assert await _recv_all(rig.server) == b""
        finally:
            rig.server.close()

    run(main)


@ZERO_COPY
def test_cancelling_bridge_closes_both_streams(run: Runner, zero_copy: bool) -> None:
    async def main() -> None:
        rig = await _rig()
        try:
            relay = asyncio.create_task(bridge(rig.a, rig.b, zero_copy=zero_copy))
            await _send(rig.client, b"ping")
            assert await _recv_n(rig.server, 4) == b"ping"
            relay.cancel()
            with pytest.raises(asyncio.CancelledError):
                await relay
            assert rig.a.is_closing()
            assert rig.b.is_closing()
            for peer in (rig.client, rig.server):
                with contextlib.suppress(ConnectionResetError):
                    assert await _recv_all(peer) == b""
        finally:
            rig.close()

    run(main)


@ZERO_COPY
def test_idle_timeout_closes_both(run: Runner, zero_copy: bool) -> None:
    async def main() -> None:
        rig = await _rig()
        try:
            with pytest.raises(BridgeIdleTimeoutError) as ei:
                await bridge(rig.a, rig.b, zero_copy=zero_copy, idle_timeout=0.05)
            assert isinstance(ei.value, PyramaTimeoutError)
            assert isinstance(ei.value, TimeoutError)
            assert isinstance(ei.value, BridgeError)
            assert ei.value.side is None
            assert ei.value.seconds == 0.05
            assert rig.a.is_closing()
            assert rig.b.is_closing()
            assert await _recv_all(rig.client) == b""
        finally:
            rig.close()

    run(main)


@ZERO_COPY
def test_idle_timeout_rearms_on_activity(run: Runner, zero_copy: bool) -> None:
    # 40 pings 25ms apart span ~1s, far beyond the idle timeout of 0.5s: only rearming lets the
    # bridge live (hang guard only; no assertion on durations)
    async def main() -> None:
        rig = await _rig()
        try:
            relay = asyncio.create_task(bridge(rig.a, rig.b, zero_copy=zero_copy, idle_timeout=0.5))
            for _ in range(40):
                await _send(rig.client, b".")
                assert await _recv_n(rig.server, 1) == b"."
                await asyncio.sleep(0.025)
            rig.client.shutdown(socket.SHUT_WR)
            rig.server.shutdown(socket.SHUT_WR)
            stats = await relay
        finally:
            rig.close()
        assert stats.a_to_b == 40

    run(main)


def test_falls_back_to_buffered_when_b_is_not_detachable(run: Runner) -> None:
    async def main() -> None:
        rig = await _rig()
        inner, far = mock_stream_pair()
        try:
            relay = asyncio.create_task(bridge(rig.a, ThrottledStream(inner)))
            await _send(rig.client, b"to mock", shut=True)
            got = bytearray()
            while chunk := await far.read():
                got += chunk
            assert got == b"to mock"
            far.write(b"from mock")
            far.write_eof()
            assert await _recv_all(rig.client) == b"from mock"
            stats = await relay
        finally:
            rig.close()
        assert not stats.zero_copy
        assert (stats.a_to_b, stats.b_to_a) == (7, 9)
        assert inner.is_closing()

    run(main)


def test_rewraps_a_when_b_refuses_to_detach(run: Runner) -> None:
    async def main() -> None:
        rig = await _rig()
        inner, far = mock_stream_pair()
        b = BufferedStream(inner)  # detachable in shape, but detach_socket() returns None
        tracked = BytesTrackerStream(rig.a)
        try:
            await _send(rig.client, b"early|")
            await _until(lambda: rig.a.buffered() >= 6)
            relay = asyncio.create_task(bridge(tracked, b))
            await _send(rig.client, b"late", shut=True)
            got = bytearray()
            while chunk := await far.read():
                got += chunk
            far.write(b"reply")
            far.write_eof()
            assert await _recv_all(rig.client) == b"reply"
            stats = await relay
        finally:
            rig.close()
        assert got == b"early|late"
        assert not stats.zero_copy
        assert (stats.a_to_b, stats.b_to_a) == (10, 5)
        assert (tracked.count.read, tracked.count.written) == (10, 5)
        assert rig.a.is_closing()

    run(main)


def test_bytes_trackers_keep_the_zero_copy_path(run: Runner) -> None:
    async def main() -> None:
        rig = await _rig()
        ta, tb = BytesTrackerStream(rig.a), BytesTrackerStream(rig.b)
        try:
            ta.write(b"hi!")  # counted before the bridge
            await _send(rig.client, b"early|")
            await _until(lambda: rig.a.buffered() >= 6)
            relay = asyncio.create_task(bridge(ta, tb))
            await _send(rig.client, b"x" * 100_000, shut=True)
            await _send(rig.server, b"y" * 5000, shut=True)
            up, down = await asyncio.gather(_recv_all(rig.server), _recv_all(rig.client))
            stats = await relay
        finally:
            rig.close()
        assert len(up) == 100_006
        assert down == b"hi!" + b"y" * 5000
        assert stats.zero_copy
        assert (ta.count.read, ta.count.written) == (stats.a_to_b, 3 + stats.b_to_a)
        assert (tb.count.read, tb.count.written) == (stats.b_to_a, stats.a_to_b)

    run(main)


def test_peeked_prefix_is_not_counted_twice_by_a_tracker_below(run: Runner) -> None:
    async def main() -> None:
        rig = await _rig()
        tracked = BytesTrackerStream(rig.a)
        try:
            await _send(rig.client, b"HEAD|body")
            await _until(lambda: rig.a.buffered() >= 9)
            data, peeked = await peek(tracked, 5)  # read through the tracker: counted now
            assert data == b"HEAD|"
            assert tracked.count.read == 5
            relay = asyncio.create_task(bridge(peeked, rig.b))
            await _send(rig.client, b"+more", shut=True)
            rig.server.shutdown(socket.SHUT_WR)
            assert await _recv_all(rig.server) == b"HEAD|body+more"
            stats = await relay
        finally:
            rig.close()
        assert stats.zero_copy
        assert stats.a_to_b == 14
        assert tracked.count.read == 14  # the replayed prefix is not counted a second time

    run(main)


class _FailingStream(MockStream):
    def __init__(self, exc: Exception) -> None:
        super().__init__()
        self.exc = exc

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        raise self.exc


def test_error_in_a_wrapper_is_reported_and_both_close(run: Runner) -> None:
    async def main() -> None:
        x, far = mock_stream_pair()
        boom = _FailingStream(RuntimeError("boom"))
        relay = asyncio.create_task(bridge(x, boom))
        far.write(b"data")
        with pytest.raises(BridgeError) as ei:
            await relay
        assert ei.value.side == "b"
        assert isinstance(ei.value.__cause__, RuntimeError)
        assert x.is_closing()
        assert boom.is_closing()

    run(main)


def test_buffer_size_bounds_each_read(run: Runner) -> None:
    async def main() -> None:
        x, far = mock_stream_pair()
        y, sink = mock_stream_pair()
        far.write(b"a" * 100)
        far.write_eof()
        sink.write_eof()
        stats = await bridge(x, y, buffer_size=7)
        assert stats.a_to_b == 100
        assert max(len(w) for w in y.written) == 7

    run(main)


async def test_argument_checks() -> None:
    x, y = mock_stream_pair()
    with pytest.raises(ConfigError):
        await bridge(x, y, buffer_size=0)
    with pytest.raises(ConfigError):
        await bridge(x, y, idle_timeout=0)


def test_without_splice_sockets_use_the_buffered_path(
    run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyrama_net._bridge as mod

    monkeypatch.setattr(mod, "SPLICE_AVAILABLE", False)

    async def main() -> None:
        rig = await _rig()
        try:
            relay = asyncio.create_task(bridge(rig.a, rig.b))
            await _send(rig.client, b"abc", shut=True)
            await _send(rig.server, b"", shut=True)
            assert await _recv_all(rig.server) == b"abc"
            stats = await relay
        finally:
            rig.close()
        assert not stats.zero_copy

    run(main)


def test_stream_protocol_of_test_helpers() -> None:
    assert isinstance(MockStream(), Stream)


def test_zero_copy_relay_runs_in_the_bridge_task_alone(run: Runner) -> None:
    # both directions are driven by reader/writer callbacks: no task per direction
    async def main() -> None:
        rig = await _rig()
        try:
            before = asyncio.all_tasks()
            relay = asyncio.create_task(bridge(rig.a, rig.b))
            await _send(rig.client, b"ping")
            assert await _recv_n(rig.server, 4) == b"ping"
            await _send(rig.server, b"pong")
            assert await _recv_n(rig.client, 4) == b"pong"
            assert asyncio.all_tasks() - before == {relay}
            rig.client.shutdown(socket.SHUT_WR)
            rig.server.shutdown(socket.SHUT_WR)
            stats = await relay
        finally:
            rig.close()
        assert stats.zero_copy

    run(main)


def test_bridges_reuse_pooled_pipes(run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyrama_net._splice as splice_mod

    made: list[tuple[int, int, int]] = []
    real = splice_mod._make_pipe

    def counting() -> tuple[int, int, int]:
        made.append(real())
        return made[-1]

    monkeypatch.setattr(splice_mod, "_make_pipe", counting)

    async def main() -> None:
        for i in range(5):
            rig = await _rig()
            try:
                relay = asyncio.create_task(bridge(rig.a, rig.b))
                await _send(rig.client, b"round %d" % i, shut=True)
                assert await _recv_all(rig.server) == b"round %d" % i
                rig.server.shutdown(socket.SHUT_WR)
                await relay
            finally:
                rig.close()
        # one bridge after another: the first one's pipe serves them all
        assert len(made) == 1
        assert splice_mod.pooled_pipes(asyncio.get_running_loop()) == 1

    run(main)


class _StuckClose(MockStream):
    """A stream whose close() never finishes (a peer that never acknowledges, say)."""

    aborted = False

    async def close(self) -> None:
        await asyncio.Event().wait()

    def abort(self) -> None:
        self.aborted = True
        self._closing = True


def test_a_stream_that_does_not_close_in_time_is_aborted(
    run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyrama_net._bridge as bridge_mod

    monkeypatch.setattr(bridge_mod, "_CLOSE_TIMEOUT", 0.05)

    async def main() -> None:
        stuck, far_a = _StuckClose(), MockStream()
        stuck.peer, far_a.peer = far_a, stuck
        y, far_b = mock_stream_pair()
        far_a.write(b"up")
        far_a.write_eof()
        far_b.write_eof()
        stats = await bridge(stuck, y)
        assert (stats.a_to_b, stats.b_to_a) == (2, 0)
        assert stuck.aborted  # its close timed out: aborted instead of left open
        assert y.is_closing()

    run(main)
