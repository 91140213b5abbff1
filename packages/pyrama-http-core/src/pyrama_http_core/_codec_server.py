"""The receiving half every HTTP/1.1 server codec shares; a codec brings only its head parser.

Codecs differ in how fast they turn a request head into its parts (h11 in pure Python,
httptools on llhttp); everything around that is the same code, so that both codecs frame,
limit and reject requests identically:

* :class:`HeadScanner` finds where a head ends and rejects what some parsers tolerate and a
  server should not: bare LF line endings, obsolete line folding, control characters, heads
  over the size limit (complete or not).
* :class:`ServerReader` keeps the receive buffer, cuts complete heads from it and hands each
  to the codec's :meth:`ServerReader._parse_head`, derives the framing facts from the parsed
  fields (:func:`request_facts`), slices ``Content-Length`` bodies off the buffer and decodes
  chunked bodies, one exchange at a time (pipelined requests wait, unparsed, in the buffer).

Chunked bodies are decoded by an ``h11.Connection`` positioned at the start of a chunked
body, fed in bounded pieces: h11 is the reference codec, and a chunked body parsed by one
codec must end exactly where it ends for the other.

Repeated heads are not parsed again. Clients send the same head over and over (a keep-alive
connection polling one URL, a load generator, a health checker), and turning a head into a
:class:`RequestHead` is a pure function of its bytes. So each head parser has a bounded cache
(:class:`HeadCache`: at most :data:`HEAD_CACHE_ENTRIES` heads of up to
:data:`HEAD_CACHE_MAX_LEN` bytes, each kept from its second parse on) from the bytes of a
body-less head (no ``Content-Length``,
no chunked body, no ``Upgrade``) to its immutable :class:`RequestHead`. A
head found there skips the scan and the parse; the per-codec limits (head size, field
count) are still checked on every hit, since codecs with different limits share a parser.
A miss costs one search for the end of the head and one dictionary look-up. The cache only
ever answers for the exact bytes it saw, so it tells a client nothing about other clients'
heads that it could not have guessed in full. (Like any cache, it can tell, through timing,
that a head guessed in full was sent before, say a ``CONNECT`` to a well-known host without
credentials; the difference is a few microseconds of parsing.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar, Final, TypeAlias

import h11

from pyrama_core.errors import Side
from pyrama_http_core._codec import (
    NEED_DATA,
    PAUSED,
    BodyData,
    CodecError,
    ConnectionClosed,
    EndOfMessage,
    RawHeaders,
    RequestHead,
    ServerEvent,
    make_request_head,
)
from pyrama_http_core._codec_write import ServerWriter
from pyrama_http_core._config import HttpLimits
from pyrama_http_core._seen_twice import SeenTwiceCache
from pyrama_http_core.errors import HeaderLimitError, HttpProtocolError

__all__ = [
    "HEAD_CACHE_ENTRIES",
    "HEAD_CACHE_MAX_LEN",
    "HeadCache",
    "HeadParser",
    "HeadScanner",
    "ParsedHead",
    "ServerReader",
    "connection_tokens",
    "h11_remote_error",
    "request_facts",
]

ParsedHead: TypeAlias = tuple[bytes, bytes, bytes, RawHeaders]
"""What a codec's head parser returns: ``(method, target, version, fields)``."""

HeadParser: TypeAlias = Callable[[bytes], ParsedHead | HttpProtocolError]
"""A codec's head parser: one complete, scanned request head in, its parts (or why not) out."""

_NO_FIELDS: RawHeaders = []
_END = EndOfMessage(_NO_FIELDS)
# phases: reading a head; a body that is empty, Content-Length or chunked; exchange read
_HEAD, _EMPTY, _LENGTH, _CHUNKED, _DONE = 0, 1, 2, 3, 4
# a stand-in head that puts an h11.Connection into the state of reading a chunked body
_CHUNKED_PRIMER = b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
# how many bytes of a chunked body h11 gets at a time (bounds the copy when an exchange ends)
_CHUNKED_FEED: Final = 16384
_CR_LF = (13, 10)
# control characters other than HTAB, CR and LF: a head has no business with them
_CTL_RE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_H11Data = h11.Data
_H11EOM = h11.EndOfMessage
_H11_NEED_DATA = h11.NEED_DATA
# the field names request_facts looks at, by their first byte in either case
_FACT_INITIALS: Final = frozenset(b"cCtTeEuUhH")


HEAD_CACHE_ENTRIES: Final = 256
"""How many distinct request heads a head parser's cache keeps (then it starts over)."""

HEAD_CACHE_MAX_LEN: Final = 2048
"""Longer request heads are parsed every time (never cached)."""


class HeadCache(SeenTwiceCache[bytes, RequestHead]):
    """Parsed body-less request heads by their bytes, for one head parser (bounded).

    Values are the immutable :class:`RequestHead` events themselves (their ``headers`` list
    is shared by every hit: readers must not modify it). A head is kept the second time it
    is parsed (keeping the parses of heads that never repeat would cost the garbage
    collector more than the cache saves); when full, the cache is emptied and fills again
    with what is current.
    """

    __slots__ = ("heads",)

    def __init__(self, max_entries: int = HEAD_CACHE_ENTRIES) -> None:
        super().__init__(max_entries)
        self.heads = self.entries
        """The parses by head bytes (the same dict as :attr:`entries`)."""

    def add(self, head: bytes, event: RequestHead) -> None:
        """Remember *event* as the parse of *head* if it may be cached and was seen before."""
        if (
            len(head) <= HEAD_CACHE_MAX_LEN
            and not event.chunked
            and not event.content_length
            and event.upgrade is None
            and self.seen_before(head)
        ):
            self.keep(head, event)


_HEAD_CACHES: dict[HeadParser, HeadCache] = {}


def head_cache_for(parse_head: HeadParser) -> HeadCache:
    """The shared :class:`HeadCache` of *parse_head* (made on first use)."""
    cache = _HEAD_CACHES.get(parse_head)
    if cache is None:
        cache = _HEAD_CACHES[parse_head] = HeadCache()
    return cache


def h11_remote_error(exc: h11.ProtocolError) -> HttpProtocolError:
    """Map an h11 error about what the peer sent to :class:`HttpProtocolError`."""
    hint = exc.error_status_hint
    if hint == 431:
        err: HttpProtocolError = HeaderLimitError(f"head too large: {exc}")
    else:
        err = HttpProtocolError(str(exc) or "malformed HTTP/1.1 message", hint=hint)
    err.__cause__ = exc
    return err


class HeadScanner:
    """Checks an incoming head for bare LF, obs-fold, control characters and its size.

    Works in place on a codec's receive buffer, which starts at the head while a head is
    expected. Incremental: each byte is looked at a bounded number of times however the head
    is split across reads.
    """

    __slots__ = ("limit", "pos")

    def __init__(self, limit: int) -> None:
        self.pos = 0  # bytes before this have been checked
        self.limit = limit

    def check(self, buf: bytearray, end: int | None = None) -> int | HttpProtocolError:
        """Scan what arrived since the last call.

        Returns the length of the complete head, ``0`` while it is incomplete, or an error.
        *end*: where the first blank line starts, when the caller searched already (scan from 0).
        """
        pos = self.pos
        n = len(buf)
        if pos >= n:
            return 0
        if pos == 0 and buf[0] < 0x21:
            # a request line starts with a token; TLS (0x16) to a plain port ends here too
            return HttpProtocolError("illegal request line")
        if end is not None and pos == 0:
            idx = end
        else:
            idx = buf.find(b"\r\n\r\n", pos - 3 if pos >= 3 else 0)
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


def connection_tokens(value: bytes, into: list[bytes] | None) -> list[bytes]:
    """The lowercase tokens of a ``Connection`` value, appended to *into* when given."""
    tokens = [t.strip() for t in value.lower().split(b",")]
    if into is None:
        return tokens
    into.extend(tokens)
    return into


def request_facts(
    raw: RawHeaders, version: bytes
) -> tuple[int | None, bool, list[bytes] | None, bool, bytes | None] | HttpProtocolError:
    """Framing facts of a request's fields, or why they are unacceptable.

    Returns ``(content_length, chunked, connection_tokens, expect_continue, upgrade)``.
    Rejected, whichever codec parsed the head: a second ``Content-Length`` (even an equal
    one), a ``Content-Length`` that is not digits, a ``Transfer-Encoding`` other than a
    single ``chunked`` (``501``), both framings at once (the classic smuggling shape, which
    RFC 9112 6.1 allows a server to refuse), and an HTTP/1.1 request without exactly one
    ``Host`` (RFC 9112 3.2).
    """
    hosts = 0
    content_length: int | None = None
    chunked = False
    connection: list[bytes] | None = None
    expect = False
    upgrade: bytes | None = None
    initials = _FACT_INITIALS
    for name, value in raw:
        if name[0] not in initials:
            continue
        lower = name.lower()
        if lower == b"content-length":
            if content_length is not None:
                return HttpProtocolError("more than one Content-Length field")
            v = value.strip(b" \t")
            if not v.isdigit() or len(v) > 18:
                return HttpProtocolError(f"invalid Content-Length {value!r}")
            content_length = int(v)
        elif lower == b"connection":
            connection = connection_tokens(value, connection)
        elif lower == b"transfer-encoding":
            if chunked:
                return HttpProtocolError("more than one Transfer-Encoding field", hint=501)
            if value.strip(b" \t").lower() != b"chunked":
                return HttpProtocolError(
                    f"unsupported Transfer-Encoding {value!r} (only chunked)", hint=501
                )
            chunked = True
        elif lower == b"expect":
            if value.lower() == b"100-continue":
                expect = True
        elif lower == b"upgrade":
            upgrade = value
        elif lower == b"host":
            hosts += 1
    if chunked and content_length is not None:
        return HttpProtocolError("request has both Content-Length and Transfer-Encoding")
    if hosts != 1 and (hosts or version != b"1.0"):
        return HttpProtocolError("missing Host field" if not hosts else "more than one Host field")
    return content_length, chunked, connection, expect, upgrade


def _chunked_decoder(limit: int) -> h11.Connection:
    """An ``h11.Connection`` positioned at the start of a chunked request body."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=limit)
    conn.receive_data(_CHUNKED_PRIMER)
    conn.next_event()  # the stand-in request
    return conn


class ServerReader(ServerWriter):
    """A server codec around a head parser (*parse_head*: what makes one codec differ).

    Enforces ``max_header_size`` and ``max_headers`` of *limits* on request heads and trailer
    sections; body limits and timeouts are the driver's.

    A request without a body is complete with its head (:attr:`request_complete`): its
    :class:`EndOfMessage` comes next if asked for, and is implied when the response is
    finished first (see :attr:`EMPTY_END_IMPLIED`).
    """

    EMPTY_END_IMPLIED: ClassVar[bool] = True
    """A driver may answer a request head without a body and go on without asking for its
    (empty) body's :class:`EndOfMessage`: once the response is finished, :meth:`next_event`
    goes on to the next request."""

    __slots__ = (
        "_buf",
        "_cache_limit",
        "_chunks",
        "_eof",
        "_eof_fed",
        "_error",
        "_head_limit",
        "_heads",
        "_max_headers",
        "_parse_head",
        "_phase",
        "_remaining",
        "_scanner",
    )

    def __init__(self, parse_head: HeadParser, limits: HttpLimits | None = None) -> None:
        super().__init__()
        self._parse_head = parse_head
        self._heads = head_cache_for(parse_head)
        lim = HttpLimits() if limits is None else limits
        self._head_limit = lim.max_header_size
        # the longest head receive_next looks up in the cache as it arrived
        self._cache_limit = min(HEAD_CACHE_MAX_LEN, self._head_limit)
        self._max_headers = lim.max_headers
        self._scanner = HeadScanner(self._head_limit)
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

    def buffered(self) -> int:
        """How many received bytes wait unparsed (a head not yet complete, pipelined bytes)."""
        return len(self._buf)

    def receive(self, data: bytes, /) -> None:
        """Buffer bytes from the client; ``b""`` marks the end of what it sends."""
        if not data:
            self._eof = True
        elif not self._eof:  # bytes after EOF cannot happen on a real stream; ignore them
            self._buf += data

    def receive_next(self, data: bytes, /) -> ServerEvent:
        """:meth:`receive` *data*, then return :meth:`next_event`: one call per read.

        For a driver the stream pushes its reads to. A whole request head seen before that
        arrives alone while nothing is buffered (the usual keep-alive request) is looked up
        as it came, instead of being appended to the buffer, copied out and cut off again.
        """
        if (
            self._phase == _HEAD
            and not self._buf
            and self._error is None
            and len(data) <= self._cache_limit
        ):
            hit = self._heads.heads.get(data)
            if hit is not None and len(hit.headers) <= self._max_headers:
                self._phase = _EMPTY
                # ServerWriter._request_started for a cached head (never an Upgrade: see
                # HeadCache.add), inline: this runs once per request
                method = hit.method
                self._method = method
                self._version = hit.version
                self._keep_alive = hit.keep_alive
                self._switch = 2 if method == b"CONNECT" else 0
                return hit
        self.receive(data)
        return self.next_event()

    def next_event(self) -> ServerEvent:
        """Return the next request event, :data:`NEED_DATA` or :data:`PAUSED`."""
        if self._error is not None:
            return self._error
        phase = self._phase
        if phase == _EMPTY:
            body = self._body
            if body is None or not body.done:  # not answered yet: the (empty) end comes first
                self._phase = _DONE
                return _END
            phase = _DONE  # answered without asking for the end: it is implied
        if phase == _DONE:
            # ServerWriter._exchange_open, inline (once per request)
            body = self._body
            if (
                self._switched
                or self._switch
                or body is None
                or not body.done
                or not self._keep_alive
            ):
                return PAUSED
            if self._chunks is not None:
                self._end_chunked()
            self._phase = _HEAD
            self._new_exchange()
            if not self._buf and not self._eof:  # the usual keep-alive state: no call
                return NEED_DATA
            return self._next_head()
        if phase == _HEAD:
            return self._next_head()
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
                return self._fail(h11_remote_error(exc))
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
        if not buf:  # the usual state between keep-alive requests
            return ConnectionClosed(complete=True) if self._eof else NEED_DATA
        if self._scanner.pos == 0 and buf[0] in _CR_LF:
            # a server should ignore empty lines before a request line (RFC 9112 2.2)
            n = 1
            while n < len(buf) and buf[n] in _CR_LF:
                n += 1
            del buf[:n]
        head: bytes | None = None
        end: int | None = None
        if self._scanner.pos == 0:
            # a head seen before (and found good) needs neither the scan nor the parse
            end = buf.find(b"\r\n\r\n")
            if 0 < end < HEAD_CACHE_MAX_LEN:
                n = end + 4
                head = bytes(buf) if n == len(buf) else bytes(buf[:n])
                hit = self._heads.heads.get(head)
                if (
                    hit is not None
                    and n <= self._head_limit
                    and len(hit.headers) <= self._max_headers
                ):
                    if n == len(buf):
                        buf.clear()
                    else:
                        del buf[:n]
                    self._phase = _EMPTY
                    self._request_started(hit.method, hit.version, hit.keep_alive, False)
                    return hit
        found = self._scanner.check(buf, end)
        if type(found) is not int:
            return self._fail(found)  # type: ignore[arg-type]
        if not found:
            if self._eof:
                return ConnectionClosed(complete=not buf)
            return NEED_DATA
        if head is None or found != len(head):
            head = bytes(buf[:found])
        if found == len(buf):
            buf.clear()
        else:
            del buf[:found]
        parsed = self._parse_head(head)
        if type(parsed) is not tuple:
            return self._fail(parsed)  # type: ignore[arg-type]
        ev = self._head(*parsed)
        if type(ev) is RequestHead:
            self._heads.add(head, ev)
        return ev

    def _fail(self, err: HttpProtocolError) -> CodecError:
        ev = CodecError(err)
        self._error = ev
        self._keep_alive = False
        return ev

    def _head(self, method: bytes, target: bytes, version: bytes, raw: RawHeaders) -> ServerEvent:
        if len(raw) > self._max_headers:
            return self._fail(
                HeaderLimitError(
                    f"more than {self._max_headers} header fields", limit=self._max_headers
                )
            )
        facts = request_facts(raw, version)
        if type(facts) is not tuple:
            return self._fail(facts)  # type: ignore[arg-type]
        content_length, chunked, connection, expect, upgrade = facts
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
            self._phase = _CHUNKED
            self._chunks = _chunked_decoder(self._head_limit)
        elif content_length:
            self._phase = _LENGTH
            self._remaining = content_length
        else:
            self._phase = _EMPTY
        self._request_started(method, version, keep_alive, upgrade is not None)
        return make_request_head(
            method,
            target,
            version,
            raw,
            keep_alive,
            expect,
            content_length,
            chunked,
            upgrade,
        )

    def _end_chunked(self) -> None:
        """Drop the finished chunked body's decoder, keeping the bytes it read past the end."""
        conn = self._chunks
        assert conn is not None
        self._chunks = None
        leftover, _ = conn.trailing_data  # at most one chunked feed's worth
        if leftover:
            self._buf[:0] = leftover
        self._eof_fed = False

    # -- state -----------------------------------------------------------------------------

    @property
    def keep_alive(self) -> bool:
        """Whether another request may follow the current exchange."""
        return self._keep_alive and self._error is None and not self._switched

    @property
    def request_complete(self) -> bool:
        """Whether the current request has been read to its end (one without a body: its head)."""
        phase = self._phase
        return phase in (_DONE, _EMPTY)

    def take_switched(self) -> bytes:
        """After ``101`` (or ``2xx`` to ``CONNECT``): the bytes received for the new protocol."""
        if not self._switched:
            raise HttpProtocolError(
                "the connection has not switched protocols", side=Side.LOCAL, hint=None
            )
        if not self.request_complete:
            raise HttpProtocolError(
                "the switching request's body has not been read to its end",
                side=Side.LOCAL,
                hint=None,
            )
        data = b""
        conn = self._chunks
        if conn is not None:
            self._chunks = None
            data, _ = conn.trailing_data
        if self._buf:
            data += self._buf
            self._buf = bytearray()
        return data
