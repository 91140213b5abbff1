"""Compression: compress responses (server), decompress responses (client) and requests."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from pyrama_core.errors import ConfigError
from pyrama_http.layer._codec import (
    SUPPORTED_ENCODINGS,
    available_encodings,
    decoded_body,
    encoded_body,
)
from pyrama_http.layer._util import HttpService, plain_response
from pyrama_http_types import HeaderMap, Method, Request, Response

__all__ = [
    "DEFAULT_MAX_DECOMPRESSED_SIZE",
    "CompressionLayer",
    "CompressionService",
    "DecodedContent",
    "DecompressionLayer",
    "DecompressionService",
    "RequestDecompressionLayer",
    "RequestDecompressionService",
    "is_compressible_content_type",
    "negotiate_encoding",
    "parse_accept_encoding",
]

DEFAULT_MAX_DECOMPRESSED_SIZE: Final = 64 * 1024 * 1024
"""The default limit on a decompressed body (64 MiB): a zip bomb stops there."""

DEFAULT_MIN_SIZE: Final = 32

_NOT_COMPRESSIBLE_PREFIXES: Final = ("image/", "audio/", "video/", "font/woff")
_NOT_COMPRESSIBLE: Final = frozenset(
    {
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-bzip2",
        "application/x-xz",
        "application/x-7z-compressed",
        "application/zstd",
        "application/x-brotli",
        "application/octet-stream",
        "application/pdf",
        "application/grpc",
        "application/wasm",
        "text/event-stream",
    }
)
_COMPRESSIBLE_IMAGES: Final = frozenset({"image/svg+xml", "image/x-icon", "image/bmp"})


def parse_accept_encoding(values: Iterable[str]) -> list[tuple[str, float]]:
    """``(coding, q)`` pairs of ``Accept-Encoding`` field values, leniently.

    Codings are lower-cased; a missing or malformed weight counts as ``1`` or drops the
    element (a malformed element never fails the request). Order is kept.
    """
    out: list[tuple[str, float]] = []
    for value in values:
        for element in value.split(","):
            coding, *params = element.split(";")
            coding = coding.strip(" \t").lower()
            if not coding or not all(c.isalnum() or c in "-_.*+!#$%&'^`|~" for c in coding):
                continue
            q = 1.0
            ok = True
            for param in params:
                name, eq, raw = param.partition("=")
                if name.strip(" \t").lower() != "q":
                    continue
                raw = raw.strip(" \t")
                try:
                    q = float(raw) if eq and raw[:1].isdigit() else -1.0
                except ValueError:
                    q = -1.0
                if not 0.0 <= q <= 1.0:
                    ok = False
            if ok:
                out.append((coding, q))
    return out


def negotiate_encoding(values: Iterable[str], supported: Sequence[str]) -> str | None:
    """The coding of *supported* to use for a request's ``Accept-Encoding`` *values*.

    The highest weight wins, ties go to the order of *supported* (the server's preference);
    ``*`` stands for every coding not named; ``q=0`` refuses a coding. ``None`` means send
    the body as it is (identity): no header, nothing acceptable, or identity preferred.
    """
    weights: dict[str, float] = {}
    x_gzip: float | None = None
    for coding, q in parse_accept_encoding(values):
        if coding == "x-gzip":
            if x_gzip is None:
                x_gzip = q
            continue
        weights.setdefault(coding, q)  # the first mention counts
    if x_gzip is not None:
        # x-gzip is an alias of gzip (RFC 9110 8.4.1.3); "gzip" named itself decides
        weights.setdefault("gzip", x_gzip)
    if not weights:
        return None
    star = weights.get("*")
    best: str | None = None
    best_q = 0.0
    for coding in supported:
        q = weights.get(coding, star if star is not None else 0.0)
        if q > best_q:
            best, best_q = coding, q
    identity_q = weights.get("identity")  # only an explicit preference counts
    if best is not None and identity_q is not None and identity_q > best_q:
        return None
    return best


def is_compressible_content_type(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` is worth compressing (not images, media, archives, SSE)."""
    if content_type is None:
        return True
    essence = content_type.partition(";")[0].strip().lower()
    if essence in _COMPRESSIBLE_IMAGES:
        return True
    if essence in _NOT_COMPRESSIBLE:
        return False
    return not essence.startswith(_NOT_COMPRESSIBLE_PREFIXES)


def _add_vary(resp: Response, name: str) -> None:
    if "vary" not in resp.headers:  # the common case: a scan, no index of the map
        resp.headers.add("Vary", name)
        return
    for value in resp.headers.get_all("vary"):
        for item in value.split(","):
            item = item.strip().lower()
            if item in ("*", name.lower()):
                return
    resp.headers.add("Vary", name)


def _check_encodings(encodings: Sequence[str]) -> tuple[str, ...]:
    out = tuple(e.lower() for e in encodings)
    for e in out:
        if e not in SUPPORTED_ENCODINGS:
            raise ConfigError(
                f"unknown content coding {e!r} (know {', '.join(SUPPORTED_ENCODINGS)})"
            )
    available = available_encodings()
    missing = [e for e in out if e not in available]
    if missing:
        raise ConfigError(f"content codings {missing} need pip install 'pyrama-http[compression]'")
    return out


class CompressionService:
    """Compresses response bodies as they stream (see :class:`CompressionLayer`)."""

    __slots__ = ("_encodings", "_level", "_min_size", "_predicate", "inner")

    def __init__(
        self,
        inner: HttpService,
        encodings: tuple[str, ...],
        min_size: int,
        level: int | None,
        predicate: Callable[[Request, Response], bool] | None,
    ) -> None:
        """Wrap *inner* (use :class:`CompressionLayer`)."""
        self.inner = inner
        self._encodings = encodings
        self._min_size = min_size
        self._level = level
        self._predicate = predicate

    async def serve(self, request: Request, /) -> Response:
        """Serve *request*, then compress the response body when the client accepts it."""
        accept = request.headers.get_all("accept-encoding")
        is_head = request.method == Method.HEAD
        response = await self.inner.serve(request)
        status = int(response.status)
        if status < 200 or status in (204, 304):
            return response
        headers = response.headers
        _add_vary(response, "Accept-Encoding")
        if is_head:
            return response
        # every refusal below leaves the response as it is: the cheapest checks go first
        hint = response.body.size_hint
        if hint is not None and hint < self._min_size:
            return response
        if (
            "content-encoding" in headers
            or "content-range" in headers
            or "no-transform" in (headers.get_joined("cache-control") or "").lower()
            or not is_compressible_content_type(headers.get("content-type"))
        ):
            return response
        if self._predicate is not None and not self._predicate(request, response):
            return response
        encoding = negotiate_encoding(accept, self._encodings)
        if encoding is None:
            return response
        headers.remove("content-length")
        headers.remove("accept-ranges")
        headers.add("Content-Encoding", encoding)
        response.body = encoded_body(response.body, encoding, self._level)
        return response

    def __repr__(self) -> str:
        return f"CompressionService({', '.join(self._encodings)}, {self.inner!r})"


class CompressionLayer:
    """Compresses response bodies with the best coding the client accepts (server side).

    The coding is negotiated from ``Accept-Encoding`` (weights, ``*``, ``identity``, ``q=0``;
    ties go to the order of *encodings*, by default zstd, br, gzip, deflate as installed).
    The body is compressed chunk by chunk as it streams (each chunk is flushed, so nothing
    waits for the end of the body); ``Content-Length`` is dropped, ``Content-Encoding`` set
    and ``Vary: Accept-Encoding`` added. Left alone (``Vary`` aside): ``HEAD`` (its head
    cannot know what a compressed GET body would be), ``1xx``/``204``/``304``, responses
    that already have a ``Content-Encoding`` or a ``Content-Range``,
    ``Cache-Control: no-transform``, bodies known to be shorter than *min_size* bytes,
    types not worth it (images but SVG, audio, video, archives,
    ``application/octet-stream``, ``text/event-stream``, gRPC), and those *predicate*
    (``(request, response) -> bool``) refuses.
    """

    __slots__ = ("_encodings", "_level", "_min_size", "_predicate")

    def __init__(
        self,
        *,
        encodings: Sequence[str] | None = None,
        min_size: int = DEFAULT_MIN_SIZE,
        level: int | None = None,
        predicate: Callable[[Request, Response], bool] | None = None,
    ) -> None:
        """Configure the codings offered and what is compressed."""
        if min_size < 0:
            raise ConfigError(f"min_size must be >= 0, got {min_size!r}")
        self._encodings = (
            available_encodings() if encodings is None else _check_encodings(encodings)
        )
        self._min_size = min_size
        self._level = level
        self._predicate = predicate

    def layer(self, inner: HttpService, /) -> CompressionService:
        """Wrap *inner*."""
        return CompressionService(
            inner, self._encodings, self._min_size, self._level, self._predicate
        )

    def __repr__(self) -> str:
        return f"CompressionLayer({', '.join(self._encodings)})"


@dataclass(frozen=True, slots=True)
class DecodedContent:
    """Inserted into a message's extensions when a decompression layer decoded its body.

    It keeps what the removed header fields said (for tools that show the wire head).
    """

    encodings: tuple[str, ...]
    """The ``Content-Encoding`` codings, in the order they were applied."""
    content_length: int | None
    """The wire ``Content-Length`` (of the compressed body), if there was one."""


def _decoded(headers: HeaderMap, codings: list[str]) -> DecodedContent:
    cl = headers.get("content-length")
    length = int(cl) if cl is not None and cl.strip().isdigit() else None
    headers.remove("content-encoding")
    headers.remove("content-length")
    return DecodedContent(tuple(codings), length)


def _codings(value: str | None) -> list[str]:
    if not value:
        return []
    return [c.strip().lower() for c in value.split(",") if c.strip() and c.strip() != "identity"]


class DecompressionService:
    """Decompresses response bodies (see :class:`DecompressionLayer`)."""

    __slots__ = ("_accept", "_encodings", "_max_size", "inner")

    def __init__(
        self, inner: HttpService, encodings: tuple[str, ...], max_size: int | None
    ) -> None:
        """Wrap *inner* (use :class:`DecompressionLayer`)."""
        self.inner = inner
        self._encodings = encodings
        self._max_size = max_size
        self._accept = ", ".join(encodings)

    async def serve(self, request: Request, /) -> Response:
        """Offer the codings, send *request*, decode the response body."""
        if "accept-encoding" not in request.headers:
            request.headers.add("Accept-Encoding", self._accept)
        response = await self.inner.serve(request)
        codings = _codings(response.headers.get_joined("content-encoding"))
        if not codings or any(c not in self._encodings and c != "x-gzip" for c in codings):
            return response  # nothing to do, or a coding we did not offer: leave it as is
        if request.method == Method.HEAD or int(response.status) in (204, 304):
            return response
        response.extensions.insert(_decoded(response.headers, codings))
        response.body = decoded_body(response.body, codings, self._max_size)
        return response

    def __repr__(self) -> str:
        return f"DecompressionService({self._accept}, {self.inner!r})"


class _DecodingConfig:
    """The settings both decompression layers take: the codings and the decoded-size limit."""

    __slots__ = ("_encodings", "_max_size")

    def __init__(
        self,
        *,
        encodings: Sequence[str] | None = None,
        max_size: int | None = DEFAULT_MAX_DECOMPRESSED_SIZE,
    ) -> None:
        """Configure the codings accepted and the size limit."""
        if max_size is not None and max_size < 0:
            raise ConfigError(f"max_size must be >= 0 or None, got {max_size!r}")
        self._encodings = (
            available_encodings() if encodings is None else _check_encodings(encodings)
        )
        self._max_size = max_size


class DecompressionLayer(_DecodingConfig):
    """Client side: ask for compressed responses and decode them as they stream.

    Requests without ``Accept-Encoding`` get one listing *encodings* (default: every
    installed coding). A response body whose ``Content-Encoding`` is made of those codings
    is decoded chunk by chunk; ``Content-Encoding`` and ``Content-Length`` are removed (a
    :class:`DecodedContent` extension says what they were).
    At most *max_size* decoded bytes are produced (default
    :data:`DEFAULT_MAX_DECOMPRESSED_SIZE`; ``None``: no limit): reading more raises
    :class:`~pyrama_http_types.errors.BodyTooLargeError`, so a zip bomb never fills memory.
    Truncated or corrupt data raises :class:`~pyrama_http_types.errors.BodyError`.
    """

    __slots__ = ()

    def layer(self, inner: HttpService, /) -> DecompressionService:
        """Wrap *inner*."""
        return DecompressionService(inner, self._encodings, self._max_size)

    def __repr__(self) -> str:
        return f"DecompressionLayer({', '.join(self._encodings)}, max_size={self._max_size})"


class RequestDecompressionService:
    """Decodes compressed request bodies (see :class:`RequestDecompressionLayer`)."""

    __slots__ = ("_encodings", "_max_size", "inner")

    def __init__(
        self, inner: HttpService, encodings: tuple[str, ...], max_size: int | None
    ) -> None:
        """Wrap *inner* (use :class:`RequestDecompressionLayer`)."""
        self.inner = inner
        self._encodings = encodings
        self._max_size = max_size

    async def serve(self, request: Request, /) -> Response:
        """Decode the request body (or refuse its coding with 415), then serve it."""
        codings = _codings(request.headers.get_joined("content-encoding"))
        if codings:
            if any(c not in self._encodings and c != "x-gzip" for c in codings):
                await request.body.aclose()
                return plain_response(
                    415,
                    "unsupported Content-Encoding\n",
                    [("Accept-Encoding", ", ".join(self._encodings))],
                )
            request.extensions.insert(_decoded(request.headers, codings))
            request.body = decoded_body(request.body, codings, self._max_size)
        return await self.inner.serve(request)

    def __repr__(self) -> str:
        return f"RequestDecompressionService({', '.join(self._encodings)}, {self.inner!r})"


class RequestDecompressionLayer(_DecodingConfig):
    """Server side: decode request bodies sent with a ``Content-Encoding``.

    Codings of *encodings* (default: every installed one) are decoded as the body streams;
    any other coding is answered ``415 Unsupported Media Type`` with an ``Accept-Encoding``
    that lists what is supported (RFC 7694). At most *max_size* decoded bytes are produced
    (default :data:`DEFAULT_MAX_DECOMPRESSED_SIZE`): the handler's read then raises
    :class:`~pyrama_http_types.errors.BodyTooLargeError` (status hint 413, which
    :class:`ErrorToResponseLayer` turns into the response).
    """

    __slots__ = ()

    def layer(self, inner: HttpService, /) -> RequestDecompressionService:
        """Wrap *inner*."""
        return RequestDecompressionService(inner, self._encodings, self._max_size)

    def __repr__(self) -> str:
        return f"RequestDecompressionLayer({', '.join(self._encodings)})"
