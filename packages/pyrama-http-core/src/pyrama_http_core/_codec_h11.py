"""HTTP/1.1 codecs built on h11: the pure-Python reference implementation of the codec interface.

h11 parses (request/status lines, header fields, Content-Length and chunked bodies, trailers)
and rejects differing ``Content-Length`` values, unknown transfer codings, NUL/CR/LF inside
fields. On top of it these codecs reject what h11 tolerates but a server should not: a request
with both ``Content-Length`` and ``Transfer-Encoding`` (h11 lets chunked win), bare LF line
endings, obsolete line folding and other control characters in a head, a complete head bigger
than the limit (h11 only bounds incomplete ones) and too many header fields.

Sending is not h11's: h11 moves ``Host`` to the front and re-adds ``Connection``,
``Content-Length`` and ``Transfer-Encoding`` in title case at the end of the head, so heads are
written by :mod:`pyrama_http_core._codec_write`, which keeps the fields exactly as given.
Because of that h11 only ever sees the peer's side of each exchange.

Server side, receiving: the buffering, framing and checks are
:class:`~pyrama_http_core._codec_server.ServerReader`'s (shared with the httptools codec);
this codec's part is the head parser: each complete request head goes to h11's request
reader, the function an ``h11.Connection`` calls for it, without the connection's state
machine around it (which only tracks what the reader tracks itself, at several times the cost
of the parse). If a future h11 moves that reader, each head goes through a fresh
``h11.Connection`` instead: same result, slower.
"""

from __future__ import annotations

import re

import h11

from pyrama_core.errors import Side
from pyrama_http_core._codec import (
    NEED_DATA,
    PAUSED,
    BodyData,
    ClientEvent,
    ConnectionClosed,
    EndOfMessage,
    InformationalHead,
    RawHeaders,
    ResponseHead,
)
from pyrama_http_core._codec_server import (
    ParsedHead,
    ServerReader,
    connection_tokens,
    h11_remote_error,
)
from pyrama_http_core._codec_write import ClientWriter
from pyrama_http_core._config import HttpLimits
from pyrama_http_core.errors import HeaderLimitError, HttpProtocolError

__all__ = ["H11ClientCodec", "H11ServerCodec"]

_H11Data = h11.Data
_H11EOM = h11.EndOfMessage
_H11Request = h11.Request
_H11Response = h11.Response
_H11Info = h11.InformationalResponse
_H11Closed = h11.ConnectionClosed
_H11_NEED_DATA = h11.NEED_DATA
_H11_PAUSED = h11.PAUSED

try:  # h11's request-head reader (what h11.Connection calls), used without the connection
    from h11._readers import maybe_read_from_IDLE_client as _h11_read_request
    from h11._receivebuffer import ReceiveBuffer as _H11ReceiveBuffer

    _USE_H11_READER = True
except ImportError:  # pragma: no cover - a future h11 moved it: parse through h11.Connection
    _USE_H11_READER = False

_NO_FIELDS: RawHeaders = []
_CONTENT_LENGTH_RE = re.compile(rb"\ncontent-length:[ \t]*([^\r]*)\r", re.IGNORECASE)
_TRANSFER_ENCODING_RE = re.compile(rb"\ntransfer-encoding:[ \t]*([^\r]*)\r", re.IGNORECASE)


def _local(message: str) -> HttpProtocolError:
    return HttpProtocolError(message, side=Side.LOCAL, hint=None)


def _field_values(head: bytes, pattern: re.Pattern[bytes]) -> list[bytes]:
    return [m.group(1).rstrip(b" \t") for m in pattern.finditer(head)]


def _parsed(ev: object, head: bytes) -> ParsedHead | HttpProtocolError:
    if type(ev) is not _H11Request:  # pragma: no cover - a complete head was given
        return HttpProtocolError(f"unexpected h11 event {ev!r}")
    req: h11.Request = ev
    raw: RawHeaders = []
    framing = False
    for name, lower, value in req.headers._full_items:
        raw.append((name, value))
        if lower == b"content-length" or lower == b"transfer-encoding":
            framing = True
    # h11 folds an equal second Content-Length (or a list of equal values) into one field
    # and lowercases Transfer-Encoding. The codecs refuse the first and report the second as
    # sent, so framing fields are read back from the head as received (rare: bodies only).
    if framing:
        lengths = _field_values(head, _CONTENT_LENGTH_RE)
        if len(lengths) != 1 and lengths:
            return HttpProtocolError("more than one Content-Length field")
        if lengths and not lengths[0].isdigit():
            return HttpProtocolError(f"invalid Content-Length {lengths[0]!r}")
        codings = _field_values(head, _TRANSFER_ENCODING_RE)
        if codings:
            for i, (name, _) in enumerate(raw):
                if name.lower() == b"transfer-encoding":
                    raw[i] = (name, codings[0])
                    break
    return req.method, req.target, req.http_version, raw


def _parse_head_direct(head: bytes) -> ParsedHead | HttpProtocolError:
    """Parse a complete request head with h11's reader, without an ``h11.Connection``."""
    buf = _H11ReceiveBuffer()
    buf += head
    try:
        ev = _h11_read_request(buf)
    except h11.ProtocolError as exc:
        return h11_remote_error(exc)
    return _parsed(ev, head)


def _parse_head_connection(head: bytes) -> ParsedHead | HttpProtocolError:
    """Parse a complete request head through a fresh ``h11.Connection`` (the public API)."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=len(head) + 1)
    try:
        conn.receive_data(head)
        ev = conn.next_event()
    except h11.ProtocolError as exc:
        return h11_remote_error(exc)
    return _parsed(ev, head)


class H11ServerCodec(ServerReader):
    """The server side of HTTP/1.1 on h11 (see :class:`~pyrama_http_core.Http1ServerCodec`).

    Request heads are parsed by h11; framing, limits and checks are
    :class:`~pyrama_http_core._codec_server.ServerReader`'s, shared with every server codec.
    Enforces ``max_header_size`` and ``max_headers`` of *limits* on request heads and trailer
    sections; body limits and timeouts are the driver's.
    """

    __slots__ = ()

    def __init__(self, limits: HttpLimits | None = None) -> None:
        super().__init__(_parse_head_direct if _USE_H11_READER else _parse_head_connection, limits)


class H11ClientCodec(ClientWriter):
    """The client side of HTTP/1.1 on h11 (see :class:`~pyrama_http_core.Http1ClientCodec`).

    Enforces *max_header_size* and *max_headers* on response heads and trailer sections.
    """

    __slots__ = ("_conn", "_head_limit", "_max_headers")

    def __init__(self, *, max_header_size: int = 64 * 1024, max_headers: int = 100) -> None:
        super().__init__()
        self._head_limit = max_header_size
        self._max_headers = max_headers
        self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_header_size)

    # -- sending (the encoding is ClientWriter's) --------------------------------------------

    def _begin_exchange(self, method: bytes, upgrade: bytes | None, close: bool) -> None:
        # h11 parses the response: give it a stand-in request carrying what framing depends on
        # (the method for HEAD/CONNECT, the upgrade proposal, Connection: close)
        stub: list[tuple[bytes, bytes]] = [(b"host", b"x")]
        if upgrade is not None:
            stub.append((b"upgrade", upgrade))
        if close:
            stub.append((b"connection", b"close"))
        leftover, _ = self._conn.trailing_data
        conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=self._head_limit)
        try:
            conn.send(_H11Request(method=method, target=b"/", headers=stub))
            conn.send(_H11EOM())
        except h11.LocalProtocolError as exc:  # pragma: no cover - inputs were checked
            raise _local(str(exc)) from exc
        if leftover:
            conn.receive_data(leftover)
        self._conn = conn

    # -- receiving -------------------------------------------------------------------------

    def receive(self, data: bytes, /) -> None:
        """Buffer bytes from the server; ``b""`` marks the end of what it sends."""
        if not data:
            if not self._eof:
                self._eof = True
                self._conn.receive_data(b"")
            return
        if not self._eof:
            self._conn.receive_data(data)

    def next_event(self) -> ClientEvent:
        """Return the next response event, :data:`NEED_DATA` or :data:`PAUSED`."""
        if self._error is not None:
            return self._error
        if not self._in_exchange or self._resp_done:
            # no response is expected: only the end of the connection is news
            return ConnectionClosed(complete=True) if self._eof else PAUSED
        try:
            ev = self._conn.next_event()
        except h11.RemoteProtocolError as exc:
            if self._eof:
                self._keep_alive = False
                return ConnectionClosed(complete=False)
            return self._fail(h11_remote_error(exc))
        t = type(ev)
        if t is _H11Data:
            return BodyData(bytes(ev.data))  # type: ignore[union-attr]
        if t is _H11Response:
            return self._head(ev)  # type: ignore[arg-type]
        if t is _H11EOM:
            self._resp_done = True
            if self._body is not None and self._body.done:
                self._in_exchange = False
            headers = ev.headers  # type: ignore[union-attr]
            if not headers:
                return EndOfMessage(_NO_FIELDS)
            if len(headers) > self._max_headers:
                return self._fail(
                    HeaderLimitError(
                        f"more than {self._max_headers} trailer fields", limit=self._max_headers
                    )
                )
            return EndOfMessage(headers.raw_items())
        if t is _H11Info:
            info: h11.InformationalResponse = ev  # type: ignore[assignment]
            if len(info.headers) > self._max_headers:
                return self._fail(
                    HeaderLimitError(
                        f"more than {self._max_headers} header fields", limit=self._max_headers
                    )
                )
            if info.status_code == 101:
                self._switched = True
                self._resp_done = True
                self._in_exchange = False
                return ResponseHead(
                    101,
                    info.reason,
                    info.http_version,
                    info.headers.raw_items(),
                    False,
                    None,
                    False,
                    False,
                )
            return InformationalHead(info.status_code, info.reason, info.headers.raw_items())
        if ev is _H11_NEED_DATA:
            return NEED_DATA
        if ev is _H11_PAUSED:
            return PAUSED
        if t is _H11Closed:
            return ConnectionClosed(complete=True)
        return self._fail(HttpProtocolError(f"unexpected h11 event {ev!r}"))  # pragma: no cover

    def _head(self, ev: h11.Response) -> ClientEvent:
        items = ev.headers._full_items
        if len(items) > self._max_headers:
            return self._fail(
                HeaderLimitError(
                    f"more than {self._max_headers} header fields", limit=self._max_headers
                )
            )
        raw: RawHeaders = []
        content_length: int | None = None
        chunked = False
        connection: list[bytes] | None = None
        for name, lower, value in items:
            raw.append((name, value))
            if lower == b"content-length":
                content_length = int(value)
            elif lower == b"transfer-encoding":
                chunked = True
            elif lower == b"connection":
                connection = connection_tokens(value, connection)
        status = ev.status_code
        version = ev.http_version
        if version == b"1.1":
            keep = connection is None or b"close" not in connection
        else:
            keep = connection is not None and b"keep-alive" in connection
        switching = self._switch == 2 and 200 <= status < 300
        has_body = not (status in (204, 304) or self._method == b"HEAD" or switching)
        if chunked:
            content_length = None
        elif content_length is None and has_body:
            keep = False  # close-delimited body
        if not has_body:
            content_length = None if switching else content_length
        if switching:
            self._switched = True
            self._resp_done = True
            self._in_exchange = False
            keep = False
        self._keep_alive = self._keep_alive and keep
        return ResponseHead(
            status, ev.reason, version, raw, keep, content_length, chunked and has_body, has_body
        )

    # -- state -----------------------------------------------------------------------------

    def take_switched(self) -> bytes:
        """After ``101`` (or ``2xx`` to ``CONNECT``): the bytes received for the new protocol."""
        if not self._switched:
            raise _local("the connection has not switched protocols")
        data, _ = self._conn.trailing_data
        self._conn = h11.Connection(h11.CLIENT)
        return data
