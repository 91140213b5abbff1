"""The HTTP/2 client connection driver: many concurrent requests over one h2 connection."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from types import TracebackType
from typing import Final

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from pyrama_core.errors import Side
from pyrama_core.telemetry import get_logger
from pyrama_http_core._h1_upgrade import Upgraded
from pyrama_http_core._h2_config import H2ClientConfig
from pyrama_http_core._h2_engine import (
    GracefulH2Connection,
    H2Engine,
    H2StreamState,
    Header,
    RecvBodyIter,
    h2_fields,
)
from pyrama_http_core._h2_fingerprint import H2PseudoHeaderOrder
from pyrama_http_core._h2_frames import (
    H2_PREFACE,
    H2ErrorCode,
    encode_ping,
    encode_priority,
    encode_settings,
    encode_window_update,
)
from pyrama_http_core._h2_stream_io import H2StreamIo
from pyrama_http_core.errors import (
    ConnectionClosedError,
    H2StreamResetError,
    HttpCoreError,
    HttpProtocolError,
    HttpTimeoutError,
)
from pyrama_http_types import Body, HeaderMap, Method, Request, Response, StatusCode, Version
from pyrama_net import Stream

__all__ = ["H2ClientConnection"]

_log = get_logger(__name__)

_KNOWN_SETTINGS: Final = frozenset(int(c) for c in h2.settings.SettingCodes)
_DEFAULT_CONN_WINDOW: Final = 65_535
_MAX_CONCURRENT_CAP: Final = 2**31 - 1
_NO_BODY_METHODS: Final = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "CONNECT", "TRACE"})


class _Pending:
    """Per-stream data of the client driver (kept in ``H2StreamState.extra``)."""

    __slots__ = ("connect", "future", "head")

    def __init__(self, future: asyncio.Future[Response], head: bool, connect: bool) -> None:
        self.future = future
        self.head = head
        self.connect = connect


class H2ClientConnection(H2Engine):
    """An HTTP/2 client connection over any :class:`~pyrama_net.Stream` (TLS ALPN h2, h2c).

    ``response = await conn.send_request(request)`` may be called concurrently: every
    request gets its own stream; when the server's MAX_CONCURRENT_STREAMS is reached, further
    requests wait for a free stream. Request bodies are uploaded while the response comes in;
    response bodies stream (windows are handed back as the caller reads). Trailers travel both
    ways (``Body`` trailers).

    The connection sends its preface, SETTINGS (exactly ``config.settings``, in order), the
    connection WINDOW_UPDATE and PRIORITY frames on :meth:`start` (or the first request);
    pseudo-headers go in ``config.pseudo_header_order`` unless a request carries its own
    :class:`H2PseudoHeaderOrder` extension. A GOAWAY fails the streams above its last stream
    id with a retryable :class:`~pyrama_http_core.errors.H2GoAwayError` and lets the others
    finish; afterwards :meth:`is_available` is false. A ``CONNECT`` request answered with 2xx
    gives a response whose extensions hold the tunnel as an :class:`H2StreamIo`.
    """

    def __init__(
        self,
        stream: Stream,
        config: H2ClientConfig | None = None,
        *,
        default_scheme: str = "https",
    ) -> None:
        """Prepare a client connection on *stream*.

        Requests with an origin-form URI use *default_scheme* for ``:scheme``.
        """
        cfg = H2ClientConfig() if config is None else config
        conn = GracefulH2Connection(
            h2.config.H2Configuration(
                client_side=True,
                header_encoding=None,
                validate_inbound_headers=True,
                normalize_inbound_headers=False,
            )
        )
        conn.decoder.max_header_list_size = cfg.decoded_header_limit
        super().__init__(
            stream,
            conn,
            header_block_limit=cfg.header_block_limit,
            max_resets=2**62,
            max_control_frames=10_000,
            flood_window=30.0,
        )
        self.config = cfg
        self.default_scheme = default_scheme.encode("ascii")
        self._started = False
        self._reader: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._slot_waiters: list[asyncio.Future[None]] = []
        self._pings: dict[bytes, asyncio.Future[float]] = {}
        self._last_activity = time.monotonic()
        self._dispatch[h2.events.ResponseReceived] = self._ev_response
        self._dispatch[h2.events.InformationalResponseReceived] = _ignore
        self._dispatch[h2.events.PushedStreamReceived] = self._ev_push
        self._dispatch[h2.events.RequestReceived] = _ignore

    # -- lifetime -------------------------------------------------------------------------

    async def start(self) -> None:
        """Send the preface, SETTINGS, WINDOW_UPDATE and PRIORITY frames; start reading."""
        if self._started:
            return
        self._started = True
        cfg = self.config
        conn = self.conn
        pending: dict[int, int] = {}
        for k, v in cfg.settings:
            if k in _KNOWN_SETTINGS:
                pending[h2.settings.SettingCodes(k)] = v
        self.start_h2(pending)
        out = [H2_PREFACE, encode_settings(cfg.settings)]
        inc = cfg.connection_window_increment
        if inc:
            conn.increment_flow_control_window(inc)
            conn.data_to_send()
            out.append(encode_window_update(0, inc))
        top = 0
        for p in cfg.priority_frames:
            out.append(
                encode_priority(
                    p.stream_id, depends_on=p.depends_on, weight=p.weight, exclusive=p.exclusive
                )
            )
            top = max(top, p.stream_id)
        if top:
            # requests start above the ids the PRIORITY frames used (like Firefox did)
            conn.highest_outbound_stream_id = top
        self.write_raw(b"".join(out))
        self._reader = self.loop.create_task(self.read_loop())
        if cfg.keepalive_interval is not None:
            self._keepalive = self.loop.create_task(self._keepalive_loop(cfg.keepalive_interval))

    async def close(self) -> None:
        """Close now: GOAWAY, fail what is in flight, close the stream (idempotent)."""
        if not self.closed:
            if self._started:
                with contextlib.suppress(h2.exceptions.ProtocolError):
                    self.conn.close_connection()
                self.flush()
            self._lost(ConnectionClosedError("the HTTP/2 connection was closed locally"))
        await self._close_io()
        for t in (self._reader, self._keepalive):
            if t is not None and not t.done() and t is not asyncio.current_task():
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def __aenter__(self) -> H2ClientConnection:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- pool information -------------------------------------------------------------------

    @property
    def max_concurrent(self) -> int:
        """The server's SETTINGS_MAX_CONCURRENT_STREAMS (a large number until it says)."""
        return min(self.conn.remote_settings.max_concurrent_streams, _MAX_CONCURRENT_CAP)

    @property
    def in_flight(self) -> int:
        """Streams currently open on this connection."""
        return len(self.streams)

    def is_available(self) -> bool:
        """Whether a new request can start now without waiting (open, no GOAWAY, a free slot)."""
        return (
            not self.closed
            and self.goaway_received is None
            and len(self.streams) < self.max_concurrent
        )

    def is_usable(self) -> bool:
        """Whether the connection can still take requests (maybe after waiting for a slot)."""
        return not self.closed and self.goaway_received is None

    # -- requests -------------------------------------------------------------------------

    async def send_request(self, request: Request) -> Response:
        """Send *request* on a new stream and return the response once its head arrived.

        The response body streams; read it (or ``aclose()`` it) so its flow-control window
        returns to the connection. Raises :class:`~pyrama_http_core.errors.H2GoAwayError`
        (``retryable``) when the connection is going away,
        :class:`~pyrama_http_core.errors.H2StreamResetError` when the server resets the stream
        (``retryable`` for REFUSED_STREAM) and
        :class:`~pyrama_http_core.errors.ConnectionClosedError` when the connection is lost.
        """
        if not self._started:
            await self.start()
        await self._wait_slot()
        headers = self._request_headers(request)
        hint = request.body.size_hint
        if (
            hint is not None
            and (hint or request.method not in _NO_BODY_METHODS)
            and b"content-length" not in request.headers
        ):
            headers.append((b"content-length", b"%d" % hint))
        is_connect = request.method == Method.CONNECT
        body = request.body
        data = None if is_connect else body.try_take_bytes()
        trailer_fields: list[Header] | None = None
        if data is not None:
            trailers = body.trailers
            if trailers is not None:
                trailer_fields = h2_fields(trailers.lower_items())
        conn = self.conn
        sid = conn.get_next_available_stream_id()
        st = H2StreamState(sid)
        pending = _Pending(self.loop.create_future(), request.method == Method.HEAD, is_connect)
        st.extra = pending
        self.streams[sid] = st
        prio = self.config.headers_priority
        priority = None if prio is None else (prio.weight, prio.depends_on, prio.exclusive)
        self._last_activity = time.monotonic()
        try:
            if is_connect:
                self.send_headers(st, headers, priority=priority)
            elif data is not None:
                if not data and not trailer_fields:
                    self.send_headers(st, headers, end_stream=True, priority=priority)
                else:
                    self.send_headers(st, headers, priority=priority)
                    self.queue_data(st, data, end=True, trailers=trailer_fields)
            else:
                self.send_headers(st, headers, priority=priority)
                st.task = self.loop.create_task(self._upload(st, body))
        except h2.exceptions.ProtocolError as exc:
            self.streams.pop(sid, None)
            self._wake_slot()
            raise HttpProtocolError(
                f"cannot send the request: {exc}", side=Side.LOCAL, hint=None
            ) from exc
        try:
            resp = await pending.future
            # break the st -> pending -> response -> body -> st chain: an unread body must be
            # collectable while its stream is still open (see RecvBodyIter)
            st.extra = None
            return resp
        except asyncio.CancelledError:
            if sid in self.streams and not self.closed:
                self.reset_stream(st, H2ErrorCode.CANCEL)
            raise

    async def _wait_slot(self) -> None:
        while True:
            if self.closed or self.goaway_received is not None:
                raise self._closed_error()
            if len(self.streams) < self.max_concurrent:
                return
            w: asyncio.Future[None] = self.loop.create_future()
            self._slot_waiters.append(w)
            try:
                await w
            finally:
                with contextlib.suppress(ValueError):
                    self._slot_waiters.remove(w)

    def _wake_slot(self) -> None:
        waiters = self._slot_waiters
        while waiters:
            w = waiters.pop(0)
            if not w.done():
                w.set_result(None)
                if len(self.streams) + 1 >= self.max_concurrent:
                    break

    def _wake_all_slots(self) -> None:
        waiters = self._slot_waiters
        self._slot_waiters = []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def _closed_error(self) -> BaseException:
        """The error for a request that could not even start: always safe to retry."""
        if self.goaway_received is not None:
            code, last = self.goaway_received
            return self.goaway_error(code, last, retryable=True)
        err = ConnectionClosedError(
            f"the HTTP/2 connection is closed ({self.error})", request_sent=False
        )
        err.__cause__ = self.error
        return err

    def _request_headers(self, request: Request) -> list[Header]:
        uri = request.uri
        method = request.method.encode("ascii")
        host = request.headers.get_raw(b"host")
        authority_text = uri.authority_text
        authority = authority_text.encode("latin-1") if authority_text is not None else host
        values: dict[str, bytes] = {":method": method}
        if request.method == Method.CONNECT:
            if authority is None:
                raise HttpProtocolError("CONNECT needs an authority", side=Side.LOCAL, hint=None)
            values[":authority"] = authority
        else:
            scheme = uri.scheme
            values[":scheme"] = self.default_scheme if scheme is None else scheme.encode("ascii")
            if authority is not None:
                values[":authority"] = authority
            values[":path"] = uri.path_and_query.encode("latin-1") or b"/"
        custom = request.extensions.get(H2PseudoHeaderOrder)
        order = self.config.pseudo_header_order if custom is None else custom.order
        headers: list[Header] = []
        for name in order:
            v = values.pop(name, None)
            if v is not None:
                headers.append((name.encode("ascii"), v))
        for name, v in values.items():  # any the order did not name, in the default order
            headers.append((name.encode("ascii"), v))
        # Host became :authority; connection-specific fields are dropped, invalid ones raise
        return h2_fields([f for f in request.headers.lower_items() if f[0] != b"host"], headers)

    async def _upload(self, st: H2StreamState, body: Body) -> None:
        try:
            async for chunk in body:
                self.queue_data(st, chunk)
                await self.wait_writable(st)
            trailers = body.trailers
            self.finish_send(st, None if trailers is None else h2_fields(trailers.lower_items()))
        except Exception as exc:
            if st.send_error is None and not self.closed:
                # the request body failed (or its trailers are invalid) while our stream is
                # fine: abandon the exchange and tell the caller why
                _log.debug("HTTP/2 request body failed", stream=st.sid, error=repr(exc))
                pending = st.extra
                if isinstance(pending, _Pending) and not pending.future.done():
                    pending.future.set_exception(exc)
                if st.sid in self.streams:
                    self.reset_stream(st, H2ErrorCode.CANCEL)
            # else the stream or the connection is gone: the caller hears it from there
            with contextlib.suppress(Exception):
                await body.aclose()

    # -- responses ------------------------------------------------------------------------

    def _ev_response(self, ev: h2.events.ResponseReceived) -> None:
        sid = int(ev.stream_id or 0)
        st = self.streams.get(sid)
        if st is None:
            return
        pending = st.extra
        if not isinstance(pending, _Pending) or pending.future.done():
            return
        raw: list[Header] = ev.headers or []
        status = 0
        regular: list[Header] = []
        for name, value in raw:
            if name == b":status":
                status = int(value)
            elif name[:1] != b":":
                regular.append((name, value))
        hmap = HeaderMap.from_raw(regular)
        ext = self.extensions.fork()
        if pending.connect and 200 <= status < 300:
            body = Body.empty()
            ext.insert(Upgraded(H2StreamIo(self, st, ext.fork()), None))
        elif ev.stream_ended or pending.head or status in (204, 304):
            body = Body.empty()
            if not ev.stream_ended:
                self.recv_release(st)
        else:
            size_hint = None
            cl = hmap.get_raw(b"content-length")
            if cl is not None and cl.isdigit():
                size_hint = int(cl)
            it = RecvBodyIter(self, st)
            body = Body.from_iter(it, size_hint=size_hint, trailers=it.trailers)
        resp = Response(
            StatusCode(status), version=Version.HTTP_2, headers=hmap, body=body, extensions=ext
        )
        pending.future.set_result(resp)

    def _ev_push(self, ev: h2.events.PushedStreamReceived) -> None:
        # we never asked for pushes (clients advertise ENABLE_PUSH 0 by default)
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self.conn.reset_stream(int(ev.pushed_stream_id or 0), H2ErrorCode.REFUSED_STREAM)

    # -- engine hooks -----------------------------------------------------------------------

    def _on_reset(self, st: H2StreamState, error: H2StreamResetError) -> None:
        pending = st.extra
        if isinstance(pending, _Pending) and not pending.future.done():
            pending.future.set_exception(error)
        task = st.task
        if task is not None and not task.done():
            task.cancel()

    def recv_abandoned(self, st: H2StreamState) -> None:
        """A response body was dropped unread: reset the stream if it still runs."""
        super().recv_abandoned(st)
        if st.sid in self.streams and not st.remote_ended and not self.closed:
            self.reset_stream(st, H2ErrorCode.CANCEL)

    def _on_stream_closed(self, st: H2StreamState) -> None:
        pending = st.extra
        if (
            isinstance(pending, _Pending)
            and not pending.future.done()
            and st.send_error is not None
        ):
            pending.future.set_exception(st.send_error)
        self._last_activity = time.monotonic()
        self._wake_slot()
        if self.goaway_received is not None and not self.streams:
            code, last = self.goaway_received
            self._lost(self.goaway_error(code, last, retryable=True))

    def _on_goaway(self, code: int, last_stream_id: int, debug: bytes) -> None:
        for st in list(self.streams.values()):
            if st.sid > last_stream_id:
                err = self.goaway_error(code, last_stream_id, retryable=True)
                pending = st.extra
                if isinstance(pending, _Pending) and not pending.future.done():
                    pending.future.set_exception(err)
                self._kill_stream(st, err)
        self._wake_all_slots()
        if code == H2ErrorCode.NO_ERROR:
            if self.streams:
                return  # the streams up to last_stream_id may finish
            self._lost(self.goaway_error(code, last_stream_id, retryable=True))
            return
        self._lost(self.goaway_error(code, last_stream_id, retryable=False))

    def _on_lost(self, error: BaseException, streams: list[H2StreamState]) -> None:
        for st in streams:
            pending = st.extra
            if isinstance(pending, _Pending) and not pending.future.done():
                pending.future.set_exception(error)
            task = st.task
            if task is not None and not task.done():
                task.cancel()
        for fut in self._pings.values():
            if not fut.done():
                fut.set_exception(error)
        self._pings.clear()
        self._wake_all_slots()

    def _on_ping_ack(self, payload: bytes) -> None:
        fut = self._pings.pop(payload, None)
        if fut is not None and not fut.done():
            fut.set_result(time.monotonic())

    # -- ping / keepalive -------------------------------------------------------------------

    async def ping(self) -> float:
        """Send a PING and return the round-trip time in seconds (wrap it in a timeout)."""
        if not self._started:
            await self.start()
        if self.closed:
            raise self._closed_error()
        payload = os.urandom(8)
        fut: asyncio.Future[float] = self.loop.create_future()
        self._pings[payload] = fut
        sent = time.monotonic()
        self.write_raw(encode_ping(payload))
        try:
            got = await fut
        finally:
            self._pings.pop(payload, None)
        return got - sent

    async def _keepalive_loop(self, interval: float) -> None:
        while not self.closed:
            idle = time.monotonic() - self._last_activity
            if idle < interval:
                await asyncio.sleep(interval - idle)
                continue
            timeout = self.config.keepalive_timeout
            try:
                async with asyncio.timeout(timeout):
                    await self.ping()
            except TimeoutError:
                exc = HttpTimeoutError(f"no PING answer within {timeout} s", seconds=timeout)
                _log.info("HTTP/2 keepalive PING unanswered; closing", error=str(exc))
                self._fail(exc, None, code=H2ErrorCode.NO_ERROR)
                return
            except (HttpCoreError, ConnectionError):
                return
            self._last_activity = time.monotonic()

    def __repr__(self) -> str:
        return f"H2ClientConnection(in_flight={len(self.streams)}, closed={self.closed})"


def _ignore(ev: h2.events.Event) -> None:
    return None
