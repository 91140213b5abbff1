"""The sending half shared by every HTTP/1.1 codec: head encoding and body framing.

Parsers differ between codecs (h11, httptools); what goes on the wire does not. This module
writes heads byte for byte as given (header name case and order kept, nothing reordered or
re-cased), adds framing headers only when the message has none, validates what it writes
(no CR/LF/NUL smuggled into a head, names are tokens) and frames bodies
(``Content-Length``, chunked with trailers, or close-delimited).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from http import HTTPStatus

from pyrama_core.errors import Side
from pyrama_http_core.errors import HttpProtocolError

__all__ = ["BodyWriter", "HeadFacts", "encode_fields", "reason_phrase", "status_line"]

_TOKEN_RE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_RE = re.compile(rb"[\r\n\x00]")
_BAD_TARGET_RE = re.compile(rb"[\x00-\x20\x7f]")
_DIGITS_RE = re.compile(rb"[0-9]{1,18}")

# framing-relevant names (lowercase) -> a small code for the scan loop
_CL, _TE, _CONN, _HOST, _TRAILER = 1, 2, 3, 4, 5
_FRAMING: dict[bytes, int] = {
    b"content-length": _CL,
    b"transfer-encoding": _TE,
    b"connection": _CONN,
    b"host": _HOST,
    b"trailer": _TRAILER,
}

_STATUS_LINES: dict[int, bytes] = {}


def _local(message: str) -> HttpProtocolError:
    return HttpProtocolError(message, side=Side.LOCAL, hint=None)


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

    __slots__ = ("chunked", "close", "connection", "content_length", "has_host", "has_trailer")

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
    names: list[bytes] = []
    values: list[bytes] = []
    cl_at: list[int] = []
    for name, value in headers:
        names.append(name)
        values.append(value)
        code = framing.get(name.lower())
        if code is None:
            parts += (name, b": ", value, b"\r\n")
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
        else:
            facts.has_trailer = True
        parts += (name, b": ", value, b"\r\n")
    if names and (_TOKEN_RE.fullmatch(b"".join(names)) is None or not all(names)):
        bad = next(n for n in names if _TOKEN_RE.fullmatch(n) is None)
        raise _local(f"invalid header name {bad!r}")
    if values and _BAD_VALUE_RE.search(b"".join(values)) is not None:
        bad = next(v for v in values if _BAD_VALUE_RE.search(v) is not None)
        raise _local(f"invalid header value {bad!r} (CR, LF and NUL are not allowed)")
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
