"""FollowRedirectLayer: follow 3xx responses on the client side."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Final

from pyrama_core.errors import ConfigError
from pyrama_http.errors import HttpClientError
from pyrama_http.layer._util import HttpService
from pyrama_http_types import Body, Method, Request, Response, Uri
from pyrama_http_types.errors import HttpError

__all__ = [
    "FollowRedirectLayer",
    "FollowRedirectService",
    "RedirectHistory",
    "RedirectLoopError",
    "TooManyRedirectsError",
]

_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_SENSITIVE: Final = ("authorization", "cookie", "proxy-authorization")
_BODY_FIELDS: Final = ("content-length", "content-type", "content-encoding", "transfer-encoding")


class TooManyRedirectsError(HttpClientError):
    """More redirects than the limit; :attr:`response` is the last one (body closed)."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class RedirectLoopError(HttpClientError):
    """A redirect led back to a URI already requested with the same method."""


@dataclass(frozen=True, slots=True)
class RedirectHistory:
    """On the final response: the URIs requested, the first one first."""

    uris: tuple[Uri, ...]
    """Every URI requested (the last is the final response's)."""


def _origin(uri: Uri) -> tuple[str | None, str, int | None]:
    return (uri.scheme, str(uri.host).lower(), uri.port)


def _resolve(base: Uri, location: str) -> Uri | None:
    try:
        joined = urllib.parse.urljoin(str(base), location.strip())
        joined = urllib.parse.urldefrag(joined)[0]
        if not joined.isascii():
            joined = urllib.parse.quote(joined, safe=":/?#[]@!$&'()*+,;=%")
        uri = Uri(joined)
    except (HttpError, ValueError):
        return None
    if uri.scheme not in ("http", "https") or uri.host is None:
        return None
    return uri


class FollowRedirectService:
    """Follows redirects (see :class:`FollowRedirectLayer`)."""

    __slots__ = ("_max", "inner")

    def __init__(self, inner: HttpService, max_redirects: int) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._max = max_redirects

    async def serve(self, request: Request, /) -> Response:
        """Send *request*, following redirects up to the limit."""
        data = request.body.try_take_bytes()
        replayable = data is not None
        if data is not None:
            request.body = Body(data)
        visited = {(str(request.method), str(request.uri))}
        history = [request.uri]
        current = request
        redirects = 0
        while True:
            response = await self.inner.serve(current)
            status = int(response.status)
            location = response.headers.get("location")
            if status not in _REDIRECTS or not location:
                break
            target = _resolve(current.uri, location)
            if target is None:
                break  # not an http(s) URL we can follow: hand the 3xx to the caller
            method = current.method
            keep_body = True
            if (status == 303 and method != Method.HEAD) or (
                status in (301, 302) and method == Method.POST
            ):
                method, keep_body = Method.GET, False
            if keep_body and not replayable and not current.body.is_empty:
                break  # a streamed body cannot be sent again: let the caller decide
            if redirects >= self._max:
                await response.body.aclose()
                raise TooManyRedirectsError(
                    f"more than {self._max} redirects (last to {target})", limit=self._max
                )
            key = (str(method), str(target))
            if key in visited:
                await response.body.aclose()
                raise RedirectLoopError(f"redirect loop: {method} {target} was already requested")
            visited.add(key)
            await response.body.aclose()
            redirects += 1
            headers = current.headers.copy()
            if _origin(target) != _origin(current.uri):
                for name in _SENSITIVE:
                    headers.remove(name)
            if "host" in headers and target.authority_text is not None:
                headers.set("Host", target.authority_text.rpartition("@")[2])
            if keep_body and data is not None:
                body = Body(data)
            else:
                body = Body.empty()
                if not keep_body:
                    data = b""  # the body is gone for good: a later 307/308 sends none
                    for name in _BODY_FIELDS:
                        headers.remove(name)
            current = Request(
                method,
                target,
                version=current.version,
                headers=headers,
                body=body,
                extensions=request.extensions.fork(),
            )
            history.append(target)
        response.extensions.insert(RedirectHistory(tuple(history)))
        return response


class FollowRedirectLayer:
    """Client side: follows ``301``/``302``/``303``/``307``/``308`` responses.

    * ``Location`` is resolved against the request's URI (relative references, fragments
      dropped); a target that is not ``http``/``https`` ends the chase (the 3xx is
      returned).
    * ``303`` turns any method but HEAD into ``GET`` without a body, so do ``301``/``302``
      for ``POST`` (what browsers and curl do); ``307``/``308`` keep method and body, which
      needs an in-memory body (a streamed one cannot be replayed: the 3xx is returned).
    * Going to another origin (scheme, host or port) drops ``Authorization``, ``Cookie``
      and ``Proxy-Authorization``; a ``Host`` field follows the target.
    * More than *max_redirects* raise :class:`TooManyRedirectsError`; coming back to a
      URI already requested with the same method raises :class:`RedirectLoopError`.
    * The final response carries a :class:`RedirectHistory` extension.
    """

    __slots__ = ("_max",)

    def __init__(self, max_redirects: int = 10) -> None:
        """Follow at most *max_redirects* (>= 0) redirects."""
        if max_redirects < 0:
            raise ConfigError(f"max_redirects must be >= 0, got {max_redirects!r}")
        self._max = max_redirects

    def layer(self, inner: HttpService, /) -> FollowRedirectService:
        """Wrap *inner*."""
        return FollowRedirectService(inner, self._max)
