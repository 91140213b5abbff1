"""The shared HTTP/2 connection engine under the server and client drivers.

One :class:`H2Engine` owns an ``h2.connection.H2Connection`` and the byte stream below it:

* **writes are batched**: every h2 call that produces frames only marks the engine dirty;
  the frames go out in one ``stream.write`` per event-loop turn (or at once after a received
  chunk was processed, or when a lot of DATA is pending);
* **receive flow control follows consumption**: DATA is buffered per stream and the window
  is handed back (WINDOW_UPDATE) only as the reader takes the bytes, so a stream buffers at
  most its window;
* **send flow control**: bodies are queued per stream and pumped into DATA frames as the
  peer's windows allow; WINDOW_UPDATE (or a SETTINGS change) resumes blocked streams;
* **floods**: resets/refusals and PING/SETTINGS frames are counted per time window
  (rapid reset, CVE-2023-44487; control floods) and the encoded header block collected from
  CONTINUATION frames is capped, each ending the connection with a GOAWAY.

The server and client drivers subclass it and implement the ``_on_*`` hooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Final

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import h2.stream

from pyrama_core import Extensions
from pyrama_core.errors import Side
from pyrama_core.telemetry import get_logger
from pyrama_http_core._h2_frames import H2ErrorCode, encode_goaway
from pyrama_http_core._hpack_cache import SENSITIVE
from pyrama_http_core.errors import (
    ConnectionClosedError,
    H2GoAwayError,
    H2StreamResetError,
    HttpCoreError,
    HttpProtocolError,
)
from pyrama_http_types import HeaderMap
from pyrama_net import Stream

__all__ = ["GracefulH2Connection", "H2Engine", "H2StreamState", "RecvBodyIter", "h2_fields"]

_log = get_logger(__name__)

READ_SIZE: Final = 256 * 1024
"""Bytes asked of the transport per read."""

OUT_HIGH_WATER: Final = 256 * 1024
"""Queued-but-unsent bytes per stream above which a body producer waits."""

LINGER_TIMEOUT: Final = 2.0
"""Seconds a gracefully closed connection keeps reading (and dropping) until the peer closes."""

FLUSH_AT: Final = 512 * 1024
"""DATA bytes handed to h2 but not yet written above which the engine writes at once."""

Header = tuple[bytes, bytes]

CONNECTION_SPECIFIC: Final = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)
"""Fields HTTP/2 forbids (RFC 9113 8.2.2); ``te`` is allowed only as ``trailers``."""

_FIELD_NAME: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")
_BAD_VALUE: Final = re.compile(rb"[\r\n\x00]")
_GOOD_NAMES: set[bytes] = set()  # names already checked (they repeat: skip the regex)
_GOOD_NAMES_MAX: Final = 1024
_GOOD_FIELDS: set[tuple[bytes, bytes]] = set()  # whole fields already checked (they repeat)
_GOOD_FIELDS_MAX: Final = 4096
_GOOD_VALUE_MAX: Final = 256
_WS: Final = (b" ", b"\t")


def h2_fields(fields: Iterable[Header], out: list[Header] | None = None) -> list[Header]:
    """*fields* (lowercase names) as HTTP/2 may send them, appended to *out* (or a new list).

    Connection-specific fields (``connection``, ``keep-alive``, ``proxy-connection``,
    ``transfer-encoding``, ``upgrade``, and ``te`` other than ``trailers``), which an HTTP/1.1
    message relayed over HTTP/2 still carries, are dropped (RFC 9113 8.2.2). A name that is
    not a lowercase token (empty, a pseudo-header among the regular fields, ...) or a value
    with CR, LF or NUL raises :class:`~pyrama_http_core.errors.HttpProtocolError`
    (``side=LOCAL``) before anything reaches h2: h2 checks some of these only while it
    HPACK-encodes the block, and a failure halfway through would leave the connection's
    header compression state out of step with the peer's.
    """
    if out is None:
        out = []
    good_fields = _GOOD_FIELDS
    good = _GOOD_NAMES
    bad_value = _BAD_VALUE.search
    drop = CONNECTION_SPECIFIC
    for field in fields:
        if field in good_fields:
            out.append(field)
            continue
        name, value = field
        if name not in good:
            if name in drop or (name == b"te" and value.strip().lower() != b"trailers"):
                continue
            if _FIELD_NAME.fullmatch(name) is None:
                raise HttpProtocolError(
                    f"invalid HTTP/2 field name {name!r}", side=Side.LOCAL, hint=None
                )
            if name != b"te":
                if len(good) >= _GOOD_NAMES_MAX:
                    good.clear()
                good.add(name)
        if bad_value(value) is not None:
            raise HttpProtocolError(
                f"invalid value of the HTTP/2 field {name!r} (CR, LF or NUL)",
                side=Side.LOCAL,
                hint=None,
            )
        if value[:1] in _WS or value[-1:] in _WS:
            # RFC 9113 8.2.1: no leading or trailing whitespace (peers refuse the stream)
            value = value.strip(b" \t")
        elif name in good and len(value) <= _GOOD_VALUE_MAX and name not in SENSITIVE:
            if len(good_fields) >= _GOOD_FIELDS_MAX:
                good_fields.clear()
            good_fields.add((name, value))
        out.append((name, value))
    return out


class H2StreamState:
    """The state of one HTTP/2 stream as the drivers see it (both directions)."""

    __slots__ = (
        "end_sent",
        "extra",
        "headers_sent",
        "out",
        "out_end",
        "out_size",
        "out_trailers",
        "recv",
        "recv_done",
        "recv_dropped",
        "recv_error",
        "recv_limit",
        "recv_size",
        "recv_total",
        "recv_trailers",
        "recv_waiter",
        "remote_ended",
        "send_error",
        "send_waiter",
        "sid",
        "task",
    )

    def __init__(self, sid: int) -> None:
        self.sid = sid
        # inbound
        self.recv: deque[bytes] = deque()
        self.recv_size = 0
        self.recv_total = 0
        self.recv_limit: int | None = None
        self.recv_done = False
        self.recv_dropped = False
        self.recv_error: BaseException | None = None
        self.recv_trailers: HeaderMap | None = None
        self.recv_waiter: asyncio.Future[None] | None = None
        self.remote_ended = False
        # outbound
        self.out: deque[bytes | memoryview] = deque()
        self.out_size = 0
        self.out_end = False
        self.out_trailers: list[Header] | None = None
        self.headers_sent = False
        self.end_sent = False
        self.send_error: BaseException | None = None
        self.send_waiter: asyncio.Future[None] | None = None
        # driver data
        self.task: asyncio.Task[Any] | None = None
        self.extra: Any = None

    def __repr__(self) -> str:
        return (
            f"H2StreamState(sid={self.sid}, recv_done={self.recv_done}, "
            f"end_sent={self.end_sent}, out={self.out_size})"
        )


def _wake(fut: asyncio.Future[None] | None) -> None:
    if fut is not None and not fut.done():
        fut.set_result(None)


class _WindowCounter:
    """Counts events in fixed windows of *window* seconds; ``hit`` says when over *limit*."""

    __slots__ = ("_count", "_limit", "_start", "_window")

    def __init__(self, limit: int, window: float) -> None:
        self._limit = limit
        self._window = window
        self._start = time.monotonic()
        self._count = 0

    def hit(self, n: int = 1) -> bool:
        now = time.monotonic()
        if now - self._start > self._window:
            self._start = now
            self._count = 0
        self._count += n
        return self._count > self._limit


_FRAME_HEAD: Final = struct.Struct(">IBI")  # length << 8 | type, flags, stream id
_END_STREAM: Final = 0x1
_END_HEADERS: Final = 0x4
_SEND_HEADERS: Final = h2.connection.ConnectionInputs.SEND_HEADERS
_SEND_DATA: Final = h2.connection.ConnectionInputs.SEND_DATA
_S_SEND_HEADERS: Final = h2.stream.StreamInputs.SEND_HEADERS
_S_SEND_DATA: Final = h2.stream.StreamInputs.SEND_DATA
_S_SEND_END_STREAM: Final = h2.stream.StreamInputs.SEND_END_STREAM

_OPEN_STATES: Final = frozenset(
    {h2.connection.ConnectionState.CLIENT_OPEN, h2.connection.ConnectionState.SERVER_OPEN}
)


class _GracefulStateMachine(h2.connection.H2ConnectionStateMachine):
    """h2's connection state machine, except that a received GOAWAY keeps it open.

    h2 moves to CLOSED on any GOAWAY (python-hyper/h2#1181) and then rejects every further
    frame, even DATA of streams the GOAWAY let finish and frames that arrived in the same
    read. RFC 9113 6.8 lets streams up to the last stream id complete, so the engine keeps
    h2 open and enforces "no new streams" (and closing on an error GOAWAY) itself.
    """

    def process_input(self, input_: h2.connection.ConnectionInputs) -> list[h2.events.Event]:
        if input_ is h2.connection.ConnectionInputs.RECV_GOAWAY and self.state in _OPEN_STATES:
            return []
        return super().process_input(input_)


class GracefulH2Connection(h2.connection.H2Connection):
    """h2's connection with GOAWAY made graceful (RFC 9113 6.8).

    * the state machine stays open on a received GOAWAY (see :class:`_GracefulStateMachine`);
    * receiving a GOAWAY does not drop the frames already prepared for sending (h2 clears
      its outbound buffer there, which would lose a SETTINGS ACK or response DATA queued in
      the same turn). The engine never needs that method for anything else.
    """

    def __init__(self, config: h2.config.H2Configuration) -> None:
        super().__init__(config)
        self.state_machine = _GracefulStateMachine()

    def clear_outbound_data_buffer(self) -> None:
        """Keep prepared frames (see the class docs)."""


class H2Engine:
    """An HTTP/2 connection over a :class:`~pyrama_net.Stream` (shared by server and client).

    Not public: :class:`~pyrama_http_core.H2ServerConnection` and
    :class:`~pyrama_http_core.H2ClientConnection` build on it.
    """

    def __init__(
        self,
        io: Stream,
        conn: GracefulH2Connection,
        *,
        header_block_limit: int,
        max_resets: int,
        max_control_frames: int,
        flood_window: float,
    ) -> None:
        self.io = io
        self.conn = conn
        self.loop = asyncio.get_running_loop()
        self.streams: dict[int, H2StreamState] = {}
        self.extensions: Extensions = io.extensions
        self._blocked: dict[int, H2StreamState] = {}
        self._flush_handle: asyncio.Handle | None = None
        self._unflushed = 0
        self._header_block_limit = header_block_limit
        self._resets = _WindowCounter(max_resets, flood_window)
        self._controls = _WindowCounter(max_control_frames, flood_window)
        self.closed = False
        self.error: BaseException | None = None
        self.goaway_received: tuple[int, int] | None = None  # (error_code, last_stream_id)
        self.goaway_sent: int | None = None  # last stream id we announced
        self._closed_event = asyncio.Event()
        self._closer: asyncio.Task[None] | None = None
        self._lingering = False
        self._linger_timer: asyncio.TimerHandle | None = None
        self._dispatch: dict[type[h2.events.Event], Callable[[Any], None]] = {
            h2.events.DataReceived: self._ev_data,
            h2.events.StreamEnded: self._ev_stream_ended,
            h2.events.WindowUpdated: self._ev_window_updated,
            h2.events.StreamReset: self._ev_stream_reset,
            h2.events.TrailersReceived: self._ev_trailers,
            h2.events.RemoteSettingsChanged: self._ev_remote_settings,
            h2.events.PingReceived: self._ev_ping,
            h2.events.PingAckReceived: self._ev_ping_ack,
            h2.events.ConnectionTerminated: self._ev_goaway,
            h2.events.SettingsAcknowledged: _ignore,
            h2.events.PriorityUpdated: self._ev_priority,
            h2.events.UnknownFrameReceived: _ignore,
            h2.events.AlternativeServiceAvailable: _ignore,
        }

    def start_h2(self, local_settings: dict[int, int]) -> None:
        """Start h2's side of the connection; *local_settings* apply once the peer ACKs them.

        h2's own preface/SETTINGS bytes are dropped: the driver writes its hand-encoded
        SETTINGS frame (exact entries and order) instead. h2 only needs to know the values,
        and applies them (receive windows, frame size, table size) on the peer's ACK, as the
        protocol requires.
        """
        conn = self.conn
        conn.initiate_connection()
        if local_settings:
            conn.update_settings(local_settings)
        conn.data_to_send()

    # -- writing --------------------------------------------------------------------------

    def flush(self) -> None:
        """Write every frame h2 has prepared, in one write."""
        h = self._flush_handle
        if h is not None:
            h.cancel()
            self._flush_handle = None
        self._unflushed = 0
        data = self.conn.data_to_send()
        if data and not self.io.is_closing():
            try:
                self.io.write(data)
            except Exception as exc:  # OSError, a TLS error, a wrapper's own error: gone
                self._lost(exc)

    def flush_soon(self) -> None:
        """Write the prepared frames at the end of this event-loop turn (coalesces writes)."""
        if self._flush_handle is None:
            self._flush_handle = self.loop.call_soon(self._flush_cb)

    def _flush_cb(self) -> None:
        self._flush_handle = None
        self.flush()

    def write_raw(self, data: bytes) -> None:
        """Write hand-encoded frames after everything h2 has prepared so far."""
        self.flush()
        if not self.closed and not self.io.is_closing():
            try:
                self.io.write(data)
            except Exception as exc:
                self._lost(exc)

    # -- reading --------------------------------------------------------------------------

    async def read_loop(self) -> None:
        """Read from the stream and feed h2 until the connection ends.

        Never raises (except when cancelled): whatever the transport raises on a read
        (``OSError``, a TLS alert as :class:`~pyrama_tls.errors.TlsStreamError`, any other
        error of a wrapping stream) ends the connection, failing every open stream with a
        :class:`~pyrama_http_core.errors.ConnectionClosedError` whose ``__cause__`` is the
        transport's error.
        """
        io = self.io
        conn = self.conn
        dispatch = self._dispatch
        try:
            while True:
                try:
                    data = await io.read(READ_SIZE)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # the transport failed (reset, TLS alert, ...): the connection is just gone
                    if not self.closed:
                        _log.debug("HTTP/2 transport read failed", error=repr(exc))
                    self._lost(exc)
                    break
                if self.closed:
                    if data and self._lingering:
                        continue  # graceful close: drain until the peer closes (no RST)
                    break
                if not data:
                    self._lost(None)
                    break
                try:
                    events = conn.receive_data(data)
                except h2.exceptions.ProtocolError as exc:
                    # h2 usually prepared a GOAWAY with the right code (not for a bad preface)
                    code = None
                    if conn.state_machine.state != h2.connection.ConnectionState.CLOSED:
                        code = int(exc.error_code)
                    self._fail(
                        HttpProtocolError(f"HTTP/2 protocol error: {exc}", hint=None),
                        exc,
                        code=code,
                    )
                    break
                for ev in events:
                    handler = dispatch.get(type(ev))
                    if handler is None:
                        self._on_other_event(ev)
                    else:
                        handler(ev)
                    if self.is_over():
                        break
                if not self.is_over():
                    self._check_header_block()
                self.flush()
        except asyncio.CancelledError:
            self._lost(ConnectionClosedError("the HTTP/2 connection was cancelled"))
            raise
        except Exception as exc:  # a bug in a hook must not leave streams hanging
            _log.exception("HTTP/2 connection failed", error=repr(exc))
            self._fail(
                HttpProtocolError(f"internal error: {exc!r}", side=Side.LOCAL, hint=None),
                None,
                code=H2ErrorCode.INTERNAL_ERROR,
            )
        finally:
            if not self.closed:
                self._lost(None)
            await self._close_io()

    def _check_header_block(self) -> None:
        # h2 collects HEADERS + CONTINUATION frames until END_HEADERS and caps them at 64
        # frames (up to 64 * max frame size bytes); cap the encoded bytes as well.
        buf = getattr(self.conn.incoming_buffer, "_headers_buffer", None)
        if buf:
            size = 0
            for frame in buf:
                size += len(frame.data)
            if size > self._header_block_limit:
                self.calm_down(f"header block over {self._header_block_limit} bytes")

    # -- inbound bodies -------------------------------------------------------------------

    async def recv_next(self, st: H2StreamState) -> bytes | None:
        """The next received body chunk of *st* (``None`` at its end); hands the window back."""
        while not st.recv:
            if st.recv_error is not None:
                raise st.recv_error
            if st.recv_done:
                return None
            w = self.loop.create_future()
            st.recv_waiter = w
            try:
                await w
            finally:
                st.recv_waiter = None
        data = st.recv.popleft()
        n = len(data)
        st.recv_size -= n
        if not self.closed:
            self.conn.acknowledge_received_data(n, st.sid)
            self.flush_soon()
        return data

    def recv_release(self, st: H2StreamState) -> None:
        """The reader of *st*'s body is gone: drop what is buffered and give the window back.

        A late read of a body cut this way raises instead of returning a truncated body.
        """
        st.recv_dropped = True
        n = st.recv_size
        if (n or not st.recv_done) and st.recv_error is None:
            st.recv_error = HttpProtocolError(
                f"the body of stream {st.sid} was discarded", side=Side.LOCAL, hint=None
            )
        st.recv.clear()
        st.recv_size = 0
        if n and not self.closed:
            self.conn.acknowledge_received_data(n, st.sid)
            self.flush_soon()

    def recv_abandoned(self, st: H2StreamState) -> None:
        """The body object reading *st* was garbage collected unread (see RecvBodyIter)."""
        if st.recv or not st.recv_done:
            self.recv_release(st)

    def _ev_data(self, ev: h2.events.DataReceived) -> None:
        sid: int = ev.stream_id
        data: bytes = ev.data
        n: int = ev.flow_controlled_length
        st = self.streams.get(sid)
        if st is None or st.recv_dropped or st.recv_done:
            if n:
                self.conn.acknowledge_received_data(n, sid)
            return
        if n > len(data):  # padding never reaches a reader: give it back now
            self.conn.acknowledge_received_data(n - len(data), sid)
        if not data:
            return
        st.recv_total += len(data)
        limit = st.recv_limit
        if limit is not None and st.recv_total > limit:
            self.conn.acknowledge_received_data(len(data), sid)
            self._on_body_limit(st)
            return
        st.recv.append(data)
        st.recv_size += len(data)
        _wake(st.recv_waiter)

    def _ev_trailers(self, ev: h2.events.TrailersReceived) -> None:
        st = self.streams.get(ev.stream_id)
        if st is not None:
            st.recv_trailers = HeaderMap.from_raw(ev.headers)

    def _ev_stream_ended(self, ev: h2.events.StreamEnded) -> None:
        st = self.streams.get(ev.stream_id)
        if st is None:
            return
        st.remote_ended = True
        st.recv_done = True
        _wake(st.recv_waiter)
        self._on_remote_end(st)
        self._maybe_forget(st)

    # -- outbound bodies ------------------------------------------------------------------

    def send_headers(
        self,
        st: H2StreamState,
        headers: list[Header],
        *,
        end_stream: bool = False,
        priority: tuple[int, int, bool] | None = None,
    ) -> None:
        """Send a HEADERS block on *st* (``priority`` = (weight, depends_on, exclusive))."""
        if st.send_error is not None:
            raise st.send_error
        if priority is None:
            self.conn.send_headers(st.sid, headers, end_stream=end_stream)
        else:
            weight, depends_on, exclusive = priority
            self.conn.send_headers(
                st.sid,
                headers,
                end_stream=end_stream,
                priority_weight=weight,
                priority_depends_on=depends_on,
                priority_exclusive=exclusive,
            )
        st.headers_sent = True
        if end_stream:
            st.out_end = True
            st.end_sent = True
            _wake(st.send_waiter)
            self._maybe_forget(st)
        self.flush_soon()

    def send_whole(self, st: H2StreamState, headers: list[Header], data: bytes) -> bool:
        """Send a complete message on *st* at once: HEADERS, and *data* in one DATA frame.

        The fast path of a response whose body is in memory: the frames are written by hand
        and only h2's state machines and flow-control windows are updated (as h2's own
        ``send_headers`` + ``send_data`` would). Returns ``False``, having done nothing, when
        *data* does not fit the peer's windows or one frame (the caller then queues it).
        """
        if st.send_error is not None:
            raise st.send_error
        conn = self.conn
        sid = st.sid
        stream = conn.streams.get(sid)
        n = len(data)
        if stream is None or self.closed:
            return False
        max_frame = conn.max_outbound_frame_size
        if n and (
            n > max_frame
            or n > stream.outbound_flow_control_window
            or n > conn.outbound_flow_control_window
        ):
            return False
        # the transitions h2 makes; they raise (StreamClosedError...) before anything is
        # encoded or written when the stream cannot send any more
        if conn.state_machine.state not in _OPEN_STATES:
            # sending HEADERS/DATA leaves an open connection as it is: only ask otherwise
            conn.state_machine.process_input(_SEND_HEADERS)
            if n:
                conn.state_machine.process_input(_SEND_DATA)
        machine = stream.state_machine
        machine.process_input(_S_SEND_HEADERS)
        if n:
            machine.process_input(_S_SEND_DATA)
        machine.process_input(_S_SEND_END_STREAM)
        block = conn.encoder.encode(headers)
        if n:
            stream.outbound_flow_control_window -= n
            conn.outbound_flow_control_window -= n
        flags = _END_HEADERS if n else _END_HEADERS | _END_STREAM
        buf = conn._data_to_send
        if len(block) <= max_frame:
            buf += _FRAME_HEAD.pack((len(block) << 8) | 0x1, flags, sid)
            buf += block
        else:
            buf += _split_headers(block, max_frame, flags, sid)
        if n:
            buf += _FRAME_HEAD.pack((n << 8) | 0x0, _END_STREAM, sid)
            buf += data
        st.headers_sent = True
        st.out_end = True
        st.end_sent = True
        _wake(st.send_waiter)
        self._unflushed += n
        if self._unflushed >= FLUSH_AT:
            self.flush()
        else:
            self.flush_soon()
        self._maybe_forget(st)
        return True

    def send_informational(self, st: H2StreamState, headers: list[Header]) -> None:
        """Send an informational (1xx) HEADERS block on *st* (server side)."""
        if st.send_error is None and not st.end_sent:
            self.conn.send_headers(st.sid, headers, end_stream=False)
            self.flush_soon()

    def queue_data(
        self,
        st: H2StreamState,
        data: bytes | memoryview,
        *,
        end: bool = False,
        trailers: list[Header] | None = None,
    ) -> None:
        """Queue body bytes on *st*; they go out as the peer's windows allow.

        With *end* (and optional *trailers*) the stream ends after them, in the same frame
        when possible.
        """
        if st.send_error is not None:
            raise st.send_error
        if st.out_end:
            raise HttpProtocolError("body data after the end of the stream", side=Side.LOCAL)
        if end:
            st.out_end = True
            st.out_trailers = trailers or None
        if data:
            st.out.append(data)
            st.out_size += len(data)
        if data or end:
            self._pump(st)

    def finish_send(self, st: H2StreamState, trailers: list[Header] | None = None) -> None:
        """End *st*'s outbound side after its queued data, with *trailers* if given."""
        if st.send_error is not None:
            raise st.send_error
        if st.out_end:
            return
        st.out_end = True
        st.out_trailers = trailers or None
        self._pump(st)

    async def wait_writable(self, st: H2StreamState) -> None:
        """Wait while *st* has too much queued (flow control) or the transport is full."""
        while st.out_size > OUT_HIGH_WATER and st.send_error is None:
            w = self.loop.create_future()
            st.send_waiter = w
            try:
                await w
            finally:
                st.send_waiter = None
        if st.send_error is not None:
            raise st.send_error
        if self._unflushed:
            self.flush()
            await self.io.drain()

    async def wait_sent(self, st: H2StreamState) -> None:
        """Wait until *st*'s end (last DATA or trailers) has been handed to the transport."""
        while not st.end_sent and st.send_error is None:
            w = self.loop.create_future()
            st.send_waiter = w
            try:
                await w
            finally:
                st.send_waiter = None
        if st.send_error is not None and not st.end_sent:
            raise st.send_error

    def _pump(self, st: H2StreamState) -> None:
        conn = self.conn
        sid = st.sid
        out = st.out
        try:
            while out:
                window = conn.local_flow_control_window(sid)
                if window <= 0:
                    self._blocked[sid] = st
                    break
                size = min(window, conn.max_outbound_frame_size)
                chunk = out[0]
                if len(chunk) <= size:
                    out.popleft()
                    piece = chunk
                else:
                    if not isinstance(chunk, memoryview):
                        chunk = memoryview(chunk)
                    piece = chunk[:size]
                    out[0] = chunk[size:]
                n = len(piece)
                st.out_size -= n
                end = st.out_end and not out and st.out_trailers is None
                conn.send_data(sid, piece, end_stream=end)
                self._unflushed += n
                if end:
                    st.end_sent = True
            if not out and st.out_end and not st.end_sent:
                if st.out_trailers is not None:
                    conn.send_headers(sid, st.out_trailers, end_stream=True)
                else:
                    conn.end_stream(sid)
                st.end_sent = True
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError) as exc:
            if st.send_error is None:
                st.send_error = H2StreamResetError(
                    f"stream {sid} closed while sending: {exc}",
                    error_code=H2ErrorCode.STREAM_CLOSED,
                    remote=True,
                )
            out.clear()
            st.out_size = 0
        if st.out_size <= OUT_HIGH_WATER or st.end_sent or st.send_error is not None:
            _wake(st.send_waiter)
        if self._unflushed >= FLUSH_AT:
            self.flush()
        else:
            self.flush_soon()
        if st.end_sent:
            self._maybe_forget(st)

    def _ev_window_updated(self, ev: h2.events.WindowUpdated) -> None:
        sid = ev.stream_id
        if not sid:
            self._on_connection_window_update(ev.delta or 0)
            self._pump_blocked()
            return
        st = self._blocked.pop(sid, None)
        if st is not None:
            self._pump(st)

    def _pump_blocked(self) -> None:
        blocked = self._blocked
        if not blocked:
            return
        self._blocked = {}
        for st in blocked.values():
            if self.conn.outbound_flow_control_window <= 0:
                self._blocked[st.sid] = st
            else:
                self._pump(st)

    def _ev_remote_settings(self, ev: h2.events.RemoteSettingsChanged) -> None:
        if self._controls_hit():
            return
        self._on_remote_settings(ev)
        if h2.settings.SettingCodes.INITIAL_WINDOW_SIZE in ev.changed_settings:
            for st in list(self.streams.values()):
                if st.out:
                    self._blocked.pop(st.sid, None)
                    self._pump(st)

    # -- resets and stream lifetime --------------------------------------------------------

    def reset_stream(self, st: H2StreamState, code: int = H2ErrorCode.CANCEL) -> None:
        """Reset *st* locally (RST_STREAM *code*) and drop both directions."""
        error = H2StreamResetError(
            f"stream {st.sid} was reset locally ({_code_name(code)})",
            error_code=code,
            remote=False,
        )
        self._kill_stream(st, error)
        if not self.closed:
            with contextlib.suppress(h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                self.conn.reset_stream(st.sid, code)
            self.flush_soon()

    def _kill_stream(self, st: H2StreamState, error: BaseException) -> None:
        if not st.recv_done:
            # a complete body stays readable; a cut one is dropped and raises *error*
            st.recv_done = True
            st.recv_error = error
            _wake(st.recv_waiter)
            self.recv_release(st)
        if not st.end_sent and st.send_error is None:
            st.send_error = error
        st.out.clear()
        st.out_size = 0
        _wake(st.send_waiter)
        self._forget(st)

    def _ev_stream_reset(self, ev: h2.events.StreamReset) -> None:
        sid: int = ev.stream_id
        st = self.streams.get(sid)
        code: int = ev.error_code
        if st is None:
            return
        remote = bool(ev.remote_reset)
        error = H2StreamResetError(
            f"stream {sid} was reset by the peer ({_code_name(code)})",
            error_code=code,
            remote=remote,
        )
        self._kill_stream(st, error)
        self._on_reset(st, error)

    def _maybe_forget(self, st: H2StreamState) -> None:
        if st.end_sent and st.remote_ended:
            self._forget(st)

    def _forget(self, st: H2StreamState) -> None:
        if self.streams.pop(st.sid, None) is not None:
            self._blocked.pop(st.sid, None)
            self._on_stream_closed(st)

    def note_reset(self) -> None:
        """Count one reset or refused stream; too many per window ends the connection."""
        if self._resets.hit():
            self.calm_down("too many stream resets (rapid reset)")

    def _controls_hit(self) -> bool:
        if self._controls.hit():
            self.calm_down("too many control frames")
            return True
        return False

    def _ev_ping(self, ev: h2.events.PingReceived) -> None:
        self._controls_hit()  # h2 has queued the PING ACK

    def _ev_ping_ack(self, ev: h2.events.PingAckReceived) -> None:
        self._on_ping_ack(bytes(ev.ping_data or b""))

    def _ev_priority(self, ev: h2.events.PriorityUpdated) -> None:
        self._on_priority(ev)

    def _ev_goaway(self, ev: h2.events.ConnectionTerminated) -> None:
        code = int(ev.error_code or 0)
        last = int(ev.last_stream_id or 0)
        self.goaway_received = (code, last)
        self._on_goaway(code, last, bytes(ev.additional_data or b""))

    # -- ending the connection --------------------------------------------------------------

    def send_goaway(self, last_stream_id: int, code: int = H2ErrorCode.NO_ERROR) -> None:
        """Send a GOAWAY without closing h2's state (in-flight streams may still finish)."""
        self.goaway_sent = last_stream_id
        self.write_raw(encode_goaway(last_stream_id, code))

    def calm_down(self, reason: str) -> None:
        """End the connection with GOAWAY(ENHANCE_YOUR_CALM): the peer misbehaves."""
        if self.closed:
            return
        _log.warning("HTTP/2 peer misbehaves; closing the connection", reason=reason)
        self._fail(
            HttpProtocolError(f"HTTP/2 peer misbehaves: {reason}", hint=None),
            None,
            code=H2ErrorCode.ENHANCE_YOUR_CALM,
        )

    def _fail(
        self,
        error: BaseException,
        cause: BaseException | None,
        *,
        code: int | None = None,
    ) -> None:
        """End the connection because of *error*; a GOAWAY with *code* goes out first."""
        if self.closed:
            return
        if cause is not None:
            error.__cause__ = cause
        if code is not None:
            with contextlib.suppress(Exception):  # h2 may be in any state here
                self.conn.close_connection(error_code=code)
        self.flush()
        self._lost(error)

    def _lost(self, exc: BaseException | None) -> None:
        """The connection is over: fail every stream still open and wake everyone."""
        if self.closed:
            return
        self.closed = True
        if exc is not None and not isinstance(exc, HttpCoreError):
            detail = str(exc) or type(exc).__name__
            err: BaseException = ConnectionClosedError(f"the HTTP/2 connection was lost: {detail}")
            err.__cause__ = exc
        elif exc is None:
            err = ConnectionClosedError("the HTTP/2 connection was closed")
        else:
            err = exc
        if self.error is None:
            self.error = err
        h = self._flush_handle
        if h is not None:
            h.cancel()
            self._flush_handle = None
        for st in list(self.streams.values()):
            if not st.recv_done:
                st.recv_done = True
                st.recv_error = err
                _wake(st.recv_waiter)
            if not st.end_sent and st.send_error is None:
                st.send_error = err
            _wake(st.send_waiter)
        streams = list(self.streams.values())
        self.streams.clear()
        self._blocked.clear()
        try:
            self._on_lost(err, streams)
        except Exception as hook_exc:  # a driver bug must not keep the connection half-open
            _log.exception("HTTP/2 connection cleanup failed", error=repr(hook_exc))
        self._closed_event.set()
        io = self.io
        if io.is_closing():
            return
        if self._lingering:
            # graceful: half-close, let the read loop discard what the peer still sends
            # until it closes too (closing with unread bytes would send a TCP RST, which can
            # make the peer drop our last response), bounded by LINGER_TIMEOUT
            with contextlib.suppress(Exception):  # a dying transport: closing anyway
                if io.can_write_eof():
                    io.write_eof()
            self._linger_timer = self.loop.call_later(LINGER_TIMEOUT, self._end_linger)
        else:
            # wakes the read loop (the read returns EOF) wherever we were called from
            self._closer = self.loop.create_task(self._close_io())

    def close_gracefully(self) -> None:
        """End the connection after what was written, without failing the peer's last reads."""
        self._lingering = True
        self.flush()
        self._lost(None)

    def _end_linger(self) -> None:
        self._linger_timer = None
        self._lingering = False
        if not self.io.is_closing():
            self._closer = self.loop.create_task(self._close_io())

    async def _close_io(self) -> None:
        h = self._linger_timer
        if h is not None:
            h.cancel()
            self._linger_timer = None
        try:
            await self.io.close()
        except Exception as exc:  # a dying transport must not fail the close
            _log.debug("HTTP/2 transport close failed", error=repr(exc))

    def is_over(self) -> bool:
        """Whether the connection has ended."""
        return self.closed

    async def wait_closed(self) -> None:
        """Wait until the connection is over."""
        await self._closed_event.wait()

    # -- hooks for the drivers ---------------------------------------------------------------

    def _on_other_event(self, ev: h2.events.Event) -> None:
        """An h2 event the engine does not handle itself (requests, responses, ...)."""

    def _on_remote_end(self, st: H2StreamState) -> None:
        """The peer ended its side of *st*."""

    def _on_body_limit(self, st: H2StreamState) -> None:
        """*st*'s received body went over ``st.recv_limit``."""
        self.reset_stream(st, H2ErrorCode.CANCEL)

    def _on_reset(self, st: H2StreamState, error: H2StreamResetError) -> None:
        """The peer reset *st*."""

    def _on_stream_closed(self, st: H2StreamState) -> None:
        """*st* is closed in both directions (or reset) and forgotten."""

    def _on_remote_settings(self, ev: h2.events.RemoteSettingsChanged) -> None:
        """The peer sent SETTINGS (h2 has acknowledged them)."""

    def _on_connection_window_update(self, delta: int) -> None:
        """The peer sent a WINDOW_UPDATE for the connection."""

    def _on_priority(self, ev: h2.events.PriorityUpdated) -> None:
        """The peer sent priority information."""

    def _on_ping_ack(self, payload: bytes) -> None:
        """The peer answered one of our PINGs."""

    def _on_goaway(self, code: int, last_stream_id: int, debug: bytes) -> None:
        """The peer sent GOAWAY."""

    def _on_lost(self, error: BaseException, streams: list[H2StreamState]) -> None:
        """The connection is over; *streams* were still open."""

    # -- helpers for the drivers ---------------------------------------------------------------

    def goaway_error(self, code: int, last_stream_id: int, *, retryable: bool) -> H2GoAwayError:
        """The error for a stream cut by a GOAWAY."""
        return H2GoAwayError(
            f"the peer sent GOAWAY ({_code_name(code)}, last stream {last_stream_id})",
            error_code=code,
            last_stream_id=last_stream_id,
            retryable=retryable,
        )


def _split_headers(block: bytes, max_frame: int, flags: int, sid: int) -> bytes:
    """HEADERS + CONTINUATION frames carrying *block* (END_HEADERS on the last one)."""
    parts = [block[i : i + max_frame] for i in range(0, len(block), max_frame)]
    end_stream = flags & _END_STREAM
    out = [_FRAME_HEAD.pack((len(parts[0]) << 8) | 0x1, end_stream, sid), parts[0]]
    for i, part in enumerate(parts[1:], 2):
        last = _END_HEADERS if i == len(parts) else 0
        out.append(_FRAME_HEAD.pack((len(part) << 8) | 0x9, last, sid))
        out.append(part)
    return b"".join(out)


def _ignore(ev: h2.events.Event) -> None:
    return None


def _code_name(code: int) -> str:
    try:
        return H2ErrorCode(code).name
    except ValueError:
        return f"error code {code:#x}"


class RecvBodyIter:
    """Async iterator over one stream's received body chunks (backs a :class:`Body`).

    When it is garbage collected with bytes still buffered (a response or request body
    nobody read to the end), the engine hands their flow-control window back, so an unread
    body cannot stall the connection.
    """

    __slots__ = ("_engine", "_first", "_st")

    def __init__(
        self,
        engine: H2Engine,
        st: H2StreamState,
        first: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._st = st
        self._first = first

    def __aiter__(self) -> RecvBodyIter:
        return self

    async def __anext__(self) -> bytes:
        first = self._first
        if first is not None:
            self._first = None
            first()
        data = await self._engine.recv_next(self._st)
        if data is None:
            raise StopAsyncIteration
        return data

    def trailers(self) -> HeaderMap | None:
        """The received trailers (valid once the body ended)."""
        return self._st.recv_trailers

    async def aclose(self) -> None:
        """The reader does not want the rest: drop it and hand the window back."""
        st = self._st
        if st.recv or not st.recv_done:
            self._engine.recv_abandoned(st)

    def __del__(self) -> None:
        st = self._st
        if (st.recv or not st.recv_done) and not st.recv_dropped:
            engine = self._engine
            # deferred: the collector may run us in the middle of h2's own processing
            with contextlib.suppress(Exception):  # interpreter or loop shutting down
                engine.loop.call_soon(engine.recv_abandoned, st)
