"""The HTTP/2 server connection driver: serve a ``Service[Request, Response]`` over h2."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable
from typing import Any, Final, Protocol

import h2.config
import h2.connection
import h2.events
import h2.settings

from pyrama_core import Service
from pyrama_core.errors import LimitError, Side
from pyrama_core.telemetry import get_logger
from pyrama_http_core._codec_write import http_date
from pyrama_http_core._h1_upgrade import OnUpgrade, Upgraded
from pyrama_http_core._h2_config import H2ServerConfig
from pyrama_http_core._h2_engine import (
    CONNECTION_SPECIFIC,
    GracefulH2Connection,
    H2Engine,
    H2StreamState,
    Header,
    RecvBodyIter,
    h2_fields,
)
from pyrama_http_core._h2_fingerprint import (
    H2ClientFingerprintData,
    pseudo_header_order,
    pseudo_order_of,
)
from pyrama_http_core._h2_frames import H2ErrorCode, encode_ping, encode_settings
from pyrama_http_core._h2_stream_io import H2StreamIo
from pyrama_http_core._hpack_cache import SENSITIVE, CachingHpackDecoder, StaticHpackEncoder
from pyrama_http_core._targets import request_uri
from pyrama_http_core.errors import (
    BodyLimitError,
    H2StreamResetError,
    HttpCoreError,
    HttpProtocolError,
)
from pyrama_http_types import (
    Body,
    H2Priority,
    HeaderMap,
    Method,
    Request,
    Response,
    Version,
)
from pyrama_http_types.errors import BodyTooLargeError
from pyrama_net import Stream

__all__ = ["H2ServerConnection", "serve_h2"]

_log = get_logger(__name__)

_MAX_STREAM_ID: Final = 2**31 - 1
_GOAWAY_PING: Final = b"pyrama\x00g"
_GOAWAY_PING_TIMEOUT: Final = 1.0
_DEFAULT_CONN_WINDOW: Final = 65_535
_NO_BODY_STATUS: Final = frozenset({204, 304})
_STATUS: dict[int, bytes] = {}

_PSEUDO_METHOD: Final = b":method"
_PSEUDO_SCHEME: Final = b":scheme"
_PSEUDO_AUTHORITY: Final = b":authority"
_PSEUDO_PATH: Final = b":path"
_PSEUDO_PROTOCOL: Final = b":protocol"


def _status_bytes(status: int) -> bytes:
    b = _STATUS.get(status)
    if b is None:
        b = b"%d" % status
        if len(_STATUS) < 1000:
            _STATUS[status] = b
    return b


class _GuardLike(Protocol):
    def is_cancelled(self) -> bool: ...

    def cancelled(self) -> Awaitable[None]: ...


class _Req:
    """Per-stream data of the server driver (kept in ``H2StreamState.extra``)."""

    __slots__ = ("continue_sent", "expect_continue", "head", "tunnel", "tunnel_open")

    def __init__(self, head: bool) -> None:
        self.head = head
        self.tunnel_open = False
        self.expect_continue = False
        self.continue_sent = False
        self.tunnel: OnUpgrade | None = None


class H2ServerConnection(H2Engine):
    """One HTTP/2 server connection: reads frames, serves each stream in its own task.

    Built by :func:`serve_h2` (use that); :meth:`run` drives the connection until it ends,
    :meth:`shutdown` starts a graceful close (GOAWAY, in-flight streams finish within
    ``graceful_timeout``, then the connection closes).
    """

    def __init__(
        self,
        io: Stream,
        service: Service[Request, Response],
        config: H2ServerConfig | None = None,
    ) -> None:
        cfg = H2ServerConfig() if config is None else config
        limits = cfg.limits
        conn = GracefulH2Connection(
            h2.config.H2Configuration(
                client_side=False,
                header_encoding=None,
                # checked once, by _build_request / h2_fields (h2's generator chains cost
                # more than the rest of a hello-world request)
                validate_inbound_headers=False,
                normalize_inbound_headers=False,
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            )
        )
        if not cfg.hpack_dynamic_table:
            conn.encoder = StaticHpackEncoder()  # type: ignore[assignment]
        conn.decoder = CachingHpackDecoder(conn.decoder)  # type: ignore[assignment]
        # h2 keeps MAX_CONCURRENT_STREAMS unlimited internally: it would end the whole
        # connection on an excess stream, while we refuse just that stream (REFUSED_STREAM).
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: _MAX_STREAM_ID},
        )
        # a list up to the limit is answered 431; twice the limit ends the connection
        # (HPACK bomb: h2 stops decoding there, the HPACK state is then unusable)
        conn.decoder.max_header_list_size = 2 * limits.max_header_size
        super().__init__(
            io,
            conn,
            header_block_limit=cfg.header_block_limit,
            max_resets=cfg.max_resets,
            max_control_frames=cfg.max_control_frames,
            flood_window=cfg.reset_window,
        )
        self.service = service
        self.config = cfg
        self._serve = service.serve
        self._date = cfg.date_header
        self._tasks: set[asyncio.Task[None]] = set()
        self._draining = False
        self._final_goaway_sent = False
        self._goaway_timer: asyncio.TimerHandle | None = None
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._requests = 0
        self._fingerprint = H2ClientFingerprintData()
        self._dispatch[h2.events.RequestReceived] = self._ev_request
        self._dispatch[h2.events.InformationalResponseReceived] = _drop
        self._dispatch[h2.events.ResponseReceived] = _drop

    # -- lifetime -------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until it ends (peer closed, GOAWAY done, error)."""
        cfg = self.config
        conn = self.conn
        sc = h2.settings.SettingCodes
        self.start_h2(
            {
                sc.INITIAL_WINDOW_SIZE: cfg.initial_window_size,
                sc.MAX_FRAME_SIZE: cfg.max_frame_size,
                sc.HEADER_TABLE_SIZE: cfg.header_table_size,
            }
        )
        self.io.extensions.insert(self._fingerprint)
        self.write_raw(encode_settings(cfg.advertised_settings()))
        increment = cfg.connection_window_size - _DEFAULT_CONN_WINDOW
        if increment > 0:
            conn.increment_flow_control_window(increment)
        self.flush()
        self._arm_idle_timer()
        try:
            await self.read_loop()
        finally:
            self._cancel_timers()
            tasks = list(self._tasks)
            for t in tasks:
                t.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    def shutdown(self, timeout: float | None = None) -> None:
        """Begin a graceful close: GOAWAY, let in-flight streams finish, then close.

        New streams are refused from now on; after *timeout* seconds (default: the config's
        ``graceful_timeout``) whatever still runs is cancelled and the connection closes.
        """
        if self._draining or self.closed:
            return
        self._draining = True
        # RFC 9113 6.8: first announce with the highest possible id, then after a PING
        # round trip the real last stream id, so requests in flight are not lost.
        self.send_goaway(_MAX_STREAM_ID)
        self.write_raw(encode_ping(_GOAWAY_PING))
        self._goaway_timer = self.loop.call_later(_GOAWAY_PING_TIMEOUT, self._final_goaway)
        t = self.config.graceful_timeout if timeout is None else timeout
        self._deadline_timer = self.loop.call_later(t, self._deadline)

    def _final_goaway(self) -> None:
        if self._final_goaway_sent or self.closed:
            return
        self._final_goaway_sent = True
        if self._goaway_timer is not None:
            self._goaway_timer.cancel()
            self._goaway_timer = None
        self.send_goaway(self.conn.highest_inbound_stream_id)
        self._maybe_done()

    def _deadline(self) -> None:
        self._deadline_timer = None
        if self.closed:
            return
        _log.info("HTTP/2 graceful close deadline passed", open_streams=len(self.streams))
        if not self._final_goaway_sent:
            self._final_goaway_sent = True
            self.send_goaway(self.conn.highest_inbound_stream_id)
        for t in list(self._tasks):
            t.cancel()
        self._lost(None)

    def _maybe_done(self) -> None:
        if self._final_goaway_sent and not self.streams and not self._tasks and not self.closed:
            self.close_gracefully()

    def _cancel_timers(self) -> None:
        for h in (self._goaway_timer, self._deadline_timer, self._idle_timer):
            if h is not None:
                h.cancel()
        self._goaway_timer = self._deadline_timer = self._idle_timer = None

    def _arm_idle_timer(self) -> None:
        t = self.config.limits.keep_alive_timeout
        if t is not None and self._idle_timer is None and not self.closed:
            self._idle_timer = self.loop.call_later(t, self._idle)

    def _idle(self) -> None:
        self._idle_timer = None
        if not self.streams and not self._tasks:
            self.shutdown()

    @property
    def fingerprint_data(self) -> H2ClientFingerprintData:
        """What the client sent before and in its first request (Akamai fingerprint inputs)."""
        return self._fingerprint

    # -- fingerprint recording --------------------------------------------------------------

    def _on_remote_settings(self, ev: h2.events.RemoteSettingsChanged) -> None:
        fp = self._fingerprint
        if not fp.settings and not fp.complete:
            fp.settings = [(int(k), int(v.new_value)) for k, v in ev.changed_settings.items()]

    def _on_connection_window_update(self, delta: int) -> None:
        fp = self._fingerprint
        if not fp.complete and fp.window_update is None:
            fp.window_update = delta

    def _on_priority(self, ev: h2.events.PriorityUpdated) -> None:
        fp = self._fingerprint
        if not fp.complete:
            fp.priorities.append(_priority(ev))

    def _record_first_request(self, ev: h2.events.RequestReceived, headers: list[Header]) -> None:
        fp = self._fingerprint
        fp.pseudo_header_order = pseudo_header_order(headers).order
        p = ev.priority_updated
        if p is not None:
            fp.headers_priority = _priority(p)
        fp.complete = True

    def _on_other_event(self, ev: h2.events.Event) -> None:
        pass

    # -- requests -------------------------------------------------------------------------

    def _ev_request(self, ev: h2.events.RequestReceived) -> None:
        sid: int = ev.stream_id
        headers: list[Header] = ev.headers
        if not self._fingerprint.complete:
            self._record_first_request(ev, headers)
        if (self._draining and sid > (self.goaway_sent or 0)) or len(
            self.streams
        ) >= self.config.max_concurrent_streams:
            self._refuse(sid)
            return
        st = H2StreamState(sid)
        has_body = not ev.stream_ended
        req: Request | None = None
        reject: _Reject | None = None
        try:
            req = self._build_request(st, headers, has_body)
        except _Malformed as exc:
            # RFC 9113 8.1.1: a malformed request is a stream error (PROTOCOL_ERROR)
            _log.debug("HTTP/2 malformed request refused", stream=sid, reason=str(exc))
            self._refuse(sid, H2ErrorCode.PROTOCOL_ERROR)
            return
        except _Reject as exc:
            reject = exc
        except Exception as exc:  # a bug building the request must not end the connection
            _log.exception("HTTP/2 request could not be built", stream=sid, error=repr(exc))
            self._refuse(sid, H2ErrorCode.INTERNAL_ERROR)
            return
        self.streams[sid] = st
        h = self._idle_timer
        if h is not None:
            h.cancel()
            self._idle_timer = None
        if not has_body:
            st.remote_ended = True
            st.recv_done = True
        self._requests += 1
        limit = self.config.limits.max_requests_per_connection
        if limit is not None and self._requests >= limit:
            self.shutdown()
        task = self.loop.create_task(self._handle(st, req, reject))
        st.task = task
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _refuse(self, sid: int, code: int = H2ErrorCode.REFUSED_STREAM) -> None:
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self.conn.reset_stream(sid, code)
        self.note_reset()

    def _ev_trailers(self, ev: h2.events.TrailersReceived) -> None:
        problem = _trailers_problem(ev.headers)
        if problem is None:
            super()._ev_trailers(ev)
            return
        _log.debug("HTTP/2 malformed trailers", stream=ev.stream_id, reason=problem)
        st = self.streams.get(ev.stream_id)
        if st is not None:
            self.reset_stream(st, H2ErrorCode.PROTOCOL_ERROR)
        else:
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.conn.reset_stream(ev.stream_id, H2ErrorCode.PROTOCOL_ERROR)
        self.note_reset()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks and not self.streams:
            self._arm_idle_timer()
            if self._draining:
                self._maybe_done()

    def _build_request(self, st: H2StreamState, headers: list[Header], has_body: bool) -> Request:
        """The request of a HEADERS block; validates it (h2's inbound checks are off).

        Raises :class:`_Malformed` for what RFC 9113 8.2/8.3 call malformed (refused with
        RST_STREAM(PROTOCOL_ERROR)), :class:`_Reject` for what gets an HTTP error answer.
        """
        method = scheme = authority = path = cl = expect = host = protocol = None
        regular: list[Header] = []
        pseudo: list[bytes] = []
        size = 0
        good = _GOOD_REQUEST_FIELDS
        for field in headers:
            name, value = field
            field_size = good.get(field)
            if field_size is None:
                field_size = _check_request_field(name, value)
            size += field_size
            if name and name[0] == 58:  # b":"
                if regular:
                    raise _Malformed(f"pseudo-header {name!r} after a regular field")
                pseudo.append(name)
                if name == _PSEUDO_METHOD:
                    if method is not None:
                        raise _Malformed("duplicate :method")
                    method = value
                elif name == _PSEUDO_PATH:
                    if path is not None:
                        raise _Malformed("duplicate :path")
                    if not value:
                        raise _Malformed("empty :path")
                    path = value
                elif name == _PSEUDO_SCHEME:
                    if scheme is not None:
                        raise _Malformed("duplicate :scheme")
                    scheme = value
                elif name == _PSEUDO_AUTHORITY:
                    if authority is not None:
                        raise _Malformed("duplicate :authority")
                    authority = value
                elif name == _PSEUDO_PROTOCOL:
                    if protocol is not None:
                        raise _Malformed("duplicate :protocol")
                    protocol = value
                else:
                    raise _Malformed(f"pseudo-header {name!r} in a request")
            else:
                regular.append(field)
                if name == b"content-length":
                    cl = value
                elif name == b"expect":
                    expect = value
                elif name == b"host":
                    if host is not None:
                        raise _Malformed("more than one host field")
                    host = value
        if method is None:
            raise _Malformed("no :method")
        if method == b"CONNECT":
            if protocol is None and (scheme is not None or path is not None):
                raise _Malformed("CONNECT with :scheme or :path")
        elif protocol is not None:
            raise _Malformed(":protocol in a request other than CONNECT")
        elif scheme is None or path is None:
            raise _Malformed("no :scheme or no :path")
        if authority is None:
            if host is None:
                raise _Malformed("neither :authority nor host")
        elif host is not None and host != authority:
            raise _Malformed(":authority and host differ")
        if protocol is not None:
            raise _Reject(501, "extended CONNECT (:protocol) is not supported")
        limits = self.config.limits
        if len(regular) > limits.max_headers:
            raise _Reject(431, f"more than {limits.max_headers} header fields")
        if size > limits.max_header_size:
            raise _Reject(431, f"header list larger than {limits.max_header_size} bytes")
        try:
            m = Method(method)
            if m == Method.CONNECT:
                if authority is None:
                    raise _Reject(400, "CONNECT without :authority")
                uri = request_uri(authority)
            elif path is None:
                raise _Reject(400, "no :path")
            elif authority is not None and scheme is not None and path[:1] == b"/":
                uri = request_uri(scheme + b"://" + authority + path)
            else:
                uri = request_uri(path)
        except HttpCoreError:
            raise
        except (ValueError, LimitError) as exc:
            raise _Reject(400, f"bad request head: {exc}") from exc
        hmap = HeaderMap.from_raw(regular)
        size_hint: int | None = None
        if cl is not None:
            if not cl.isdigit():
                raise _Reject(400, "bad content-length")
            size_hint = int(cl)
        max_body = limits.max_body_size
        if max_body is not None:
            if size_hint is not None and size_hint > max_body:
                raise _Reject(413, f"request body larger than {max_body} bytes")
            st.recv_limit = max_body
        info = _Req(m == Method.HEAD)
        st.extra = info
        ext = self.extensions.fork()
        ext.insert(pseudo_order_of(tuple(pseudo)))
        if not has_body:
            body = Body.empty()
        elif m == Method.CONNECT:
            body = Body.empty()  # DATA frames belong to the tunnel
        else:
            first = None
            if expect is not None and expect.lower() == b"100-continue":
                info.expect_continue = True
                first = _ContinueOnRead(self, st)
            it = RecvBodyIter(self, st, first)
            body = Body.from_iter(it, size_hint=size_hint, trailers=it.trailers)
        if m == Method.CONNECT:
            info.tunnel = OnUpgrade()
            ext.insert(info.tunnel)
        return Request(m, uri, version=Version.HTTP_2, headers=hmap, body=body, extensions=ext)

    async def _handle(self, st: H2StreamState, req: Request | None, rej: _Reject | None) -> None:
        resp: Response | None = None
        try:
            if rej is not None:
                resp = Response.text(rej.reason + "\n", rej.status)
                if rej.status == 413:
                    self.recv_release(st)
            if resp is None:
                assert req is not None
                try:
                    returned: object = await self._serve(req)
                except asyncio.CancelledError:
                    raise
                except (BodyLimitError, BodyTooLargeError) as exc:
                    resp = Response.text(f"{exc}\n", 413)
                except Exception as exc:
                    _log.exception("HTTP/2 service failed", stream=st.sid, error=repr(exc))
                    resp = _internal_error()
                else:
                    if isinstance(returned, Response):
                        resp = returned
                    else:
                        _log.error(
                            "HTTP/2 service returned a non-Response; answering 500",
                            stream=st.sid,
                            value=repr(returned)[:200],
                        )
                        resp = _internal_error()
            try:
                await self._respond(st, req, resp)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if st.headers_sent or st.send_error is not None or not self._answerable(st):
                    raise  # too late for another answer, or nobody to answer
                # the response could not even start (invalid status or fields, a body or
                # headers object that raised): answer 500 instead, like HTTP/1.1 does
                _log.error(
                    "HTTP/2 service returned an invalid response; answering 500",
                    stream=st.sid,
                    error=f"{type(exc).__name__}: {exc}",
                )
                with contextlib.suppress(Exception):
                    await resp.body.aclose()
                await self._respond(st, req, _internal_error())
        except asyncio.CancelledError:
            if st.sid in self.streams and not self.closed:
                self.reset_stream(st, H2ErrorCode.CANCEL)
            raise
        except (H2StreamResetError, ConnectionError, HttpCoreError):
            pass  # the stream or connection is gone: nothing to answer on
        except Exception as exc:
            _log.exception("HTTP/2 response failed", stream=st.sid, error=repr(exc))
            if st.sid in self.streams and not self.closed:
                self.reset_stream(st, H2ErrorCode.INTERNAL_ERROR)
        finally:
            info = st.extra
            if isinstance(info, _Req) and info.tunnel is not None and not info.tunnel.done():
                info.tunnel.fail("the CONNECT request was not answered with 2xx")
            self._after_response(st)

    def _answerable(self, st: H2StreamState) -> bool:
        return st.sid in self.streams and not self.closed

    def _after_response(self, st: H2StreamState) -> None:
        info = st.extra
        if isinstance(info, _Req) and info.tunnel_open:
            return  # the tunnel owns the stream now
        if st.recv or not st.recv_done:
            self.recv_release(st)  # unread request body: give its window back
        if st.sid not in self.streams or self.closed:
            return
        if st.end_sent and not st.remote_ended:
            # complete response, the client still sends: ask it to stop (RFC 9113 8.1)
            self.reset_stream(st, H2ErrorCode.NO_ERROR)
        elif not st.end_sent:
            self.reset_stream(st, H2ErrorCode.INTERNAL_ERROR)

    async def _respond(self, st: H2StreamState, req: Request | None, resp: Response) -> None:
        status = int(resp.status)
        if not 200 <= status <= 999:
            # 1xx heads are informational only (and 101 does not exist in HTTP/2)
            raise HttpProtocolError(
                f"{status} cannot be the final status of an HTTP/2 response",
                side=Side.LOCAL,
                hint=None,
            )
        headers = h2_fields(resp.headers.lower_items(), [(b":status", _status_bytes(status))])
        has_length = False
        if self._date:
            has_date = False
            for n, _ in headers:
                if n == b"content-length":
                    has_length = True
                elif n == b"date":
                    has_date = True
            if not has_date:
                headers.append((b"date", http_date()))
        else:
            has_length = any(n == b"content-length" for n, _ in headers)
        body = resp.body
        info = st.extra
        tunnel = info.tunnel if isinstance(info, _Req) else None
        if tunnel is not None and 200 <= status < 300:
            await body.aclose()
            self.send_headers(st, headers)
            assert req is not None
            assert isinstance(info, _Req)
            info.tunnel_open = True
            tunnel.resolve(Upgraded(H2StreamIo(self, st, req.extensions.fork()), None))
            return
        if (isinstance(info, _Req) and info.head) or status in _NO_BODY_STATUS:
            await body.aclose()
            if not self.send_whole(st, headers, b""):
                self.send_headers(st, headers, end_stream=True)
            return
        data = body.try_take_bytes()
        if data is not None:
            trailers = body.trailers
            if not has_length:
                headers.append((b"content-length", b"%d" % len(data)))
            if trailers is None and self.send_whole(st, headers, data):
                return
            if not data and trailers is None:
                self.send_headers(st, headers, end_stream=True)
                return
            fields = None if trailers is None else h2_fields(trailers.lower_items())
            self.send_headers(st, headers)
            self.queue_data(st, data, end=True, trailers=fields)
            if not st.end_sent:
                await self.wait_sent(st)
            return
        hint = body.size_hint
        if hint is not None and not has_length:
            headers.append((b"content-length", b"%d" % hint))
        self.send_headers(st, headers)
        async for chunk in body:
            self.queue_data(st, chunk)
            await self.wait_writable(st)
        trailers = body.trailers
        self.finish_send(st, None if trailers is None else h2_fields(trailers.lower_items()))
        await self.wait_sent(st)

    # -- engine hooks -----------------------------------------------------------------------

    def _send_continue(self, st: H2StreamState) -> None:
        info = st.extra
        if isinstance(info, _Req) and info.expect_continue and not info.continue_sent:
            info.continue_sent = True
            if not st.headers_sent:
                self.send_informational(st, [(b":status", b"100")])

    def _on_body_limit(self, st: H2StreamState) -> None:
        limit = st.recv_limit
        err = BodyLimitError(f"request body larger than {limit} bytes", limit=limit)
        st.recv_error = err
        st.recv_done = True
        self.recv_release(st)
        if st.recv_waiter is not None and not st.recv_waiter.done():
            st.recv_waiter.set_result(None)
        if st.headers_sent:
            self.reset_stream(st, H2ErrorCode.CANCEL)
            if st.task is not None:
                st.task.cancel()
        # otherwise the service sees BodyLimitError on its next read and we answer 413;
        # the stream window is no longer handed back, so the client cannot send much more

    def _on_reset(self, st: H2StreamState, error: H2StreamResetError) -> None:
        if not st.headers_sent:
            # reset before we could answer: work thrown away (rapid reset's signature); a
            # client cancelling a download it already got the head of is not counted
            self.note_reset()
        task = st.task
        if task is not None and not task.done():
            info = st.extra
            if not (isinstance(info, _Req) and info.tunnel is not None):
                task.cancel()

    def _on_stream_closed(self, st: H2StreamState) -> None:
        if not self.streams and not self._tasks:
            self._arm_idle_timer()
        if self._draining:
            self._maybe_done()

    def _on_ping_ack(self, payload: bytes) -> None:
        if payload == _GOAWAY_PING:
            self._final_goaway()

    def _on_goaway(self, code: int, last_stream_id: int, debug: bytes) -> None:
        if code != H2ErrorCode.NO_ERROR:
            self._lost(self.goaway_error(code, last_stream_id, retryable=False))
            return
        # the client goes away: it opens no new stream; let the open ones finish, then close
        self._draining = True
        self._final_goaway_sent = True
        if self.goaway_sent is None:
            self.goaway_sent = self.conn.highest_inbound_stream_id
        self._maybe_done()

    def _on_lost(self, error: BaseException, streams: list[H2StreamState]) -> None:
        for st in streams:
            task = st.task
            if task is not None and not task.done():
                task.cancel()


def _internal_error() -> Response:
    return Response.text("internal server error\n", 500)


class _Malformed(Exception):
    """A malformed request head (RFC 9113 8.1.1): refused with RST_STREAM(PROTOCOL_ERROR)."""


_GOOD_REQUEST_FIELDS: dict[tuple[bytes, bytes], int] = {}  # checked fields -> size: they repeat
_GOOD_REQUEST_FIELDS_MAX: Final = 4096
_GOOD_VALUE_MAX: Final = 256
# RFC 9113 8.2.1: no CTLs, SP, uppercase, DEL or non-ASCII in a name, no colon but the
# pseudo-header's leading one; no NUL, CR, LF in a value, nor whitespace at either end
_BAD_NAME: Final = re.compile(rb"[\x00-\x20A-Z\x7f-\xff]|(?<!^):")
_BAD_VALUE: Final = re.compile(rb"[\x00\r\n]|^[ \t]|[ \t]$")


def _check_request_field(name: bytes, value: bytes) -> int:
    """Raise :class:`_Malformed` unless (*name*, *value*) may appear in a request head.

    Returns the field's size as HPACK counts it (RFC 7541 4.1) and remembers short,
    non-secret fields with it (bounded), so a repeated field is neither checked nor measured
    again.
    """
    if not name or _BAD_NAME.search(name) is not None:
        raise _Malformed(f"invalid field name {name!r}")
    if _BAD_VALUE.search(value) is not None:
        raise _Malformed(f"invalid value of the field {name!r}")
    if name in CONNECTION_SPECIFIC:
        raise _Malformed(f"connection-specific field {name!r}")
    if name == b"te" and value.lower() != b"trailers":
        raise _Malformed("te other than trailers")
    size = len(name) + len(value) + 32
    if len(value) <= _GOOD_VALUE_MAX and name not in SENSITIVE:
        good = _GOOD_REQUEST_FIELDS
        if len(good) >= _GOOD_REQUEST_FIELDS_MAX:
            good.clear()
        good[(name, value)] = size
    return size


def _trailers_problem(headers: list[Header]) -> str | None:
    """Why *headers* cannot be request trailers, or ``None`` when they can."""
    for name, value in headers:
        if name[:1] == b":":
            return f"pseudo-header {name!r} in trailers"
        try:
            _check_request_field(name, value)
        except _Malformed as exc:
            return str(exc)
    return None


class _Reject(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _ContinueOnRead:
    __slots__ = ("_engine", "_st")

    def __init__(self, engine: H2ServerConnection, st: H2StreamState) -> None:
        self._engine = engine
        self._st = st

    def __call__(self) -> None:
        self._engine._send_continue(self._st)


def _drop(ev: Any) -> None:
    return None


def _priority(ev: h2.events.PriorityUpdated) -> H2Priority:
    return H2Priority(
        stream_id=int(ev.stream_id or 0),
        exclusive=bool(ev.exclusive),
        depends_on=int(ev.depends_on or 0),
        weight=int(ev.weight or 16),
    )


async def serve_h2(
    stream: Stream,
    service: Service[Request, Response],
    config: H2ServerConfig | None = None,
    *,
    guard: _GuardLike | None = None,
) -> None:
    """Serve HTTP/2 on *stream* (after the TLS ALPN ``h2`` or the h2c preface was seen).

    Every request stream runs ``service.serve(request)`` in its own task; request bodies
    stream in as the service reads them (flow control hands windows back as bytes are
    consumed), responses stream out as the client's windows allow. A service error, a
    returned value that is not a :class:`~pyrama_http_types.Response` and a response that
    cannot be sent (a 1xx status, an invalid field) become a ``500`` (or
    RST_STREAM(INTERNAL_ERROR) once the headers are out); one stream never takes the
    connection down. Connection-specific fields (``connection``, ``transfer-encoding``, ...,
    RFC 9113 8.2.2) of a response relayed from HTTP/1.1 are dropped. A malformed request
    head or trailer block (RFC 9113 8.1.1: invalid field names or values, connection-specific
    fields, misplaced, duplicate or missing pseudo-headers, ``:authority``/``host``
    disagreeing) is refused with RST_STREAM(PROTOCOL_ERROR) on its stream alone and counts
    toward ``max_resets``. Responses get a ``date`` field unless ``config.date_header`` is
    off. When *guard* (a :class:`~pyrama_core.ShutdownGuard`) is cancelled the connection
    closes gracefully: GOAWAY, in-flight streams get ``config.graceful_timeout`` seconds,
    then it closes. A
    transport that fails (reset, TLS alert, any error a wrapping stream raises) ends the
    connection and cancels its streams' tasks. Returns when the connection is over.
    """
    conn = H2ServerConnection(stream, service, config)
    if guard is None:
        await conn.run()
        return
    watcher = asyncio.get_running_loop().create_task(_watch(guard, conn))
    try:
        await conn.run()
    finally:
        watcher.cancel()


async def _watch(guard: _GuardLike, conn: H2ServerConnection) -> None:
    await guard.cancelled()
    conn.shutdown()
