"""NormalizePathLayer: canonical request paths (dot segments, duplicate and trailing slashes)."""

from __future__ import annotations

import enum

from pyrama_http.layer._util import HttpService
from pyrama_http_types import Request, Response

__all__ = ["NormalizePathLayer", "NormalizePathService", "TrailingSlash", "normalize_path"]


class TrailingSlash(enum.Enum):
    """What to do with a trailing ``/`` (the root ``/`` is always kept)."""

    TRIM = "trim"
    """``/a/b/`` becomes ``/a/b``."""
    APPEND = "append"
    """``/a/b`` becomes ``/a/b/``."""
    KEEP = "keep"
    """Leave it as it is."""


def normalize_path(path: str, trailing: TrailingSlash = TrailingSlash.TRIM) -> str:
    """*path* with dot segments resolved, ``//`` collapsed and the trailing slash handled.

    ``.``/``..`` segments are resolved as RFC 3986 5.2.4 says (``..`` never climbs above
    the root), runs of ``/`` collapse to one, and the trailing slash follows *trailing*.
    """
    ends_with_slash = path.endswith("/") or path.endswith("/.") or path.endswith("/..")
    out: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    norm = "/" + "/".join(out)
    if norm == "/":
        return norm
    if trailing is TrailingSlash.APPEND or (trailing is TrailingSlash.KEEP and ends_with_slash):
        norm += "/"
    return norm


class NormalizePathService:
    """Rewrites the request path (see :class:`NormalizePathLayer`)."""

    __slots__ = ("_trailing", "inner")

    def __init__(self, inner: HttpService, trailing: TrailingSlash) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._trailing = trailing

    async def serve(self, request: Request, /) -> Response:
        """Normalize the path (query kept), then serve *request*."""
        uri = request.uri
        path = uri.path
        if path.startswith("/"):
            norm = normalize_path(path, self._trailing)
            if norm != path:
                query = uri.query
                request.uri = uri.with_path_and_query(norm if query is None else f"{norm}?{query}")
        return await self.inner.serve(request)


class NormalizePathLayer:
    """Normalizes request paths before routing: dot segments, ``//`` and trailing slash.

    Only origin-form and absolute-form paths starting with ``/`` are touched (``*`` and
    authority-form targets pass as they are); the query is kept. :meth:`trim_trailing_slash`
    and :meth:`append_trailing_slash` are the two usual setups.
    """

    __slots__ = ("_trailing",)

    def __init__(self, trailing: TrailingSlash = TrailingSlash.TRIM) -> None:
        """Handle the trailing slash per *trailing*."""
        self._trailing = trailing

    @classmethod
    def trim_trailing_slash(cls) -> NormalizePathLayer:
        """``/a/b/`` → ``/a/b``."""
        return cls(TrailingSlash.TRIM)

    @classmethod
    def append_trailing_slash(cls) -> NormalizePathLayer:
        """``/a/b`` → ``/a/b/``."""
        return cls(TrailingSlash.APPEND)

    def layer(self, inner: HttpService, /) -> NormalizePathService:
        """Wrap *inner*."""
        return NormalizePathService(inner, self._trailing)
