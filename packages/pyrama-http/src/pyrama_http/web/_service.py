"""WebService (routes, nested services and static directories in one) and match_service."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Self

from pyrama_core import Extensions
from pyrama_core.matcher import Matcher
from pyrama_http.web._extract import DEFAULT_BODY_LIMIT
from pyrama_http.web._response import into_response
from pyrama_http.web._router import Router, ServeFn, not_found, to_service
from pyrama_http_types import Request, Response

__all__ = ["MatchService", "WebService", "match_service"]


class MatchService:
    """Tries ``(matcher, service)`` pairs in order; the first match serves the request.

    What the matching matcher captured (path parameters, ...) is added to the request's
    extensions before its service runs; no match goes to the fallback (``404`` by default).
    Built by :func:`match_service`.
    """

    __slots__ = ("_fallback", "_pairs")

    def __init__(self, pairs: Iterable[tuple[Matcher[Request], Any]], fallback: Any = None) -> None:
        """Compile *pairs* (services or handler functions) and the *fallback*."""
        self._pairs: tuple[tuple[Matcher[Request], ServeFn], ...] = tuple(
            (m, to_service(s, route_params=None, state=None, body_limit=DEFAULT_BODY_LIMIT))
            for m, s in pairs
        )
        for m, _ in self._pairs:
            if not callable(getattr(m, "matches", None)):
                raise TypeError(f"{m!r} is not a matcher (it has no .matches method)")
        self._fallback: ServeFn = (
            not_found
            if fallback is None
            else to_service(fallback, route_params=None, state=None, body_limit=DEFAULT_BODY_LIMIT)
        )

    async def serve(self, request: Request, /) -> Response:
        """Serve *request* with the first matching service (or the fallback)."""
        for matcher, serve in self._pairs:
            scratch = Extensions()
            if matcher.matches(request, scratch):
                if len(scratch):
                    request.extensions.extend(scratch)
                result = await serve(request)
                return result if type(result) is Response else into_response(result)
        result = await self._fallback(request)
        return result if type(result) is Response else into_response(result)

    def __repr__(self) -> str:
        return f"MatchService({len(self._pairs)} matchers)"


def match_service(
    pairs: Iterable[tuple[Matcher[Request], Any]], fallback: Any = None
) -> MatchService:
    """A service choosing among ``(matcher, service)`` pairs in order, first match wins.

    rama's ``match_service!``: ``match_service([(HttpMatcher..., svc), ...], fallback)``.
    Services may be ``Service[Request, Response]`` objects or handler functions (whose
    parameters are extractors); *fallback* serves what nothing matched (default ``404``).
    """
    return MatchService(pairs, fallback)


class WebService(Router):
    """A :class:`Router` with matcher routes and static directories: an API and files in one.

    On top of the router's routes (``get``, ``post``, ``nest``, ``nest_service``, ...):

    * :meth:`on` adds a ``(matcher, service)`` pair; matcher pairs are tried in the order
      added, before the path routes;
    * :meth:`dir` serves a directory under a prefix with :class:`pyrama_http.fs.ServeDir`.
    """

    def __init__(
        self,
        *,
        state: Any = None,
        body_limit: int | None = DEFAULT_BODY_LIMIT,
        fallback: Any = None,
    ) -> None:
        """Make an empty web service (see :class:`Router` for the arguments)."""
        super().__init__(state=state, body_limit=body_limit, fallback=fallback)
        self._on: list[tuple[Matcher[Request], ServeFn]] = []

    def on(self, matcher: Matcher[Request], service: Any) -> Self:
        """Serve requests *matcher* matches with *service* (tried before the path routes)."""
        if not callable(getattr(matcher, "matches", None)):
            raise TypeError(f"{matcher!r} is not a matcher (it has no .matches method)")
        serve = to_service(
            service, route_params=None, state=self.state, body_limit=self._body_limit
        )
        self._on.append((matcher, serve))
        return self

    def dir(self, prefix: str, path: str | os.PathLike[str], **options: Any) -> Self:
        """Serve the files under *path* at *prefix* with ``pyrama_http.fs.ServeDir``.

        *options* go to ``ServeDir``. Raises ``ImportError`` if ``pyrama_http.fs`` is missing.
        """
        import importlib

        serve_dir = importlib.import_module("pyrama_http.fs").ServeDir
        return self.nest_service(prefix, serve_dir(path, **options))

    async def serve(self, request: Request, /) -> Response:
        """Serve *request*: matcher routes in order, then the path routes."""
        for matcher, serve in self._on:
            scratch = Extensions()
            if matcher.matches(request, scratch):
                if len(scratch):
                    request.extensions.extend(scratch)
                result = await serve(request)
                return result if type(result) is Response else into_response(result)
        return await Router.serve(self, request)
