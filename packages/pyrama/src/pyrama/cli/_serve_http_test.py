"""``pyrama serve http-test``: an HTTP server with endpoints for testing clients and proxies.

=========================  ==============================================================
``/``                      the list of endpoints
``/bytes/N``               N bytes (``application/octet-stream``), streamed in chunks
``/method``                the request method, as text (any method)
``/response-compression``  a text body, compressed as ``Accept-Encoding`` allows
``/response-stream``       ``?n=`` lines sent one chunk at a time (no ``Content-Length``)
``/sse``                   ``?n=`` server-sent events, one JSON object each
``/multipart``             a ``multipart/mixed`` response with three parts
``/sink``                  reads and discards the request body; answers its size (JSON)
=========================  ==============================================================
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qs

from pyrama.cli._serve import Mode, ServeCommand, ServeSettings, Started
from pyrama_core import ShutdownGuard

if TYPE_CHECKING:
    from pyrama_http_types import Request, Response

__all__ = [
    "COMMAND",
    "COMPRESSION_TEXT",
    "MAX_BYTES",
    "MAX_ITEMS",
    "MULTIPART_BOUNDARY",
    "HttpTestService",
]

MAX_BYTES: Final = 1 << 30
"""The most ``/bytes/N`` sends (1 GiB)."""

MAX_ITEMS: Final = 10_000
"""The most lines or events ``/response-stream`` and ``/sse`` send."""

MULTIPART_BOUNDARY: Final = "pyrama-http-test-boundary"
"""The boundary of the ``/multipart`` response."""

COMPRESSION_TEXT: Final = "".join(f"line {i}: pyrama compresses this text\n" for i in range(1000))
"""The body of ``/response-compression`` before compression."""

_CHUNK: Final = 64 * 1024
_PATTERN: Final = bytes(range(256)) * (_CHUNK // 256)

_INDEX: Final = (
    "pyrama http-test endpoints:\n"
    "  /bytes/N                N bytes of a repeating 0..255 pattern\n"
    "  /method                 the request method\n"
    "  /response-compression   a text body, compressed (zstd/br/gzip/deflate) if accepted\n"
    "  /response-stream?n=10   n lines, streamed\n"
    "  /sse?n=5                n server-sent events\n"
    "  /multipart              a multipart/mixed response\n"
    "  /sink                   reads and discards the body, answers its size\n"
)


def _count(request: Request, default: int) -> int | None:
    query = request.uri.query or ""
    values = parse_qs(query).get("n")
    if not values:
        return default
    text = values[0]
    if not text.isascii() or not text.isdigit() or len(text) > 6 or int(text) > MAX_ITEMS:
        return None
    return int(text)


async def _pattern(n: int) -> AsyncIterator[bytes]:
    left = n
    while left > 0:
        take = min(left, _CHUNK)
        yield _PATTERN[:take]
        left -= take
        await asyncio.sleep(0)


async def _compression_text(request: Request) -> Response:
    from pyrama_http_types import Response

    return Response.text(COMPRESSION_TEXT)


class HttpTestService:
    """``Service[Request, Response]``: the http-test endpoints (see the module docs).

    ``/response-compression`` goes through pyrama-http's
    :class:`~pyrama_http.layer.CompressionLayer` (zstd, br, gzip, deflate as installed,
    negotiated from ``Accept-Encoding``).
    """

    __slots__ = ("_compressed",)

    def __init__(self) -> None:
        from pyrama_core import service_fn
        from pyrama_http.layer import CompressionLayer

        self._compressed = CompressionLayer(min_size=0).layer(service_fn(_compression_text))

    async def serve(self, request: Request, /) -> Response:
        """Answer *request* from the endpoint its path names (``404`` for others)."""
        from pyrama_http_types import Response

        path = request.uri.path
        if path == "/":
            return Response.text(_INDEX)
        if path.startswith("/bytes/"):
            return self._bytes(path.removeprefix("/bytes/"))
        if path == "/method":
            return Response.text(str(request.method) + "\n")
        if path == "/response-compression":
            return await self._compressed.serve(request)
        if path == "/response-stream":
            return self._stream(request)
        if path == "/sse":
            return self._sse(request)
        if path == "/multipart":
            return self._multipart()
        if path == "/sink":
            return await self._sink(request)
        return Response.text("not found; see / for the endpoints\n", 404)

    @staticmethod
    def _bytes(text: str) -> Response:
        from pyrama_http_types import Body, Response

        if not text.isascii() or not text.isdigit() or len(text) > 12 or int(text) > MAX_BYTES:
            return Response.text(f"N must be a whole number 0..{MAX_BYTES}\n", 400)
        n = int(text)
        return Response(
            200,
            headers={"Content-Type": "application/octet-stream"},
            body=Body.from_iter(_pattern(n), size_hint=n),
        )

    @staticmethod
    def _stream(request: Request) -> Response:
        from pyrama_http_types import Body, Response

        n = _count(request, 10)
        if n is None:
            return Response.text(f"n must be a whole number 0..{MAX_ITEMS}\n", 400)

        async def lines() -> AsyncIterator[bytes]:
            for i in range(n):
                yield f"chunk {i}\n".encode("ascii")
                await asyncio.sleep(0)

        return Response(
            200, headers={"Content-Type": "text/plain; charset=utf-8"}, body=Body.from_iter(lines())
        )

    @staticmethod
    def _sse(request: Request) -> Response:
        from pyrama_http.sse import Sse
        from pyrama_http_types import Response, SseEvent

        n = _count(request, 5)
        if n is None:
            return Response.text(f"n must be a whole number 0..{MAX_ITEMS}\n", 400)

        async def events() -> AsyncIterator[SseEvent]:
            for i in range(n):
                yield SseEvent.json({"n": i}, event="count", id=str(i))
                await asyncio.sleep(0)

        return Sse(events(), keep_alive=15.0).into_response()

    @staticmethod
    def _multipart() -> Response:
        from pyrama_http_types import Response

        parts = [
            ("text/plain; charset=utf-8", b"first part\n"),
            ("application/json", b'{"part":2}'),
            ("application/octet-stream", bytes(range(16))),
        ]
        b = MULTIPART_BOUNDARY.encode("ascii")
        body = b"".join(
            b"--" + b + b"\r\nContent-Type: " + ct.encode("ascii") + b"\r\n\r\n" + data + b"\r\n"
            for ct, data in parts
        )
        body += b"--" + b + b"--\r\n"
        return Response(
            200,
            headers={"Content-Type": f'multipart/mixed; boundary="{MULTIPART_BOUNDARY}"'},
            body=body,
        )

    @staticmethod
    async def _sink(request: Request) -> Response:
        from pyrama_http_types import Response

        size = 0
        async for chunk in request.body:
            size += len(chunk)
        return Response.json({"bytes": size})

    def __repr__(self) -> str:
        return "HttpTestService()"


async def _http(s: ServeSettings, guard: ShutdownGuard) -> Started:
    from pyrama.cli._http import start_http

    return await start_http(s, guard, HttpTestService())


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from pyrama.cli._http import add_http_arguments
    from pyrama.cli._tls_options import add_server_tls_arguments

    add_http_arguments(parser)
    add_server_tls_arguments(parser, only_mode="http --secure")


COMMAND = ServeCommand(
    name="http-test",
    help="HTTP test server: /bytes/N, /method, /response-compression, /sse, /sink, ...",
    description=(
        "An HTTP/1.1 and HTTP/2 server (HTTPS with --secure) with endpoints for testing\n"
        "clients and proxies:\n"
        "  /bytes/N               N bytes (a repeating 0..255 pattern), streamed\n"
        "  /method                the request method as text\n"
        "  /response-compression  a text body, zstd/br/gzip/deflate as Accept-Encoding asks\n"
        "  /response-stream?n=10  n lines, one chunk each, no Content-Length\n"
        "  /sse?n=5               n server-sent events (event count, JSON data, ids)\n"
        "  /multipart             a multipart/mixed response with three parts\n"
        "  /sink                  reads and discards the request body, answers\n"
        '                         {"bytes": size} (bounded by --max-body-bytes)'
    ),
    modes={
        "http": Mode(
            _http,
            ("net", "tcp", "tls", "http_types", "http_core", "http"),
            "the test endpoints over HTTP/1.1 and h2 (HTTPS with --secure)",
        ),
    },
    default_mode="http",
    default_timeout=0.0,
    add_arguments=_add_arguments,
    examples=(
        "examples:\n"
        "  pyrama serve http-test                       on 127.0.0.1:8080\n"
        "  curl -s 127.0.0.1:8080/bytes/1048576 | wc -c\n"
        "  curl --compressed 127.0.0.1:8080/response-compression\n"
        "  curl -N 127.0.0.1:8080/sse?n=3\n"
        "  pyrama serve http-test --max-body-bytes 1G   then:\n"
        "  curl --data-binary @big.iso 127.0.0.1:8080/sink\n"
    ),
)
