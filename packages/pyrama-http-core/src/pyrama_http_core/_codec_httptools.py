"""The fast HTTP/1.1 server codec: request heads parsed by httptools (llhttp, in C).

Only the head parser differs from the h11 codec: buffering, framing (``Content-Length``
slicing, chunked decoding), limits and every check on top of the parser are
:class:`~pyrama_http_core._codec_server.ServerReader`'s, so both codecs accept, frame and
reject requests the same way (one conformance suite runs against both).

Each complete, scanned head is fed to a fresh ``httptools.HttpRequestParser`` (making one
costs about a third of a microsecond; reusing one across requests would need it to stay in
step with bodies this codec frames itself). llhttp is told to leave three decisions to us:
the ``Transfer-Encoding`` value (``ServerReader`` refuses anything but ``chunked`` with
``501``, as the h11 codec does), ``Content-Length`` next to ``Transfer-Encoding`` (refused
too, after the coding is checked) and the ``HTTP/1.x`` minor version (a higher minor is
processed as ``1.1``, anything else is ``505``). llhttp knows a fixed list of methods; a
request with another method that is a valid token (``QUERY`` on an older llhttp, extension
methods) is parsed with a stand-in method and gets its own back.

Install with ``pip install pyrama-http-core[fast]``; :data:`HTTPTOOLS_AVAILABLE` says whether
it is importable. The default server codec is this one when it is.
"""

from __future__ import annotations

import re
from typing import Final

from pyrama_http_core._codec_server import ParsedHead, ServerReader
from pyrama_http_core._config import HttpLimits
from pyrama_http_core.errors import HttpCoreError, HttpProtocolError

try:
    import httptools as _httptools

    HTTPTOOLS_AVAILABLE: Final = True
except ImportError:  # pragma: no cover - the tests run with the extra installed
    HTTPTOOLS_AVAILABLE = False  # type: ignore[misc]

__all__ = ["HTTPTOOLS_AVAILABLE", "HttptoolsServerCodec", "parse_head_httptools"]

_TOKEN_RE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VCHARS_RE = re.compile(rb"[\x21-\x7e]+")
_METHOD, _TARGET = 1, 2
_STAND_IN_METHOD: Final = b"GET"
_STAND_IN_TARGET: Final = b"/"


class _Head:
    """httptools callbacks collecting one head (the parser calls these by name)."""

    __slots__ = ("complete", "fields", "target")

    # callbacks the parser looks up: None (skipped) rather than a failed look-up per parser
    on_message_begin = None
    on_body = None
    on_message_complete = None
    on_chunk_header = None
    on_chunk_complete = None
    on_status = None

    def __init__(self) -> None:
        self.target = b""
        self.fields: list[tuple[bytes, bytes]] = []
        self.complete = False

    def on_url(self, url: bytes) -> None:
        self.target += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.fields.append((name, value))

    def on_headers_complete(self) -> None:
        self.complete = True


def _feed(head: bytes) -> tuple[_Head, object] | HttpProtocolError | int:
    """Parse *head*; ``_METHOD`` / ``_TARGET`` when llhttp refuses that part of the line."""
    got = _Head()
    parser = _httptools.HttpRequestParser(got)
    parser.set_dangerous_leniencies(
        lenient_transfer_encoding=True, lenient_chunked_length=True, lenient_version=True
    )
    try:
        parser.feed_data(head)
    except _httptools.HttpParserUpgrade:
        pass  # CONNECT or an Upgrade proposal: the head is complete all the same
    except _httptools.HttpParserInvalidMethodError:
        return _METHOD
    except _httptools.HttpParserInvalidURLError:
        return _TARGET
    except _httptools.HttpParserError as exc:
        err = HttpProtocolError(str(exc) or "malformed HTTP/1.1 request head")
        err.__cause__ = exc
        return err
    if not got.complete:  # pragma: no cover - the scanner only passes complete heads
        return HttpProtocolError("incomplete request head")
    return got, parser


def parse_head_httptools(head: bytes) -> ParsedHead | HttpProtocolError:
    """Parse one complete, scanned request head with httptools (the codec's head parser)."""
    fed = _feed(head)
    method: bytes | None = None
    target: bytes | None = None
    if type(fed) is int:
        # llhttp knows fewer methods and target shapes than HTTP allows: check the request
        # line's method and target as h11 does, and let llhttp parse the rest with stand-ins
        line_end = head.find(b"\r\n")
        parts = head[:line_end].split(b" ")
        if len(parts) != 3:
            return HttpProtocolError("malformed request line")
        method, target, _ = parts
        if _TOKEN_RE.fullmatch(method) is None:
            return HttpProtocolError(f"invalid method {method[:32]!r}")
        if _VCHARS_RE.fullmatch(target) is None:
            return HttpProtocolError(f"invalid request target {target[:64]!r}")
        rest = head[len(method) + len(target) + 2 :]
        fed = _feed(b"%s %s %s" % (_STAND_IN_METHOD, _STAND_IN_TARGET, rest))
        if type(fed) is int:  # pragma: no cover - llhttp knows GET and /
            return HttpProtocolError("request line not understood")
    if type(fed) is not tuple:
        return fed  # type: ignore[return-value]
    got, parser = fed
    if method is None:
        method = parser.get_method()  # type: ignore[attr-defined]
        target = got.target
    version = parser.get_http_version().encode("ascii")  # type: ignore[attr-defined]
    fields = got.fields
    # find, not `in`: on CPython 3.11 `bytes in bytes` first tries (and fails) an int conversion
    if head.find(b" \r\n") >= 0 or head.find(b"\t\r\n") >= 0:
        # llhttp keeps whitespace after a field value; it is not part of the value
        fields = [(name, value.rstrip(b" \t")) for name, value in fields]
    return method, target, version, fields  # type: ignore[return-value]


class HttptoolsServerCodec(ServerReader):
    """The server side of HTTP/1.1 with httptools parsing heads.

    Same contract as :class:`~pyrama_http_core.H11ServerCodec` (see
    :class:`~pyrama_http_core.Http1ServerCodec`); raises :class:`HttpCoreError` when
    httptools is not installed.
    """

    __slots__ = ()

    def __init__(self, limits: HttpLimits | None = None) -> None:
        if not HTTPTOOLS_AVAILABLE:  # pragma: no cover - the tests run with the extra
            raise HttpCoreError("httptools is not installed: pip install 'pyrama-http-core[fast]'")
        super().__init__(parse_head_httptools, limits)
