"""AsgiService: run an ASGI 3 application as a pyrama ``Service[Request, Response]``."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections import deque
from collections.abc import Iterable
from typing import Any, Final

from pyrama_core.errors import ConfigError
from pyrama_core.telemetry import get_logger
from pyrama_http.asgi._errors import AsgiDisconnectError, AsgiError, AsgiProtocolError
from pyrama_http.asgi._lifespan import AsgiLifespan
from pyrama_http.asgi._types import AsgiApp, Message, Scope
from pyrama_http_types import Body, HeaderMap, Request, Response, Version
from pyrama_http_types.errors import BodyTooLargeError, HttpError
from pyrama_net import SocketInfo
from pyrama_tls import NegotiatedTls

__all__ = ["DEFAULT_ASGI_QUEUE_SIZE", "AsgiService"]

_log = get_logger(__name__)

DEFAULT_ASGI_QUEUE_SIZE: Final = 16
"""How many response body messages an application may queue before ``send`` waits."""

_ASGI: Final = {"version": "3.0", "spec_version": "2.4"}
_HTTP_VERSIONS: Final = {
    Version.HTTP_09: "1.0",
    Version.HTTP_10: "1.0",
    Version.HTTP_11: "1.1",
    Version.HTTP_2: "2",
    Version.HTTP_3: "3",
}
_END: Final = object()
_tasks: set[asyncio.Task[None]] = set()


def _addr(sockaddr: Any) -> list[Any] | None:
    if isinstance(sockaddr, tuple) and len(sockaddr) >= 2:
        return [str(sockaddr[0]), int(sockaddr[1])]
    return None


def _content_length(headers: HeaderMap) -> int | None:
    values = headers.get_all_raw("content-length")
    if len(values) != 1 or not values[0].isdigit():
        return None
    return int(values[0])


class _Pipe:
    """A bounded queue of response body chunks between the app's ``send`` and the body."""

    __slots__ = ("_error", "_items", "_max", "_reader", "_writer", "closed", "discard")

    def __init__(self, max_items: int) -> None:
        self._items: deque[object] = deque()
        self._max = max_items
        self._reader: asyncio.Future[None] | None = None
        self._writer: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self.closed = False
        self.discard = False

    @staticmethod
    def _wake(fut: asyncio.Future[None] | None) -> None:
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def put(self, item: object) -> None:
        while len(self._items) >= self._max and not self.closed:
            self._writer = asyncio.get_running_loop().create_future()
            try:
                await self._writer
            finally:
                self._writer = None
        if self.closed:
            if self.discard:
                return
            raise AsgiDisconnectError("the client is gone: the response cannot be sent")
        self._items.append(item)
        self._wake(self._reader)

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._wake(self._reader)

    def close(self, *, discard: bool) -> None:
        self.closed = True
        self.discard = discard
        self._items.clear()
        self._wake(self._writer)

    def take_all_if_ended(self) -> bytes | None:
        """Everything queued, if the end marker is queued too (the fast in-memory path)."""
        items = self._items
        if not items or items[-1] is not _END:
            return None
        parts = [i for i in items if i is not _END]
        items.clear()
        self._wake(self._writer)
        return b"".join(parts)  # type: ignore[arg-type]

    async def get(self) -> object:
        while True:
            if self._items:
                item = self._items.popleft()
                if len(self._items) < self._max:
                    self._wake(self._writer)
                return item
            if self._error is not None:
                raise self._error
            self._reader = asyncio.get_running_loop().create_future()
            try:
                await self._reader
            finally:
                self._reader = None


class _Exchange:
    """One request's state shared by the app's ``receive``/``send`` and the response body."""

    __slots__ = (
        "app_error",
        "body",
        "body_done",
        "body_error",
        "disconnected",
        "pending_read",
        "pipe",
        "request",
        "response_ended",
        "started",
        "trailers",
        "trailers_done",
        "trailers_expected",
    )

    def __init__(self, request: Request, queue_size: int) -> None:
        self.request = request
        self.app_error: BaseException | None = None
        self.body = request.body
        self.body_done = False
        self.body_error: BaseException | None = None
        self.pending_read: asyncio.Future[bytes] | None = None
        self.started: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.disconnected = asyncio.Event()
        self.pipe = _Pipe(queue_size)
        self.response_ended = False
        self.trailers_expected = False
        self.trailers_done = False
        self.trailers: HeaderMap | None = None

    # -- receive ----------------------------------------------------------------------------

    async def receive(self) -> Message:
        if not self.body_done:
            return await self._read_body()
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def _read_body(self) -> Message:
        body = self.body
        if not body.is_consumed:
            data = body.try_take_bytes()
            if data is not None:
                self.body_done = True
                return {"type": "http.request", "body": data, "more_body": False}
        pending = self.pending_read
        if pending is None:
            # the read runs as its own task: a cancelled receive() (Starlette's
            # is_disconnected) must not cut the body stream in the middle of a chunk
            pending = self.pending_read = asyncio.ensure_future(anext(body, b""))
        try:
            chunk = await asyncio.shield(pending)
        except BodyTooLargeError as exc:
            self.pending_read = None
            self.body_done = True
            self.body_error = exc
            raise
        except (HttpError, OSError, ConnectionError) as exc:  # the client went away
            self.pending_read = None
            self.body_done = True
            _log.debug("asgi request body ended early", error=repr(exc))
            self.client_gone()
            return {"type": "http.disconnect"}
        self.pending_read = None
        hint = body.size_hint
        more = bool(chunk) and not (hint is not None and body.bytes_read >= hint)
        if not more:
            self.body_done = True
        return {"type": "http.request", "body": chunk, "more_body": more}

    # -- send -------------------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "http.response.start":
            if self.started.done():
                raise AsgiProtocolError("http.response.start was sent twice")
            self.trailers_expected = bool(message.get("trailers", False))
            self.started.set_result(message)
            return
        if kind == "http.response.body":
            if not self.started.done():
                raise AsgiProtocolError("http.response.body before http.response.start")
            if self.response_ended:
                raise AsgiProtocolError("http.response.body after the body ended")
            data = message.get("body", b"")
            if not isinstance(data, bytes | bytearray | memoryview):
                raise AsgiProtocolError(f"body must be bytes, got {type(data).__name__}")
            more = bool(message.get("more_body", False))
            if not more:
                self.response_ended = True
            if data:
                await self.pipe.put(bytes(data))
            if not more and not self.trailers_expected:
                await self.pipe.put(_END)
            return
        if kind == "http.response.trailers":
            if not self.trailers_expected or not self.response_ended or self.trailers_done:
                raise AsgiProtocolError("http.response.trailers was not announced or is late")
            if self.trailers is None:
                self.trailers = HeaderMap()
            try:
                self.trailers.extend(_header_pairs(message.get("headers", ())))
            except HttpError as exc:
                raise AsgiProtocolError(f"invalid trailer field: {exc}") from exc
            if not message.get("more_trailers", False):
                self.trailers_done = True
                await self.pipe.put(_END)
            return
        if self.pipe.closed and not self.pipe.discard:
            raise AsgiDisconnectError("the client is gone")
        raise AsgiProtocolError(f"unexpected ASGI message type {kind!r} in an http scope")

    # -- endings ----------------------------------------------------------------------------

    def client_gone(self) -> None:
        """The client went away: ``send`` raises, ``receive`` says ``http.disconnect``."""
        if not self.pipe.closed:
            self.pipe.close(discard=False)
        self.disconnected.set()

    def body_unwanted(self) -> None:
        """The response carries no body (HEAD, 204, 304): what the app sends is dropped."""
        if not self.pipe.closed:
            self.pipe.close(discard=True)
        self.disconnected.set()

    def completed(self) -> None:
        """The response went out in full: later ``receive`` calls say ``http.disconnect``."""
        self.disconnected.set()


def _header_pairs(headers: Iterable[Any]) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    for pair in headers:
        name, value = pair
        if not isinstance(name, bytes | bytearray) or not isinstance(value, bytes | bytearray):
            raise AsgiProtocolError("ASGI header names and values must be bytes")
        out.append((bytes(name), bytes(value)))
    return out


class _ResponseBody:
    """The response body: chunks the app sends, read by the protocol driver."""

    __slots__ = ("_done", "_ex")

    def __init__(self, ex: _Exchange) -> None:
        self._ex = ex
        self._done = False

    def __aiter__(self) -> _ResponseBody:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        try:
            item = await self._ex.pipe.get()
        except BaseException:
            self._done = True
            self._ex.client_gone()
            raise
        if item is _END:
            self._done = True
            self._ex.completed()
            raise StopAsyncIteration
        assert isinstance(item, bytes)
        return item

    def trailers(self) -> HeaderMap | None:
        return self._ex.trailers

    def _drop(self) -> None:
        if self._done:
            return
        self._done = True
        ex = self._ex
        status = ex.started.result() if ex.started.done() else {}
        code = status.get("status", 200)
        if ex.request.method == "HEAD" or code in (204, 304) or code < 200:
            ex.body_unwanted()
        else:
            ex.client_gone()

    async def aclose(self) -> None:
        """The driver stopped reading (client gone, or no body allowed)."""
        self._drop()

    def __del__(self) -> None:  # the driver dropped the body without closing it
        if not self._done:
            with contextlib.suppress(Exception):  # finalizers must not raise
                self._drop()


class AsgiService:
    """A ``Service[Request, Response]`` that runs an ASGI 3 application for each request.

    ``HttpServer.auto().listen(addr, AsgiService(app))`` serves a Starlette/FastAPI/... app
    with pyrama over HTTP/1.1 and HTTP/2. Per request the application gets an ``http`` scope
    (``asgi`` 3.0 / spec 2.4, ``http_version``, ``method``, ``scheme``, ``path``
    percent-decoded, ``raw_path``, ``query_string``, ``root_path``, lowercase ``headers``,
    ``client``/``server`` from the connection's :class:`~pyrama_net.SocketInfo`, a copy of
    the lifespan ``state`` and ``extensions`` with ``http.response.trailers``).

    * The request body reaches the app as ``http.request`` messages as it arrives.
    * :meth:`serve` returns the :class:`~pyrama_http_types.Response` as soon as the app sends
      ``http.response.start``; its body streams the app's ``http.response.body`` messages
      through a queue of at most *queue_size* messages (``send`` waits while it is full:
      backpressure). A body sent in full right away becomes an in-memory body.
    * Once the response went out, or the client is gone, ``receive`` returns
      ``http.disconnect``; ``send`` after the client left raises
      :class:`~pyrama_http.asgi.AsgiDisconnectError` (an ``OSError``). The client counts as
      gone once the protocol driver closes (or drops) the response body unread.
    * An app that raises (or returns) before ``http.response.start`` gets a ``500``; one that
      fails after it ends the response abruptly (HTTP/1.1 closes the connection, HTTP/2
      resets the stream). A request body over the server's limit reaches the app as the
      :class:`~pyrama_http_types.errors.BodyTooLargeError` raised by ``receive``; if the app
      lets it through the server answers ``413``.

    Lifespan: ``async with service.lifespan():`` runs the app's startup and shutdown (see
    :class:`~pyrama_http.asgi.AsgiLifespan`); state the app stores there reaches each request.
    """

    __slots__ = ("_app", "_queue_size", "_root_path", "_state")

    def __init__(
        self,
        app: AsgiApp,
        *,
        root_path: str = "",
        queue_size: int = DEFAULT_ASGI_QUEUE_SIZE,
        state: dict[str, Any] | None = None,
    ) -> None:
        """Serve *app*; *root_path* is the mount prefix the app is told about."""
        if not callable(app):
            raise ConfigError(f"app must be an ASGI callable, got {app!r}")
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ConfigError(f"queue_size must be an int >= 1, got {queue_size!r}")
        self._app = app
        self._root_path = root_path
        self._queue_size = queue_size
        self._state: dict[str, Any] = {} if state is None else state

    @property
    def app(self) -> AsgiApp:
        """The ASGI application."""
        return self._app

    @property
    def state(self) -> dict[str, Any]:
        """The lifespan state; each request's scope gets a shallow copy."""
        return self._state

    def lifespan(self, *, required: bool = False) -> AsgiLifespan:
        """An :class:`AsgiLifespan` for the app that shares this service's :attr:`state`."""
        return AsgiLifespan(self._app, state=self._state, required=required)

    def scope(self, request: Request) -> Scope:
        """The ASGI ``http`` scope for *request* (what :meth:`serve` hands the app)."""
        uri = request.uri
        raw_path_text = uri.path if uri.path != "*" else "*"
        raw_path = raw_path_text.encode("latin-1")
        path = urllib.parse.unquote_to_bytes(raw_path).decode("utf-8", "replace")
        query = uri.query
        ext = request.extensions
        info = ext.get(SocketInfo)
        scheme = uri.scheme
        if scheme is None:
            scheme = "https" if ext.get(NegotiatedTls) is not None else "http"
        headers = request.headers.lower_items()
        if b"host" not in request.headers and uri.authority_text is not None:
            headers = [(b"host", uri.authority_text.encode("latin-1")), *headers]
        return {
            "type": "http",
            "asgi": dict(_ASGI),
            "http_version": _HTTP_VERSIONS[request.version],
            "method": str(request.method),
            "scheme": scheme,
            "path": path,
            "raw_path": raw_path,
            "query_string": b"" if query is None else query.encode("latin-1"),
            "root_path": self._root_path,
            "headers": headers,
            "client": None if info is None else _addr(info.peer),
            "server": None if info is None else _addr(info.local),
            "state": dict(self._state),
            "extensions": {"http.response.trailers": {}},
        }

    async def serve(self, request: Request, /) -> Response:
        """Run the app for *request*; return the response once the app started it."""
        ex = _Exchange(request, self._queue_size)
        scope = self.scope(request)
        task = asyncio.get_running_loop().create_task(self._run(scope, ex))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
        try:
            await asyncio.wait((task, ex.started), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            ex.client_gone()
            task.cancel()
            raise
        if not ex.started.done():
            return self._no_response(ex, task)
        start = ex.started.result()
        try:
            response = self._response(start, ex)
        except AsgiError as exc:
            _log.error("asgi app sent an invalid response start; answering 500", error=str(exc))
            ex.client_gone()
            return Response(500, headers=[("content-length", "0")])
        return response

    def _no_response(self, ex: _Exchange, task: asyncio.Task[None]) -> Response:
        ex.client_gone()
        exc = task.exception() if not task.cancelled() else None
        if exc is None:
            exc = ex.app_error
        if exc is not None and exc is ex.body_error:
            raise exc  # the body limit: the driver answers 413
        if exc is None:
            _log.error("asgi app returned without sending a response; answering 500")
        else:
            _log.error(
                "asgi app failed; answering 500",
                error=f"{type(exc).__name__}: {exc}",
                exc_info=exc,
            )
        return Response(500, headers=[("content-length", "0")])

    def _response(self, start: Message, ex: _Exchange) -> Response:
        status = start.get("status")
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 999:
            raise AsgiProtocolError(f"invalid status {status!r} in http.response.start")
        try:
            headers = HeaderMap(_header_pairs(start.get("headers", ())))
        except (HttpError, TypeError, ValueError) as exc:
            raise AsgiProtocolError(f"invalid header field: {exc}") from exc
        if not ex.trailers_expected:
            data = ex.pipe.take_all_if_ended()
            if data is not None:
                ex.completed()
                return Response(status, headers=headers, body=Body(data))
        stream = _ResponseBody(ex)
        hint = None if ex.trailers_expected else _content_length(headers)
        if ex.request.method == "HEAD" or status in (204, 304):
            hint = None
        body = Body.from_iter(stream, size_hint=hint, trailers=stream.trailers)
        return Response(status, headers=headers, body=body)

    async def _run(self, scope: Scope, ex: _Exchange) -> None:
        try:
            await self._app(scope, ex.receive, ex.send)
        except asyncio.CancelledError:
            ex.pipe.fail(AsgiError("the asgi app was cancelled"))
            raise
        except Exception as exc:
            if not ex.started.done():
                # reported by serve() (500 or 413); kept off the task to avoid a warning
                ex.app_error = exc
                return
            if ex.pipe.closed:
                if not isinstance(exc, AsgiDisconnectError):
                    _log.debug("asgi app failed after the client left", error=repr(exc))
                return
            _log.error(
                "asgi app failed after the response started; ending it abruptly",
                error=f"{type(exc).__name__}: {exc}",
                exc_info=exc,
            )
            err = AsgiError(f"the asgi app failed mid-response: {type(exc).__name__}: {exc}")
            err.__cause__ = exc
            ex.pipe.fail(err)
            return
        complete = ex.response_ended and (not ex.trailers_expected or ex.trailers_done)
        if ex.started.done() and not complete and not ex.pipe.closed:
            ex.pipe.fail(AsgiProtocolError("the asgi app returned before the body ended"))

    def __repr__(self) -> str:
        return f"AsgiService({self._app!r})"
