"""The HTTP/1.1 server connection driver: one Stream in, a ``Service[Request, Response]`` called.

Design notes:

* Push reads: on a plain socket stream (:class:`~pyrama_net.PushStream`) an idle connection
  installs a receiver, and each chunk is parsed in the transport's data callback. A request
  is answered right there: its exchange coroutine is stepped in the callback, with the
  connection's task entered as the current task and the connection's context as the
  context. Only when the exchange has to wait (a service awaiting I/O, a request body still
  arriving, a full write buffer) does the task take over the suspended coroutine, unchanged,
  and go on from where it stopped. So a request answered at once costs no future and no task
  wake-up, and services cannot tell the two paths apart.
* One task per connection and no task per request. The request body is pulled: when the
  service reads it, the body's iterator asks the codec for the next event and reads the stream
  only when the codec needs bytes. Responses therefore go out in request order (pipelining)
  without queues, and a response body that reads the request body (an echo) streams in both
  directions from the one task.
* Deadlines (idle keep-alive, header read) use one lazily re-armed timer per connection
  instead of a new timer per read; when it fires during a read, the task is cancelled and the
  cancellation is turned back into a deadline (the way ``asyncio.timeout`` does it).
* The driver never raises out of :meth:`Http1ServerConnection.run` except
  ``CancelledError``: protocol errors are answered (``400``/``413``/``431``/...), service
  errors become ``500`` while no response head was sent, otherwise the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import types
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import Callable, Coroutine, Generator
from typing import Any, ClassVar, Final

from pyrama_core import Service, TimerWheel, current_task_of, timer_wheel
from pyrama_core.errors import Side
from pyrama_core.telemetry import get_logger
from pyrama_http_core._codec import (
    NEED_DATA,
    BodyData,
    CodecError,
    ConnectionClosed,
    EndOfMessage,
    Http1ServerCodec,
    RequestHead,
    ServerEvent,
)
from pyrama_http_core._codec_server import ServerReader
from pyrama_http_core._codec_write import http_date
from pyrama_http_core._config import ContinueMode, Http1Config
from pyrama_http_core._h1_upgrade import KeptStream, OnUpgrade, Upgraded, run_taker_in_task
from pyrama_http_core._targets import KNOWN_METHODS, KNOWN_URIS, request_method, request_uri
from pyrama_http_core.errors import (
    BodyLimitError,
    ConnectionClosedError,
    HttpProtocolError,
    UpgradeError,
)
from pyrama_http_types import Body, HeaderMap, Request, Response, Version, memory_body
from pyrama_http_types.errors import BodyTooLargeError, HttpError
from pyrama_net import SocketStream, Stream, rewind

__all__ = ["Http1ServerConnection", "serve_http1"]

_log = get_logger(__name__)

_READ_SIZE: Final = 65536
_SMALL_WRITE: Final = 16384
_DEFAULT_CONFIG = Http1Config()
_EMPTY_HEADERS: Final[list[tuple[bytes, bytes]]] = []
_new_request = object.__new__
_header_map = HeaderMap.from_raw  # bound once: a classmethod is bound again at every look-up
# module globals: an enum member look-up (Version.HTTP_11) costs ~1k instructions per use
_HTTP_10: Final = Version.HTTP_10
_HTTP_11: Final = Version.HTTP_11

# What the receiver hands the task when push mode ends (the first item of a _Handoff):
_H_EVENT: Final = 0  # (_, event, _): an event the task handles (an error, the end, a request)
_H_PARTIAL: Final = 1  # a head started arriving: the task reads the rest under its deadline
_H_PENDING: Final = 2  # (_, exchange, yielded): an exchange waits; the task goes on with it
_H_THROW: Final = 3  # (_, exchange, exc): as _H_PENDING, with exc thrown into it first
_H_DONE: Final = 4  # (_, keep, _): an exchange ended in the callback but left push mode
_H_FAILED: Final = 5  # (_, exc, _): the callback failed (a bug): the task raises it
_Handoff = tuple[int, Any, Any]
_PARTIAL: Final[_Handoff] = (_H_PARTIAL, None, None)
# after an exchange had to wait, this many requests are read from the task before push reads
# are tried again (callgrind, in-process, a service awaiting sleep(0): a request handed over
# costs ~107k instructions, one read by the task ~97k)
_TASK_READS_AFTER_WAIT: Final = 16
_END: Final[_Handoff] = (_H_DONE, False, None)


class _Finished:
    """What a connection's exchange pump yields when an exchange ended (never a future)."""

    __slots__ = ("keep",)

    def __init__(self, keep: bool) -> None:
        self.keep = keep


_KEEP: Final = _Finished(True)  # the exchange ended and the connection may carry another
_STOP: Final = _Finished(False)  # the exchange ended and the connection must end


@types.coroutine
def _pump(conn: Http1ServerConnection) -> Generator[Any, Any, None]:
    """A connection's exchange pump for push mode: send it ``(head, close)``, one per request.

    It runs the exchange and yields :data:`_KEEP` or :data:`_STOP` when the exchange is over,
    waiting for the next request: so a request answered at once ends in a yield, not in the
    ``StopIteration`` a coroutine's ``send`` raises when it returns (a third of the cost of
    stepping a coroutine). Whatever else it yields is the exchange waiting (a future): whoever
    drives it on recognises the end by the two sentinels (see :func:`_resume_in`).
    """
    head, close = yield None
    while True:
        keep = yield from conn._exchange(head, close)
        head, close = yield (_KEEP if keep else _STOP)


@types.coroutine
def _resume_in(
    ctx: contextvars.Context,
    exchange: Coroutine[Any, Any, bool] | Generator[Any, Any, None],
    yielded: Any,
    exc: BaseException | None = None,
) -> Generator[Any, Any, bool]:
    """Go on with a suspended *exchange* from the awaiting task, each step in *ctx*.

    *yielded* is what its last step yielded (the future it waits on): it is passed up to the
    task, and whatever the task sends or throws back is passed down. With *exc*, that is
    thrown in first. *exchange* is an exchange coroutine (it ends by returning) or the
    connection's :func:`_pump` (it ends the exchange by yielding a :class:`_Finished`, and
    stays suspended for the next one).
    """
    while True:
        if exc is None:
            try:
                value = yield yielded
            except GeneratorExit:
                exchange.close()
                raise
            except BaseException as caught:  # cancellation and the like: the exchange's to handle
                exc = caught
                continue
            try:
                yielded = ctx.run(exchange.send, value)
            except StopIteration as stop:
                return bool(stop.value)
        else:
            pending, exc = exc, None
            try:
                yielded = ctx.run(exchange.throw, pending)
            except StopIteration as stop:
                return bool(stop.value)
        if type(yielded) is _Finished:
            return yielded.keep


class _Interrupted(Exception):
    """A read was cut short by a deadline or by graceful shutdown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _RequestBody:
    """The async iterator behind a request's :class:`~pyrama_http_types.Body`: pulls events."""

    __slots__ = (
        "conn",
        "continue_pending",
        "done",
        "error",
        "limit",
        "received",
        "released",
        "trailers",
    )

    def __init__(self, conn: Http1ServerConnection, continue_pending: bool, limit: int | None):
        self.conn = conn
        self.continue_pending = continue_pending
        self.limit = limit
        self.received = 0
        self.done = False
        self.released = False  # the exchange is over: the service may not read any more
        self.error: BaseException | None = None
        self.trailers: HeaderMap | None = None

    def get_trailers(self) -> HeaderMap | None:
        return self.trailers

    def __aiter__(self) -> _RequestBody:
        return self

    async def __anext__(self) -> bytes:
        if self.released and not self.done:
            # a task of the service still reading after the response went out must not race
            # the driver for the connection
            raise ConnectionClosedError("the request body is gone: its response was sent")
        return await self.pull()

    async def pull(self) -> bytes:
        """The next body chunk (used by the service through the Body, and by the driver)."""
        if self.done:
            raise StopAsyncIteration
        if self.error is not None:
            raise self.error
        conn = self.conn
        if self.continue_pending:
            self.continue_pending = False
            conn._send_continue()
        codec = conn.codec
        while True:
            ev = codec.next_event()
            t = type(ev)
            if t is BodyData:
                data: bytes = ev.data  # type: ignore[union-attr]
                n = self.received + len(data)
                self.received = n
                limit = self.limit
                if limit is not None and n > limit:
                    err = BodyLimitError(
                        f"request body is larger than the limit of {limit} bytes", limit=limit
                    )
                    self.error = err
                    raise err
                return data
            if t is EndOfMessage:
                self.done = True
                trailers = ev.trailers  # type: ignore[union-attr]
                if trailers:
                    self.trailers = HeaderMap.from_raw(trailers)
                raise StopAsyncIteration
            if ev is NEED_DATA:
                conn._stop_push()  # the bytes must come to this read, not to the receiver
                try:
                    data = await conn.stream.read(_READ_SIZE)
                except OSError as exc:
                    data = b""
                    codec.receive(data)
                    err2 = ConnectionClosedError(f"client connection failed mid-body: {exc}")
                    err2.__cause__ = exc
                    self.error = err2
                    raise err2 from exc
                codec.receive(data)
                continue
            if t is CodecError:
                err3: HttpProtocolError = ev.error  # type: ignore[union-attr]
                self.error = err3
                raise err3
            if t is ConnectionClosed:
                err4 = ConnectionClosedError("client closed the connection mid-body")
                self.error = err4
                raise err4
            err5 = HttpProtocolError(f"unexpected codec event {ev!r} in a request body")
            self.error = err5
            raise err5

    async def aclose(self) -> None:
        """The service dropped the body: the driver settles it after the response."""


class Http1ServerConnection:
    """Serves HTTP/1.1 on one :class:`~pyrama_net.Stream` until it ends.

    ``await Http1ServerConnection(stream, service, config).run()`` reads requests (keep-alive,
    pipelined), calls ``service.serve(request)`` for each and writes the responses in order.
    Each request's extensions are a fork of the stream's extensions (peer address and other
    connection facts fall through). See :class:`~pyrama_http_core.Http1Config` for limits and
    timeouts. The stream is closed when ``run`` returns, unless the connection switched
    protocols (``Upgrade``/``CONNECT``): the stream then belongs to the
    :class:`~pyrama_http_core.OnUpgrade` awaiter.

    :meth:`graceful_shutdown` stops the connection politely: an idle connection closes at
    once, a busy one after the response in flight (sent with ``Connection: close``).
    """

    RUNS_TAKERS: ClassVar[bool] = False
    """Whether this driver's server runs the takers services hand over (see :meth:`released`)."""

    __slots__ = (
        "_closing",
        "_codec_buf",
        "_config",
        "_continue_sent",
        "_ctx",
        "_date",
        "_deadline",
        "_end_implied",
        "_expired",
        "_idle",
        "_interrupt",
        "_interruptible",
        "_loop",
        "_pump",
        "_pushing",
        "_queued",
        "_released",
        "_requests",
        "_send_whole",
        "_server",
        "_service",
        "_stream_ext",
        "_taker",
        "_task",
        "_task_reads",
        "_upgraded",
        "_waiter",
        "_wheel",
        "_wheel_key",
        "_write",
        "codec",
        "stream",
    )

    def __init__(
        self,
        stream: Stream,
        service: Service[Request, Response],
        config: Http1Config | None = None,
    ) -> None:
        cfg = _DEFAULT_CONFIG if config is None else config
        self.stream = stream
        """The connection's stream."""
        self._service = service
        self._config = cfg
        # looked up once per connection, not per request
        self._stream_ext = stream.extensions
        write = stream.write
        queued: Callable[[], int] | None = None
        if type(stream).write is SocketStream.write:  # plain socket: no delegating call
            transport = stream.transport  # type: ignore[attr-defined]
            write = transport.write
            queued = transport.get_write_buffer_size
        self._write: Callable[[bytes], object] = write
        # bytes the transport holds (nothing: no need to ask the stream whether to drain)
        self._queued = queued
        self.codec: Http1ServerCodec = cfg.codec_factory(cfg)
        """The codec parsing requests and framing responses."""
        # the built-in codecs frame a whole in-memory response in one call (optional for others);
        # the class's function, shared by every connection (a bound method would be one each)
        whole = getattr(type(self.codec), "send_whole", None)
        self._send_whole: Callable[..., bytes] | None = (
            whole if isinstance(whole, types.FunctionType) else None
        )
        # the built-in codecs' receive buffer (never replaced while the codec parses HTTP/1.1):
        # push mode checks it for a partial head without calling buffered()
        self._codec_buf: bytearray | None = (
            self.codec._buf if isinstance(self.codec, ServerReader) else None
        )
        # the codec needs no EndOfMessage asked for after a head without a body
        self._end_implied = getattr(type(self.codec), "EMPTY_END_IMPLIED", False) is True
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[object] | None = None
        self._wheel: TimerWheel | None = None
        self._wheel_key: tuple[float, int] | None = None  # the timer wheel bucket it is in
        self._deadline: float | None = None
        self._expired = False
        self._interrupt: str | None = None
        self._interruptible = False
        self._idle = False
        self._closing = False
        self._upgraded = False
        self._released: asyncio.Future[None] | None = None
        # the coroutine a service handed over with a switch: run by released()
        self._taker: Coroutine[Any, Any, Any] | None = None
        self._continue_sent = False
        self._ctx: contextvars.Context | None = None  # push mode's context for exchanges
        self._pushing = False  # the stream pushes its bytes to _receive
        self._pump: Generator[Any, Any, None] | None = None  # push mode's exchange pump
        self._task_reads = 0  # idle waits left to read from the task (see _TASK_READS_AFTER_WAIT)
        self._waiter: asyncio.Future[_Handoff] | None = None  # the task's, while pushing
        self._requests = 0
        self._date = cfg.date_header
        server = cfg.server_header
        self._server = None if server is None else server.encode("latin-1")

    # -- public ------------------------------------------------------------------------------

    @property
    def requests_served(self) -> int:
        """How many requests this connection has answered (or is answering)."""
        return self._requests

    async def released(self) -> None:
        """After a protocol switch, wait until whoever took the stream is done with it.

        That is: it closed, aborted or detached the socket of the stream it got in the
        :class:`~pyrama_http_core.Upgraded`. Returns at once when the connection did not
        switch. A server that closes connections when their driver returns awaits this
        first, so the tunnel or WebSocket is not cut under its taker.

        A driver class with ``RUNS_TAKERS`` true (its server awaits this right after
        :meth:`run`, with nothing in between that can suspend) lets services hand over the
        coroutine that takes the switched stream (see
        :meth:`~pyrama_http_core.OnUpgrade.hand_over`): it is awaited here, in the
        connection's own task, instead of a task of its own.
        """
        taker = self._taker
        if taker is not None:  # a relay handed over with the switch: it runs in this task
            self._taker = None
            try:
                await taker
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # as a failed task's would be: logged, not raised
                _log.error("the switched connection's taker failed", error=repr(exc))
        released = self._released
        if released is not None:
            await released

    def graceful_shutdown(self) -> None:
        """Close when idle: now if no request is in progress, else after the current response."""
        self._closing = True
        if self._idle:
            self._cut_read("shutdown")

    async def run(self) -> None:
        """Serve requests until the client leaves, an error ends the connection, or shutdown."""
        stream = self.stream
        # a socket stream knows its loop: asyncio.get_running_loop() is a getpid system call
        # on CPython 3.11 (one per connection)
        loop = stream.loop if isinstance(stream, SocketStream) else asyncio.get_running_loop()
        self._loop = loop
        self._wheel = timer_wheel(loop)
        task = self._task = current_task_of(loop)
        try:
            # The loop of the connection. While a keep-alive connection idles, this coroutine
            # waits on the stream itself, with no helper coroutine alive under it: each one would
            # cost every idle connection a frame.
            codec = self.codec
            cfg = self._config
            limits = cfg.limits
            max_requests = limits.max_requests_per_connection
            ctx: contextvars.Context | None = None
            if (
                cfg.push_reads
                and task is not None
                and hasattr(stream, "set_receiver")
                and hasattr(codec, "buffered")
                and hasattr(codec, "receive_next")
            ):
                ctx = self._ctx = contextvars.copy_context()
            while True:
                ev = codec.next_event()
                if ev is NEED_DATA:
                    if self._closing:
                        return
                    first = self._requests == 0
                    self._set_deadline(
                        limits.header_read_timeout if first else limits.keep_alive_timeout
                    )
                    if self._expired:
                        return
                    if self._task_reads:  # reading from the task for a while (no stream calls)
                        self._task_reads -= 1
                        push = False
                    else:
                        push = (
                            ctx is not None
                            and not stream.buffered()  # type: ignore[attr-defined]
                            and not stream.at_eof()  # type: ignore[attr-defined]
                        )
                    if push:
                        assert ctx is not None
                        # inline, not in a helper coroutine: an idle connection keeps no
                        # extra frame
                        waiter = self._start_push(loop)
                        try:
                            handed = await waiter
                        except asyncio.CancelledError as exc:
                            handed2 = self._push_cancelled(waiter, exc)
                            if handed2 is None:
                                return
                            handed = handed2
                        finally:
                            self._end_push()
                        kind = handed[0]
                        if kind == _H_PENDING:
                            # the service waits (a proxy, a database): handing each request
                            # over costs more than reading in the task, so do that for a while
                            self._task_reads = _TASK_READS_AFTER_WAIT
                        if kind <= _H_PARTIAL:
                            if kind == _H_EVENT:
                                ev = handed[1]
                            else:
                                ev2 = await self._rest_of_head(self._requests == 0)
                                if ev2 is None:
                                    return
                                ev = ev2
                        else:
                            if kind == _H_PENDING:
                                keep = await _resume_in(ctx, handed[1], handed[2])
                            elif kind == _H_THROW:
                                keep = await _resume_in(ctx, handed[1], None, handed[2])
                            elif kind == _H_DONE:
                                keep = handed[1]
                            else:
                                raise handed[1]
                            if not keep or self._closing or not codec.keep_alive:
                                return
                            continue
                    else:
                        self._idle = True
                        self._interruptible = True
                        try:
                            data = await stream.read(_READ_SIZE)
                        except (asyncio.CancelledError, OSError) as exc:
                            try:
                                data = self._read_failed(exc)
                            except _Interrupted:
                                return
                        finally:
                            self._interruptible = False
                            self._idle = False
                        codec.receive(data)
                        ev = codec.next_event()
                        if ev is NEED_DATA:
                            ev2 = await self._rest_of_head(first)
                            if ev2 is None:
                                return
                            ev = ev2
                        else:
                            self._deadline = None
                t = type(ev)
                if t is RequestHead:
                    self._requests += 1
                    close = self._closing or (
                        max_requests is not None and self._requests >= max_requests
                    )
                    if ctx is None:
                        keep = await self._exchange(ev, close)  # type: ignore[arg-type]
                    else:  # through the pump, as in push mode (see _pump)
                        pump = self._pump or self._new_pump()
                        yielded = ctx.run(pump.send, (ev, close))
                        if type(yielded) is _Finished:
                            keep = yielded.keep
                        else:
                            keep = await _resume_in(ctx, pump, yielded)
                    if not keep:
                        return
                    if self._closing or not codec.keep_alive:
                        return
                    continue
                if t is CodecError:
                    err: HttpProtocolError = ev.error  # type: ignore[union-attr]
                    await self._send_error(err.hint or 400)
                    return
                # ConnectionClosed, or PAUSED on a connection that cannot continue
                return
        except asyncio.CancelledError:
            taker = self._taker
            if taker is not None:  # switched, then cancelled before released() ran it
                self._taker = None
                assert self._loop is not None
                run_taker_in_task(taker, self._loop)
            raise
        except Exception as exc:  # a bug or an unexpected stream failure: never escape
            _log.debug("http/1.1 connection ended by error", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._stop_push()
            left = self._pump
            if left is not None:  # it refers to this connection: end the cycle now, not in a GC
                self._pump = None
                left.close()
            wheel = self._wheel
            if wheel is not None:
                wheel.cancel(self)
            if not self._upgraded:
                with contextlib.suppress(Exception):
                    await self.stream.close()

    # -- push mode -----------------------------------------------------------------------------

    def _start_push(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[_Handoff]:
        """Idle with the stream pushing to :meth:`_receive`: the future it hands over through."""
        waiter: asyncio.Future[_Handoff] = loop.create_future()
        self._waiter = waiter
        self._pushing = True
        self.stream.set_receiver(self._receive)  # type: ignore[attr-defined]
        self._idle = True
        self._interruptible = True
        return waiter

    def _end_push(self) -> None:
        self._waiter = None
        self._idle = False
        self._interruptible = False
        self._stop_push()

    def _push_cancelled(
        self, waiter: asyncio.Future[_Handoff], exc: asyncio.CancelledError
    ) -> _Handoff | None:
        """The task was cancelled while pushing: what to do (``None``: end quietly) or raise."""
        if waiter.done() and not waiter.cancelled():
            # handed over, then cancelled before the task ran: a waiting exchange gets the
            # cancellation (as it would have, had it run in the task all along)
            handed = waiter.result()
            if handed[0] == _H_PENDING:
                return (_H_THROW, handed[1], exc)
        try:
            self._read_failed(exc)
        except _Interrupted:
            return None
        raise exc  # pragma: no cover - _read_failed raises for a cancellation

    def _new_pump(self) -> Generator[Any, Any, None]:
        """Start this connection's exchange pump (on its first request)."""
        pump = self._pump = _pump(self)
        pump.send(None)
        return pump

    def _stop_push(self) -> None:
        """Have the stream buffer its bytes again (for reads from the task)."""
        if self._pushing:
            self._pushing = False
            self.stream.set_receiver(None)  # type: ignore[attr-defined]

    def _receive(self, data: bytes) -> None:
        """The stream's receiver in push mode: parse *data* and answer what can be answered.

        Complete requests are answered here, one after the other; when one has to wait, or
        something else needs the task (an error, the end, a partial head), that is handed to
        the task through the waiter. (One function: this runs once per request.)
        """
        codec = self.codec
        waiter = self._waiter
        pushing = self._pushing  # (a local: an exchange below may change the attribute)
        if waiter is None or waiter.done() or not pushing:  # pragma: no cover - defensive
            codec.receive(data)
            return  # the task took over already; it finds the bytes in the codec
        ev = codec.receive_next(data)  # type: ignore[attr-defined]
        self._idle = False
        self._interruptible = False
        handed: _Handoff
        try:
            limits = self._config.limits
            loop = self._loop
            task = self._task
            ctx = self._ctx
            assert loop is not None
            assert task is not None
            assert ctx is not None
            while True:
                if ev is NEED_DATA:
                    pending = self._codec_buf  # the built-in codecs' buffer: no call
                    if codec.buffered() if pending is None else pending:  # type: ignore[attr-defined]
                        handed = _PARTIAL
                        break
                    # _set_deadline(keep_alive_timeout), inline
                    self._expired = False
                    idle = limits.keep_alive_timeout
                    if idle is None:
                        self._deadline = None
                    else:
                        when = self._deadline = loop.time() + idle
                        key = self._wheel_key
                        # TimerWheel.schedule's first check, inline: when the bucket this
                        # connection is in fires first, _on_timer re-checks then (no call)
                        if key is None or key[0] * key[1] > when:
                            self._wheel.schedule(self, when)  # type: ignore[union-attr]
                    self._idle = True
                    self._interruptible = True
                    return
                if type(ev) is not RequestHead or current_task_of(loop) is not None:
                    handed = (_H_EVENT, ev, None)
                    break
                n = self._requests = self._requests + 1
                max_requests = limits.max_requests_per_connection
                close = self._closing or (max_requests is not None and n >= max_requests)
                pump = self._pump or self._new_pump()
                _enter_task(loop, task)
                try:
                    yielded = ctx.run(pump.send, (ev, close))
                finally:
                    _leave_task(loop, task)
                if type(yielded) is not _Finished:
                    handed = (_H_PENDING, pump, yielded)
                    break
                keep = yielded.keep
                if not self._pushing:  # the exchange left push mode (a switch, a body read)
                    handed = (_H_DONE, keep, None)
                    break
                if not keep or self._closing:
                    handed = _END
                    break
                # (no keep_alive check: a codec that cannot go on returns PAUSED here, handed
                # to the task, which ends the connection; an exchange that kept the
                # connection left no codec error behind, see _exchange and _discard)
                ev = codec.next_event()
        except BaseException as exc:  # a bug: never into the transport's callback
            self._pump = None  # if it raised, it has ended
            handed = (_H_FAILED, exc, None)
        self._stop_push()
        waiter.set_result(handed)

    # -- deadlines ---------------------------------------------------------------------------

    def _set_deadline(self, seconds: float | None) -> None:
        self._expired = False
        if seconds is None:
            self._deadline = None
            return
        loop = self._loop
        wheel = self._wheel
        assert loop is not None
        assert wheel is not None
        when = loop.time() + seconds
        self._deadline = when
        wheel.schedule(self, when)

    def _on_timer(self) -> None:
        """The timer wheel's call: cut the read if the deadline passed, else wait for it."""
        when = self._deadline
        if when is None:
            return
        loop = self._loop
        wheel = self._wheel
        assert loop is not None
        assert wheel is not None
        if loop.time() < when:
            wheel.schedule(self, when)
            return
        self._expired = True
        self._cut_read("timeout")

    def _cut_read(self, reason: str) -> None:
        task = self._task
        if self._interruptible and self._interrupt is None and task is not None:
            self._interrupt = reason
            self._stop_push()  # bytes arriving before the task runs wait in the stream
            task.cancel()

    async def _read(self) -> bytes:
        """Read with the current deadline; ``_Interrupted`` on deadline or shutdown."""
        if self._expired:
            raise _Interrupted("timeout")
        self._interruptible = True
        try:
            return await self.stream.read(_READ_SIZE)
        except (asyncio.CancelledError, OSError) as exc:
            return self._read_failed(exc)
        finally:
            self._interruptible = False

    def _read_failed(self, exc: BaseException) -> bytes:
        """What a failed read means: ``b""`` (peer gone), ``_Interrupted`` or the error again."""
        if isinstance(exc, OSError):
            return b""
        reason = self._interrupt
        if reason is not None:
            self._interrupt = None
            task = self._task
            if task is not None and task.uncancel() == 0:
                raise _Interrupted(reason) from None
        raise exc

    # -- the connection loop -------------------------------------------------------------------

    async def _rest_of_head(self, first: bool) -> ServerEvent | None:
        """Read the rest of a head that started arriving; ``None`` to end quietly."""
        codec = self.codec
        if not first:  # the head started: from now on the header read timeout applies
            self._set_deadline(self._config.limits.header_read_timeout)
        while True:
            try:
                data = await self._read()
            except _Interrupted as exc:
                if exc.reason == "timeout" and self._config.send_408_on_header_timeout:
                    await self._send_error(408)
                return None
            codec.receive(data)
            ev = codec.next_event()
            if ev is not NEED_DATA:
                self._deadline = None
                return ev

    # -- one exchange ----------------------------------------------------------------------------

    def _send_continue(self) -> None:
        """Write ``100 Continue`` once (when the service starts reading the body, or at once)."""
        if not self._continue_sent and not self.codec.response_started:
            self._continue_sent = True
            self.stream.write(self.codec.send_informational(100, _EMPTY_HEADERS))

    async def _exchange(self, head: RequestHead, close: bool) -> bool:
        """Serve one request; return whether the connection may carry another."""
        codec = self.codec
        stream = self.stream
        cfg = self._config
        self._continue_sent = False
        try:
            # the caches' look-ups inline: the calls only for a target or method not seen yet
            uri = KNOWN_URIS.get(head.target) or request_uri(head.target)
            method = KNOWN_METHODS.get(head.method) or request_method(head.method)
        except HttpError:
            await self._send_error(400)
            return False
        ext = self._stream_ext.fork()
        reader: _RequestBody | None = None
        if head.chunked or head.content_length:  # head.has_body, without the property call
            max_body = cfg.limits.max_body_size
            cl = head.content_length
            if max_body is not None and cl is not None and cl > max_body:
                await self._send_error(413)
                return False
            expect = head.expect_continue
            if expect and cfg.continue_mode is ContinueMode.IMMEDIATE:
                self._send_continue()
                expect = False
            reader = _RequestBody(self, expect, max_body)
            body = Body.from_iter(reader, size_hint=cl, trailers=reader.get_trailers)
        else:
            if not self._end_implied:
                ev = codec.next_event()  # the (empty) body's end
                if type(ev) is not EndOfMessage:
                    await self._send_error(400)
                    return False
            body = memory_body(b"")  # Body.empty() without the classmethod call
        on_upgrade: OnUpgrade | None = None
        if head.upgrade is not None or head.method == b"CONNECT":
            on_upgrade = OnUpgrade(runs_takers=self.RUNS_TAKERS, loop=self._loop)
            ext.insert(on_upgrade)
        # every part is ready-made: fill the slots instead of the coercing constructor
        request = _new_request(Request)
        request.method = method
        request.uri = uri
        request.version = _HTTP_11 if head.version == b"1.1" else _HTTP_10
        request.headers = _header_map(head.headers)
        request.body = body
        request.extensions = ext
        try:
            response = await self._service.serve(request)
        except asyncio.CancelledError:
            if on_upgrade is not None:
                on_upgrade.fail("the connection was cancelled")
            raise
        except Exception as exc:
            if on_upgrade is not None:
                on_upgrade.fail("the service failed")
            return await self._service_failed(exc, reader)
        returned: object = response
        if type(returned) is not Response and not isinstance(returned, Response):
            if on_upgrade is not None:
                on_upgrade.fail("the service returned no Response")
            _log.error("http/1.1 service returned a non-Response", value=repr(response))
            return await self._answer_error(500, reader)
        status = int(response.status)
        if on_upgrade is not None and (
            (status == 101 and head.upgrade is not None)
            or (head.method == b"CONNECT" and 200 <= status < 300)
        ):
            return await self._switch(response, on_upgrade, reader, head)
        if self._closing:  # graceful shutdown began while the service ran
            close = True
        if reader is not None and not reader.done:
            left = head.content_length
            if (
                reader.error is not None
                or reader.continue_pending
                or (left is not None and left - reader.received > cfg.max_discard_size)
            ):
                close = True
        try:
            rbody = response.body
            data = rbody.try_take_bytes(True)  # in memory, no trailers
            if data is None:  # a stream, or in memory with trailers
                data = rbody.try_take_bytes()
                if data is None:
                    await self._respond(response, close)
                else:
                    self._write_whole(status, response.headers.raw_items(), data, rbody, close)
                    await stream.drain()
            else:  # in memory, no trailers: the whole response in one write, no coroutine
                whole = self._send_whole
                if whole is not None and len(data) <= _SMALL_WRITE:  # small: one codec call
                    self._write(
                        whole(
                            codec,
                            status,
                            response.headers.raw_items(),
                            data,
                            close,  # positional: cheaper than keywords, once per response
                            http_date() if self._date else None,
                            self._server,
                        )
                    )
                else:
                    self._write_whole(status, response.headers.raw_items(), data, rbody, close)
                queued = self._queued
                if self._ctx is None or (
                    (queued is None or queued()) and stream.write_paused()  # type: ignore[attr-defined]
                ):
                    await stream.drain()
        except HttpProtocolError as exc:
            if on_upgrade is not None:
                on_upgrade.fail("the response could not be sent")
            if exc.side is Side.LOCAL and not codec.response_started:
                _log.error("http/1.1 service returned an invalid response", error=str(exc))
                return await self._answer_error(500, reader)
            return False
        except OSError:
            return False
        except Exception as exc:  # the response body failed mid-stream: cut the connection
            _log.warning(
                "http/1.1 response body failed; closing", error=f"{type(exc).__name__}: {exc}"
            )
            if on_upgrade is not None:
                on_upgrade.fail("the response body failed")
            return False
        if on_upgrade is not None:
            on_upgrade.fail("the request was answered without switching protocols")
        if reader is not None:
            reader.released = True
        if close:
            return False
        if reader is not None and not reader.done:
            return await self._discard(reader)
        return True

    def _write_whole(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        data: bytes,
        body: Body,
        close: bool,
    ) -> None:
        """Frame and write a response whose body is in memory and large, or has trailers.

        Or for a codec without ``send_whole``: the small plain ones go in one codec call,
        inline in the exchange.
        """
        codec = self.codec
        stream = self.stream
        trailers = body.trailers
        out = codec.send_response(
            status,
            headers,
            content_length=None if trailers else len(data),
            close=close,
            date=http_date() if self._date else None,
            server=self._server,
        )
        if data and codec.response_has_body:
            framed = codec.send_data(data)
            if len(framed) + len(out) <= _SMALL_WRITE:
                out += framed
            else:
                stream.write(out)
                out = framed
        end = codec.send_end(trailers.raw_items() if trailers else _EMPTY_HEADERS)
        stream.write(out + end if end else out)

    async def _respond(self, response: Response, close: bool) -> None:
        """Send a response whose body streams (in-memory ones go through _write_whole)."""
        codec = self.codec
        stream = self.stream
        status = int(response.status)
        headers = response.headers.raw_items()
        body = response.body
        out = codec.send_response(
            status,
            headers,
            content_length=body.size_hint,
            close=close,
            date=http_date() if self._date else None,
            server=self._server,
        )
        stream.write(out)
        if codec.response_has_body:
            drain = stream.drain
            send_data = codec.send_data
            write = stream.write
            try:
                async for chunk in body:
                    write(send_data(chunk))
                    await drain()
            except BaseException:
                # the client left (or the body failed): close the body now, so a streaming
                # source (an SSE or ASGI generator, an upstream response) ends at once
                # rather than whenever the cyclic GC gets to it
                with contextlib.suppress(Exception):
                    await body.aclose()
                raise
            trailers = body.trailers
            end = codec.send_end(trailers.raw_items() if trailers else _EMPTY_HEADERS)
        else:
            await body.aclose()
            end = codec.send_end(_EMPTY_HEADERS)
        if end:
            stream.write(end)
        await stream.drain()

    async def _switch(
        self,
        response: Response,
        on_upgrade: OnUpgrade,
        reader: _RequestBody | None,
        head: RequestHead,
    ) -> bool:
        """Send the switching response and hand the raw stream to the upgrade awaiter."""
        codec = self.codec
        stream = self.stream
        if reader is not None and not reader.done and not await self._discard(reader):
            on_upgrade.fail("the switching request's body could not be read to its end")
            await response.body.aclose()
            return False
        try:
            headers = response.headers.raw_items()
            if int(response.status) == 101:
                out = codec.send_informational(101, headers)
            else:
                out = codec.send_response(int(response.status), headers)
                out += codec.send_end(_EMPTY_HEADERS)
            await response.body.aclose()
            stream.write(out)
            await stream.drain()
            leftover = codec.take_switched()
        except HttpProtocolError as exc:
            on_upgrade.fail(exc)
            if not codec.response_started:
                return await self._answer_error(500, reader)
            return False
        except OSError as exc:
            err = UpgradeError(f"the switching response could not be sent: {exc}")
            err.__cause__ = exc
            on_upgrade.fail(err)
            return False
        self._upgraded = True
        self._stop_push()  # the taker reads the stream
        loop = self._loop
        assert loop is not None
        released: asyncio.Future[None] = loop.create_future()
        self._released = released
        upgraded = KeptStream(rewind(stream, leftover) if leftover else stream, released)
        on_upgrade.resolve(Upgraded(upgraded, None if head.method == b"CONNECT" else head.upgrade))
        self._taker = on_upgrade.take_taker()
        return False

    # -- failures ------------------------------------------------------------------------------

    async def _service_failed(self, exc: Exception, reader: _RequestBody | None) -> bool:
        if reader is not None and reader.error is not None and exc is reader.error:
            if isinstance(exc, ConnectionClosedError):
                return False
            hint = exc.hint if isinstance(exc, HttpProtocolError) else None
            await self._send_error(hint or 400)
            return False
        if isinstance(exc, BodyTooLargeError):
            await self._send_error(413)
            return False
        _log.error(
            "http/1.1 service failed; answering 500",
            error=f"{type(exc).__name__}: {exc}",
            exc_info=exc,
        )
        return await self._answer_error(500, reader)

    async def _answer_error(self, status: int, reader: _RequestBody | None) -> bool:
        """Answer *status* and keep the connection if the request body can be settled."""
        codec = self.codec
        if codec.response_started:
            return False
        keep = reader is None or reader.done
        if not keep and reader is not None and reader.error is None and not reader.continue_pending:
            keep = await self._discard(reader)
        try:
            out = codec.send_response(
                status,
                [(b"content-length", b"0")],
                close=not keep or self._closing,
                date=http_date() if self._date else None,
                server=self._server,
            )
            out += codec.send_end(_EMPTY_HEADERS)
            self.stream.write(out)
            await self.stream.drain()
        except (OSError, HttpProtocolError):
            return False
        return keep and codec.keep_alive

    async def _send_error(self, status: int) -> None:
        """Answer *status* with ``Connection: close`` (if no response head went out yet)."""
        codec = self.codec
        if codec.response_started:
            return
        try:
            out = codec.send_response(
                status,
                [(b"content-length", b"0")],
                close=True,
                date=http_date() if self._date else None,
                server=self._server,
            )
            out += codec.send_end(_EMPTY_HEADERS)
            self.stream.write(out)
            await self.stream.drain()
        except (OSError, HttpProtocolError):
            return

    async def _discard(self, reader: _RequestBody) -> bool:
        """Read and drop the rest of the request body, up to ``max_discard_size`` bytes."""
        budget = self._config.max_discard_size
        reader.released = True
        if reader.error is not None or reader.continue_pending:
            return False
        reader.limit = None
        start = reader.received
        try:
            while True:
                await reader.pull()
                if reader.received - start > budget:
                    return False
        except StopAsyncIteration:
            return True
        except (HttpProtocolError, ConnectionClosedError):
            return False


async def serve_http1(
    stream: Stream,
    service: Service[Request, Response],
    config: Http1Config | None = None,
) -> None:
    """Serve HTTP/1.1 on *stream* with *service* until the connection ends.

    Shorthand for ``await Http1ServerConnection(stream, service, config).run()``; see
    :class:`Http1ServerConnection`. Never raises except ``CancelledError``; closes *stream*
    unless the connection switched protocols.
    """
    await Http1ServerConnection(stream, service, config).run()
