"""CorsLayer: Cross-Origin Resource Sharing (preflight and actual requests)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from pyrama_core.errors import ConfigError
from pyrama_http.layer._util import HttpService
from pyrama_http_types import HeaderMap, Method, Request, Response

__all__ = ["CorsLayer", "CorsService"]

OriginRule = Literal["*", "mirror"] | Sequence[str] | Callable[[str, Request], bool]
"""Which origins may use the resource: ``"*"`` any (sent as ``*``), ``"mirror"`` any (the
request's origin echoed), a list of exact origins, or a predicate ``(origin, request)``."""

ListRule = Literal["*", "mirror"] | Sequence[str]


def _put(headers: HeaderMap, name: str, value: str) -> None:
    """``headers.set`` that appends when *name* is absent (a scan, no index of the map)."""
    if name in headers:
        headers.set(name, value)
    else:
        headers.add(name, value)


def _add_vary(headers: HeaderMap, *names: str) -> None:
    if "vary" not in headers:  # the common case: nothing to merge with
        for name in names:
            headers.add("Vary", name)
        return
    present = {
        item.strip().lower() for value in headers.get_all("vary") for item in value.split(",")
    }
    for name in names:
        if name.lower() not in present and "*" not in present:
            headers.add("Vary", name)


class CorsService:
    """Answers preflights and decorates responses (see :class:`CorsLayer`)."""

    __slots__ = ("_cfg", "inner")

    def __init__(self, inner: HttpService, cfg: CorsLayer) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._cfg = cfg

    def _allow_origin(self, origin: str, request: Request) -> str | None:
        rule = self._cfg.allow_origins
        if rule == "*":
            return "*"
        if rule == "mirror":
            return origin
        if callable(rule):
            return origin if rule(origin, request) else None
        return origin if origin in rule else None

    async def serve(self, request: Request, /) -> Response:
        """Answer a preflight, or serve *request* and add the CORS fields."""
        cfg = self._cfg
        origin = request.headers.get("origin")
        if (
            origin is not None
            and request.method == Method.OPTIONS
            and request.headers.get("access-control-request-method") is not None
        ):
            return self._preflight(origin, request)
        response = await self.inner.serve(request)
        headers = response.headers
        if cfg.allow_origins != "*":
            _add_vary(headers, "Origin")
        if origin is None:
            return response
        allowed = self._allow_origin(origin, request)
        if allowed is None:
            return response
        _put(headers, "Access-Control-Allow-Origin", allowed)
        if cfg.allow_credentials:
            _put(headers, "Access-Control-Allow-Credentials", "true")
        if cfg.expose_headers:
            _put(headers, "Access-Control-Expose-Headers", ", ".join(cfg.expose_headers))
        return response

    def _preflight(self, origin: str, request: Request) -> Response:
        cfg = self._cfg
        response = Response(200)
        headers = response.headers
        _add_vary(
            headers, "Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"
        )
        headers.add("Content-Length", "0")
        allowed = self._allow_origin(origin, request)
        if allowed is None:
            return response  # no CORS fields: the browser refuses the actual request
        headers.add("Access-Control-Allow-Origin", allowed)
        if cfg.allow_credentials:
            headers.add("Access-Control-Allow-Credentials", "true")
        methods = cfg.allow_methods
        if methods == "mirror" or (methods == "*" and cfg.allow_credentials):
            headers.add(
                "Access-Control-Allow-Methods",
                request.headers.get("access-control-request-method") or "",
            )
        elif methods == "*":
            headers.add("Access-Control-Allow-Methods", "*")
        else:
            headers.add("Access-Control-Allow-Methods", ", ".join(methods))
        req_headers = request.headers.get_joined("access-control-request-headers")
        rule = cfg.allow_headers
        if rule == "mirror" or (rule == "*" and cfg.allow_credentials):
            if req_headers:
                headers.add("Access-Control-Allow-Headers", req_headers)
        elif rule == "*":
            headers.add("Access-Control-Allow-Headers", "*")
        elif rule:
            headers.add("Access-Control-Allow-Headers", ", ".join(rule))
        if cfg.max_age is not None:
            headers.add("Access-Control-Max-Age", str(cfg.max_age))
        return response


class CorsLayer:
    """CORS for a web service (what a browser checks before a cross-origin call).

    * A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is
      answered ``200`` here without calling the inner service: allowed origin, methods,
      headers, credentials and ``Access-Control-Max-Age`` (*max_age* seconds). An origin
      that is not allowed gets no CORS fields (the browser then refuses).
    * Other requests are served; when their ``Origin`` is allowed the response gets
      ``Access-Control-Allow-Origin``, ``-Allow-Credentials`` and ``-Expose-Headers``.
    * ``Vary: Origin`` is added unless every origin gets ``*``.

    *allow_origins*: see :data:`OriginRule`. *allow_methods* / *allow_headers*: a list,
    ``"*"`` or ``"mirror"`` (echo what the preflight asked for). With *allow_credentials*
    the wildcard origin ``"*"`` is refused (browsers reject it); use ``"mirror"`` or a list;
    wildcards for methods and headers are then sent as the mirrored request values.
    :meth:`permissive` and :meth:`very_permissive` are the usual shortcuts.
    """

    __slots__ = (
        "allow_credentials",
        "allow_headers",
        "allow_methods",
        "allow_origins",
        "expose_headers",
        "max_age",
    )

    def __init__(
        self,
        *,
        allow_origins: OriginRule = (),
        allow_methods: ListRule = ("GET", "HEAD", "POST"),
        allow_headers: ListRule = (),
        allow_credentials: bool = False,
        expose_headers: Sequence[str] = (),
        max_age: int | None = None,
    ) -> None:
        """Configure the policy (see the class docs)."""
        if allow_credentials and allow_origins == "*":
            raise ConfigError(
                "CORS credentials cannot be allowed with the '*' origin; use 'mirror' or a list"
            )
        if max_age is not None and max_age < 0:
            raise ConfigError(f"max_age must be >= 0 seconds, got {max_age!r}")
        if isinstance(allow_origins, str) and allow_origins not in ("*", "mirror"):
            allow_origins = (allow_origins,)
        self.allow_origins: OriginRule = (
            allow_origins
            if isinstance(allow_origins, str) or callable(allow_origins)
            else tuple(allow_origins)
        )
        self.allow_methods: ListRule = (
            allow_methods
            if isinstance(allow_methods, str)
            else tuple(m.upper() for m in allow_methods)
        )
        self.allow_headers: ListRule = (
            allow_headers if isinstance(allow_headers, str) else tuple(allow_headers)
        )
        self.allow_credentials = allow_credentials
        self.expose_headers = tuple(expose_headers)
        self.max_age = max_age

    @classmethod
    def permissive(cls) -> CorsLayer:
        """Any origin (``*``), any method, any header, every header exposed; no credentials."""
        return cls(allow_origins="*", allow_methods="*", allow_headers="*", expose_headers=("*",))

    @classmethod
    def very_permissive(cls) -> CorsLayer:
        """Any origin mirrored with credentials, methods and headers mirrored."""
        return cls(
            allow_origins="mirror",
            allow_methods="mirror",
            allow_headers="mirror",
            allow_credentials=True,
        )

    def layer(self, inner: HttpService, /) -> CorsService:
        """Wrap *inner*."""
        return CorsService(inner, self)
