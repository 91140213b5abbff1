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
Because of that h11 only ever sees the peer's side of each exchange; every exchange gets a fresh
``h11.Connection`` fed with the bytes the previous one left over (cheaper than driving h11's
own state machine for our side, and equivalent for parsing).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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
from pyrama_http_core._codec_write import (
    CHUNKED,
    CLOSE_DELIMITED,
    LENGTH,
    NO_BODY,
    BodyWriter,
    check_method,
    check_target,
    encode_fields,
    status_line,
)
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

_NO_FIELDS: RawHeaders = []
# server codec phases
_HEAD, _BODY, _DONE = 0, 1, 2
# how many bytes of a chunked body h11 gets at a time (bounds the copy when an exchange ends)
_CHUNKED_FEED = 16384
_CR_LF = (13, 10)
# h11 lets control characters other than NUL, CR and LF through; a head has no business with them
_CTL_RE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _local(message: str) -> HttpProtocolError:
    return HttpProtocolError(message, side=Side.LOCAL, hint=None)


def _remote_error(exc: h11.RemoteProtocolError) -> HttpProtocolError:
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


class H11ServerCodec:
    """The server side of HTTP/1.1 on h11 (see :class:`~pyrama_http_core.Http1ServerCodec`).

    Enforces ``max_header_size`` and ``max_headers`` of *limits* on request heads and trailer
    sections; body limits and timeouts are the driver's.
    """

    __slots__ = (
        "_body",
        "_buf",
        "_conn",
        "_eof",
        "_eof_fed",
        "_error",
        "_head_limit",
        "_keep_alive",
        "_max_headers",
        "_method",
        "_phase",
        "_remaining",
        "_resp_started",
        "_scanner",
        "_switch",
        "_switched",
        "_version",
    )

    def __init__(self, limits: HttpLimits | None = None) -> None:
        lim = HttpLimits() if limits is None else limits
        self._head_limit = lim.max_header_size
        self._max_headers = lim.max_headers
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self._head_limit)
        self._scanner = _HeadScanner(self._head_limit)
        # Bytes received and not yet given to h11. h11 only ever gets one message at a time
        # (a whole head, then the body as needed), so finishing an exchange never copies the
        # pipelined requests that follow it.
        self._buf = bytearray()
        self._phase = _HEAD
        self._remaining: int | None = None  # Content-Length bytes not yet given to h11
        self._eof = False
        self._eof_fed = False
        self._error: CodecError | None = None
        self._keep_alive = True
        self._resp_started = False
        self._body: BodyWriter | None = None
        self._method = b""
        self._version = b"1.1"
        self._switch = 0  # 0: no proposal, 1: Upgrade proposed, 2: CONNECT
        self._switched = False

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
            if self._switched or self._switch or self._body is None or not self._body.done:
                return PAUSED
            if not self._keep_alive:
                return PAUSED
            self._next_cycle()
            phase = _HEAD
        if phase == _HEAD:
            return self._next_head()
        conn = self._conn
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
                rem = self._remaining
                if buf and rem != 0:
                    n = _CHUNKED_FEED if rem is None else rem
                    if n >= len(buf):
                        conn.receive_data(bytes(buf))
                        if rem is not None:
                            self._remaining = rem - len(buf)
                        buf.clear()
                    else:
                        conn.receive_data(bytes(buf[:n]))
                        del buf[:n]
                        if rem is not None:
                            self._remaining = 0
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
                    return EndOfMessage(_NO_FIELDS)
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
        if self._scanner.pos == 0 and buf and buf[0] in _CR_LF:
            # a server should ignore empty lines before a request line (RFC 9112 2.2)
            n = 1
            while n < len(buf) and buf[n] in _CR_LF:
                n += 1
            del buf[:n]
        found = self._scanner.check(buf)
        if isinstance(found, HttpProtocolError):
            return self._fail(found)
        if not found:
            if self._eof:
                return ConnectionClosed(complete=not buf)
            return NEED_DATA
        head = bytes(buf[:found])
        del buf[:found]
        conn = self._conn
        conn.receive_data(head)
        try:
            ev = conn.next_event()
        except h11.RemoteProtocolError as exc:
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
        if version == b"1.1":
            keep_alive = connection is None or b"close" not in connection
        else:
            expect = False  # a 1.0 client never waits for 100 Continue
            keep_alive = (
                connection is not None
                and b"keep-alive" in connection
                and (b"close" not in connection)
            )
        if chunked and content_length is not None:
            # RFC 9112 6.1 allows rejecting this outright; it is the classic smuggling shape
            return self._fail(
                HttpProtocolError("request has both Content-Length and Transfer-Encoding")
            )
        self._keep_alive = keep_alive
        self._method = method
        self._version = version
        self._phase = _BODY
        self._remaining = None if chunked else (content_length or 0)
        if method == b"CONNECT":
            self._switch = 2
        elif upgrade is not None:
            self._switch = 1
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
        leftover, _ = self._conn.trailing_data  # at most one chunked feed's worth
        if leftover:
            self._buf[:0] = leftover
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self._head_limit)
        self._phase = _HEAD
        self._eof_fed = False
        self._resp_started = False
        self._body = None
        self._switch = 0
        self._method = b""
        self._version = b"1.1"

    # -- state -----------------------------------------------------------------------------

    @property
    def keep_alive(self) -> bool:
        """Whether another request may follow the current exchange."""
        return self._keep_alive and self._error is None and not self._switched

    @property
    def request_complete(self) -> bool:
        """Whether the current request has been read to its end."""
        return self._phase == _DONE

    @property
    def response_started(self) -> bool:
        """Whether the current response head has been produced."""
        return self._resp_started

    @property
    def response_has_body(self) -> bool:
        """Whether the current response carries body bytes."""
        b = self._body
        return b is not None and b.kind != NO_BODY

    # -- sending ---------------------------------------------------------------------------

    def send_informational(self, status: int, headers: Sequence[tuple[bytes, bytes]]) -> bytes:
        """Encode a ``1xx`` interim response; ``101`` accepts a proposed ``Upgrade``."""
        if self._resp_started:
            raise _local("interim response after the final response head")
        if not 100 <= status <= 199:
            raise _local(f"status {status} is not informational")
        if status == 101:
            if self._switch != 1:
                raise _local("101 Switching Protocols without an Upgrade request")
            self._switched = True
            self._resp_started = True
            self._body = BodyWriter(NO_BODY)
            self._body.done = True
        parts = [status_line(status)]
        encode_fields(parts, headers)
        parts.append(b"\r\n")
        return b"".join(parts)

    def send_response(
        self,
        status: int,
        headers: Sequence[tuple[bytes, bytes]],
        *,
        reason: bytes | None = None,
        content_length: int | None = None,
        close: bool = False,
    ) -> bytes:
        """Encode the final response head, adding framing and ``Connection`` as needed."""
        if self._resp_started:
            raise _local("the response head has already been sent")
        if status < 200:
            raise _local(f"status {status} is not a final status (use send_informational)")
        method = self._method
        switching = self._switch == 2 and 200 <= status < 300
        no_body = status == 204 or status == 304 or method == b"HEAD" or switching
        parts = [status_line(status, reason)]
        facts = encode_fields(parts, headers)
        keep = self._keep_alive and not close and not facts.close
        if facts.chunked:
            if self._version != b"1.1":
                # an HTTP/1.0 client cannot read chunked: re-encode close-delimited
                parts = [status_line(status, reason)]
                facts = encode_fields(parts, headers, drop_length=True)
                kind = NO_BODY if no_body else CLOSE_DELIMITED
                keep = False
            else:
                kind = NO_BODY if no_body else CHUNKED
        elif facts.content_length is not None:
            kind = NO_BODY if no_body else LENGTH
        elif no_body:
            kind = NO_BODY
            if method == b"HEAD" and content_length is not None and not switching:
                parts += (b"content-length: ", b"%d" % content_length, b"\r\n")
        elif content_length is not None and not facts.has_trailer:
            kind = LENGTH
            facts.content_length = content_length
            parts += (b"content-length: ", b"%d" % content_length, b"\r\n")
        elif self._version == b"1.1":
            kind = CHUNKED
            parts.append(b"transfer-encoding: chunked\r\n")
        else:
            kind = CLOSE_DELIMITED
            keep = False
        if switching:
            pass  # the connection now belongs to the tunnel: no Connection header
        elif not keep:
            if not facts.close:
                parts.append(b"connection: close\r\n")
        elif self._version != b"1.1" and not (
            facts.connection is not None and b"keep-alive" in facts.connection
        ):
            parts.append(b"connection: keep-alive\r\n")
        parts.append(b"\r\n")
        self._keep_alive = keep
        self._resp_started = True
        if switching:
            self._switched = True
        elif self._switch:
            self._switch = 0  # the proposal was declined: the exchange continues as HTTP/1.1
        self._body = BodyWriter(kind, facts.content_length or 0)
        return b"".join(parts)

    def send_data(self, data: bytes, /) -> bytes:
        """Encode a piece of the response body."""
        body = self._body
        if body is None:
            raise _local("response body before the response head")
        return body.data(data)

    def send_end(self, trailers: Sequence[tuple[bytes, bytes]] = (), /) -> bytes:
        """Encode the end of the response body."""
        body = self._body
        if body is None:
            raise _local("end of response before the response head")
        if body.done and self._switched:
            return b""
        return body.end(trailers)

    def take_switched(self) -> bytes:
        """After ``101`` (or ``2xx`` to ``CONNECT``): the bytes received for the new protocol."""
        if not self._switched:
            raise _local("the connection has not switched protocols")
        if self._phase != _DONE:
            raise _local("the switching request's body has not been read to its end")
        data, _ = self._conn.trailing_data
        self._conn = h11.Connection(h11.SERVER)
        if self._buf:
            data += self._buf
            self._buf = bytearray()
        return data


class H11ClientCodec:
    """The client side of HTTP/1.1 on h11 (see :class:`~pyrama_http_core.Http1ClientCodec`).

    Enforces *max_header_size* and *max_headers* on response heads and trailer sections.
    """

    __slots__ = (
        "_body",
        "_conn",
        "_eof",
        "_error",
        "_head_limit",
        "_in_exchange",
        "_keep_alive",
        "_max_headers",
        "_method",
        "_resp_done",
        "_switch",
        "_switched",
    )

    def __init__(self, *, max_header_size: int = 64 * 1024, max_headers: int = 100) -> None:
        self._head_limit = max_header_size
        self._max_headers = max_headers
        self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_header_size)
        self._eof = False
        self._error: CodecError | None = None
        self._keep_alive = True
        self._in_exchange = False
        self._resp_done = False
        self._body: BodyWriter | None = None
        self._method = b""
        self._switch = 0
        self._switched = False

    # -- sending ---------------------------------------------------------------------------

    def send_request(
        self,
        method: bytes,
        target: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        *,
        content_length: int | None = None,
    ) -> bytes:
        """Encode a request head (fields kept exactly as given) and start an exchange."""
        if self._in_exchange:
            raise _local("a request is already in progress on this connection")
        if self._switched or not self._keep_alive or self._error is not None or self._eof:
            raise _local("the connection cannot carry another request")
        check_method(method)
        check_target(target)
        parts = [method, b" ", target, b" HTTP/1.1\r\n"]
        facts = encode_fields(parts, headers)
        if facts.chunked:
            kind = CHUNKED
        elif facts.content_length is not None:
            kind = LENGTH if facts.content_length else NO_BODY
        elif content_length is None:
            kind = CHUNKED
            parts.append(b"transfer-encoding: chunked\r\n")
        elif content_length:
            kind = LENGTH
            facts.content_length = content_length
            parts += (b"content-length: ", b"%d" % content_length, b"\r\n")
        else:
            kind = NO_BODY
            if method in (b"POST", b"PUT", b"PATCH"):
                parts.append(b"content-length: 0\r\n")
        parts.append(b"\r\n")
        head = b"".join(parts)
        # h11 parses the response: tell it what it needs (method, upgrade proposal, close)
        stub: list[tuple[bytes, bytes]] = [(b"host", b"x")]
        upgrade = False
        for name, value in headers:
            low = name.lower()
            if low == b"upgrade":
                stub.append((b"upgrade", value))
                upgrade = True
        if facts.close:
            stub.append((b"connection", b"close"))
        leftover, _ = self._conn.trailing_data
        conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=self._head_limit)
        try:
            conn.send(_H11Request(method=method, target=b"/", headers=stub))
            conn.send(_H11EOM())
        except h11.LocalProtocolError as exc:  # pragma: no cover - inputs were checked above
            raise _local(str(exc)) from exc
        if leftover:
            conn.receive_data(leftover)
        self._conn = conn
        self._method = method
        self._switch = 2 if method == b"CONNECT" else (1 if upgrade else 0)
        self._keep_alive = not facts.close
        self._in_exchange = True
        self._resp_done = False
        self._body = BodyWriter(kind, facts.content_length or 0)
        if kind == NO_BODY:
            self._body.done = True
        return head

    def send_data(self, data: bytes, /) -> bytes:
        """Encode a piece of the request body."""
        body = self._body
        if body is None or not self._in_exchange:
            raise _local("request body outside of an exchange")
        return body.data(data)

    def send_end(self, trailers: Sequence[tuple[bytes, bytes]] = (), /) -> bytes:
        """Encode the end of the request body."""
        body = self._body
        if body is None or not self._in_exchange:
            raise _local("end of request outside of an exchange")
        if body.done:
            return b""
        out = body.end(trailers)
        if self._resp_done:
            self._in_exchange = False
        return out

    def abandon(self) -> None:
        """Give up on the current exchange; the connection will not be reused."""
        self._keep_alive = False

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
