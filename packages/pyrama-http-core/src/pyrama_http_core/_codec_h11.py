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

Server side, receiving: a request head is cut from the receive buffer once complete (and
checked as above), then parsed and validated by h11's request reader, the function an
``h11.Connection`` calls for it, without the connection's state machine around it (which
only tracks what this codec tracks itself, at several times the cost of the parse). If a
future h11 moves that reader, each head goes through a fresh ``h11.Connection`` instead:
same result, slower. A ``Content-Length`` body is sliced off the buffer (framing, nothing to
parse); a chunked body is decoded by an ``h11.Connection`` set up for it, fed in bounded
pieces.
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
    CodecError,
    ConnectionClosed,
    EndOfMessage,
    InformationalHead,
    RawHeaders,
    RequestHead,
    ResponseHead,
    ServerEvent,
)
from pyrama_http_core._codec_write import ClientWriter, ServerWriter
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
_END = EndOfMessage(_NO_FIELDS)
# server codec phases: reading a head; a body that is empty, Content-Length or chunked; done
_HEAD, _EMPTY, _LENGTH, _CHUNKED, _DONE = 0, 1, 2, 3, 4
# a stand-in head that puts an h11.Connection into the state of reading a chunked body
_CHUNKED_PRIMER = b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
# how many bytes of a chunked body h11 gets at a time (bounds the copy when an exchange ends)
_CHUNKED_FEED = 16384
_CR_LF = (13, 10)
# h11 lets control characters other than NUL, CR and LF through; a head has no business with them
_CTL_RE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _local(message: str) -> HttpProtocolError:
    return HttpProtocolError(message, side=Side.LOCAL, hint=None)


def _parse_head_direct(head: bytes, limit: int) -> object:
    """Parse a complete request head with h11's reader (raises ``h11.LocalProtocolError``)."""
    buf = _H11ReceiveBuffer()
    buf += head
    return _h11_read_request(buf)


def _parse_head_connection(head: bytes, limit: int) -> object:
    """Parse a complete request head through a fresh ``h11.Connection`` (the public API)."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=limit)
    conn.receive_data(head)
    return conn.next_event()


def _chunked_decoder(limit: int) -> h11.Connection:
    """An ``h11.Connection`` positioned at the start of a chunked request body."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=limit)
    conn.receive_data(_CHUNKED_PRIMER)
    conn.next_event()  # the stand-in request
    return conn


def _remote_error(exc: h11.ProtocolError) -> HttpProtocolError:
    hint = exc.error_status_hint
    if hint == 431:
        err: HttpProtocolError = HeaderLimitError(f"head too large: {exc}")
    else:
        err = HttpProtocolError(str(exc) or "malformed HTTP/1.1 message", hint=hint)
    err.__cause__ = exc
    return err


class _HeadScanner:
    """Checks an incoming head for what h11 tolerates: bare LF, obs-fold, controls, size.

    Works in place on the codec's receive buffer, which starts at the head while a head is
    expected. Incremental: each byte is looked at a bounded number of times however the head
    is split across reads.
    """

    __slots__ = ("limit", "pos")

    def __init__(self, limit: int) -> None:
        self.pos = 0  # bytes before this have been checked
        self.limit = limit

    def check(self, buf: bytearray) -> int | HttpProtocolError:
        """Scan what arrived since the last call.

        Returns the length of the complete head, ``0`` while it is incomplete, or an error.
        """
        pos = self.pos
        n = len(buf)
        if pos >= n:
            return 0
        if pos == 0 and buf[0] < 0x21:
            # a request line starts with a token; TLS (0x16) to a plain port ends here too
            return HttpProtocolError("illegal request line")
        start = pos - 3 if pos >= 3 else 0
        idx = buf.find(b"\r\n\r\n", start)
        stop = n if idx < 0 else idx + 4
        # every LF must end a CRLF: count the LFs in [pos, stop) and the CRLFs ending there
        lf = buf.count(b"\n", pos, stop)
        if lf and lf != buf.count(b"\r\n", pos - 1 if pos else 0, stop):
            return HttpProtocolError("bare LF line ending in the request head")
        if _CTL_RE.search(buf, pos, stop) is not None:
            return HttpProtocolError("control character in the request head")
        fold_from = pos - 1 if pos else 0
        if lf and (
            buf.find(b"\n ", fold_from, stop) >= 0 or buf.find(b"\n\t", fold_from, stop) >= 0
        ):
            return HttpProtocolError("obsolete line folding in the request head")
        if idx >= 0:
            if stop > self.limit:
                return HeaderLimitError(
                    f"request head of {stop} bytes is over the limit of {self.limit}",
                    limit=self.limit,
                )
            self.pos = 0
            return stop
        if n > self.limit:
            return HeaderLimitError(
                f"request head over the limit of {self.limit} bytes", limit=self.limit
            )
        self.pos = stop
        return 0


def _connection_tokens(value: bytes, into: list[bytes] | None) -> list[bytes]:
    tokens = [t.strip() for t in value.lower().split(b",")]
    if into is None:
        return tokens
    into.extend(tokens)
    return into


class H11ServerCodec(ServerWriter):
    """The server side of HTTP/1.1 on h11 (see :class:`~pyrama_http_core.Http1ServerCodec`).

    Enforces ``max_header_size`` and ``max_headers`` of *limits* on request heads and trailer
    sections; body limits and timeouts are the driver's.
    """

    __slots__ = (
        "_buf",
        "_chunks",
        "_eof",
        "_eof_fed",
        "_error",
        "_head_limit",
        "_max_headers",
        "_parse_head",
        "_phase",
        "_remaining",
        "_scanner",
    )

    def __init__(self, limits: HttpLimits | None = None) -> None:
        super().__init__()
        lim = HttpLimits() if limits is None else limits
        self._head_limit = lim.max_header_size
        self._max_headers = lim.max_headers
        self._parse_head = _parse_head_direct if _USE_H11_READER else _parse_head_connection
        self._scanner = _HeadScanner(self._head_limit)
        # Bytes received and not yet consumed. Heads are cut from here once complete, and
        # Content-Length bodies sliced off; only a chunked body goes through an
        # h11.Connection (in bounded pieces), so finishing an exchange never copies the
        # pipelined requests that follow it.
        self._buf = bytearray()
        self._phase = _HEAD
        self._remaining = 0  # Content-Length bytes still due
        self._chunks: h11.Connection | None = None  # the chunked body's decoder
        self._eof = False
        self._eof_fed = False
        self._error: CodecError | None = None

    # -- receiving -------------------------------------------------------------------------

    def receive(self, data: bytes, /) -> None:
        """Buffer bytes from the client; ``b""`` marks the end of what it sends."""
        if not data:
            self._eof = True
        elif not self._eof:  # bytes after EOF cannot happen on a real stream; ignore them
            self._buf += data

    def next_event(self) -> ServerEvent:
        """Return the next request event, :data:`NEED_DATA` or :data:`PAUSED`."""
        if self._error is not None:
            return self._error
        phase = self._phase
        if phase == _DONE:
            if self._exchange_open or not self._keep_alive:
                return PAUSED
            self._next_cycle()
            return self._next_head()
        if phase == _HEAD:
            return self._next_head()
        if phase == _EMPTY:
            self._phase = _DONE
            return _END
        if phase == _LENGTH:
            return self._next_length()
        return self._next_chunked()

    def _next_length(self) -> ServerEvent:
        rem = self._remaining
        if not rem:
            self._phase = _DONE
            return _END
        buf = self._buf
        n = len(buf)
        if n:
            if n <= rem:
                data = bytes(buf)
                buf.clear()
            else:
                n = rem
                data = bytes(buf[:n])
                del buf[:n]
            self._remaining = rem - n
            return BodyData(data)
        if self._eof:
            return ConnectionClosed(complete=False)
        return NEED_DATA

    def _next_chunked(self) -> ServerEvent:
        conn = self._chunks
        assert conn is not None
        buf = self._buf
        while True:
            try:
                ev = conn.next_event()
            except h11.RemoteProtocolError as exc:
                if self._eof_fed:
                    return ConnectionClosed(complete=False)
                return self._fail(_remote_error(exc))
            t = type(ev)
            if t is _H11Data:
                return BodyData(bytes(ev.data))  # type: ignore[union-attr]
            if ev is _H11_NEED_DATA:
                if buf:
                    if len(buf) <= _CHUNKED_FEED:
                        conn.receive_data(bytes(buf))
                        buf.clear()
                    else:
                        conn.receive_data(bytes(buf[:_CHUNKED_FEED]))
                        del buf[:_CHUNKED_FEED]
                    continue
                if self._eof and not self._eof_fed:
                    self._eof_fed = True
                    conn.receive_data(b"")
                    continue
                return NEED_DATA
            if t is _H11EOM:
                self._phase = _DONE
                headers = ev.headers  # type: ignore[union-attr]
                if not headers:
                    return _END
                if len(headers) > self._max_headers:
                    return self._fail(
                        HeaderLimitError(
                            f"more than {self._max_headers} trailer fields",
                            limit=self._max_headers,
                        )
                    )
                return EndOfMessage(headers.raw_items())
            return self._fail(HttpProtocolError(f"unexpected h11 event {ev!r}"))

    def _next_head(self) -> ServerEvent:
        buf = self._buf
        if buf and self._scanner.pos == 0 and buf[0] in _CR_LF:
            # a server should ignore empty lines before a request line (RFC 9112 2.2)
            n = 1
            while n < len(buf) and buf[n] in _CR_LF:
                n += 1
            del buf[:n]
        found = self._scanner.check(buf)
        if type(found) is not int:
            return self._fail(found)  # type: ignore[arg-type]
        if not found:
            if self._eof:
                return ConnectionClosed(complete=not buf)
            return NEED_DATA
        if found == len(buf):
            head = bytes(buf)
            buf.clear()
        else:
            head = bytes(buf[:found])
            del buf[:found]
        try:
            ev = self._parse_head(head, self._head_limit)
        except h11.ProtocolError as exc:
            return self._fail(_remote_error(exc))
        if type(ev) is not _H11Request:  # pragma: no cover - a complete head was given
            return self._fail(HttpProtocolError(f"unexpected h11 event {ev!r}"))
        return self._head(ev)

    def _fail(self, err: HttpProtocolError) -> CodecError:
        ev = CodecError(err)
        self._error = ev
        self._keep_alive = False
        return ev

    def _head(self, ev: h11.Request) -> ServerEvent:
        items = ev.headers._full_items
        if len(items) > self._max_headers:
            return self._fail(
                HeaderLimitError(
                    f"more than {self._max_headers} header fields", limit=self._max_headers
                )
            )
        raw: RawHeaders = []
        append = raw.append
        content_length: int | None = None
        chunked = False
        connection: list[bytes] | None = None
        expect = False
        upgrade: bytes | None = None
        for name, lower, value in items:
            append((name, value))
            c = lower[:1]
            if c == b"c":
                if lower == b"content-length":
                    content_length = int(value)
                elif lower == b"connection":
                    connection = _connection_tokens(value, connection)
            elif c == b"t":
                if lower == b"transfer-encoding":
                    chunked = True
            elif c == b"e":
                if lower == b"expect" and value.lower() == b"100-continue":
                    expect = True
            elif c == b"u" and lower == b"upgrade":
                upgrade = value
        version = ev.http_version
        method = ev.method
        if version != b"1.1" and version != b"1.0":
            if version[:2] != b"1.":
                return self._fail(
                    HttpProtocolError(f"HTTP version {version!r} is not supported", hint=505)
                )
            version = b"1.1"  # a higher 1.x minor is processed as 1.1 (RFC 9110 2.5)
        if version == b"1.1":
            keep_alive = connection is None or b"close" not in connection
        else:
            expect = False  # a 1.0 client never waits for 100 Continue
            keep_alive = (
                connection is not None
                and b"keep-alive" in connection
                and (b"close" not in connection)
            )
        if chunked:
            if content_length is not None:
                # RFC 9112 6.1 allows rejecting this outright; it is the classic smuggling shape
                return self._fail(
                    HttpProtocolError("request has both Content-Length and Transfer-Encoding")
                )
            self._phase = _CHUNKED
            self._chunks = _chunked_decoder(self._head_limit)
        elif content_length:
            self._phase = _LENGTH
            self._remaining = content_length
        else:
            self._phase = _EMPTY
        self._request_started(method, version, keep_alive, upgrade is not None)
        return RequestHead(
            method,
            ev.target,
            version,
            raw,
            keep_alive,
            expect,
            content_length,
            chunked,
            upgrade,
        )

    def _next_cycle(self) -> None:
        conn = self._chunks
        if conn is not None:
            self._chunks = None
            leftover, _ = conn.trailing_data  # at most one chunked feed's worth
            if leftover:
                self._buf[:0] = leftover
            self._eof_fed = False
        self._phase = _HEAD
        self._new_exchange()

    # -- state -----------------------------------------------------------------------------

    @property
    def keep_alive(self) -> bool:
        """Whether another request may follow the current exchange."""
        return self._keep_alive and self._error is None and not self._switched

    @property
    def request_complete(self) -> bool:
        """Whether the current request has been read to its end."""
        return self._phase == _DONE

    def take_switched(self) -> bytes:
        """After ``101`` (or ``2xx`` to ``CONNECT``): the bytes received for the new protocol."""
        if not self._switched:
            raise _local("the connection has not switched protocols")
        if self._phase != _DONE:
            raise _local("the switching request's body has not been read to its end")
        data = b""
        conn = self._chunks
        if conn is not None:
            self._chunks = None
            data, _ = conn.trailing_data
        if self._buf:
            data += self._buf
            self._buf = bytearray()
        return data


class H11ClientCodec(ClientWriter):
    """The client side of HTTP/1.1 on h11 (see :class:`~pyrama_http_core.Http1ClientCodec`).

    Enforces *max_header_size* and *max_headers* on response heads and trailer sections.
    """

    __slots__ = ("_conn", "_eof", "_error", "_head_limit", "_max_headers")

    def __init__(self, *, max_header_size: int = 64 * 1024, max_headers: int = 100) -> None:
        super().__init__()
        self._head_limit = max_header_size
        self._max_headers = max_headers
        self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_header_size)
        self._eof = False
        self._error: CodecError | None = None

    # -- sending (the encoding is ClientWriter's) --------------------------------------------

    def _ready(self) -> bool:
        return not self._switched and self._keep_alive and self._error is None and not self._eof

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
            return self._fail(_remote_error(exc))
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

    def _fail(self, err: HttpProtocolError) -> CodecError:
        ev = CodecError(err)
        self._error = ev
        self._keep_alive = False
        return ev

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
                connection = _connection_tokens(value, connection)
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

    @property
    def is_reusable(self) -> bool:
        """Whether the exchange is over on both sides and another request may follow."""
        return (
            not self._in_exchange
            and self._keep_alive
            and not self._switched
            and self._error is None
            and not self._eof
        )

    @property
    def request_complete(self) -> bool:
        """Whether the request body has been ended."""
        return self._body is not None and self._body.done

    def take_switched(self) -> bytes:
        """After ``101`` (or ``2xx`` to ``CONNECT``): the bytes received for the new protocol."""
        if not self._switched:
            raise _local("the connection has not switched protocols")
        data, _ = self._conn.trailing_data
        self._conn = h11.Connection(h11.CLIENT)
        return data
