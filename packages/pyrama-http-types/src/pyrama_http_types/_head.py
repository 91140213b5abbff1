"""A strict HTTP/1 request-head parser for captured bytes (fingerprinting, tests, tools).

Protocol drivers parse heads with their codec (h11, httptools); this parser is for bytes that
are already at hand, such as a capture or a peeked buffer, and builds pyrama's own types.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from pyrama_http_types._headers import HeaderMap
from pyrama_http_types._method import Method
from pyrama_http_types._uri import Uri
from pyrama_http_types._version import Version
from pyrama_http_types.errors import HeadParseError, InvalidMethodError, InvalidUriError

__all__ = ["MAX_HEADERS", "MAX_HEAD_SIZE", "RequestHead", "parse_request_head"]

MAX_HEAD_SIZE = 65536
"""Default limit on the size of a request head in bytes (request line, headers, blank line)."""

MAX_HEADERS = 100
"""Default limit on the number of header fields in a request head."""

_TOKEN_RE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Field values: visible ASCII, obs-text, SP and HTAB; no other control characters.
_BAD_VALUE_RE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_VERSION_RE = re.compile(rb"HTTP/([0-9])\.([0-9])")


class RequestHead(NamedTuple):
    """A parsed request head: ``method, uri, version, headers = parse_request_head(data)``."""

    method: Method
    """The request method."""
    uri: Uri
    """The request-target, exactly as sent."""
    version: Version
    """``HTTP/1.0`` or ``HTTP/1.1``."""
    headers: HeaderMap
    """The header fields in wire order with their original case."""


def _bad(message: str, status: int = 400) -> HeadParseError:
    return HeadParseError(message, status_hint=status)


def parse_request_head(
    data: bytes, *, max_size: int = MAX_HEAD_SIZE, max_headers: int = MAX_HEADERS
) -> RequestHead:
    """Parse an HTTP/1.0 or HTTP/1.1 request head from *data*.

    *data* must hold the whole head up to and including the empty line that ends it; bytes
    after that line (a body, a pipelined request) are ignored. Lines end with CRLF or a bare
    LF. Empty lines before the request line are skipped (RFC 9112 2.2).

    Strict rules, each a :class:`~pyrama_http_types.errors.HeadParseError`: the request line
    is exactly ``method SP target SP version`` with a token method and a valid request-target
    (see :class:`~pyrama_http_types.Uri`); the version is ``HTTP/1.0`` or ``HTTP/1.1`` (other
    ``HTTP/x.y`` versions get status hint 505); header names are tokens directly followed by
    ``:`` (no whitespace before it); values have no control characters other than HTAB and
    are stripped of surrounding spaces and tabs; obsolete line folding is refused; a bare CR is
    refused. A head longer than *max_size* bytes or with more than *max_headers* fields gets
    status hint 431; a head without its ending empty line is refused as incomplete.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"a request head is bytes, got {type(data).__name__}")
    buf = bytes(data)
    pos = 0
    end = len(buf)
    # Skip empty lines before the request line.
    while True:
        if buf.startswith(b"\r\n", pos):
            pos += 2
        elif buf.startswith(b"\n", pos):
            pos += 1
        else:
            break
    lines: list[bytes] = []
    while True:
        nl = buf.find(b"\n", pos, min(end, max_size))
        if nl < 0:
            if end >= max_size:
                raise _bad(f"the request head is larger than {max_size} bytes", 431)
            raise _bad("the request head is incomplete (no empty line ends it)")
        line = buf[pos:nl]
        if line.endswith(b"\r"):
            line = line[:-1]
        pos = nl + 1
        if not line:
            break
        if b"\r" in line:
            raise _bad("a bare CR inside a line")
        lines.append(line)
        if len(lines) > max_headers + 1:
            raise _bad(f"the request has more than {max_headers} header fields", 431)
    if not lines:
        raise _bad("the request head is empty")

    request_line = lines[0]
    parts = request_line.split(b" ")
    if len(parts) != 3 or not all(parts):
        raise _bad(
            f"malformed request line {request_line[:200]!r} (want: method SP target SP version)"
        )
    method_raw, target_raw, version_raw = parts
    try:
        method = Method(method_raw)
    except InvalidMethodError as exc:
        raise _bad(str(exc)) from exc
    m = _VERSION_RE.fullmatch(version_raw)
    if m is None:
        raise _bad(f"malformed HTTP version {version_raw[:40]!r}")
    if version_raw == b"HTTP/1.1":
        version = Version.HTTP_11
    elif version_raw == b"HTTP/1.0":
        version = Version.HTTP_10
    else:
        raise _bad(f"unsupported HTTP version {version_raw.decode('ascii')}", 505)
    try:
        uri = Uri(target_raw)
    except InvalidUriError as exc:
        raise _bad(str(exc)) from exc

    fields: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        first = line[0]
        if first == 0x20 or first == 0x09:
            raise _bad("obsolete line folding (a header line starting with whitespace)")
        colon = line.find(b":")
        if colon <= 0:
            raise _bad(f"malformed header line {line[:100]!r} (no 'name:')")
        name = line[:colon]
        if _TOKEN_RE.fullmatch(name) is None:
            raise _bad(f"invalid header name {name[:100]!r}")
        value = line[colon + 1 :].strip(b" \t")
        bad = _BAD_VALUE_RE.search(value)
        if bad is not None:
            raise _bad(f"control character {bad.group()!r} in the value of header {name!r}")
        fields.append((name, value))
    return RequestHead(method, uri, version, HeaderMap.from_raw(fields))
