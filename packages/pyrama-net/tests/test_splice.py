"""The splice machinery under bridge(): the per-loop pipe pool and the callback-driven tunnel.

Every test runs on asyncio's default loop and on uvloop. Timeouts are hang guards only.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import uvloop
from net_socket_support import recv_all as _recv_all
from net_socket_support import recv_n as _recv_n
from net_socket_support import until as _until

import pyrama_net._splice as splice_mod
from pyrama_net._splice import (
    PIPE_POOL_SIZE,
    SpliceSideError,
    SpliceTunnel,
    acquire_pipe,
    pooled_pipes,
    release_pipe,
)

T = TypeVar("T")

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}

Runner = Callable[[Callable[[], Awaitable[Any]]], Any]


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Runner:
    factory = LOOPS[request.param]

    def _run(fn: Callable[[], Awaitable[T]]) -> T:
        with asyncio.Runner(loop_factory=factory) as r:
            return r.run(asyncio.wait_for(fn(), 60))

    return _run


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError as exc:
        if exc.errno != errno.EBADF:
            raise
        return False
    return True


def _pooled(loop: asyncio.AbstractEventLoop) -> list[tuple[int, int, int]]:
    pool = splice_mod._pools.get(loop)
    return [] if pool is None else list(pool.free)


def _unread(fd: int) -> int:
    import fcntl
    import termios

    return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])


# -- the pipe pool ------------------------------------------------------------------------------


def test_released_pipes_are_reused(run: Runner) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        first = acquire_pipe(loop)
        assert first[2] >= 4096  # the capacity travels with the pipe
        release_pipe(loop, first)
        assert pooled_pipes(loop) == 1
        again = acquire_pipe(loop)
        assert again == first
        assert pooled_pipes(loop) == 0
        release_pipe(loop, again)

    run(main)


def test_pool_keeps_at_most_its_limit(run: Runner) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        pipes = [acquire_pipe(loop) for _ in range(PIPE_POOL_SIZE + 3)]
        for p in pipes:
            release_pipe(loop, p)
        assert pooled_pipes(loop) == PIPE_POOL_SIZE
        kept = set(_pooled(loop))
        for r, w, cap in pipes:
            expected = (r, w, cap) in kept
            assert _is_open(r) is expected
            assert _is_open(w) is expected

    run(main)


def test_a_pipe_holding_bytes_is_closed_not_pooled(run: Runner) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        r, w, cap = acquire_pipe(loop)
        os.write(w, b"left behind")
        release_pipe(loop, (r, w, cap))
        assert pooled_pipes(loop) == 0
        assert not _is_open(r)
        assert not _is_open(w)

    run(main)


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_pooled_pipes_are_closed_when_their_loop_goes_away(loop_name: str) -> None:
    async def main() -> tuple[int, int, int]:
        loop = asyncio.get_running_loop()
        p = acquire_pipe(loop)
        release_pipe(loop, p)
        return p

    with asyncio.Runner(loop_factory=LOOPS[loop_name]) as r:
        r, w, _ = r.run(main())
    gc.collect()
    assert not _is_open(r)
    assert not _is_open(w)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX")
def test_a_forked_child_does_not_inherit_the_pool() -> None:
    async def fill() -> None:
        loop = asyncio.get_running_loop()
        release_pipe(loop, acquire_pipe(loop))
        assert pooled_pipes(loop) == 1

    with asyncio.Runner() as r:
        r.run(fill())
        loop = r.get_loop()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os._exit(0 if pooled_pipes(loop) == 0 and not splice_mod._pools else 1)
        _, status = os.waitpid(pid, 0)
        assert pooled_pipes(loop) == 1  # the parent keeps its own
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == 0


# -- the tunnel -----------------------------------------------------------------------------------


class Pair:
    """client <-> a ==tunnel== b <-> server, over socketpairs; all non-blocking."""

    def __init__(self) -> None:
        self.client, self.a = socket.socketpair()
        self.b, self.server = socket.socketpair()
        for s in (self.client, self.a, self.b, self.server):
            s.setblocking(False)
        self.up = 0
        self.down = 0

    def count_up(self, n: int) -> None:
        self.up += n

    def count_down(self, n: int) -> None:
        self.down += n

    def tunnel(self, *, a_leftover: bytes = b"", b_leftover: bytes = b"") -> SpliceTunnel:
        return SpliceTunnel(
            asyncio.get_running_loop(),
            self.a,
            self.b,
            a_leftover=a_leftover,
            b_leftover=b_leftover,
            on_a_to_b=self.count_up,
            on_b_to_a=self.count_down,
        )

    def close(self) -> None:
        for s in (self.client, self.a, self.b, self.server):
            s.close()


def test_tunnel_relays_leftover_first_then_half_closes_both_ways(run: Runner) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        pair = Pair()
        try:
            tunnel = pair.tunnel(a_leftover=b"early-up|", b_leftover=b"early-down|")
            done = tunnel.start()
            await loop.sock_sendall(pair.client, b"late-up")
            pair.client.shutdown(socket.SHUT_WR)
            await loop.sock_sendall(pair.server, b"late-down")
            pair.server.shutdown(socket.SHUT_WR)
            up, down = await asyncio.gather(_recv_all(pair.server), _recv_all(pair.client))
            await done
            tunnel.close()
        finally:
            pair.close()
        assert up == b"early-up|late-up"
        assert down == b"early-down|late-down"
        assert (pair.up, pair.down) == (16, 20)

    run(main)


def test_tunnel_runs_without_tasks(run: Runner) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        pair = Pair()
        try:
            before = asyncio.all_tasks()
            tunnel = pair.tunnel()
            done = tunnel.start()
            await loop.sock_sendall(pair.client, b"ping")
            assert await _recv_n(pair.server, 4) == b"ping"
            assert asyncio.all_tasks() == before
            pair.client.shutdown(socket.SHUT_WR)
            pair.server.shutdown(socket.SHUT_WR)
            await done
            tunnel.close()
        finally:
            pair.close()

    run(main)


@pytest.fixture
def made_pipes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """Every pipe the splice module creates (instead of taking one from the pool)."""
    made: list[tuple[int, int, int]] = []
    real = splice_mod._make_pipe

    def counting() -> tuple[int, int, int]:
        pipe = real()
        made.append(pipe)
        return pipe

    monkeypatch.setattr(splice_mod, "_make_pipe", counting)
    return made


def test_idle_directions_hold_no_pipe(run: Runner, made_pipes: list[tuple[int, int, int]]) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        pair = Pair()
        try:
            tunnel = pair.tunnel()
            done = tunnel.start()
            for _ in range(3):
                await loop.sock_sendall(pair.client, b"x" * 1000)
                await _recv_n(pair.server, 1000)
                await loop.sock_sendall(pair.server, b"y" * 1000)
                await _recv_n(pair.client, 1000)
            # both directions wait for their source: every pipe made is back in the pool
            # (taking turns, the two directions got by with a single pipe)
            await _until(lambda: sorted(_pooled(loop)) == sorted(made_pipes))
            assert len(made_pipes) == 1
            assert all(_unread(r) == 0 for r, _, _ in _pooled(loop))
            pair.client.shutdown(socket.SHUT_WR)
            pair.server.shutdown(socket.SHUT_WR)
            await done
            tunnel.close()
        finally:
            pair.close()

    run(main)


def test_closing_with_bytes_in_the_pipe_closes_that_pipe(
    run: Runner, made_pipes: list[tuple[int, int, int]]
) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        pair = Pair()
        try:
            # fill b's send buffer (the server never reads): the next bytes stay in the pipe
            while True:
                try:
                    pair.b.send(b"\0" * 65536)
                except BlockingIOError:
                    break
            tunnel = pair.tunnel()
            done = tunnel.start()
            await loop.sock_sendall(pair.client, b"stuck")
            await _until(lambda: bool(made_pipes) and _unread(made_pipes[0][0]) == 5)
            assert pooled_pipes(loop) == 0  # the pipe in use is not in the pool
            tunnel.close()
            assert done.cancelled()
            r, w, _ = made_pipes[0]
            assert not _is_open(r)
            assert not _is_open(w)
            assert pooled_pipes(loop) == 0
            assert pair.up == 0
        finally:
            pair.close()

    run(main)


def test_failure_names_the_side_at_fault(run: Runner) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        pair = Pair()
        try:
            tunnel = pair.tunnel()
            done = tunnel.start()
            await loop.sock_sendall(pair.client, b"x")
            assert await _recv_n(pair.server, 1) == b"x"
            pair.server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            pair.server.close()
            await loop.sock_sendall(pair.client, b"more" * 100_000)
            with pytest.raises(SpliceSideError) as info:
                await done
            tunnel.close()
            assert info.value.side == "b"
            assert isinstance(info.value.exc, OSError)
            assert info.value.__cause__ is info.value.exc
        finally:
            for s in (pair.client, pair.a, pair.b):
                s.close()

    run(main)


def test_a_failing_byte_callback_fails_the_tunnel(run: Runner) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        pair = Pair()

        def boom(n: int) -> None:
            raise ValueError(f"counted {n}")

        try:
            tunnel = SpliceTunnel(loop, pair.a, pair.b, on_a_to_b=boom, on_b_to_a=pair.count_down)
            done = tunnel.start()
            await loop.sock_sendall(pair.client, b"abc")
            with pytest.raises(ValueError, match="counted 3"):
                await done
            tunnel.close()
        finally:
            pair.close()

    run(main)


def test_bursts_are_bounded_and_the_transfer_still_completes(
    run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # with a burst of one chunk, every chunk goes back through the event loop
    monkeypatch.setattr(splice_mod, "_BURST", 1)
    size = 8 << 20

    async def main() -> None:
        loop = asyncio.get_running_loop()
        pair = Pair()
        try:
            tunnel = pair.tunnel()
            done = tunnel.start()

            async def send() -> None:
                await loop.sock_sendall(pair.client, os.urandom(1024) * (size // 1024))
                pair.client.shutdown(socket.SHUT_WR)

            _, got = await asyncio.gather(send(), _recv_all(pair.server))
            pair.server.shutdown(socket.SHUT_WR)
            await done
            tunnel.close()
        finally:
            pair.close()
        assert len(got) == size
        assert pair.up == size

    run(main)


def test_a_loop_refusing_a_callback_fails_the_tunnel_instead_of_hanging() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()

        def refuse(fd: int, cb: Callable[..., object], *args: object) -> None:
            raise RuntimeError("no more readers")

        loop.add_reader = refuse  # type: ignore[method-assign]
        pair = Pair()
        try:
            tunnel = pair.tunnel()
            with pytest.raises(RuntimeError, match="no more readers"):
                await tunnel.start()  # nothing to read yet: the tunnel asks to wait, and fails
            tunnel.close()
        finally:
            pair.close()

    with asyncio.Runner() as r:
        r.run(asyncio.wait_for(main(), 30))
