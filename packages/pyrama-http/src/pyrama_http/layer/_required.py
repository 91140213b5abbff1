"""Required headers: Host on HTTP/1.1 requests (server), Host and User-Agent (client)."""

from __future__ import annotations

from pyrama_http.layer._util import HttpService, plain_response
from pyrama_http_types import Request, Response, Version

__all__ = [
    "AddRequiredRequestHeadersLayer",
    "AddRequiredRequestHeadersService",
    "RequiredHeaderLayer",
    "RequiredHeaderService",
]


class RequiredHeaderService:
    """Refuses HTTP/1.1 requests without ``Host`` (see :class:`RequiredHeaderLayer`)."""

    __slots__ = ("inner",)

    def __init__(self, inner: HttpService) -> None:
        """Wrap *inner*."""
        self.inner = inner

    async def serve(self, request: Request, /) -> Response:
        """``400`` for an HTTP/1.1 request without exactly one ``Host``; else serve it."""
        # get_all_raw scans a small map; count() would build its index first
        if request.version is Version.HTTP_11 and len(request.headers.get_all_raw("host")) != 1:
            await request.body.aclose()
            return plain_response(
                400, "missing or repeated Host header\n", [("Connection", "close")]
            )
        return await self.inner.serve(request)


class RequiredHeaderLayer:
    """Server side: an HTTP/1.1 request must carry exactly one ``Host``.

    Else it is answered ``400 Bad Request`` (RFC 9112 3.2). HTTP/1.0 and HTTP/2
    (``:authority``) requests pass.
    """

    __slots__ = ()

    def layer(self, inner: HttpService, /) -> RequiredHeaderService:
        """Wrap *inner*."""
        return RequiredHeaderService(inner)


class AddRequiredRequestHeadersService:
    """Adds ``Host`` and ``User-Agent`` (see :class:`AddRequiredRequestHeadersLayer`)."""

    __slots__ = ("_overwrite_host", "_user_agent", "inner")

    def __init__(self, inner: HttpService, user_agent: str | None, overwrite_host: bool) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._user_agent = user_agent
        self._overwrite_host = overwrite_host

    async def serve(self, request: Request, /) -> Response:
        """Add the missing fields, then send *request*."""
        headers = request.headers
        authority = request.uri.authority_text
        if authority is not None and (self._overwrite_host or "host" not in headers):
            if "@" in authority:
                authority = authority.rpartition("@")[2]
            headers.set("Host", authority)
        if self._user_agent is not None and "user-agent" not in headers:
            headers.add("User-Agent", self._user_agent)
        return await self.inner.serve(request)


class AddRequiredRequestHeadersLayer:
    """Client side: add ``Host`` and ``User-Agent`` when a request has none.

    ``Host`` comes from the URI's authority, ``User-Agent`` is *user_agent* (pyrama's by
    default); *overwrite_host* always sets
    ``Host`` from the URI.
    """

    __slots__ = ("_overwrite_host", "_user_agent")

    def __init__(self, *, user_agent: str | None = None, overwrite_host: bool = False) -> None:
        """Configure the User-Agent to add (default: pyrama's)."""
        if user_agent is None:
            from pyrama_http._easy import DEFAULT_USER_AGENT

            user_agent = DEFAULT_USER_AGENT
        self._user_agent = user_agent
        self._overwrite_host = overwrite_host

    def layer(self, inner: HttpService, /) -> AddRequiredRequestHeadersService:
        """Wrap *inner*."""
        return AddRequiredRequestHeadersService(inner, self._user_agent, self._overwrite_host)
