"""The sending half shared by every HTTP/1.1 codec: head encoding and body framing.

A codec is a parser plus one of the writers here: :class:`ServerWriter` (responses) or
:class:`ClientWriter` (requests). A new codec (httptools, ...) subclasses the writer, adds its
parser, and tells the writer what it parsed (:meth:`ServerWriter._request_started`) or is told
what was sent (:meth:`ClientWriter._begin_exchange`); what goes on the wire stays identical
across codecs.

Parsers differ between codecs (h11, httptools); what goes on the wire does not. This module
writes heads byte for byte as given (header name case and order kept, nothing reordered or
re-cased), adds framing headers only when the message has none, validates what it writes
(no CR/LF/NUL smuggled into a head, names are tokens) and frames bodies
(``Content-Length``, chunked with trailers, or close-delimited).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from email.utils import formatdate
from http import HTTPStatus
from typing import Final

from pyrama_core.errors import Side
from pyrama_http_core._codec import CodecError
from pyrama_http_core._seen_twice import SeenTwiceCache
from pyrama_http_core.errors import HttpProtocolError

__all__ = [
    "BodyWriter",
    "ClientWriter",
    "HeadFacts",
    "ServerWriter",
    "encode_fields",
    "http_date",
    "reason_phrase",
    "status_line",
]

_TOKEN_RE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_RE = re.compile(rb"[\r\n\x00]")
_BAD_TARGET_RE = re.compile(rb"[\x00-\x20\x7f]")
_DIGITS_RE = re.compile(rb"[0-9]{1,18}")

# names (lowercase) the encoder looks out for -> a small code for the scan loop
_CL, _TE, _CONN, _HOST, _TRAILER, _DATE, _SERVER = 1, 2, 3, 4, 5, 6, 7
_FRAMING: dict[bytes, int] = {
    b"content-length": _CL,
    b"transfer-encoding": _TE,
    b"connection": _CONN,
    b"host": _HOST,
    b"trailer": _TRAILER,
    b"date": _DATE,
    b"server": _SERVER,
}

_STATUS_LINES: dict[int, bytes] = {}

# (name, value) fields written before that passed the checks and say nothing about framing:
# a server sends the same few (``Content-Type: text/plain``...) over and over, and a field
# found here is written without a look at its name or value. Bounded in entries and size.
_PLAIN: set[tuple[bytes, bytes]] = set()
_PLAIN_MAX: Final = 1024
_PLAIN_FIELD_MAX: Final = 256

# Whole response heads by everything that decides their bytes (status, fields, length,
# close, Date, Server, HEAD or not, the request's version and keep-alive), for exchanges
# that propose no protocol switch: value (head, keep-alive after it, body framing, length).
# A key is kept the second time it is seen (``_HEADS_SEEN`` holds hashes of the first), so
# heads that never repeat (a request id in each) do not churn it. Bounded in entries.
_HEADS_MAX: Final = 256
_HEAD_CACHE: SeenTwiceCache[tuple[object, ...], tuple[bytes, bool, int, int]] = SeenTwiceCache(
    _HEADS_MAX
)
_HEADS = _HEAD_CACHE.entries
_HEADS_SEEN = _HEAD_CACHE.seen

# Whole request heads, the same way: (method, target, fields, content_length) -> (head,
# body framing, length, close, upgrade). A client (a proxy above all) sends the same few
# heads again and again. Kept the second time a key is seen, only when every part of it is
# exact bytes (a subclass could compare equal and mean something else), and only for heads
# up to _REQUEST_HEAD_MAX bytes. Bounded in entries.
_REQUEST_HEAD_CACHE: SeenTwiceCache[
    tuple[object, ...], tuple[bytes, int, int, bool, bytes | None]
] = SeenTwiceCache(_HEADS_MAX)
_REQUEST_HEADS = _REQUEST_HEAD_CACHE.entries
_REQUEST_HEADS_SEEN = _REQUEST_HEAD_CACHE.seen
_REQUEST_HEAD_MAX: Final = 4096


def _local(message: str) -> HttpProtocolError:
    return HttpProtocolError(message, side=Side.LOCAL, hint=None)


def _remember_request_head(
    key: tuple[object, ...], value: tuple[bytes, int, int, bool, bytes | None]
) -> None:
    """Keep an encoded request head for *key* the second time *key* is seen (see above)."""
    if len(value[0]) > _REQUEST_HEAD_MAX:
        return
    if not _REQUEST_HEAD_CACHE.seen_before(key):
        return
    method, target, fields, length = key
    if type(method) is not bytes or type(target) is not bytes:
        return
    if length is not None and type(length) is not int:
        return
    for field in fields:  # type: ignore[attr-defined]
        if type(field) is not tuple or type(field[0]) is not bytes or type(field[1]) is not bytes:
            return
    _REQUEST_HEAD_CACHE.keep(key, value)


_date_second = -1
_date_value = b""


def http_date() -> bytes:
    """The current time as an HTTP date: ``Sun, 06 Nov 1994 08:49:37 GMT`` (RFC 9110 5.6.7).

    Formatted at most once per second (every response of a busy server carries one): each
    call only reads the clock and compares the second with the cached one's.
    """
    global _date_second, _date_value
    now = int(time.time())
    if now != _date_second:
        _date_value = formatdate(now, usegmt=True).encode("ascii")
        _date_second = now
    return _date_value


def reason_phrase(status: int) -> bytes:
    """The standard reason phrase of *status* (empty for unknown codes)."""
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


def status_line(status: int, reason: bytes | None = None) -> bytes:
    """The status line ``HTTP/1.1 <status> <reason>`` + CRLF (standard reason if ``None``)."""
    if reason is None:
        line = _STATUS_LINES.get(status)
        if line is not None:
            return line
        if type(status) is not int and not isinstance(status, int):
            raise _local(f"status must be an int, got {status!r}")
        if not 100 <= status <= 999:
            raise _local(f"status {status} is outside 100..999")
        line = b"HTTP/1.1 %d %s\r\n" % (status, reason_phrase(status))
        if len(_STATUS_LINES) < 1000:
            _STATUS_LINES[int(status)] = line
        return line
    if not 100 <= status <= 999:
        raise _local(f"status {status} is outside 100..999")
    if _BAD_VALUE_RE.search(reason) is not None:
        raise _local(f"invalid reason phrase {reason!r}")
    return b"HTTP/1.1 %d %s\r\n" % (status, reason)


class HeadFacts:
    """What :func:`encode_fields` learnt from the header fields it encoded."""

    __slots__ = (
        "chunked",
        "close",
        "connection",
        "content_length",
        "has_date",
        "has_host",
        "has_server",
        "has_trailer",
    )

    def __init__(self) -> None:
        self.content_length: int | None = None
        """The value of ``Content-Length``, if present."""
        self.chunked = False
        """``Transfer-Encoding`` is present (only ``chunked`` is accepted)."""
        self.connection: list[bytes] | None = None
        """The lowercase tokens of ``Connection``, if present."""
        self.close = False
        """``Connection`` holds ``close``."""
        self.has_host = False
        """A ``Host`` field is present."""
        self.has_trailer = False
        """A ``Trailer`` field announces trailers."""
        self.has_date = False
        """A ``Date`` field is present."""
        self.has_server = False
        """A ``Server`` field is present."""


def encode_fields(
    parts: list[bytes], headers: Sequence[tuple[bytes, bytes]], *, drop_length: bool = False
) -> HeadFacts:
    """Append the wire form of *headers* to *parts* and return the facts framing needs.

    Every name must be a token and no value may hold CR, LF or NUL (checked for the whole
    block at once); a ``Transfer-Encoding`` other than ``chunked`` or a malformed or
    conflicting ``Content-Length`` raises :class:`HttpProtocolError` (``side=LOCAL``). When
    ``Transfer-Encoding`` is present, ``Content-Length`` fields are left out (a sender must not
    send both). *drop_length* leaves out ``Content-Length`` and ``Transfer-Encoding``
    altogether (used when the body framing is decided elsewhere, for example close-delimited).
    """
    facts = HeadFacts()
    framing = _FRAMING
    plain = _PLAIN
    names: list[bytes] = []
    values: list[bytes] = []
    cl_at: list[int] = []
    fresh: list[tuple[bytes, bytes]] | None = None
    for field in headers:
        name, value = field
        try:
            known = field in plain
        except TypeError:  # an unhashable pair (a list, a bytearray): checked every time
            known = False
        if known:
            parts += (name, b": ", value, b"\r\n")
            continue
        names.append(name)
        values.append(value)
        code = framing.get(name.lower())
        if code is None:
            parts += (name, b": ", value, b"\r\n")
            if len(name) + len(value) <= _PLAIN_FIELD_MAX:
                if fresh is None:
                    fresh = [field]
                else:
                    fresh.append(field)
            continue
        if code == _CL:
            v = value.strip()
            if _DIGITS_RE.fullmatch(v) is None:
                raise _local(f"invalid Content-Length {value!r}")
            n = int(v)
            if facts.content_length is not None and facts.content_length != n:
                raise _local("conflicting Content-Length headers")
            facts.content_length = n
            if drop_length:
                continue
            cl_at.append(len(parts))
        elif code == _TE:
            if value.strip().lower() != b"chunked":
                raise _local(f"unsupported Transfer-Encoding {value!r} (only chunked)")
            if facts.chunked:
                raise _local("more than one Transfer-Encoding header")
            facts.chunked = True
            if drop_length:
                continue
        elif code == _CONN:
            tokens = [t.strip() for t in value.lower().split(b",")]
            if facts.connection is None:
                facts.connection = tokens
            else:
                facts.connection.extend(tokens)
            if b"close" in tokens:
                facts.close = True
        elif code == _HOST:
            facts.has_host = True
        elif code == _TRAILER:
            facts.has_trailer = True
        elif code == _DATE:
            facts.has_date = True
        else:
            facts.has_server = True
        parts += (name, b": ", value, b"\r\n")
    if names and (_TOKEN_RE.fullmatch(b"".join(names)) is None or not all(names)):
        bad = next(n for n in names if _TOKEN_RE.fullmatch(n) is None)
        raise _local(f"invalid header name {bad!r}")
    if values and _BAD_VALUE_RE.search(b"".join(values)) is not None:
        bad = next(v for v in values if _BAD_VALUE_RE.search(v) is not None)
        raise _local(f"invalid header value {bad!r} (CR, LF and NUL are not allowed)")
    if fresh is not None:  # every name and value passed: remember the plain fields
        if len(plain) + len(fresh) > _PLAIN_MAX:
            plain.clear()
        for f in fresh:
            # only exact (bytes, bytes) pairs: a subclass could compare equal to a cached
            # field and still write something else
            if type(f) is tuple and type(f[0]) is bytes and type(f[1]) is bytes:
                plain.add(f)
    if facts.chunked and cl_at:
        # Transfer-Encoding wins: drop the Content-Length fields we wrote (4 parts each)
        for start in reversed(cl_at):
            del parts[start : start + 4]
        facts.content_length = None
    return facts


def check_target(target: bytes) -> None:
    """Raise :class:`HttpProtocolError` (local) if *target* cannot go on a request line."""
    if not target or _BAD_TARGET_RE.search(target) is not None:
        raise _local(f"invalid request target {target!r}")


def check_method(method: bytes) -> None:
    """Raise :class:`HttpProtocolError` (local) if *method* is not a token."""
    if _TOKEN_RE.fullmatch(method) is None:
        raise _local(f"invalid method {method!r}")


# body framing kinds
NO_BODY = 0
LENGTH = 1
CHUNKED = 2
CLOSE_DELIMITED = 3


class BodyWriter:
    """Frames one outgoing body: ``Content-Length``, chunked (with trailers) or close-delimited.

    :meth:`data` and :meth:`end` return the bytes to write; writing more or fewer bytes than a
    declared length raises :class:`HttpProtocolError` (``side=LOCAL``).
    """

    __slots__ = ("done", "kind", "remaining")

    def __init__(self, kind: int, length: int = 0) -> None:
        self.kind = kind
        """The framing (``NO_BODY``, ``LENGTH``, ``CHUNKED``, ``CLOSE_DELIMITED``)."""
        self.remaining = length
        """Bytes still due under ``Content-Length`` framing."""
        self.done = False
        """Whether :meth:`end` was called."""

    def data(self, data: bytes) -> bytes:
        """Frame a piece of the body."""
        if self.done:
            raise _local("the body has already ended")
        n = len(data)
        if not n:
            return b""
        kind = self.kind
        if kind == LENGTH:
            rem = self.remaining - n
            if rem < 0:
                raise _local(f"body is longer than its Content-Length (by {-rem} bytes)")
            self.remaining = rem
            return data
        if kind == CHUNKED:
            return b"%x\r\n%b\r\n" % (n, data)
        if kind == CLOSE_DELIMITED:
            return data
        raise _local("this message cannot have a body")

    def end(self, trailers: Sequence[tuple[bytes, bytes]] = ()) -> bytes:
        """Frame the end of the body (trailers are sent only with chunked framing)."""
        if self.done:
            raise _local("the body has already ended")
        self.done = True
        kind = self.kind
        if kind == LENGTH:
            if self.remaining:
                raise _local(f"body ended {self.remaining} bytes short of its Content-Length")
            return b""
        if kind == CHUNKED:
            if not trailers:
                return b"0\r\n\r\n"
            parts = [b"0\r\n"]
            facts = encode_fields(parts, trailers)
            if facts.content_length is not None or facts.chunked:
                raise _local("framing headers are not allowed in trailers")
            parts.append(b"\r\n")
            return b"".join(parts)
        return b""


# the body writers of a whole response once written (ended: nothing mutates them any more, so
# every connection may share them)
_ENDED_LENGTH = BodyWriter(LENGTH)
_ENDED_LENGTH.done = True
_ENDED_EMPTY = BodyWriter(NO_BODY)
_ENDED_EMPTY.done = True


class ServerWriter:
    """The response side of a server codec: framing decisions, ``Connection``, switches.

    The parser half calls :meth:`_request_started` for each request head and
    :meth:`_new_exchange` before parsing the next request.
    """

    __slots__ = (
        "_body",
        "_keep_alive",
        "_method",
        "_resp_started",
        "_switch",
        "_switched",
        "_version",
    )

    def __init__(self) -> None:
        self._keep_alive = True
        self._resp_started = False
        self._body: BodyWriter | None = None
        self._method = b""
        self._version = b"1.1"
        self._switch = 0  # 0: no proposal, 1: Upgrade proposed, 2: CONNECT
        self._switched = False

    def _request_started(
        self, method: bytes, version: bytes, keep_alive: bool, upgrade: bool
    ) -> None:
        """Record the request head this response answers.

        ``ServerReader.receive_next`` does the same inline for a cached head: keep them in step.
        """
        self._method = method
        self._version = version
        self._keep_alive = keep_alive
        self._switch = 2 if method == b"CONNECT" else (1 if upgrade else 0)

    def _new_exchange(self) -> None:
        """Forget the previous exchange (the next request is about to be parsed)."""
        self._resp_started = False
        self._body = None
        self._switch = 0
        self._method = b""
        self._version = b"1.1"

    @property
    def _exchange_open(self) -> bool:
        """Whether the response is unfinished, or a switch is pending or happened."""
        body = self._body
        return self._switched or bool(self._switch) or body is None or not body.done

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

    def _head_key(
        self,
        status: int,
        headers: Sequence[tuple[bytes, bytes]],
        content_length: int | None,
        close: bool,
        date: bytes | None,
        server: bytes | None,
    ) -> tuple[object, ...]:
        """The response-head cache's key: everything the encoded head depends on."""
        return (
            status,
            tuple(headers),
            content_length,
            close,
            date,
            server,
            self._method == b"HEAD",
            self._version,
            self._keep_alive,
        )

    def send_response(
        self,
        status: int,
        headers: Sequence[tuple[bytes, bytes]],
        *,
        reason: bytes | None = None,
        content_length: int | None = None,
        close: bool = False,
        date: bytes | None = None,
        server: bytes | None = None,
    ) -> bytes:
        """Encode the final response head, adding framing and ``Connection`` as needed.

        *date* / *server* (already valid field values) are written as ``date`` / ``server``
        fields when the headers have none (never on a ``2xx`` to ``CONNECT``: the connection
        turns into a tunnel).
        """
        if self._resp_started:
            raise _local("the response head has already been sent")
        if status < 200:
            raise _local(f"status {status} is not a final status (use send_informational)")
        key: tuple[object, ...] | None = None
        if reason is None and not self._switch:
            key = self._head_key(status, headers, content_length, close, date, server)
            try:
                known = _HEADS.get(key)
            except TypeError:  # an unhashable field (a list, a bytearray): no cache
                key = None
            else:
                if known is not None:
                    head, keep, kind, length = known
                    self._keep_alive = keep
                    self._resp_started = True
                    self._body = BodyWriter(kind, length)
                    return head
        out = self._encode_response(status, headers, reason, content_length, close, date, server)
        if key is not None:
            body = self._body
            assert body is not None
            if _HEAD_CACHE.seen_before(key):
                _HEAD_CACHE.keep(key, (out, self._keep_alive, body.kind, body.remaining))
        return out

    def _encode_response(
        self,
        status: int,
        headers: Sequence[tuple[bytes, bytes]],
        reason: bytes | None,
        content_length: int | None,
        close: bool,
        date: bytes | None,
        server: bytes | None,
    ) -> bytes:
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
        else:
            if date is not None and not facts.has_date:
                parts += (b"date: ", date, b"\r\n")
            if server is not None and not facts.has_server:
                parts += (b"server: ", server, b"\r\n")
            if not keep:
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

    def send_whole(
        self,
        status: int,
        headers: Sequence[tuple[bytes, bytes]],
        data: bytes,
        close: bool = False,
        date: bytes | None = None,
        server: bytes | None = None,
    ) -> bytes:
        """Encode a whole final response whose body *data* is in memory (no trailers).

        The same bytes and state as :meth:`send_response` with ``content_length=len(data)``,
        :meth:`send_data` and :meth:`send_end` in turn, in one call: a head seen before (see
        :meth:`send_response`) framed by ``Content-Length`` is written with *data* as is.
        """
        if not self._resp_started and not self._switch and status >= 200:
            key = self._head_key(status, headers, len(data), close, date, server)
            try:
                known = _HEADS.get(key)
            except TypeError:  # an unhashable field: the general path below
                known = None
            if known is not None:
                head, keep, kind, length = known
                if kind == NO_BODY or (kind == LENGTH and length == len(data)):
                    self._keep_alive = keep
                    self._resp_started = True
                    if kind == NO_BODY:
                        self._body = _ENDED_EMPTY
                        return head
                    self._body = _ENDED_LENGTH
                    return head + data if data else head
        out = self.send_response(
            status, headers, content_length=len(data), close=close, date=date, server=server
        )
        body = self._body
        assert body is not None
        if data and body.kind != NO_BODY:
            out += body.data(data)
        return out + body.end()

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


class ClientWriter:
    """The request side of a client codec: framing decisions and exchange bookkeeping.

    :meth:`send_request` encodes the head and calls :meth:`_begin_exchange`, where the parser
    half learns what it needs to frame the response (method, upgrade proposal, close).
    """

    __slots__ = (
        "_body",
        "_eof",
        "_error",
        "_in_exchange",
        "_keep_alive",
        "_method",
        "_resp_done",
        "_switch",
        "_switched",
    )

    def __init__(self) -> None:
        self._keep_alive = True
        self._in_exchange = False
        self._resp_done = False
        self._body: BodyWriter | None = None
        self._method = b""
        self._switch = 0
        self._switched = False
        self._eof = False  # the server finished sending
        self._error: CodecError | None = None  # the server broke the protocol

    def _ready(self) -> bool:
        """Whether another request may be sent."""
        return not self._switched and self._keep_alive and self._error is None and not self._eof

    def _fail(self, err: HttpProtocolError) -> CodecError:
        """Record that the server broke the protocol; every later event is this error."""
        ev = CodecError(err)
        self._error = ev
        self._keep_alive = False
        return ev

    @property
    def is_reusable(self) -> bool:
        """Whether the exchange is over on both sides and another request may follow."""
        # _ready(), inline: a pool asks twice per request
        return (
            not self._in_exchange
            and not self._switched
            and self._keep_alive
            and self._error is None
            and not self._eof
        )

    @property
    def request_complete(self) -> bool:
        """Whether the request body has been ended."""
        return self._body is not None and self._body.done

    def _begin_exchange(self, method: bytes, upgrade: bytes | None, close: bool) -> None:
        """Prepare the parser for the response to this request (implemented by codecs)."""
        raise NotImplementedError

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
        if not self._ready():
            raise _local("the connection cannot carry another request")
        key: tuple[object, ...] | None = (method, target, tuple(headers), content_length)
        try:
            known = _REQUEST_HEADS.get(key)  # type: ignore[arg-type]
        except TypeError:  # an unhashable field (a list, a bytearray): no cache
            key = known = None
        if known is None:
            known = self._encode_request(method, target, headers, content_length)
            if key is not None:
                _remember_request_head(key, known)
        head, kind, length, close, upgrade = known
        self._begin_exchange(method, upgrade, close)
        self._method = method
        self._switch = 2 if method == b"CONNECT" else (1 if upgrade is not None else 0)
        self._keep_alive = not close
        self._in_exchange = True
        self._resp_done = False
        self._body = BodyWriter(kind, length)
        if kind == NO_BODY:
            self._body.done = True
        return head

    @staticmethod
    def _encode_request(
        method: bytes,
        target: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        content_length: int | None,
    ) -> tuple[bytes, int, int, bool, bytes | None]:
        """Encode (and check) a request head: ``(head, framing, length, close, upgrade)``."""
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
        upgrade: bytes | None = None
        for name, value in headers:
            if len(name) == 7 and name.lower() == b"upgrade":
                upgrade = value
        return b"".join(parts), kind, facts.content_length or 0, facts.close, upgrade

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
