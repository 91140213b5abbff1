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
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from pyrama_core.errors import ConfigError, PyramaTimeoutError
from pyrama_net._detach import DetachedSocket, detach_socket_observed
from pyrama_net._peek import PeekStream
from pyrama_net._socket_stream import open_socket_stream
from pyrama_net._splice import SPLICE_AVAILABLE, SpliceError, send_all, shutdown_write, splice_copy
from pyrama_net._stream import DetachableStream, Stream
from pyrama_net.errors import StreamError

__all__ = ["BridgeError", "BridgeIdleTimeoutError", "BridgeStats", "bridge"]

Side = Literal["a", "b"]

DEFAULT_BUFFER_SIZE = 256 * 1024
_CLOSE_TIMEOUT = 5.0


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
        raise _SideFailed(dst_side, exc) from exc


async def _splice_dir(
    src: DetachedSocket, dst: DetachedSocket, flow: _Flow, src_side: Side, dst_side: Side
) -> None:
    """Zero-copy copy from *src* to *dst*: leftover first, then splice, then ``SHUT_WR``."""
    try:
        if src.leftover:
            await send_all(dst.sock, src.leftover, flow.add)
    except OSError as exc:
        raise _SideFailed(dst_side, exc) from exc
    try:
        await splice_copy(src.sock, dst.sock, flow.add)
    except SpliceError as exc:
        raise _SideFailed(src_side if exc.source else dst_side, exc.exc) from exc.exc
    try:
        shutdown_write(dst.sock)
    except OSError as exc:
        raise _SideFailed(dst_side, exc) from exc


async def _both(first: Coroutine[Any, Any, None], second: Coroutine[Any, Any, None]) -> None:
    """Run two directions to completion; the first failure cancels the other and is raised."""
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(first)
            tg.create_task(second)
    except BaseExceptionGroup as eg:
        failed, rest = eg.split(_SideFailed)
        if rest is not None or failed is None:
            raise
        raise _first_side_failure(failed) from None


def _first_side_failure(eg: BaseExceptionGroup[Any]) -> _SideFailed:
    for exc in eg.exceptions:
        if isinstance(exc, _SideFailed):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            return _first_side_failure(exc)
    raise AssertionError("no _SideFailed in group")  # pragma: no cover


async def _detach(stream: Stream, side: Side) -> DetachedSocket | None:
    if not isinstance(stream, DetachableStream):
        return None
    try:
        return await detach_socket_observed(stream)
    except Exception as exc:
        raise _SideFailed(side, exc) from exc


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


async def _close_quietly(stream: Stream) -> None:
    """Close *stream*, bounded in time; errors are dropped (the stream is thrown away)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(_CLOSE_TIMEOUT):
            await stream.close()


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
      forwarded with ``shutdown(SHUT_WR)``. If only *a* detaches, its socket is wrapped into a
      stream again and the buffered relay is used. Wrappers that count bytes (bytes tracker,
      transport metrics) are told what moved over a detached socket (see
      :func:`~pyrama_net.observe_detached_io`), so tracking does not cost the fast path.
    * *idle_timeout* (seconds): when no byte moves in either direction for that long, both
      streams are closed and :class:`BridgeIdleTimeoutError` is raised.
    * The bridge owns *a* and *b* and closes both before it returns or raises; after an
      error or cancellation they are aborted (``abort()`` when they have it) first.

    Returns :class:`BridgeStats`. Raises :class:`BridgeError` when either side fails (reset,
    broken pipe, a wrapper's error); ``CancelledError`` propagates after both are closed.
    """
    if buffer_size < 1:
        raise ConfigError(f"buffer_size must be at least 1, got {buffer_size}")
    if idle_timeout is not None and idle_timeout <= 0:
        raise ConfigError(f"idle_timeout must be positive, got {idle_timeout}")
    loop = asyncio.get_running_loop()
    owned: list[Stream] = [a, b]
    socks: list[socket.socket] = []
    ab = ba = _Flow(None)
    spliced = False
    ok = False

    def stats() -> BridgeStats:
        return BridgeStats(a_to_b=ab.count, b_to_a=ba.count, zero_copy=spliced)

    cm = asyncio.timeout(None)
    try:
        async with cm:
            idle = _Idle(loop, idle_timeout, cm) if idle_timeout is not None else None
            ab, ba = _Flow(idle), _Flow(idle)
            try:
                da = db = None
                # check b up front: detaching a is not undone when b turns out not detachable
                if zero_copy and SPLICE_AVAILABLE and isinstance(b, DetachableStream):
                    da = await _detach(a, "a")
                    if da is not None:
                        socks.append(da.sock)
                        db = await _detach(b, "b")
                        if db is not None:
                            socks.append(db.sock)
                if da is not None and db is not None:
                    spliced = True
                    ab.reports = _reporters(da, db)
                    ba.reports = _reporters(db, da)
                    await _both(
                        _splice_dir(da, db, ab, "a", "b"), _splice_dir(db, da, ba, "b", "a")
                    )
                else:
                    src_a = a
                    if da is not None:
                        socks.remove(da.sock)
                        src_a = await _rewrap(da, "a")
                        owned.append(src_a)
                        ab.reports = _reporters(da, None)
                        ba.reports = _reporters(None, da)
                    await _both(
                        _pump(src_a, b, ab, buffer_size, "a", "b"),
                        _pump(b, src_a, ba, buffer_size, "b", "a"),
                    )
            finally:
                if idle is not None:
                    idle.cancel()
        ok = True
        return stats()
    except _SideFailed as f:
        raise BridgeError(
            f"bridge side {f.side} failed: {type(f.exc).__name__}: {f.exc}",
            side=f.side,
            stats=stats(),
        ) from f.exc
    except TimeoutError as exc:
        if idle_timeout is None or not cm.expired():
            raise
        raise BridgeIdleTimeoutError(
            f"bridge idle for {idle_timeout}s", stats=stats(), seconds=idle_timeout
        ) from exc
    finally:
        for s in socks:
            s.close()
        if not ok:  # synchronously, so that a second cancellation cannot skip it
            for st in owned:
                _abort(st)
        await asyncio.gather(*(_close_quietly(st) for st in owned))
