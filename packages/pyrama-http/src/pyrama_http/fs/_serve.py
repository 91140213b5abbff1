"""ServeDir and ServeFile: static files over HTTP with ranges, validators and precompression."""

from __future__ import annotations

import asyncio
import enum
import html
import mimetypes
import os
import secrets
import stat
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote, unquote

from pyrama_core import Service
from pyrama_core.errors import ConfigError
from pyrama_http.fs._conditional import (
    ByteRange,
    Precondition,
    evaluate_preconditions,
    if_range_allows,
    parse_range,
)
from pyrama_http_types import (
    AcceptEncoding,
    Body,
    HeaderMap,
    Method,
    Request,
    Response,
    StatusCode,
    format_http_date,
)
from pyrama_http_types.errors import BodyError, TypedHeaderError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_LISTING_ENTRIES",
    "DEFAULT_MAX_RANGES",
    "PRECOMPRESSED_ENCODINGS",
    "ServeDir",
    "ServeFile",
    "SymlinkPolicy",
]

DEFAULT_CHUNK_SIZE: Final = 128 * 1024
"""How many bytes of a file are read per body chunk."""

DEFAULT_MAX_RANGES: Final = 16
"""Most ranges honoured in one ``Range`` header; with more the whole file is sent."""

DEFAULT_MAX_LISTING_ENTRIES: Final = 10_000
"""Most entries a directory listing shows (the rest are left out and counted)."""

PRECOMPRESSED_ENCODINGS: Final[tuple[str, ...]] = ("br", "zstd", "gzip")
"""The content codings a precompressed sibling file can have, in server preference order."""

_SUFFIX: Final = {"br": ".br", "zstd": ".zst", "gzip": ".gz"}
_ALLOW: Final = "GET, HEAD"
_OPEN_FLAGS: Final = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


_PathCheck = Callable[[str], bool]


class SymlinkPolicy(enum.Enum):
    """Whether :class:`ServeDir` follows symbolic links below its root."""

    DENY = "deny"
    """Never: a path through a symlink is answered ``404`` and listings leave them out."""
    WITHIN_ROOT = "within-root"
    """Follow a symlink only when its target is inside the root directory."""


class _Forbidden(Exception):
    pass


def _content_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path, strict=False)
    if guessed is None:
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/javascript", "image/svg+xml"):
        return guessed + "; charset=utf-8"
    return guessed


def _accepted_encodings(headers: HeaderMap, enabled: Sequence[str]) -> list[str]:
    """The enabled codings the client accepts, best first (server order breaks ties)."""
    if not enabled:
        return []
    try:
        accept = headers.typed_get(AcceptEncoding)
    except TypedHeaderError:
        return []
    if accept is None:
        return []
    weights: dict[str, float] = {}
    star: float | None = None
    for item in accept.items:
        name = item.value.strip().lower()
        if name == "*":
            star = item.quality
        elif name == "x-gzip":
            weights.setdefault("gzip", item.quality)
        else:
            weights[name] = item.quality
    ranked: list[tuple[float, int, str]] = []
    for order, coding in enumerate(enabled):
        q = weights.get(coding, star if star is not None else 0.0)
        if q > 0:
            ranked.append((-q, order, coding))
    ranked.sort()
    return [coding for _, _, coding in ranked]


class _FileChunks:
    """An async iterator over byte segments of an open file; closes the file when done.

    A segment is either literal bytes (multipart boundaries) or ``(offset, length)`` of the
    file. Closing (end, error, :meth:`aclose`, or garbage collection) closes the descriptor.
    """

    __slots__ = ("__weakref__", "_chunk", "_close", "_fd", "_segments")

    def __init__(self, fd: int, segments: list[bytes | tuple[int, int]], chunk: int) -> None:
        self._fd = fd
        self._segments = segments
        self._segments.reverse()
        self._chunk = chunk
        self._close = weakref.finalize(self, os.close, fd)

    def __aiter__(self) -> _FileChunks:
        return self

    async def __anext__(self) -> bytes:
        segments = self._segments
        while segments:
            seg = segments[-1]
            if isinstance(seg, bytes):
                segments.pop()
                return seg
            offset, length = seg
            if length <= 0:
                segments.pop()
                continue
            want = min(self._chunk, length)
            try:
                data = await asyncio.to_thread(os.pread, self._fd, want, offset)
            except BaseException:
                self._close()
                raise
            if not data:
                self._close()
                raise BodyError("the file got shorter while it was being sent")
            segments[-1] = (offset + len(data), length - len(data))
            return data
        self._close()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop reading and close the file."""
        self._segments.clear()
        self._close()


@dataclass(frozen=True, slots=True)
class _Options:
    precompressed: tuple[str, ...]
    chunk_size: int
    max_ranges: int
    symlinks: SymlinkPolicy


def _check_options(precompressed: Sequence[str], chunk_size: int, max_ranges: int) -> None:
    for coding in precompressed:
        if coding not in _SUFFIX:
            raise ConfigError(
                f"unknown precompressed coding {coding!r} (one of {', '.join(_SUFFIX)})"
            )
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
    if max_ranges < 1:
        raise ConfigError(f"max_ranges must be >= 1, got {max_ranges}")


def _method_not_allowed() -> Response:
    return Response.text(
        "method not allowed\n", StatusCode.METHOD_NOT_ALLOWED, headers={"Allow": _ALLOW}
    )


def _not_found() -> Response:
    return Response.text("not found\n", StatusCode.NOT_FOUND)


def _open_regular(path: str) -> tuple[int, os.stat_result] | None:
    """Open *path* if it is a regular file; ``None`` otherwise (no blocking on FIFOs)."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except PermissionError as exc:
        raise _Forbidden from exc
    except OSError:
        return None
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        return None
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    return fd, st


def _pick_variant(
    path: str, codings: list[str], allowed: _PathCheck | None
) -> tuple[int, os.stat_result, str | None] | None:
    for coding in codings:
        variant = path + _SUFFIX[coding]
        if allowed is not None and not allowed(variant):
            continue
        try:
            opened = _open_regular(variant)
        except _Forbidden:
            continue
        if opened is not None:
            return opened[0], opened[1], coding
    opened = _open_regular(path)
    if opened is None:
        return None
    return opened[0], opened[1], None


def _file_response(
    request: Request,
    fd: int,
    st: os.stat_result,
    content_type: str,
    coding: str | None,
    options: _Options,
) -> Response:
    """Answer *request* with the open file *fd* (which this function takes over)."""
    size = st.st_size
    etag = f'W/"{size:x}-{st.st_mtime_ns:x}"'
    modified = datetime.fromtimestamp(int(st.st_mtime), UTC)
    headers = HeaderMap()
    headers.add("Content-Type", content_type)
    headers.add("ETag", etag)
    headers.add("Last-Modified", format_http_date(modified))
    headers.add("Accept-Ranges", "bytes")
    if coding is not None:
        headers.add("Content-Encoding", coding)
    if options.precompressed:
        headers.add("Vary", "Accept-Encoding")
    req_headers = request.headers
    outcome = evaluate_preconditions(request.method, req_headers, etag, modified)
    if outcome is not Precondition.PROCEED:
        os.close(fd)
        if outcome is Precondition.NOT_MODIFIED:
            kept = HeaderMap()
            for name in ("ETag", "Last-Modified", "Vary"):
                value = headers.get(name)
                if value is not None:
                    kept.add(name, value)
            return Response(StatusCode.NOT_MODIFIED, headers=kept)
        return Response.text("precondition failed\n", StatusCode.PRECONDITION_FAILED)
    ranges: list[ByteRange] | None = None
    range_value = req_headers.get_joined("range")
    if (
        range_value is not None
        and request.method == Method.GET
        and if_range_allows(req_headers, etag, modified)
    ):
        ranges = parse_range(range_value, size, options.max_ranges)
    if ranges is not None and not ranges:
        os.close(fd)
        return Response(
            StatusCode.RANGE_NOT_SATISFIABLE,
            headers={"Content-Range": f"bytes */{size}", "Content-Type": content_type},
        )
    status = StatusCode.OK
    segments: list[bytes | tuple[int, int]]
    if ranges is None:
        segments = [(0, size)]
        length = size
    elif len(ranges) == 1:
        (r,) = ranges
        status = StatusCode.PARTIAL_CONTENT
        headers.add("Content-Range", r.content_range(size))
        segments = [(r.start, r.length)]
        length = r.length
    else:
        status = StatusCode.PARTIAL_CONTENT
        boundary = secrets.token_hex(16)
        headers.set("Content-Type", f"multipart/byteranges; boundary={boundary}")
        segments = []
        length = 0
        for i, r in enumerate(ranges):
            part = (
                f"{'' if i == 0 else chr(13) + chr(10)}--{boundary}\r\n"
                f"Content-Type: {content_type}\r\n"
                f"Content-Range: {r.content_range(size)}\r\n\r\n"
            ).encode("latin-1")
            segments += [part, (r.start, r.length)]
            length += len(part) + r.length
        closing = f"\r\n--{boundary}--\r\n".encode("ascii")
        segments.append(closing)
        length += len(closing)
    if request.method == Method.HEAD:
        os.close(fd)
        headers.add("Content-Length", str(length))
        return Response(status, headers=headers)
    body = Body.from_iter(_FileChunks(fd, segments, options.chunk_size), size_hint=length)
    return Response(status, headers=headers, body=body)


def _segments_of(raw_path: str) -> list[str] | None:
    r"""The decoded path segments of a request path; ``None`` if the path is unsafe.

    Every segment is percent-decoded once (strict UTF-8); a decoded segment with ``/``,
    ``\``, NUL or equal to ``..`` is refused (so is an undecodable one). Empty and ``.``
    segments are dropped. A double-encoded ``%252e%252e`` decodes to the harmless literal
    name ``%2e%2e``.
    """
    out: list[str] = []
    for raw in raw_path.split("/"):
        if not raw or raw == ".":
            continue
        try:
            seg = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            return None
        if seg == ".." or "/" in seg or "\\" in seg or "\0" in seg:
            return None
        if seg == ".":
            continue
        out.append(seg)
    return out


class ServeFile:
    """``Service[Request, Response]`` serving one file, whatever the request path.

    Answers GET and HEAD (``405`` otherwise) with the same machinery as :class:`ServeDir`:
    ``ETag`` (weak, from size and modification time), ``Last-Modified``, conditional
    requests (``304``/``412``), byte ranges (``206``, ``multipart/byteranges``, ``416``,
    ``If-Range``) and precompressed siblings (``file.br``/``.zst``/``.gz``) when
    *precompressed* names the codings to look for. A missing file is ``404``.
    """

    __slots__ = ("_content_type", "_options", "_path")

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        content_type: str | None = None,
        precompressed: Sequence[str] = (),
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        max_ranges: int = DEFAULT_MAX_RANGES,
    ) -> None:
        _check_options(precompressed, chunk_size, max_ranges)
        self._path = os.fspath(path)
        self._content_type = content_type or _content_type(self._path)
        self._options = _Options(
            tuple(precompressed), chunk_size, max_ranges, SymlinkPolicy.WITHIN_ROOT
        )

    @property
    def path(self) -> str:
        """The file served."""
        return self._path

    async def serve(self, request: Request, /) -> Response:
        """Answer *request* with the file."""
        if request.method != Method.GET and request.method != Method.HEAD:
            return _method_not_allowed()
        codings = _accepted_encodings(request.headers, self._options.precompressed)
        try:
            picked = await asyncio.to_thread(_pick_variant, self._path, codings, None)
        except _Forbidden:
            return Response.text("forbidden\n", StatusCode.FORBIDDEN)
        if picked is None:
            return _not_found()
        fd, st, coding = picked
        return _file_response(request, fd, st, self._content_type, coding, self._options)

    def __repr__(self) -> str:
        return f"ServeFile({self._path!r})"


class ServeDir:
    """``Service[Request, Response]`` serving the files below a root directory.

    The request path (percent-decoded once, segment by segment) names a file below *root*.
    Requests that try to leave the root (``..`` raw, percent-encoded or with backslashes,
    NUL bytes, undecodable bytes) are ``404``; absolute-looking paths (``//etc/passwd``) stay
    below the root. Symbolic links follow *symlinks* (:attr:`SymlinkPolicy.DENY` by
    default). Only regular files and directories are served (never FIFOs or devices).

    Files get what :class:`ServeFile` gives. A directory path without a trailing slash is
    redirected (``307``) to the path with it (when *redirect_to_slash*); with the slash the
    first of *index_files* that exists is served, else an HTML listing when *listing* is
    on (at most *max_listing_entries* entries, names escaped), else ``404``. Not found
    paths go to *fallback* when given (another service), else ``404``.
    """

    __slots__ = (
        "_fallback",
        "_index_files",
        "_listing",
        "_max_listing_entries",
        "_options",
        "_redirect",
        "_root",
    )

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        listing: bool = False,
        index_files: Sequence[str] = ("index.html",),
        redirect_to_slash: bool = True,
        symlinks: SymlinkPolicy = SymlinkPolicy.DENY,
        precompressed: Sequence[str] = (),
        fallback: Service[Request, Response] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        max_ranges: int = DEFAULT_MAX_RANGES,
        max_listing_entries: int = DEFAULT_MAX_LISTING_ENTRIES,
    ) -> None:
        _check_options(precompressed, chunk_size, max_ranges)
        real = os.path.realpath(os.fspath(root))
        if not os.path.isdir(real):
            raise ConfigError(f"ServeDir root {os.fspath(root)!r} is not a directory")
        if max_listing_entries < 0:
            raise ConfigError(f"max_listing_entries must be >= 0, got {max_listing_entries}")
        for name in index_files:
            if not name or "/" in name or name in (".", ".."):
                raise ConfigError(f"an index file is a plain file name, got {name!r}")
        self._root = real
        self._listing = listing
        self._index_files = tuple(index_files)
        self._redirect = redirect_to_slash
        self._fallback = fallback
        self._max_listing_entries = max_listing_entries
        self._options = _Options(tuple(precompressed), chunk_size, max_ranges, symlinks)

    @property
    def root(self) -> str:
        """The root directory (its real path)."""
        return self._root

    def _inside(self, path: str) -> bool:
        real = os.path.realpath(path)
        return real == self._root or real.startswith(self._root + os.sep)

    def _allowed(self, path: str) -> bool:
        """Whether *path* (below the root) may be used under the symlink policy."""
        if self._options.symlinks is SymlinkPolicy.WITHIN_ROOT:
            return self._inside(path)
        try:
            return not stat.S_ISLNK(os.lstat(path).st_mode)
        except OSError:
            return True  # missing: the open that follows says so

    def _locate(self, parts: list[str]) -> tuple[str, os.stat_result] | None:
        """The filesystem path of *parts* and its stat, if it may be served."""
        path = self._root
        deny = self._options.symlinks is SymlinkPolicy.DENY
        for part in parts:
            path = os.path.join(path, part)
            if deny:
                try:
                    if stat.S_ISLNK(os.lstat(path).st_mode):
                        return None
                except OSError:
                    return None
        if not deny and not self._inside(path):
            return None
        try:
            st = os.stat(path)
        except PermissionError as exc:
            raise _Forbidden from exc
        except OSError:
            return None
        return path, st

    def _resolve(self, parts: list[str], codings: list[str]) -> _Resolved | None:
        located = self._locate(parts)
        if located is None:
            return None
        path, st = located
        if stat.S_ISDIR(st.st_mode):
            for name in self._index_files:
                index = os.path.join(path, name)
                if not self._allowed(index):
                    continue
                picked = _pick_variant(index, codings, self._allowed)
                if picked is not None:
                    return _Resolved(path, True, index, picked)
            return _Resolved(path, True, None, None)
        if not stat.S_ISREG(st.st_mode):
            return None
        picked = _pick_variant(path, codings, self._allowed)
        if picked is None:
            return None
        return _Resolved(path, False, path, picked)

    async def serve(self, request: Request, /) -> Response:
        """Answer *request* from the directory tree."""
        if request.method != Method.GET and request.method != Method.HEAD:
            return _method_not_allowed()
        raw_path = request.uri.path
        parts = _segments_of(raw_path)
        if parts is None:
            return await self._not_found(request)
        codings = _accepted_encodings(request.headers, self._options.precompressed)
        try:
            found = await asyncio.to_thread(self._resolve, parts, codings)
        except _Forbidden:
            return Response.text("forbidden\n", StatusCode.FORBIDDEN)
        if found is None:
            return await self._not_found(request)
        if found.is_dir and not raw_path.endswith("/"):
            if found.picked is not None:
                os.close(found.picked[0])
            if not self._redirect:
                return await self._not_found(request)
            location = "/" + "".join(quote(p, safe="") + "/" for p in parts)
            query = request.uri.query
            if query is not None:
                location += "?" + query
            return Response(StatusCode.TEMPORARY_REDIRECT, headers={"Location": location})
        if found.picked is not None and found.file is not None:
            fd, st, coding = found.picked
            ct = _content_type(found.file)
            return _file_response(request, fd, st, ct, coding, self._options)
        if self._listing:
            try:
                page = await asyncio.to_thread(self._listing_page, found.path, parts)
            except _Forbidden:
                return Response.text("forbidden\n", StatusCode.FORBIDDEN)
            resp = Response.html(page)
            if request.method == Method.HEAD:
                resp.headers.add("Content-Length", str(len(page.encode("utf-8"))))
                resp.body = Body.empty()
            return resp
        return await self._not_found(request)

    async def _not_found(self, request: Request) -> Response:
        if self._fallback is not None:
            return await self._fallback.serve(request)
        return _not_found()

    def _listing_page(self, path: str, parts: list[str]) -> str:
        entries: list[tuple[bool, str]] = []
        left_out = 0
        try:
            with os.scandir(path) as it:
                for entry in it:
                    full = entry.path
                    if entry.is_symlink() and (
                        self._options.symlinks is SymlinkPolicy.DENY or not self._inside(full)
                    ):
                        continue
                    try:
                        is_dir = entry.is_dir()
                    except OSError:
                        continue
                    if len(entries) >= self._max_listing_entries:
                        left_out += 1
                        continue
                    entries.append((is_dir, entry.name))
        except PermissionError as exc:
            raise _Forbidden from exc
        entries.sort(key=lambda e: (not e[0], e[1]))
        shown = "/" + "".join(p + "/" for p in parts)
        title = html.escape(f"Index of {shown}")
        rows = []
        if parts:
            rows.append('<li><a href="../">../</a></li>')
        for is_dir, name in entries:
            slash = "/" if is_dir else ""
            href = html.escape(quote(name, safe="") + slash, quote=True)
            rows.append(f'<li><a href="{href}">{html.escape(name + slash)}</a></li>')
        if left_out:
            rows.append(f"<li>... {left_out} more entries not shown</li>")
        return (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            f"<title>{title}</title></head>\n<body><h1>{title}</h1>\n<ul>\n"
            + "\n".join(rows)
            + "\n</ul>\n</body></html>\n"
        )

    def __repr__(self) -> str:
        return f"ServeDir({self._root!r}, listing={self._listing})"


@dataclass(slots=True)
class _Resolved:
    path: str
    is_dir: bool
    file: str | None
    picked: tuple[int, os.stat_result, str | None] | None
