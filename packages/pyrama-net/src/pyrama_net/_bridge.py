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
import math
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


# -- the push relay: both directions from the transports' callbacks ------------------------------

_ss_set_receiver = SocketStream.set_receiver
_ss_write = SocketStream.write
_ss_close = SocketStream.close


def _push_endpoint(stream: Stream) -> SocketStream | None:
    """The plain socket stream a push relay may drive for *stream*, else ``None``.

    *stream* itself when it is a :class:`SocketStream` (one that does not change how bytes
    are received, written or closed), or the one a transparent wrapper hands over through
    :attr:`SocketStream.socket_stream`. ``None`` for anything else (TLS, byte counters,
    replayed bytes in front), and for a stream whose bytes someone else receives already.
    """
    ss: Any = getattr(stream, "socket_stream", None)
    t = type(ss)
    pushable = _PUSHABLE.get(t)
    if pushable is None:
        pushable = _PUSHABLE[t] = (
            issubclass(t, SocketStream)
            and t.set_receiver is _ss_set_receiver
            and t.write is _ss_write
            and t.close is _ss_close
        )
    if not pushable or ss._proto._receiver is not None:
        return None
    return cast(SocketStream, ss)


_PUSHABLE: dict[type[Any], bool] = {}
"""Per type found under a stream: whether it is a :class:`SocketStream` that receives, writes
and closes as a socket stream does (checked once per type, not per relay)."""


class _PushWay:
    """One direction of a :class:`_PushRelay`: the source's chunks go to the other transport.

    The object is the source protocol's receiver (``set_receiver``): each chunk is written to
    the destination transport as it arrives, nothing is buffered in Python. When the
    destination's write queue passes its high-water mark the source stops reading until the
    queue drained (``resume_writing`` of the destination calls :meth:`resume`).
    """

    __slots__ = (
        "dst_p",
        "dst_side",
        "dst_t",
        "eof",
        "flow",
        "paused",
        "relay",
        "src_p",
        "src_side",
        "src_t",
    )

    def __init__(
        self,
        relay: _PushRelay,
        src: SocketStream,
        dst: SocketStream,
        flow: _Flow,
        src_side: Side,
        dst_side: Side,
    ) -> None:
        self.relay = relay
        self.src_p = src._proto
        self.src_t = src._transport
        self.dst_p = dst._proto
        self.dst_t = dst._transport
        self.flow = flow
        self.src_side: Side = src_side
        self.dst_side: Side = dst_side
        self.eof = False
        self.paused = False

    def start(self) -> None:
        """Pass on what the source buffered already, then receive its chunks as they come."""
        if self.relay.over:
            return  # the other direction ended the relay (its bytes stay buffered here)
        p = self.src_p
        buf = p._buf
        if buf:
            data = bytes(buf)
            buf.clear()
            if p._paused_reading:  # the stream paused a full buffer: it is empty now
                p._paused_reading = False
                self.src_t.resume_reading()
            self(data)
            if self.relay.ended():
                return
        # installed also after an EOF: a later loss of the connection still reaches us
        p._receiver = self
        if p._exc is not None or p._eof or p._closed.done():
            self(b"")

    def __call__(self, data: bytes) -> None:
        relay = self.relay
        if relay.over:
            return
        if data:
            dst = self.dst_t
            if dst.is_closing():
                lost = self.dst_p._exc
                relay.fail(
                    self.dst_side,
                    lost if lost is not None else BrokenPipeError(errno.EPIPE, "connection closed"),
                )
                return
            dst.write(data)
            flow = self.flow
            if flow.idle is None and not flow.reports:
                flow.count += len(data)  # nothing watches the bytes: the count is all
            else:
                try:
                    flow.add(len(data))
                except Exception as err:  # a byte observer failed: the source side's fault
                    relay.fail(self.src_side, err)
                    return
            if self.dst_p._paused_writing and not self.paused:
                self.paused = True
                self.src_t.pause_reading()
                self.dst_p._on_writable = self.resume
            # the flow is this direction's own (made with the relay): its count is what moved
            if flow.count >= relay.splice_after:
                relay.want_splice()
            return
        # b"": the source finished sending, or its connection was lost
        lost = self.src_p._exc
        if lost is not None:
            relay.fail(self.src_side, lost)
            return
        if self.eof:
            return
        self.eof = True
        dst = self.dst_t
        try:
            if not dst.is_closing() and dst.can_write_eof():
                dst.write_eof()
        except Exception as exc:
            if not _peer_gone(exc):
                relay.fail(self.dst_side, exc)
                return
        relay.way_done()

    def resume(self) -> None:
        """The destination can take more: read from the source again."""
        if self.paused:
            self.paused = False
            self.dst_p._on_writable = None
            if not self.relay.over and not self.src_t.is_closing():
                self.src_t.resume_reading()

    def stop(self) -> None:
        """Stop receiving from the source and drop the hooks (the streams stay as they are)."""
        p = self.src_p
        if p._receiver is self:
            p._receiver = None
        if self.dst_p._on_writable == self.resume:
            self.dst_p._on_writable = None


_SPLICE = True
"""What a :class:`_PushRelay`'s future holds when the relay should go on with splice."""


class _PushRelay:
    """Both directions of a relay between two socket streams, from the transports' callbacks.

    No task per direction and no copy into a stream's buffer: the source protocol hands each
    chunk to its :class:`_PushWay`, which writes it to the other transport. EOF is passed on
    as ``write_eof``; the future from :meth:`start` is done with ``None`` when both
    directions ended, fails with :class:`_SideFailed` when a side failed, or holds
    :data:`_SPLICE` once a direction has moved *splice_after* bytes (both still open): the
    caller then stops this relay and detaches the sockets for ``os.splice``.
    """

    __slots__ = ("fut", "open", "over", "splice_after", "ways")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        a: SocketStream,
        b: SocketStream,
        ab: _Flow,
        ba: _Flow,
        splice_after: float,
    ) -> None:
        self.fut: asyncio.Future[bool | None] = loop.create_future()
        self.open = 2
        self.over = False
        self.splice_after = splice_after
        self.ways: tuple[_PushWay, ...] = (
            _PushWay(self, a, b, ab, "a", "b"),
            _PushWay(self, b, a, ba, "b", "a"),
        )

    def start(self) -> asyncio.Future[bool | None]:
        """Start both directions; see the class docs for the future's outcomes."""
        for way in self.ways:
            way.start()
        return self.fut

    def ended(self) -> bool:
        """Whether the relay is over (done, failed, or handed over to splice)."""
        return self.over

    def way_done(self) -> None:
        self.open -= 1
        if self.open == 0 and not self.over:
            self._end()
            self.fut.set_result(None)

    def want_splice(self) -> None:
        if self.over or self.open != 2:
            return  # a half-closed relay finishes as it is
        # from now on the streams buffer what arrives: it is the leftover of the detach
        self._end()
        self.fut.set_result(_SPLICE)

    def fail(self, side: Side, exc: BaseException) -> None:
        if self.over:
            return
        self._end()
        failure = _SideFailed(side, exc)
        failure.__cause__ = exc
        self.fut.set_exception(failure)

    def _end(self) -> None:
        self.over = True
        for way in self.ways:
            way.stop()

    def stop(self) -> None:
        """Take both directions' hooks off the streams (idempotent)."""
        if not self.over:
            self._end()
        # the directions point back here: dropping them lets reference counting free it all
        self.ways = ()
        if not self.fut.done():
            self.fut.cancel()


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
    splice_after: int | None = None,
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
    * *splice_after* (bytes): when both streams are plain socket streams (or transparent
      wrappers of them, see :attr:`~pyrama_net.SocketStream.socket_stream`), the relay
      starts on the transports' own callbacks: each chunk received on one side is written
      to the other as it arrives (no task, no detach, no pipe), and once one direction has
      moved *splice_after* bytes while both are open, the sockets are detached and the
      rest moves with splice. A short connection (a request and its answer through a
      tunnel) then costs far less than setting up zero-copy for it; a bulk transfer
      switches early. ``None`` (the default) splices from the start. Without zero-copy
      (*zero_copy* false, or no ``os.splice``) two plain socket streams are always relayed
      this way.
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
    if splice_after is not None and (
        isinstance(splice_after, bool) or not isinstance(splice_after, int) or splice_after < 0
    ):
        raise ConfigError(f"splice_after must be an int >= 0 or None, got {splice_after!r}")
    zero_copy = zero_copy and SPLICE_AVAILABLE
    if not zero_copy:
        push_limit: float | None = math.inf  # relay on callbacks throughout, never splice
    elif splice_after:
        push_limit = splice_after
    else:
        push_limit = None  # splice from the start
    relay = _Relay(a, b, buffer_size, zero_copy, push_limit)
    ok = False
    cm: asyncio.Timeout | None = None
    try:
        if idle_timeout is None:
            # the relay's steps awaited here, not in a coroutine of its own: each layer would
            # be resumed on every wake-up of the task
            push = relay.push_relay(None)
            if push is None or await push.start() is _SPLICE:
                await relay.copy()
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
        if relay.push is not None:
            relay.push.stop()  # its hooks off the streams (cancelled while pushing, say)
        for s in relay.socks:
            s.close()
        owned = relay.owned
        if not ok:  # synchronously, so that a second cancellation cannot skip it
            for st in owned:
                _abort(st)
        await _close_all(owned, relay.ends)


_NO_FLOW = _Flow(None)
"""A placeholder with nothing counted (never added to)."""


class _Relay:
    """The state of one :func:`bridge` call: the streams it owns, sockets, byte counts."""

    __slots__ = (
        "a",
        "ab",
        "b",
        "ba",
        "buffer_size",
        "ends",
        "owned",
        "push",
        "push_limit",
        "socks",
        "spliced",
        "zero_copy",
    )

    def __init__(
        self, a: Stream, b: Stream, buffer_size: int, zero_copy: bool, push_limit: float | None
    ) -> None:
        self.a = a
        self.b = b
        self.buffer_size = buffer_size
        self.zero_copy = zero_copy
        self.push_limit = push_limit
        # the socket streams under a and b, when a push relay found them
        self.ends: list[SocketStream | None] | None = None
        self.owned: list[Stream] = [a, b]
        self.socks: list[socket.socket] = []
        self.ab = self.ba = _NO_FLOW  # replaced by push_relay() before anything moves
        self.spliced = False
        self.push: _PushRelay | None = None

    def stats(self) -> BridgeStats:
        return BridgeStats(a_to_b=self.ab.count, b_to_a=self.ba.count, zero_copy=self.spliced)

    async def run(self, idle: _Idle | None) -> None:
        """The whole relay: pushed from the callbacks first when it can be, then :meth:`copy`.

        The caller stops :attr:`push` (``push.stop()``) when this returns or raises.
        """
        push = self.push_relay(idle)
        if push is None or await push.start() is _SPLICE:
            await self.copy()

    def push_relay(self, idle: _Idle | None) -> _PushRelay | None:
        """Set up the byte counts and, when it applies, the push relay (kept as :attr:`push`).

        ``None`` unless both streams are plain socket streams and pushing is wanted. Await
        its ``start()``: done with ``None`` the relay is over, with :data:`_SPLICE`
        :meth:`copy` goes on.
        """
        ab = self.ab = _Flow(idle)
        ba = self.ba = _Flow(idle)
        limit = self.push_limit
        if limit is None:
            return None
        pa = _push_endpoint(self.a)
        pb = _push_endpoint(self.b) if pa is not None else None
        if pa is None or pb is None:
            return None
        self.ends = [pa, pb]
        # the loop from the stream (asyncio.get_running_loop() is a getpid system call on
        # CPython 3.11)
        push = self.push = _PushRelay(pa._proto.loop, pa, pb, ab, ba, limit)
        return push

    async def copy(self) -> None:
        """Relay what is left after :meth:`push_relay`: zero-copy, else through Python."""
        a, b, ab, ba = self.a, self.b, self.ab, self.ba
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


def _closing_now(stream: Stream, known: SocketStream | None = None) -> SocketStream | None:
    """The socket stream under *stream* when closing it is sure to finish in one loop turn.

    That is a plain socket stream (itself or under a transparent wrapper, see
    :attr:`SocketStream.socket_stream`; *known* when the caller found it already) with
    nothing left to send: its transport lets go of the socket at the next turn of the loop,
    so no deadline is needed.
    """
    ss: SocketStream
    if known is not None:  # found by _push_endpoint, which checked the same
        ss = known
    else:
        found: Any = getattr(stream, "socket_stream", None)
        if not isinstance(found, SocketStream) or getattr(type(found), "close", None) is not (
            _socket_close
        ):
            return None
        ss = found
    if ss._proto._closed.done() or ss._transport.get_write_buffer_size() == 0:
        return ss
    return None


def _wake_when_all_done(
    waiter: asyncio.Future[None], futs: list[asyncio.Future[None]], _done: object
) -> None:
    if waiter.done():
        return
    for f in futs:
        if not f.done():
            return
    waiter.set_result(None)


async def _close_all(owned: list[Stream], ends: list[SocketStream | None] | None = None) -> None:
    """Close every stream in *owned*, each within ``_CLOSE_TIMEOUT``; abort what did not close.

    Plain socket streams with nothing left to send (the usual case after a relay) are all
    closed at once and waited for together, without a deadline: their transports let go of
    the sockets at the next turn of the loop. The others close one after another (no task
    per stream), each within its deadline. Errors are dropped: the streams are thrown away.
    """
    quick: list[SocketStream | None] = []
    pending: list[asyncio.Future[None]] = []
    for i, st in enumerate(owned):
        # the relay found the socket streams under the first len(ends) streams already
        ss = _closing_now(st, ends[i] if ends is not None and i < len(ends) else None)
        quick.append(ss)
        if ss is not None:
            closed = ss._proto._closed
            if not closed.done():
                t = ss._transport
                if not t.is_closing():
                    t.close()
                pending.append(closed)
    if pending:
        waiter = pending[0].get_loop().create_future()
        on_done = partial(_wake_when_all_done, waiter, pending)
        for f in pending:
            f.add_done_callback(on_done)
        try:
            await waiter
        except BaseException:  # cancelled: nothing may stay open
            for f in pending:  # (once all were done, their callbacks are gone already)
                f.remove_done_callback(on_done)
            for st in owned:
                _abort(st)
            raise
    for i, st in enumerate(owned):
        ss = quick[i]
        if ss is not None:
            if ss is st:
                continue  # closed above
            # a transparent wrapper over a closed socket stream: its close() does not wait
            try:
                await st.close()
            except Exception:
                _abort(st)
            continue
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
