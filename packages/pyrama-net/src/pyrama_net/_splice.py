"""Zero-copy socket-to-socket copying with ``os.splice`` (Linux), driven by the event loop.

Bytes go socket -> pipe -> socket inside the kernel and never reach Python. All descriptors
are non-blocking; when the kernel has nothing to give (or no room to take) the copier waits
with ``loop.add_reader``/``add_writer`` on the socket's descriptor, which works on asyncio's
default loop and on uvloop alike.

:class:`SpliceTunnel` relays both directions of a connection pair from reader/writer
callbacks alone (no task per direction), and pipes come from a small per-loop free list
(:func:`acquire_pipe` / :func:`release_pipe`): making a pipe and enlarging it costs several
system calls, which short connections would otherwise pay twice each.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import sys
import weakref
from collections.abc import Callable
from typing import Final

from pyrama_net.errors import StreamError

try:
    import fcntl
    import termios
except ImportError:  # pragma: no cover - not on Windows, where splice does not exist either
    fcntl = None  # type: ignore[assignment]
    termios = None  # type: ignore[assignment]

__all__ = [
    "PIPE_POOL_SIZE",
    "SPLICE_AVAILABLE",
    "SpliceSideError",
    "SpliceTunnel",
    "acquire_pipe",
    "pooled_pipes",
    "release_pipe",
    "shutdown_write",
]

SPLICE_AVAILABLE: bool = hasattr(os, "splice") and hasattr(os, "pipe2")
"""Whether ``os.splice`` exists on this platform (Linux with Python 3.10 or newer)."""

PIPE_POOL_SIZE: Final[int] = 16
"""Idle pipes kept per event loop for reuse; more are closed when released."""

_PIPE_SIZE = 1024 * 1024  # asked for; the kernel may cap it (fs.pipe-max-size), then default
_SETPIPE_SZ: int | None = getattr(fcntl, "F_SETPIPE_SZ", None)
_GETPIPE_SZ: int | None = getattr(fcntl, "F_GETPIPE_SZ", None)
_FIONREAD: int | None = getattr(termios, "FIONREAD", None)
_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)
# chunks one direction moves in a row before it lets the event loop run other callbacks
_BURST: Final[int] = 16


class SpliceSideError(StreamError):
    """A :class:`SpliceTunnel` failed: :attr:`side` (``"a"`` or ``"b"``) is the socket at fault.

    The original error is :attr:`exc` (and ``__cause__``).
    """

    def __init__(self, side: str, exc: OSError) -> None:
        super().__init__(f"side {side}: {exc}")
        self.side = side
        self.exc = exc


# -- pipes ------------------------------------------------------------------------------------

Pipe = tuple[int, int, int]
"""``(read_fd, write_fd, capacity)`` of a non-blocking pipe."""


class _PipePool:
    """Idle pipes of one event loop; the descriptors are closed when the loop goes away."""

    __slots__ = ("__weakref__", "free")

    def __init__(self) -> None:
        self.free: list[Pipe] = []

    def take(self) -> Pipe:
        """An idle pipe, or a new one."""
        free = self.free
        return free.pop() if free else _make_pipe()

    def give(self, pipe: Pipe) -> None:
        """Keep *pipe* (known to be empty) for reuse, or close it when the pool is full."""
        if len(self.free) >= PIPE_POOL_SIZE:
            _close_pipe_fds(pipe[0], pipe[1])
        else:
            self.free.append(pipe)

    def close(self) -> None:
        free, self.free = self.free, []
        for r, w, _ in free:
            _close_pipe_fds(r, w)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit modules may be gone
            self.close()


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _PipePool] = (
    weakref.WeakKeyDictionary()
)


def _forget_pools() -> None:
    # a forked child must not share its parent's pipes (bytes would cross between them)
    for pool in list(_pools.values()):
        pool.close()
    _pools.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def _close_pipe_fds(r: int, w: int) -> None:
    with contextlib.suppress(OSError):
        os.close(r)
    with contextlib.suppress(OSError):
        os.close(w)


def _make_pipe() -> Pipe:
    """A non-blocking pipe, enlarged to ``_PIPE_SIZE`` when the kernel allows it."""
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    if _SETPIPE_SZ is not None:
        # above fs.pipe-max-size an unprivileged process gets EPERM: keep the default size
        try:
            return r, w, int(fcntl.fcntl(w, _SETPIPE_SZ, _PIPE_SIZE))
        except OSError:
            pass
    return r, w, _pipe_capacity(w)


def _pipe_capacity(fd: int) -> int:
    if _GETPIPE_SZ is None:
        return 65536
    try:
        return int(fcntl.fcntl(fd, _GETPIPE_SZ))
    except OSError:
        return 65536


def _pipe_is_empty(r: int) -> bool:
    if _FIONREAD is None:  # pragma: no cover - Linux has FIONREAD
        return False
    try:
        raw = fcntl.ioctl(r, _FIONREAD, b"\0\0\0\0")
    except OSError:
        return False
    return int.from_bytes(raw, sys.byteorder) == 0


def acquire_pipe(loop: asyncio.AbstractEventLoop) -> Pipe:
    """A pipe for splicing on *loop*: an idle one from its pool, else a new, enlarged one."""
    pool = _pools.get(loop)
    if pool is not None and pool.free:
        return pool.free.pop()
    return _make_pipe()


def release_pipe(loop: asyncio.AbstractEventLoop, pipe: Pipe) -> None:
    """Give *pipe* back to *loop*'s pool, or close it.

    Only an empty pipe is kept (a pipe holding bytes would hand them to the next
    connection): this asks the kernel (``FIONREAD``) and closes a pipe that still holds
    bytes, as it does when the loop is closed or the pool already holds
    :data:`PIPE_POOL_SIZE` pipes.
    """
    if _pipe_is_empty(pipe[0]):
        _give_back(loop, pipe)
    else:
        _close_pipe_fds(pipe[0], pipe[1])


def _pool_of(loop: asyncio.AbstractEventLoop) -> _PipePool:
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = _PipePool()
    return pool


def _give_back(loop: asyncio.AbstractEventLoop, pipe: Pipe) -> None:
    """Pool *pipe*, known to be empty (checked, or proven by byte accounting), or close it."""
    if loop.is_closed():
        _close_pipe_fds(pipe[0], pipe[1])
        return
    _pool_of(loop).give(pipe)


def pooled_pipes(loop: asyncio.AbstractEventLoop) -> int:
    """How many idle pipes *loop*'s pool holds (for tests and diagnostics)."""
    pool = _pools.get(loop)
    return 0 if pool is None else len(pool.free)


def shutdown_write(sock: socket.socket) -> None:
    """Half-close *sock* (``SHUT_WR``); a peer that is already gone is not an error here."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError as exc:
        if exc.errno not in (errno.ENOTCONN, errno.EPIPE, errno.ECONNRESET, errno.EBADF):
            raise


# -- both directions, from callbacks ------------------------------------------------------------


class _Way:
    """One direction of a :class:`SpliceTunnel`: src -> pipe -> dst, then ``SHUT_WR`` on dst."""

    __slots__ = (
        "dfd",
        "drained",
        "dst",
        "dst_side",
        "in_pipe",
        "on_bytes",
        "pending",
        "pipe",
        "reading",
        "sfd",
        "src_side",
        "tunnel",
        "writing",
    )

    def __init__(
        self,
        tunnel: SpliceTunnel,
        src: socket.socket,
        dst: socket.socket,
        leftover: bytes,
        on_bytes: Callable[[int], None],
        src_side: str,
        dst_side: str,
    ) -> None:
        self.tunnel = tunnel
        self.sfd = src.fileno()
        self.dst = dst
        self.dfd = dst.fileno()
        self.pending: memoryview | None = memoryview(leftover) if leftover else None
        self.on_bytes = on_bytes
        self.src_side = src_side
        self.dst_side = dst_side
        self.pipe: Pipe | None = None
        self.in_pipe = 0
        self.reading = False
        self.writing = False
        # nothing is known to be waiting at the start: wait for readiness instead of asking
        self.drained = True

    def step(self) -> None:
        """Move bytes until the kernel has none to give or no room to take (or EOF)."""
        tunnel = self.tunnel
        if tunnel.over:
            return
        try:
            self._move()
        except Exception as exc:  # a loop refusing a callback, say: end the tunnel, not the loop
            tunnel.fail(exc, exc)

    def on_readable(self) -> None:
        """The source has bytes (or EOF) for us."""
        self.drained = False
        self.step()

    def _move(self) -> None:
        tunnel = self.tunnel
        splice = os.splice
        burst = _BURST
        while True:
            if self.in_pipe:
                assert self.pipe is not None
                try:
                    m = splice(self.pipe[0], self.dfd, self.in_pipe, flags=_FLAGS)
                except (BlockingIOError, InterruptedError):
                    self._want_write()
                    return
                except OSError as exc:
                    tunnel.fail(SpliceSideError(self.dst_side, exc), exc)
                    return
                self.in_pipe -= m
                if not self._report(m):
                    return
                continue
            if self.pending is not None:
                try:
                    m = self.dst.send(self.pending)
                except (BlockingIOError, InterruptedError):
                    self._want_write()
                    return
                except OSError as exc:
                    tunnel.fail(SpliceSideError(self.dst_side, exc), exc)
                    return
                rest = self.pending[m:]
                self.pending = rest if rest else None
                if not self._report(m):
                    return
                continue
            if self.drained or not burst:
                # after a short read the source is most likely empty: rather than a splice
                # that fails with EAGAIN, wait for readiness, which (level-triggered) comes at
                # once if more is waiting; the burst limit lets other connections have a turn
                self._want_read()
                return
            burst -= 1
            pipe = self.pipe
            if pipe is None:
                pipe = self.pipe = tunnel.pool.take()
            try:
                n = splice(self.sfd, pipe[1], pipe[2], flags=_FLAGS)
            except (BlockingIOError, InterruptedError):
                self._want_read()
                return
            except OSError as exc:
                tunnel.fail(SpliceSideError(self.src_side, exc), exc)
                return
            if n == 0:
                self._eof()
                return
            self.in_pipe = n
            self.drained = n < pipe[2]

    def _report(self, n: int) -> bool:
        try:
            self.on_bytes(n)
        except Exception as exc:
            self.tunnel.fail(exc, exc)
            return False
        return True

    def _want_read(self) -> None:
        tunnel = self.tunnel
        loop = tunnel.loop
        pipe = self.pipe
        if pipe is not None:
            # the pipe is empty here (every byte spliced in went out): an idle direction
            # holds no pipe, so a few pooled pipes serve many mostly idle connections
            # (called from the loop's callbacks: the loop is running, so not closed)
            self.pipe = None
            tunnel.pool.give(pipe)
        if self.writing:
            self.writing = False
            loop.remove_writer(self.dfd)
        if not self.reading:
            loop.add_reader(self.sfd, self.on_readable)
            self.reading = True

    def _want_write(self) -> None:
        loop = self.tunnel.loop
        if self.reading:
            self.reading = False
            loop.remove_reader(self.sfd)
        if not self.writing:
            loop.add_writer(self.dfd, self.step)
            self.writing = True

    def _eof(self) -> None:
        self.stop()
        try:
            shutdown_write(self.dst)
        except OSError as exc:
            self.tunnel.fail(SpliceSideError(self.dst_side, exc), exc)
            return
        self.tunnel.way_done()

    def stop(self) -> None:
        """Drop the descriptor callbacks and give the pipe back (closed if not empty)."""
        loop = self.tunnel.loop
        if self.reading:
            self.reading = False
            loop.remove_reader(self.sfd)
        if self.writing:
            self.writing = False
            loop.remove_writer(self.dfd)
        pipe = self.pipe
        if pipe is not None:
            self.pipe = None
            if self.in_pipe or loop.is_closed():
                _close_pipe_fds(pipe[0], pipe[1])
            else:
                self.tunnel.pool.give(pipe)


class SpliceTunnel:
    """Relay both ways between two connected, non-blocking sockets *a* and *b* with splice.

    Each direction copies its *leftover* first (bytes read before the sockets were taken
    over), then splices until EOF and half-closes the other socket (``SHUT_WR``). Everything
    runs from the loop's reader/writer callbacks: :meth:`start` returns a future that is done
    when both directions have ended, or fails with :class:`SpliceSideError` (naming the socket
    at fault) or with the exception an *on_a_to_b*/*on_b_to_a* byte callback raised. Call
    :meth:`close` afterwards in every case (also when the waiter was cancelled): it drops the
    callbacks and returns the pipes. The sockets stay open; they belong to the caller.
    """

    __slots__ = ("_fut", "_open", "_ways", "loop", "over", "pool")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        a: socket.socket,
        b: socket.socket,
        *,
        a_leftover: bytes = b"",
        b_leftover: bytes = b"",
        on_a_to_b: Callable[[int], None],
        on_b_to_a: Callable[[int], None],
    ) -> None:
        self.loop = loop
        self.pool = _pool_of(loop)  # looked up once per tunnel, not per chunk
        self.over = False
        self._open = 2
        self._fut: asyncio.Future[None] = loop.create_future()
        self._ways: tuple[_Way, ...] = (
            _Way(self, a, b, a_leftover, on_a_to_b, "a", "b"),
            _Way(self, b, a, b_leftover, on_b_to_a, "b", "a"),
        )

    def start(self) -> asyncio.Future[None]:
        """Start both directions; the returned future completes when both have ended."""
        for way in self._ways:
            way.step()
        return self._fut

    def way_done(self) -> None:
        """Called by a direction that reached EOF and half-closed its destination."""
        self._open -= 1
        if self._open == 0 and not self.over:
            self.over = True
            if not self._fut.done():
                self._fut.set_result(None)

    def fail(self, error: BaseException, cause: BaseException) -> None:
        """End the tunnel with *error* (``__cause__`` *cause*) unless it already ended."""
        if self.over:
            return
        self.over = True
        for way in self._ways:
            way.stop()
        if error is not cause:
            error.__cause__ = cause
        if not self._fut.done():
            self._fut.set_exception(error)

    def close(self) -> None:
        """Stop both directions (idempotent); an unfinished tunnel's waiter is cancelled."""
        self.over = True
        ways, self._ways = self._ways, ()
        for way in ways:
            way.stop()
        # the directions point back here: dropping them lets reference counting free it all
        if not self._fut.done():
            self._fut.cancel()
