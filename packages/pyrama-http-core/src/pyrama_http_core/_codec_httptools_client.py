"""The fast HTTP/1.1 client codec: response heads parsed by httptools (llhttp, in C).

The counterpart of :class:`~pyrama_http_core.HttptoolsServerCodec`: llhttp parses each
response head (status line and header fields, refusing malformed ones); everything llhttp
cannot be told is done here, with the same results as :class:`~pyrama_http_core.H11ClientCodec`:

* Framing. llhttp does not know which request a response answers, so it cannot know that a
  response to ``HEAD`` (or a ``2xx`` to ``CONNECT``) has no body, and it has no way to stop
  at the end of a message. So llhttp only ever sees one complete head at a time (a fresh
  parser per head costs about a third of a microsecond) and the body is framed here:
  ``Content-Length`` bodies are sliced, chunked bodies decoded (trailer sections go through
  llhttp as a head of their own), close-delimited bodies run to the end of the stream. The
  codec therefore knows exactly where an exchange ends: bytes after a switching response are
  what :meth:`~HttptoolsClientCodec.take_switched` returns, bytes after a complete response
  wait for the next exchange (as with h11).
* Field checks h11 makes and llhttp does not (or not the same way): one ``Transfer-Encoding``
  field whose value is ``chunked`` (anything else is refused with hint ``501``; with
  ``Content-Length`` too, chunked wins as in h11), whitespace after a value dropped, ``101``
  only after an ``Upgrade`` proposal, no status line starting with a control byte.
* Limits: a head (or trailer section) longer than ``max_header_size`` bytes or with more
  than ``max_headers`` fields is a :class:`~pyrama_http_core.errors.HeaderLimitError`; a
  chunk-size line (with its extensions) longer than 4 KiB is refused.

Known differences from h11, all stricter: a second ``Content-Length`` field or a list value
(``5, 5``) is refused even when the values are equal (h11 folds them; so do the server codecs
refuse them: a classic request smuggling shape), bare LF line endings and obsolete line
folding in a head are refused (h11 accepts them), and so is a complete head bigger than
``max_header_size`` (h11 only bounds incomplete heads).
"""

from __future__ import annotations

import re
from typing import Final, TypeAlias

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
    make_response_head,
)
from pyrama_http_core._codec_write import ClientWriter
from pyrama_http_core.errors import HeaderLimitError, HttpCoreError, HttpProtocolError

try:
    import httptools as _httptools

    _AVAILABLE: Final = True
except ImportError:  # pragma: no cover - the tests run with the extra installed
    _AVAILABLE = False  # type: ignore[misc]

__all__ = ["HttptoolsClientCodec"]

# where the codec is in the response
_HEAD: Final = 0  # expecting a (1xx or final) head
_LENGTH: Final = 1  # Content-Length body, _remaining bytes left
_CHUNK_SIZE: Final = 2  # expecting a chunk-size line
_CHUNK_DATA: Final = 3  # inside a chunk, _remaining bytes left
_CHUNK_END: Final = 4  # expecting the CRLF after a chunk's data
_TRAILERS: Final = 5  # expecting the trailer section
_UNTIL_CLOSE: Final = 6  # close-delimited body
_END: Final = 7  # the body is complete: EndOfMessage next
_NONE: Final = 8  # no response expected (done or switched)

_NO_FIELDS: RawHeaders = []
_END_NO_TRAILERS: Final = EndOfMessage(_NO_FIELDS)
_EMPTY: Final = b""
_CHUNK_LINE_RE = re.compile(rb"([0-9A-Fa-f]{1,20})(?:;[^\r\n]*)?[ \t]*")
_BLANK_LINE_RE = re.compile(rb"\n\r?\n")
_BAD_REASON_RE = re.compile(rb"[\x00\n\r\x0b\x0c]")
_TRAILER_LINE: Final = b"HTTP/1.1 200 OK\r\n"
_MAX_CHUNK_LINE: Final = 4096

# Parsed response heads by their exact bytes: an origin answers a stream of requests with
# the same few heads (byte for byte, until its Date changes a second later), and a head's
# parse and its framing facts depend on nothing but its bytes. Only final heads that
# parsed and were accepted are kept.
_Cached: TypeAlias = "tuple[int, bytes, bytes, tuple[tuple[bytes, bytes], ...], _Facts]"
"""A kept final head: ``(status, reason, version, fields, framing facts)``."""
_HEAD_CACHE: dict[bytes, _Cached] = {}
_HEAD_CACHE_MAX: Final = 256
_HEAD_CACHE_BYTES: Final = 2048


class _Head:
    """httptools callbacks collecting one head (the parser calls these by name)."""

    __slots__ = ("complete", "fields", "reason")

    def __init__(self) -> None:
        self.reason = b""
        self.fields: RawHeaders = []
        self.complete = False

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.fields.append((name, value))

    def on_headers_complete(self) -> None:
        self.complete = True


_Facts: TypeAlias = tuple[int | None, bool, tuple[bytes, ...] | None]
"""What a final head's fields say about framing: ``(content_length, chunked, connection)``."""


def _framing_facts(fields: RawHeaders) -> _Facts | HttpProtocolError:
    """The framing facts of *fields* (a ``Transfer-Encoding`` value is normalized in place)."""
    content_length: int | None = None
    chunked = False
    connection: list[bytes] | None = None
    for index, (name, value) in enumerate(fields):
        n = len(name)
        if n == 14 and name.lower() == b"content-length":
            # llhttp refused a second field and anything but digits
            content_length = int(value)
        elif n == 17 and name.lower() == b"transfer-encoding":
            if chunked:
                return _remote("multiple Transfer-Encoding fields", 501)
            if value.lower() != b"chunked":
                return _remote("Only Transfer-Encoding: chunked is supported", 501)
            chunked = True
            if value != b"chunked":
                fields[index] = (name, b"chunked")  # as h11 reports it
        elif n == 10 and name.lower() == b"connection":
            tokens = [t.strip() for t in value.lower().split(b",")]
            if connection is None:
                connection = tokens
            else:
                connection += tokens
    return content_length, chunked, None if connection is None else tuple(connection)


def _remote(message: str, hint: int | None = 400) -> HttpProtocolError:
    return HttpProtocolError(message, side=Side.REMOTE, hint=hint)


def _parse(head: bytes) -> tuple[int, bytes, bytes, RawHeaders] | HttpProtocolError:
    """Parse one complete response head: ``(status, reason, version, fields)`` or an error."""
    got = _Head()
    parser = _httptools.HttpResponseParser(got)
    # framing is decided here (see the module docs): llhttp must not refuse or reinterpret it
    parser.set_dangerous_leniencies(
        lenient_transfer_encoding=True,
        lenient_chunked_length=True,
        lenient_keep_alive=True,
        lenient_version=True,  # any HTTP/d.d, as h11 (keep-alive is then decided as for 1.0)
    )
    try:
        parser.feed_data(head)
    except _httptools.HttpParserUpgrade:
        pass  # a 101 (or Upgrade field): the head is complete all the same
    except _httptools.HttpParserError as exc:
        # after a complete 101 head llhttp pauses, which httptools reports as an error
        if not (got.complete and parser.get_status_code() == 101):
            err = _remote(str(exc) or "malformed HTTP/1.1 response head")
            err.__cause__ = exc
            return err
    if not got.complete:  # pragma: no cover - only complete heads are fed
        return _remote("incomplete response head")
    status: int = parser.get_status_code()
    version = head[5:8]  # llhttp accepted "HTTP/d.d " (one digit each)
    fields = got.fields
    if b" \r\n" in head or b"\t\r\n" in head:
        # llhttp keeps whitespace after a field value; it is not part of the value
        fields = [(name, value.rstrip(b" \t")) for name, value in fields]
    reason = got.reason
    if reason and _BAD_REASON_RE.search(reason) is not None:
        return _remote(f"invalid reason phrase {reason[:32]!r}")  # llhttp lets NUL through
    if reason[-1:] in (b" ", b"\t"):
        reason = reason.rstrip(b" \t")
    return status, reason, version, fields


class HttptoolsClientCodec(ClientWriter):
    """The client side of HTTP/1.1 with httptools parsing response heads.

    Same contract and results as :class:`~pyrama_http_core.H11ClientCodec` (see
    :class:`~pyrama_http_core.Http1ClientCodec`); enforces *max_header_size* and
    *max_headers* on response heads and trailer sections. Raises :class:`HttpCoreError` when
    httptools is not installed.
    """

    __slots__ = (
        "_buf",
        "_head_limit",
        "_last",
        "_max_headers",
        "_remaining",
        "_scan",
        "_state",
    )

    def __init__(self, *, max_header_size: int = 64 * 1024, max_headers: int = 100) -> None:
        if not _AVAILABLE:  # pragma: no cover - the tests run with the extra
            raise HttpCoreError("httptools is not installed: pip install 'pyrama-http-core[fast]'")
        super().__init__()
        self._head_limit = max_header_size
        self._max_headers = max_headers
        self._buf: bytes | bytearray = _EMPTY
        self._scan = 0  # where the search for the end of a head / line resumes
        self._state = _NONE
        self._remaining = 0
        # the last final head this codec accepted from the cache's point of view: its bytes
        # and its cache entry (a connection gets the same head again and again)
        self._last: tuple[bytes, _Cached] | None = None

    # -- sending (the encoding is ClientWriter's) --------------------------------------------

    def _begin_exchange(self, method: bytes, upgrade: bytes | None, close: bool) -> None:
        # ClientWriter records the method and the switch proposal; a response head is next
        self._state = _HEAD
        self._scan = 0

    # -- receiving -------------------------------------------------------------------------

    def receive(self, data: bytes, /) -> None:
        """Buffer bytes from the server; ``b""`` marks the end of what it sends."""
        if self._eof:
            return
        if not data:
            self._eof = True
            return
        buf = self._buf
        if not buf:
            self._buf = data
        elif type(buf) is bytearray:
            buf += data
        else:
            joined = bytearray(buf)
            joined += data
            self._buf = joined

    def _take(self, n: int) -> bytes:
        """Remove and return the first *n* buffered bytes."""
        buf = self._buf
        if n >= len(buf):
            self._buf = _EMPTY
            return bytes(buf)
        data = bytes(buf[:n])
        if type(buf) is not bytearray:
            # one copy into a bytearray: removing a prefix from it later costs no copy (many
            # chunks in one read would otherwise copy the rest of the read once per chunk)
            buf = self._buf = bytearray(buf)
        del buf[:n]
        return data

    def next_event(self) -> ClientEvent:
        """Return the next response event, :data:`NEED_DATA` or :data:`PAUSED`."""
        if self._error is not None:
            return self._error
        if not self._in_exchange or self._resp_done:
            # no response is expected: only the end of the connection is news
            return ConnectionClosed(complete=True) if self._eof else PAUSED
        state = self._state
        buf = self._buf
        if state in (_LENGTH, _CHUNK_DATA):
            if buf:
                remaining = self._remaining
                if len(buf) <= remaining:
                    self._buf = _EMPTY
                    data = buf if type(buf) is bytes else bytes(buf)
                else:
                    data = self._take(remaining)
                remaining -= len(data)
                self._remaining = remaining
                if not remaining:
                    self._state = _END if state == _LENGTH else _CHUNK_END
                return BodyData(data)
            return self._starved()
        if state == _END:
            return self._finish(_NO_FIELDS)
        if state == _HEAD:
            if not buf and not self._eof:  # asked once per request before the answer came
                return NEED_DATA
            return self._next_head()
        if state == _UNTIL_CLOSE:
            if buf:
                self._buf = _EMPTY
                return BodyData(buf if type(buf) is bytes else bytes(buf))
            if self._eof:
                return self._finish(_NO_FIELDS)
            return NEED_DATA
        if state == _CHUNK_END:
            if len(buf) < 2:
                if buf and buf[0] != 13:
                    return self._fail(_remote(f"malformed chunk footer: {bytes(buf)!r}"))
                return self._starved()
            if buf[0] != 13 or buf[1] != 10:
                return self._fail(_remote(f"malformed chunk footer: {bytes(buf[:2])!r}"))
            self._take(2)
            self._state = _CHUNK_SIZE
            self._scan = 0
            return self.next_event()
        if state == _CHUNK_SIZE:
            return self._chunk_size()
        if state == _TRAILERS:
            return self._trailers()
        return PAUSED  # pragma: no cover - _NONE is covered by the exchange check above

    def _starved(self) -> ClientEvent:
        """No buffered bytes for the current part of the response."""
        if self._eof:
            self._keep_alive = False
            return ConnectionClosed(complete=False)
        return NEED_DATA

    def _finish(self, trailers: RawHeaders) -> EndOfMessage:
        self._state = _NONE
        self._resp_done = True
        if self._body is not None and self._body.done:
            self._in_exchange = False
        if trailers is _NO_FIELDS:
            return _END_NO_TRAILERS  # frozen, and its (empty) list is shared already
        return EndOfMessage(trailers)

    def _find_blank_line(self) -> int:
        """Where the head in the buffer ends (after its blank line), ``0`` if incomplete."""
        buf = self._buf
        if buf[0] == 10:  # an empty section with a bare LF: refused after this
            return 1
        if buf[:2] == b"\r\n":  # an empty section (only a trailer section can be empty)
            return 2
        # a bare LF ends a line too (to be refused once the whole head is there, as h11 does)
        match = _BLANK_LINE_RE.search(buf, self._scan)
        if match is None:
            self._scan = max(0, len(buf) - 2)
            return 0
        return match.end()

    def take_whole_body(self) -> bytes | None:
        """The rest of the current response's body when all of it is buffered, else ``None``.

        For a ``Content-Length`` body (or none at all, after a final head that has none to
        read) whose remaining bytes have all arrived: takes them and ends the response, as
        the :class:`BodyData` and :class:`EndOfMessage` events of :meth:`next_event` would
        (no trailers can follow such a body). Otherwise nothing changes and the events come
        from :meth:`next_event` as usual.
        """
        state = self._state
        if state == _END:
            data = _EMPTY
        elif state == _LENGTH and self._error is None:
            buf = self._buf
            remaining = self._remaining
            n = len(buf)
            if n < remaining:
                return None
            if n == remaining:
                self._buf = _EMPTY
                data = buf if type(buf) is bytes else bytes(buf)
            else:
                data = self._take(remaining)
            self._remaining = 0
        else:
            return None
        self._finish(_NO_FIELDS)
        return data

    def _next_head(self) -> ClientEvent:
        buf = self._buf
        last = self._last
        if last is not None and buf.startswith(last[0]):
            # the head this codec accepted last time, byte for byte: its end is where that
            # head ended (its blank line is the first in these bytes too), and its parse,
            # its checks and its framing facts are the kept ones
            end = len(last[0])
            if type(buf) is bytes:
                self._buf = buf[end:] if end < len(buf) else _EMPTY
            else:
                self._take(end)
            self._scan = 0
            known = last[1]
            return self._final_head(known[0], known[1], known[2], list(known[3]), known[4])
        if buf and buf[0] < 0x21:  # no status line starts with a control byte or space
            return self._fail(_remote("illegal status line"))
        end = self._find_blank_line() if buf else 0
        if not end:
            if len(buf) > self._head_limit:
                return self._fail(
                    HeaderLimitError(
                        f"response head larger than {self._head_limit} bytes",
                        limit=self._head_limit,
                    )
                )
            if self._eof:
                self._keep_alive = False
                return ConnectionClosed(complete=False)
            return NEED_DATA
        if end > self._head_limit:
            return self._fail(
                HeaderLimitError(
                    f"response head larger than {self._head_limit} bytes", limit=self._head_limit
                )
            )
        if type(buf) is bytes:
            # sliced, not moved into a bytearray: what follows the head (a small body, as
            # a rule) is then handed out as it is, with no copy back to bytes
            head = buf[:end]
            self._buf = buf[end:] if end < len(buf) else _EMPTY
        else:
            head = self._take(end)
        self._scan = 0
        fields: RawHeaders
        facts: _Facts | None = None
        cached = _HEAD_CACHE.get(head)
        if cached is not None:
            status, reason, version, kept, facts = cached
            fields = list(kept)  # the caller owns its list (HeaderMap.from_raw keeps it)
            if len(fields) <= self._max_headers:
                self._last = (head, cached)
        else:
            if head.count(b"\n") != head.count(b"\r\n"):
                return self._fail(_remote("bare LF in the response head"))
            parsed = _parse(head)
            if type(parsed) is not tuple:
                return self._fail(parsed)  # type: ignore[arg-type]
            status, reason, version, fields = parsed
        if len(fields) > self._max_headers:
            return self._fail(
                HeaderLimitError(
                    f"more than {self._max_headers} header fields", limit=self._max_headers
                )
            )
        if status < 200 and status != 101:
            if status < 100:
                return self._fail(_remote(f"invalid status code {status}"))
            return InformationalHead(status, reason, fields)
        if facts is None:
            got = _framing_facts(fields)
            if type(got) is not tuple:
                return self._fail(got)  # type: ignore[arg-type]
            facts = got
            if len(head) <= _HEAD_CACHE_BYTES:
                if len(_HEAD_CACHE) >= _HEAD_CACHE_MAX:
                    _HEAD_CACHE.clear()
                entry = _HEAD_CACHE[head] = (status, reason, version, tuple(fields), facts)
                self._last = (head, entry)
        return self._final_head(status, reason, version, fields, facts)

    def _final_head(
        self, status: int, reason: bytes, version: bytes, fields: RawHeaders, facts: _Facts
    ) -> ClientEvent:
        content_length, chunked, connection = facts
        if status == 101:
            if self._switch != 1:
                return self._fail(_remote("101 Switching Protocols without an Upgrade proposal"))
            self._switched = True
            self._resp_done = True
            self._in_exchange = False
            self._state = _NONE
            return ResponseHead(101, reason, version, fields, False, None, False, False)
        if version == b"1.1":
            keep = connection is None or b"close" not in connection
        else:
            keep = connection is not None and b"keep-alive" in connection
        switching = self._switch == 2 and status < 300
        has_body = not (status == 204 or status == 304 or self._method == b"HEAD" or switching)
        if chunked:
            content_length = None
        elif content_length is None and has_body:
            keep = False  # close-delimited body
        if switching:
            content_length = None
            self._switched = True
            self._resp_done = True
            self._in_exchange = False
            self._state = _NONE
            keep = False
        elif not has_body:
            self._state = _END
        elif chunked:
            self._state = _CHUNK_SIZE
            self._scan = 0
        elif content_length is not None:
            self._remaining = content_length
            self._state = _LENGTH if content_length else _END
        else:
            self._state = _UNTIL_CLOSE
        self._keep_alive = self._keep_alive and keep
        return make_response_head(
            status, reason, version, fields, keep, content_length, chunked and has_body, has_body
        )

    def _chunk_size(self) -> ClientEvent:
        buf = self._buf
        end = buf.find(b"\r\n", self._scan)
        if end < 0 or end > _MAX_CHUNK_LINE:
            if len(buf) > _MAX_CHUNK_LINE:
                return self._fail(_remote("chunk-size line too long"))
            self._scan = max(0, len(buf) - 1)
            return self._starved()
        match = _CHUNK_LINE_RE.fullmatch(buf, 0, end)
        if match is None:
            return self._fail(_remote(f"malformed chunk-size line {bytes(buf[:end][:32])!r}"))
        self._scan = 0
        size = int(match.group(1), 16)
        if not size:
            self._take(end + 2)
            self._state = _TRAILERS
            return self._trailers()
        start = end + 2
        stop = start + size
        if len(buf) >= stop + 2 and buf[stop] == 13 and buf[stop + 1] == 10:
            # the whole chunk is here: its data in one piece, its framing dropped at once
            data = bytes(buf[start:stop])
            if len(buf) == stop + 2:
                self._buf = _EMPTY
            else:
                if type(buf) is not bytearray:
                    buf = self._buf = bytearray(buf)
                del buf[: stop + 2]
            return BodyData(data)
        self._take(start)
        self._remaining = size
        self._state = _CHUNK_DATA
        return self.next_event()

    def _trailers(self) -> ClientEvent:
        buf = self._buf
        end = self._find_blank_line() if buf else 0
        if not end:
            if len(buf) > self._head_limit:
                return self._fail(
                    HeaderLimitError(
                        f"trailer section larger than {self._head_limit} bytes",
                        limit=self._head_limit,
                    )
                )
            return self._starved()
        if end > self._head_limit:
            return self._fail(
                HeaderLimitError(
                    f"trailer section larger than {self._head_limit} bytes",
                    limit=self._head_limit,
                )
            )
        section = self._take(end)
        self._scan = 0
        if section == b"\r\n":
            return self._finish(_NO_FIELDS)
        if section.count(b"\n") != section.count(b"\r\n"):
            return self._fail(_remote("bare LF in the trailer section"))
        parsed = _parse(_TRAILER_LINE + section)
        if type(parsed) is not tuple:
            return self._fail(parsed)  # type: ignore[arg-type]
        fields = parsed[3]
        if len(fields) > self._max_headers:
            return self._fail(
                HeaderLimitError(
                    f"more than {self._max_headers} trailer fields", limit=self._max_headers
                )
            )
        return self._finish(fields)

    # -- state -----------------------------------------------------------------------------

    def take_switched(self) -> bytes:
        """After ``101`` (or ``2xx`` to ``CONNECT``): the bytes received for the new protocol."""
        if not self._switched:
            raise HttpProtocolError(
                "the connection has not switched protocols", side=Side.LOCAL, hint=None
            )
        data = bytes(self._buf)
        self._buf = _EMPTY
        return data
