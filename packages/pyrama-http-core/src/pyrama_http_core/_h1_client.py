"""The HTTP/1.1 client connection driver: send a Request on a Stream, get a streamed Response."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Final

from pyrama_core.telemetry import get_logger
from pyrama_http_core._codec import (
    NEED_DATA,
    PAUSED,
    BodyData,
    ClientEvent,
    CodecError,
    ConnectionClosed,
    EndOfMessage,
    Http1ClientCodec,
    InformationalHead,
    ResponseHead,
)
from pyrama_http_core._config import Http1ClientConfig
from pyrama_http_core._h1_upgrade import Upgraded
from pyrama_http_core.errors import (
    ConnectionClosedError,
    ConnectionNotReadyError,
    HttpProtocolError,
    HttpTimeoutError,
)
from pyrama_http_types import (
    Body,
    HeaderMap,
    Method,
    Request,
    Response,
    StatusCode,
    Version,
    memory_body,
)
from pyrama_net import Stream, rewind

__all__ = ["Http1ClientConnection"]

_log = get_logger(__name__)

_READ_SIZE: Final = 65536
_SMALL_WRITE: Final = 16384
_DEFAULT_CONFIG = Http1ClientConfig()
_EMPTY: Final[list[tuple[bytes, bytes]]] = []
_NO_BODY_YET: Final = Body.empty()  # a marker: never handed out
_STATUS_CODES: dict[int, StatusCode] = {}  # by the codec's int: no StatusCode() per response
_METHOD_BYTES: dict[Method, bytes] = {}  # wire forms of Method objects (exact type only)
_METHOD_BYTES_MAX: Final = 64
_new = object.__new__
# module globals: an enum member look-up (Version.HTTP_11) costs ~1k instructions per use
_HTTP_10: Final = Version.HTTP_10
_HTTP_11: Final = Version.HTTP_11


class _ResponseBody:
    """The async iterator behind a response's :class:`~pyrama_http_types.Body`.

    *pending* holds events the driver already took from the codec (the start of a body
    that had arrived with its head); they are handed out before the codec is asked again.
    """

    __slots__ = ("conn", "done", "pending", "trailers")

    def __init__(self, conn: Http1ClientConnection, pending: list[ClientEvent]) -> None:
        self.conn = conn
        self.done = False
        self.pending = pending
        self.trailers: HeaderMap | None = None

    def get_trailers(self) -> HeaderMap | None:
        return self.trailers

    def __aiter__(self) -> _ResponseBody:
        return self

    async def __anext__(self) -> bytes:
        if self.done:
            raise StopAsyncIteration
        conn = self.conn
        pending = self.pending
        while True:
            ev = pending.pop(0) if pending else await conn._next_event()
            t = type(ev)
            if t is BodyData:
                return ev.data  # type: ignore[union-attr]
            if t is EndOfMessage:
                self.done = True
                trailers = ev.trailers  # type: ignore[union-attr]
                if trailers:
                    self.trailers = HeaderMap.from_raw(trailers)
                conn._response_done()
                raise StopAsyncIteration
            self.done = True
            await conn._fail_exchange()
            raise conn._event_error(ev, "while reading the response body")

    async def aclose(self) -> None:
        """The caller dropped the body unread: the connection cannot be reused."""
        if not self.done:
            self.done = True
            await self.conn._fail_exchange()


class Http1ClientConnection:
    """One HTTP/1.1 client connection over a :class:`~pyrama_net.Stream`.

    :meth:`send_request` writes a :class:`~pyrama_http_types.Request` (header fields exactly as
    in its :class:`~pyrama_http_types.HeaderMap`: case, order, duplicates) and returns the
    :class:`~pyrama_http_types.Response` once its head has arrived; the response body streams
    from the connection as it is read. One request at a time: the connection is busy until the
    response body has been read to its end (and the request body sent), after which
    :meth:`is_reusable` tells a pool whether it can carry another request.

    * A streamed request body is sent from a task while the response is read, so a server
      answering early (or echoing) never deadlocks the exchange.
    * ``Expect: 100-continue``: the body waits for ``100 Continue`` (or a final response, which
      means it is not sent, or ``expect_continue_timeout``).
    * Trailers are sent (chunked request bodies) and received (:attr:`Body.trailers`).
    * With *take_arrived_bodies* a response whose body arrived complete with its head gets
      that body in memory and the connection is idle again at once (see the attribute).
    * ``CONNECT`` answered ``2xx`` and ``Upgrade`` answered ``101`` switch the connection: the
      response's extensions hold an :class:`~pyrama_http_core.Upgraded` with the raw stream,
      which the caller then owns.

    Errors are :mod:`pyrama_http_core.errors`: a malformed response raises
    :class:`~pyrama_http_core.errors.HttpProtocolError` (``side=REMOTE``), a request that
    cannot be encoded one with ``side=LOCAL``, a connection closed early
    :class:`~pyrama_http_core.errors.ConnectionClosedError`.
    """

    __slots__ = (
        "_body_task",
        "_busy",
        "_closed",
        "_config",
        "_gen",
        "_req_done",
        "_resp_done",
        "_take_whole",
        "_upgraded",
        "_write_paused",
        "codec",
        "stream",
        "take_arrived_bodies",
    )

    def __init__(
        self,
        stream: Stream,
        config: Http1ClientConfig | None = None,
        *,
        take_arrived_bodies: bool = False,
    ) -> None:
        cfg = _DEFAULT_CONFIG if config is None else config
        self.stream = stream
        """The connection's stream."""
        self.take_arrived_bodies = take_arrived_bodies
        """Whether a response body that arrived complete with its head is returned in memory.

        Then the exchange ends in :meth:`send_request` (the connection is idle again before
        the body is read; no reader task per chunk): what a pool wants for small responses.
        A body still arriving streams as usual either way."""
        self._config = cfg
        self.codec: Http1ClientCodec = cfg.codec_factory(cfg)
        """The codec framing requests and parsing responses."""
        self._busy = False
        self._gen = 0
        self._req_done = True
        self._resp_done = True
        self._closed = False
        self._upgraded = False
        self._body_task: asyncio.Task[None] | None = None
        # a push stream tells whether its write queue is paused (drain() would wait): the
        # drain coroutine is skipped when it is not (a failed connection shows on the read)
        self._write_paused: Callable[[], bool] | None = getattr(stream, "write_paused", None)
        # a codec may take a body that arrived whole in one call (optional for codecs)
        self._take_whole: Callable[[], bytes | None] | None = getattr(
            self.codec, "take_whole_body", None
        )

    # -- state -------------------------------------------------------------------------------

    def is_reusable(self) -> bool:
        """Whether the connection is idle and may carry another request (for pools)."""
        return (
            not self._busy
            and not self._closed
            and self.codec.is_reusable
            and not self.stream.is_closing()
        )

    @property
    def is_busy(self) -> bool:
        """Whether an exchange is in progress."""
        return self._busy

    @property
    def is_closed(self) -> bool:
        """Whether the connection was closed (or handed over after a protocol switch)."""
        return self._closed

    async def close(self) -> None:
        """Close the connection (not the stream of an upgraded one, which the caller owns)."""
        if self._closed:
            return
        self._closed = True
        task = self._body_task
        if task is not None and not task.done():
            task.cancel()
        if not self._upgraded:
            with contextlib.suppress(Exception):
                await self.stream.close()

    # -- the exchange ------------------------------------------------------------------------

    async def send_request(
        self,
        request: Request,
        /,
        *,
        target: bytes | None = None,
        fields: list[tuple[bytes, bytes]] | None = None,
        body: Body | None = None,
    ) -> Response:
        """Send *request* and return the response once its head has arrived.

        The response body streams from the connection; read it to the end (or close it) before
        the next request. Raises :class:`~pyrama_http_core.errors.ConnectionNotReadyError` when
        the connection is busy, closed or switched.

        *target* (the request-target bytes), *fields* (the header fields) and *body*, when
        given, go on the wire instead of the URI's bytes, ``request.headers`` and
        ``request.body``: a client holding an absolute URI sends its origin form, the fields
        it completed or a body it kept for a retry, without building a second request. The
        response belongs to *request* either way.
        """
        if self._busy:
            raise ConnectionNotReadyError("a request is already in progress on this connection")
        if self._closed or self._upgraded or not self.codec.is_reusable:
            raise ConnectionNotReadyError("the connection cannot carry another request")
        self._busy = True
        self._gen += 1
        self._req_done = False
        self._resp_done = False
        # the exchange, inline (one coroutine less per request): any failure ends it
        try:
            codec = self.codec
            stream = self.stream
            headers = request.headers.raw_items() if fields is None else fields
            expect = False
            has_host = False
            for name, value in headers:
                n = len(name)
                if n == 4 and name.lower() == b"host":
                    has_host = True
                elif (
                    n == 6
                    and name.lower() == b"expect"
                    and value.strip().lower() == b"100-continue"
                ):
                    expect = True
            uri = request.uri
            if not has_host:
                authority = uri.authority_text
                if authority is not None:
                    headers = [(b"Host", authority.encode("latin-1")), *headers]
            if body is None:
                body = request.body
            trailers: HeaderMap | None = None
            data = body.try_take_bytes(True)  # in memory without trailers: the usual request
            if data is not None:
                length: int | None = len(data)
            else:
                data = body.try_take_bytes()
                if data is not None:
                    trailers = body.trailers
                    length = None if trailers else len(data)
                else:
                    length = body.size_hint
            m = request.method
            method = _METHOD_BYTES.get(m) if type(m) is Method else None
            if method is None:
                method = m.as_bytes()
                if type(m) is Method and len(_METHOD_BYTES) < _METHOD_BYTES_MAX:
                    _METHOD_BYTES[m] = method
            if target is None:
                target = uri.as_bytes()
            head = codec.send_request(method, target, headers, content_length=length)
            body_pending = not codec.request_complete
            if data is not None:
                if body_pending and not expect:
                    out = codec.send_data(data) if data else b""
                    end = codec.send_end(trailers.raw_items() if trailers else _EMPTY)
                    if len(out) <= _SMALL_WRITE:
                        stream.write(head + out + end)
                    else:
                        stream.write(head)
                        stream.write(out + end)
                    body_pending = False
                else:
                    stream.write(head)
            else:
                stream.write(head)
                if not body_pending:
                    await body.aclose()
            paused = self._write_paused
            if paused is None or paused():  # else drain() has nothing to wait for
                try:
                    await stream.drain()
                except OSError as exc:
                    raise ConnectionClosedError(f"sending the request failed: {exc}") from exc

            if body_pending and expect:
                ev = await self._await_continue()
                if isinstance(ev, ResponseHead):
                    # answered without 100 Continue: the body is not sent, the connection not reused
                    codec.abandon()
                    if data is None:
                        await body.aclose()
                    self._req_done = True
                    return await self._make_response(ev, request)
                body_pending = True
            if body_pending:
                self._body_task = asyncio.get_running_loop().create_task(
                    self._send_body(body, data, trailers, self._gen)
                )
            else:
                self._req_done = True
            timeout = self._config.response_header_timeout
            if timeout is None:  # no timeout scope to enter and leave per request
                while True:  # _read_final_head, inline: two coroutines less per request
                    ev0 = codec.next_event()
                    if ev0 is NEED_DATA:
                        try:
                            data = await stream.read(_READ_SIZE)
                        except OSError as exc:
                            raise ConnectionClosedError(f"the connection failed: {exc}") from exc
                        codec.receive(data)
                        continue
                    t = type(ev0)
                    if t is ResponseHead:
                        final: ResponseHead = ev0  # type: ignore[assignment]
                        break
                    if t is not InformationalHead:
                        raise self._event_error(ev0, "while waiting for the response")
            else:
                final = await self._wait_final_head(timeout)
            response = self._response_now(final, request)
            if response.body is _NO_BODY_YET:
                await self._end_without_body(response)
            return response
        except BaseException:
            await self._fail_exchange()
            raise

    async def _await_continue(self) -> ResponseHead | None:
        """Wait for ``100 Continue`` (``None``) or a final head; time out into ``None``."""
        try:
            async with asyncio.timeout(self._config.expect_continue_timeout):
                while True:
                    ev = await self._next_event()
                    if isinstance(ev, InformationalHead):
                        if ev.status == 100:
                            return None
                        continue
                    if isinstance(ev, ResponseHead):
                        return ev
                    raise self._event_error(ev, "while waiting for 100 Continue")
        except TimeoutError:
            return None

    async def _read_final_head(self) -> ResponseHead:
        while True:
            ev = await self._next_event()
            if isinstance(ev, ResponseHead):
                return ev
            if isinstance(ev, InformationalHead):
                continue  # 100 Continue, 103 Early Hints: nothing to do
            raise self._event_error(ev, "while waiting for the response")

    async def _wait_final_head(self, timeout: float) -> ResponseHead:  # noqa: ASYNC109
        try:
            async with asyncio.timeout(timeout):
                return await self._read_final_head()
        except TimeoutError as exc:
            raise HttpTimeoutError(
                f"no response head within {timeout} seconds", seconds=timeout
            ) from exc

    async def _send_body(
        self, body: Body, data: bytes | None, trailers: HeaderMap | None, gen: int
    ) -> None:
        codec = self.codec
        stream = self.stream
        try:
            if data is not None:
                if data:
                    stream.write(codec.send_data(data))
                stream.write(codec.send_end(trailers.raw_items() if trailers else _EMPTY))
                await stream.drain()
                return
            async for chunk in body:
                stream.write(codec.send_data(chunk))
                await stream.drain()
            t = body.trailers
            end = codec.send_end(t.raw_items() if t is not None else _EMPTY)
            if end:
                stream.write(end)
            await stream.drain()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # the request body failed (or the server stopped reading): this exchange is over
            _log.debug("http/1.1 request body not sent", error=f"{type(exc).__name__}: {exc}")
            codec.abandon()
            with contextlib.suppress(Exception):
                await body.aclose()
        if gen == self._gen:  # still this exchange (the next one may have started meanwhile)
            self._req_done = True
            self._body_task = None
            self._maybe_idle()

    async def _make_response(self, ev: ResponseHead, request: Request) -> Response:
        response = self._response_now(ev, request)
        if response.body is _NO_BODY_YET:
            await self._end_without_body(response)
        return response

    async def _end_without_body(self, response: Response) -> None:
        """A response without a body: its end is the next event (usually already parsed)."""
        ev = self.codec.next_event()
        if ev is NEED_DATA:
            ev = await self._next_event()
        if not isinstance(ev, EndOfMessage):
            raise self._event_error(ev, "after a response without a body")
        response.body = Body.empty()
        self._response_done()

    def _response_now(self, ev: ResponseHead, request: Request) -> Response:
        """The response of head *ev*, built without awaiting.

        Its body is ``_NO_BODY_YET`` when :meth:`_end_without_body` must still run.
        """
        codec = self.codec
        response: Response = _new(Response)
        code = ev.status
        status = _STATUS_CODES.get(code)
        if status is None:
            status = StatusCode(code)
            if type(code) is int:  # 100..999 (StatusCode refuses the rest): bounded
                _STATUS_CODES[code] = status
        response.status = status
        response.version = _HTTP_11 if ev.version == b"1.1" else _HTTP_10
        response.headers = HeaderMap.from_raw(ev.headers)
        response.extensions = request.extensions.fork()
        if (code == 101 or (200 <= code < 300 and request.method == "CONNECT")) and (
            not ev.has_body
        ):
            leftover = codec.take_switched()
            stream = rewind(self.stream, leftover) if leftover else self.stream
            protocol = None
            if ev.status == 101:
                for name, value in ev.headers:
                    if name.lower() == b"upgrade":
                        protocol = value
                        break
            self._upgraded = True
            self._closed = True
            self._busy = False
            response.extensions.insert(Upgraded(stream, protocol))
            response.body = Body.empty()
            return response
        if ev.has_body and not self.take_arrived_bodies:
            reader = _ResponseBody(self, [])
            response.body = Body.from_iter(
                reader, size_hint=ev.content_length, trailers=reader.get_trailers
            )
        elif ev.has_body:
            # what already arrived with the head is taken now: a body that is complete (a
            # small response, usually) is handed over in one piece and the exchange ends
            # here, with no reader, no await per chunk and the connection idle at once
            take = self._take_whole
            if take is not None:  # the codec hands over a complete body in one call
                whole = take()
                if whole is not None:
                    response.body = memory_body(whole)
                    self._resp_done = True  # _response_done(), inline
                    self._maybe_idle()
                    return response
            data = b""
            chunks: list[bytes] | None = None  # only for a body in more than one piece
            while True:
                ev2 = codec.next_event()
                t = type(ev2)
                if t is BodyData:
                    if not data:
                        data = ev2.data  # type: ignore[union-attr]
                    elif chunks is None:
                        chunks = [data, ev2.data]  # type: ignore[union-attr]
                    else:
                        chunks.append(ev2.data)  # type: ignore[union-attr]
                    continue
                if t is EndOfMessage:
                    raw = ev2.trailers  # type: ignore[union-attr]
                    if chunks is not None:
                        data = b"".join(chunks)
                    if raw:
                        response.body = Body(data, trailers=HeaderMap.from_raw(raw))
                    else:
                        response.body = memory_body(data)
                    self._resp_done = True  # _response_done(), inline
                    self._maybe_idle()
                    return response
                break
            pending: list[ClientEvent] = []
            if chunks is not None:
                data = b"".join(chunks)
            if data:
                pending.append(BodyData(data))
            if ev2 is not NEED_DATA:
                pending.append(ev2)  # an error or the end: raised when the body is read
            reader = _ResponseBody(self, pending)
            response.body = Body.from_iter(
                reader, size_hint=ev.content_length, trailers=reader.get_trailers
            )
        else:
            response.body = _NO_BODY_YET
        return response

    # -- plumbing ------------------------------------------------------------------------------

    async def _next_event(self) -> ClientEvent:
        codec = self.codec
        while True:
            ev = codec.next_event()
            if ev is not NEED_DATA:
                return ev
            try:
                data = await self.stream.read(_READ_SIZE)
            except OSError as exc:
                raise ConnectionClosedError(f"the connection failed: {exc}") from exc
            codec.receive(data)

    def _event_error(self, ev: ClientEvent, where: str) -> Exception:
        if isinstance(ev, CodecError):
            return ev.error
        if isinstance(ev, ConnectionClosed) or ev is PAUSED:
            return ConnectionClosedError(f"the server closed the connection {where}")
        return HttpProtocolError(f"unexpected {type(ev).__name__} {where}")

    def _response_done(self) -> None:
        self._resp_done = True
        self._maybe_idle()

    def _maybe_idle(self) -> None:
        """Once request and response are both complete: idle again, or closed."""
        # the request is done once its last bytes were framed (only a drain may be pending)
        if (self._req_done or self.codec.request_complete) and self._resp_done and self._busy:
            self._busy = False
            if not self.codec.is_reusable:
                self._schedule_close()

    def _schedule_close(self) -> None:
        if not self._closed and not self._upgraded:
            self._closed = True
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().create_task(self._close_quietly())

    async def _close_quietly(self) -> None:
        with contextlib.suppress(Exception):
            await self.stream.close()

    async def _fail_exchange(self) -> None:
        """The exchange broke: the connection is not reusable; close it."""
        self.codec.abandon()
        self._req_done = self._resp_done = True
        self._busy = False
        task = self._body_task
        self._body_task = None
        if task is not None and not task.done():
            task.cancel()
        if not self._closed and not self._upgraded:
            self._closed = True
            with contextlib.suppress(Exception):
                await self.stream.close()
