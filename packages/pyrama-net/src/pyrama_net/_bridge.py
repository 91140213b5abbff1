"""bridge: relay bytes both ways between two streams, zero-copy when both are plain sockets.

Semantics (see :func:`bridge`):

* both directions run concurrently, each with backpressure (``await drain()`` after every
  write);
* half-close: EOF from one side is forwarded as ``write_eof`` (``shutdown(SHUT_WR)`` on the
  zero-copy path) to the other, and the other direction keeps flowing until it ends too;
* the bridge owns both streams: they are closed when it returns, raises or is cancelled;
* errors are raised: a failing side raises :class:`BridgeError` (its ``__cause__`` is the
  original error, :attr:`BridgeError.stats` the bytes moved until then), an idle timeout raises
  :class:`BridgeIdleTimeoutError`; cancelling ``bridge()`` aborts and closes both streams and
  re-raises ``CancelledError``. No task outlives the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, cast

from pyrama_core.errors import ConfigError, PyramaTimeoutError
from pyrama_net._connector import TaskDeadline
from pyrama_net._detach import DetachedSocket, detach_socket_observed
from pyrama_net._peek import PeekStream
from pyrama_net._socket_stream import SocketStream, open_socket_stream
from pyrama_net._splice import SPLICE_AVAILABLE, SpliceSideError, SpliceTunnel
from pyrama_net._stream import DetachableStream, Stream
from pyrama_net._wrapper import StreamWrapper
from pyrama_net.errors import StreamError

__all__ = ["BridgeError", "BridgeIdleTimeoutError", "BridgeStats", "bridge"]

Side = Literal["a", "b"]

DEFAULT_BUFFER_SIZE = 256 * 1024
_CLOSE_TIMEOUT = 5.0
_socket_close = SocketStream.close


@dataclass(frozen=True, slots=True)
class BridgeStats:
    """What a :func:`bridge` moved."""

    a_to_b: int
    """Bytes read from ``a`` and written to ``b``."""
    b_to_a: int
    """Bytes read from ``b`` and written to ``a``."""
    zero_copy: bool
    """Whether the bytes moved through ``os.splice`` (both sockets detached)."""


class BridgeError(StreamError):
    """One side of a :func:`bridge` failed; both streams were closed.

    :attr:`side` is ``"a"`` or ``"b"`` (``None`` for an idle timeout), :attr:`stats` the bytes
    moved before the failure, and ``__cause__`` the original error.
    """

    def __init__(self, message: str, *, side: Side | None, stats: BridgeStats) -> None:
        super().__init__(message)
        self.side = side
        self.stats = stats


class BridgeIdleTimeoutError(BridgeError, PyramaTimeoutError):
    """No byte moved in either direction for ``idle_timeout`` seconds; both streams were closed."""

    def __init__(self, message: str, *, stats: BridgeStats, seconds: float) -> None:
        BridgeError.__init__(self, message, side=None, stats=stats)
        self.seconds = seconds


class _SideFailed(Exception):
    """Internal: carries which side failed out of a direction task."""

    def __init__(self, side: Side, exc: BaseException) -> None:
        super().__init__(side)
        self.side = side
        self.exc = exc


class _Idle:
    """A lazy idle watchdog: activity only stores a time; the timer re-arms itself when it fires."""

    __slots__ = ("_cm", "_handle", "_loop", "_timeout", "last")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, timeout: float, cm: asyncio.Timeout
    ) -> None:
        self._loop = loop
        self._timeout = timeout
        self._cm = cm
        self.last = loop.time()
        self._handle = loop.call_at(self.last + timeout, self._check)

    def touch(self) -> None:
        self.last = self._loop.time()

    def _check(self) -> None:
        now = self._loop.time()
        deadline = self.last + self._timeout
        if now >= deadline:
            self._cm.reschedule(now)  # expire the enclosing asyncio.timeout right away
        else:
            self._handle = self._loop.call_at(deadline, self._check)

    def cancel(self) -> None:
        self._handle.cancel()


class _Flow:
    """Byte accounting of one direction (and the detached sockets' observers)."""

    __slots__ = ("count", "idle", "reports")

    def __init__(self, idle: _Idle | None) -> None:
        self.count = 0
        self.idle = idle
        self.reports: list[Callable[[int], None]] = []

    def add(self, n: int) -> None:
        self.count += n
        if self.idle is not None:
            self.idle.touch()
        for report in self.reports:
            report(n)


def _reporters(
    src: DetachedSocket | None, dst: DetachedSocket | None
) -> list[Callable[[int], None]]:
    out: list[Callable[[int], None]] = []
    if src is not None and src.observed:
        out.append(partial(_report_received, src))
    if dst is not None and dst.observed:
        out.append(partial(_report_sent, dst))
    return out


def _report_received(d: DetachedSocket, n: int) -> None:
    d.report(n, 0)


def _report_sent(d: DetachedSocket, n: int) -> None:
    d.report(0, n)


async def _pump(
    src: Stream, dst: Stream, flow: _Flow, buffer_size: int, src_side: Side, dst_side: Side
) -> None:
    """Buffered copy from *src* to *dst* until EOF, then half-close *dst*."""
    read, write, drain = src.read, dst.write, dst.drain
    add = flow.add
    while True:
        try:
            data = await read(buffer_size)
        except Exception as exc:
            raise _SideFailed(src_side, exc) from exc
        if not data:
            break
        try:
            write(data)
            await drain()
        except Exception as exc:
            raise _SideFailed(dst_side, exc) from exc
        add(len(data))
    try:
        if dst.can_write_eof():
            dst.write_eof()
    except Exception as exc:
        if _peer_gone(exc):
            return  # the other end hung up already: nobody left to tell, not a failure
        raise _SideFailed(dst_side, exc) from exc


_PEER_GONE_ERRNOS = frozenset({errno.ENOTCONN, errno.EPIPE, errno.ECONNRESET, errno.ECONNABORTED})


def _peer_gone(exc: BaseException) -> bool:
    """Whether a half-close failed only because the peer has closed or reset already."""
    return isinstance(exc, OSError) and exc.errno in _PEER_GONE_ERRNOS


async def _both(first: Coroutine[Any, Any, None], second: Coroutine[Any, Any, None]) -> None:
    """Run two directions to completion; the first failure cancels the other and is raised.

    Two tasks and a done callback, not a ``TaskGroup``: a relay that ends with an error (a
    reset, on a busy server many times a second) then builds no exception group, and leaves
    no reference cycle of exceptions, tracebacks and frames for the cyclic garbage collector.
    Neither task outlives the call, also when it is cancelled (repeatedly).
    """
    loop = asyncio.get_running_loop()
    tasks = (loop.create_task(first), loop.create_task(second))
    waiter: asyncio.Future[asyncio.Task[None] | None] = loop.create_future()
    on_done = partial(_wake_on_failure_or_all_done, waiter, tasks)
    for t in tasks:
        t.add_done_callback(on_done)
    try:
        failed = await waiter  # the first task that failed, or None: both finished
    except BaseException:  # cancelled: stop both directions, wait for them, re-raise
        for t in tasks:
            t.cancel()
        await _settle(tasks)
        _retrieve(tasks)
        raise
    if failed is None:
        return
    failure = failed.exception()
    assert failure is not None  # the waiter names a task that failed
    for t in tasks:
        t.cancel()
    cancelled = await _settle(tasks)
    _retrieve(tasks)
    # the failure's traceback will hold this frame: drop what leads back to the failure (the
    # tasks hold their exceptions), so no reference cycle is left for the garbage collector
    del failed, tasks, on_done, waiter
    if cancelled:
        raise asyncio.CancelledError
    try:
        raise failure
    finally:
        del failure


def _wake_on_failure_or_all_done(
    waiter: asyncio.Future[asyncio.Task[None] | None],
    tasks: tuple[asyncio.Task[None], ...],
    task: asyncio.Task[None],
) -> None:
    if waiter.done():
        return
    if _failed(task):
        waiter.set_result(task)
    elif all(t.done() for t in tasks):
        # both ended before this callback ran: the other may have failed meanwhile
        waiter.set_result(next((t for t in tasks if _failed(t)), None))


def _failed(task: asyncio.Task[None]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is not None


async def _settle(tasks: tuple[asyncio.Task[None], ...]) -> bool:
    """Wait until every task is done, through repeated cancellation; whether we were cancelled."""
    cancelled = False
    while True:
        left = [t for t in tasks if not t.done()]
        if not left:
            return cancelled
        try:
            await asyncio.wait(left)
        except asyncio.CancelledError:
            cancelled = True
            for t in left:
                t.cancel()


def _retrieve(tasks: tuple[asyncio.Task[None], ...]) -> None:
    """Mark the tasks' exceptions as seen (asyncio would log them as never retrieved)."""
    for t in tasks:
        if not t.cancelled():
            t.exception()


def _detachable(stream: Stream) -> bool:
    """Whether *stream* offers ``detach_socket`` (duck-typed: a runtime Protocol check is slow)."""
    return callable(getattr(stream, "detach_socket", None))


def _refuses_detach(stream: Stream) -> bool:
    """Whether detaching *stream* is sure to fail, found out without trying.

    True for a chain of :class:`StreamWrapper` subclasses (which forward ``detach_socket`` to
    their inner stream, if they offer it) that reaches a stream without ``detach_socket``: a
    bytes tracker over a TLS stream, say. Checked before the other side is detached, which
    could not be undone: its socket would be wrapped into a new stream for the buffered relay
    (a second transport, some 30 us per connection) for nothing.
    """
    while isinstance(stream, StreamWrapper):
        stream = stream.inner
        if not _detachable(stream):
            return True
    return False


_socket_detach = SocketStream.detach_socket


async def _detach(stream: Stream, side: Side) -> DetachedSocket | None:
    try:
        if getattr(type(stream), "detach_socket", None) is _socket_detach:
            # a socket stream itself (no wrapper that could ask for byte counts): no
            # observer collection to set up around the call
            res = await cast(SocketStream, stream).detach_socket()
            return None if res is None else DetachedSocket(res[0], res[1], [])
        if not _detachable(stream):
            return None
        return await detach_socket_observed(cast(DetachableStream, stream))
    except Exception as exc:
        raise _SideFailed(side, exc) from exc


async def _splice_both(
    loop: asyncio.AbstractEventLoop,
    da: DetachedSocket,
    db: DetachedSocket,
    ab: _Flow,
    ba: _Flow,
) -> None:
    """Relay both ways between two detached sockets with splice, from loop callbacks."""
    tunnel = SpliceTunnel(
        loop,
        da.sock,
        db.sock,
        a_leftover=da.leftover,
        b_leftover=db.leftover,
        on_a_to_b=ab.add,
        on_b_to_a=ba.add,
    )
    try:
        await tunnel.start()
    except SpliceSideError as exc:
        side: Side = "a" if exc.side == "a" else "b"
        raise _SideFailed(side, exc.exc) from exc.exc
    finally:
        tunnel.close()


async def _rewrap(d: DetachedSocket, side: Side) -> Stream:
    """Turn a detached socket back into a Stream (when the other side could not detach)."""
    try:
        stream = await open_socket_stream(d.sock)
    except Exception as exc:
        d.sock.close()
        raise _SideFailed(side, exc) from exc
    return PeekStream(stream, d.leftover) if d.leftover else stream


def _abort(stream: Stream) -> None:
    """Abort *stream* (drop queued writes) when it has ``abort()``; never raises."""
    fn: Any = getattr(stream, "abort", None)
    if callable(fn):
        with contextlib.suppress(Exception):
            fn()


async def bridge(
    a: Stream,
    b: Stream,
    *,
    buffer_size: int = DEFAULT_BUFFER_SIZE,
    idle_timeout: float | None = None,
    zero_copy: bool = True,
) -> BridgeStats:
    """Relay bytes between *a* and *b* in both directions until both directions end.

    * Each direction reads up to *buffer_size* bytes at a time, writes them and awaits
      ``drain()`` (backpressure). EOF from one side is forwarded with ``write_eof()`` (when the
      other side supports it) and the other direction keeps flowing until it ends as well.
    * Zero-copy: when *zero_copy* is true, ``os.splice`` exists and both streams are
      :class:`~pyrama_net.DetachableStream` whose ``detach_socket()`` succeeds, bytes move
      socket -> pipe -> socket inside the kernel; leftover bytes are sent first and EOF is
      forwarded with ``shutdown(SHUT_WR)``. A peeked or rewound stream keeps this path: its
      replayed bytes are that leftover. The relay runs on the event loop's reader and writer
      callbacks (no task per direction) and takes its pipes from a per-loop pool; a direction
      that waits for its source holds no pipe. Wrappers that count bytes (bytes tracker,
      transport metrics) are told what moved over a detached socket (see
      :func:`~pyrama_net.observe_detached_io`), so tracking does not cost the fast path.
    * Buffered: when a side cannot detach (a TLS stream, or wrappers over one), each
      direction copies through Python. *a* is not detached when *b* is seen to refuse up
      front; if *b* refuses only when asked, *a*'s socket is wrapped into a stream again.
    * *idle_timeout* (seconds): when no byte moves in either direction for that long, both
      streams are closed and :class:`BridgeIdleTimeoutError` is raised.
    * The bridge owns *a* and *b* and closes both before it returns or raises; after an
      error or cancellation they are aborted (``abort()`` when they have it) first, and a
      stream whose ``close()`` fails or takes longer than 5 seconds is aborted too.

    Returns :class:`BridgeStats`. Raises :class:`BridgeError` when either side fails (reset,
    broken pipe, a wrapper's error); ``CancelledError`` propagates after both are closed.
    """
    if buffer_size < 1:
        raise ConfigError(f"buffer_size must be at least 1, got {buffer_size}")
    if idle_timeout is not None and idle_timeout <= 0:
        raise ConfigError(f"idle_timeout must be positive, got {idle_timeout}")
    relay = _Relay(a, b, buffer_size, zero_copy and SPLICE_AVAILABLE)
    ok = False
    cm: asyncio.Timeout | None = None
    try:
        if idle_timeout is None:
            await relay.run(None)
        else:
            cm = asyncio.timeout(None)
            async with cm:
                idle = _Idle(asyncio.get_running_loop(), idle_timeout, cm)
                try:
                    await relay.run(idle)
                finally:
                    idle.cancel()
        ok = True
        return relay.stats()
    except _SideFailed as f:
        raise BridgeError(
            f"bridge side {f.side} failed: {type(f.exc).__name__}: {f.exc}",
            side=f.side,
            stats=relay.stats(),
        ) from f.exc
    except TimeoutError as exc:
        if idle_timeout is None or cm is None or not cm.expired():
            raise
        raise BridgeIdleTimeoutError(
            f"bridge idle for {idle_timeout}s", stats=relay.stats(), seconds=idle_timeout
        ) from exc
    finally:
        for s in relay.socks:
            s.close()
        owned = relay.owned
        if not ok:  # synchronously, so that a second cancellation cannot skip it
            for st in owned:
                _abort(st)
        await _close_all(owned)


_NO_FLOW = _Flow(None)
"""A placeholder with nothing counted (never added to)."""


class _Relay:
    """The state of one :func:`bridge` call: the streams it owns, sockets, byte counts."""

    __slots__ = ("a", "ab", "b", "ba", "buffer_size", "owned", "socks", "spliced", "zero_copy")

    def __init__(self, a: Stream, b: Stream, buffer_size: int, zero_copy: bool) -> None:
        self.a = a
        self.b = b
        self.buffer_size = buffer_size
        self.zero_copy = zero_copy
        self.owned: list[Stream] = [a, b]
        self.socks: list[socket.socket] = []
        self.ab = self.ba = _NO_FLOW  # replaced by run() before anything moves
        self.spliced = False

    def stats(self) -> BridgeStats:
        return BridgeStats(a_to_b=self.ab.count, b_to_a=self.ba.count, zero_copy=self.spliced)

    async def run(self, idle: _Idle | None) -> None:
        a, b = self.a, self.b
        ab = self.ab = _Flow(idle)
        ba = self.ba = _Flow(idle)
        da = db = None
        # check b up front: detaching a is not undone when b turns out not detachable
        if self.zero_copy and _detachable(b) and not _refuses_detach(b):
            da = await _detach(a, "a")
            if da is not None:
                self.socks.append(da.sock)
                db = await _detach(b, "b")
                if db is not None:
                    self.socks.append(db.sock)
        if da is not None and db is not None:
            self.spliced = True
            if da.observed or db.observed:
                ab.reports = _reporters(da, db)
                ba.reports = _reporters(db, da)
            await _splice_both(asyncio.get_running_loop(), da, db, ab, ba)
            return
        src_a = a
        if da is not None:
            self.socks.remove(da.sock)
            src_a = await _rewrap(da, "a")
            self.owned.append(src_a)
            ab.reports = _reporters(da, None)
            ba.reports = _reporters(None, da)
        await _both(
            _pump(src_a, b, ab, self.buffer_size, "a", "b"),
            _pump(b, src_a, ba, self.buffer_size, "b", "a"),
        )


async def _close_all(owned: list[Stream]) -> None:
    """Close every stream in *owned*, each within ``_CLOSE_TIMEOUT``; abort what did not close.

    The closes run one after another (no task per stream): a socket stream starts closing
    before its first ``await`` and has nothing left to flush after a bridge, so this costs
    about one loop iteration per stream. Errors are dropped: the streams are thrown away.
    """
    for i, st in enumerate(owned):
        if getattr(type(st), "close", None) is _socket_close:
            if cast(SocketStream, st).is_closed():
                continue  # a detached socket stream: closed already, close() would do nothing
        else:
            is_closed: Any = getattr(st, "is_closed", None)
            if callable(is_closed) and is_closed() is True:
                continue  # a wrapper over a closed (detached) socket stream: nothing to do
        # a timer-wheel deadline: most of these closes finish without waiting at all
        deadline = TaskDeadline(_CLOSE_TIMEOUT)
        try:
            await st.close()
        except asyncio.CancelledError:
            if deadline.finish():  # took too long: abort, as for errors
                _abort(st)
                continue
            for rest in owned[i:]:  # cancelled while closing: the rest must not stay open
                _abort(rest)
            raise
        except Exception:  # a TimeoutError of its own included: abort, as for errors
            _abort(st)
        except BaseException:
            for rest in owned[i:]:
                _abort(rest)
            raise
        finally:
            deadline.finish()
