"""HSTS and the HTTP-to-HTTPS redirect."""

from __future__ import annotations

from pyrama_core.errors import ConfigError
from pyrama_http.layer._util import HttpService, plain_response
from pyrama_http_types import Method, Request, Response

__all__ = ["HstsLayer", "HstsService", "HttpsRedirectLayer", "HttpsRedirectService"]


class HstsService:
    """Adds ``Strict-Transport-Security`` (see :class:`HstsLayer`)."""

    __slots__ = ("_value", "inner")

    def __init__(self, inner: HttpService, value: str) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._value = value

    async def serve(self, request: Request, /) -> Response:
        """Serve *request*; add the HSTS field unless the response has one."""
        response = await self.inner.serve(request)
        if "strict-transport-security" not in response.headers:
            response.headers.add("Strict-Transport-Security", self._value)
        return response


class HstsLayer:
    """Adds ``Strict-Transport-Security: max-age=...`` to responses (use on the HTTPS side).

    Browsers then use HTTPS for the host for *max_age* seconds (default one year),
    *include_subdomains* for its subdomains too; *preload* asks for the browsers' preload
    lists (which require ``includeSubDomains`` and a year or more).
    """

    __slots__ = ("value",)

    def __init__(
        self, max_age: int = 31_536_000, *, include_subdomains: bool = False, preload: bool = False
    ) -> None:
        """Configure the policy."""
        if max_age < 0:
            raise ConfigError(f"max_age must be >= 0 seconds, got {max_age!r}")
        if preload and (not include_subdomains or max_age < 31_536_000):
            raise ConfigError("HSTS preload needs include_subdomains and max_age >= 31536000")
        parts = [f"max-age={max_age}"]
        if include_subdomains:
            parts.append("includeSubDomains")
        if preload:
            parts.append("preload")
        self.value = "; ".join(parts)
        """The header value."""

    def layer(self, inner: HttpService, /) -> HstsService:
        """Wrap *inner*."""
        return HstsService(inner, self.value)


class HttpsRedirectService:
    """Redirects to HTTPS (see :class:`HttpsRedirectLayer`)."""

    __slots__ = ("_port", "inner")

    def __init__(self, inner: HttpService, https_port: int | None) -> None:
        """Wrap *inner* (unused: every request is redirected)."""
        self.inner = inner
        self._port = https_port

    async def serve(self, request: Request, /) -> Response:
        """Answer a redirect to the same host and path over https."""
        host = request.headers.get("host") or request.uri.authority_text
        if not host:
            return plain_response(400, "missing Host header\n")
        hostname = host.rpartition("@")[2]
        if hostname.startswith("["):
            hostname = hostname[: hostname.index("]") + 1] if "]" in hostname else hostname
        else:
            hostname = hostname.partition(":")[0]
        authority = hostname if self._port in (None, 443) else f"{hostname}:{self._port}"
        location = f"https://{authority}{request.uri.path_and_query}"
        await request.body.aclose()
        safe = request.method in (Method.GET, Method.HEAD)
        resp = plain_response(301 if safe else 308)
        resp.headers.add("Location", location)
        resp.headers.add("Content-Length", "0")
        return resp


class HttpsRedirectLayer:
    """Answers every request with a redirect to ``https://`` on *https_port*.

    For the plain listener of an HTTPS site: ``301`` for GET/HEAD, ``308`` (method and body
    kept) for others. The inner service is never called (wrap anything, e.g. a 404 handler).
    """

    __slots__ = ("_port",)

    def __init__(self, https_port: int | None = None) -> None:
        """Redirect to *https_port* (``None`` or ``443``: no port in the URL)."""
        self._port = https_port

    def layer(self, inner: HttpService, /) -> HttpsRedirectService:
        """Wrap *inner*."""
        return HttpsRedirectService(inner, self._port)
