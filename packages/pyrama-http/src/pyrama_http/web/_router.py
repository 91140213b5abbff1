"""Router: path patterns compiled into a segment tree, methods dispatched per route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Self, TypeVar, overload
from urllib.parse import unquote

from pyrama_http.web._errors import RouteError
from pyrama_http.web._extract import DEFAULT_BODY_LIMIT, compile_handler
from pyrama_http.web._params import OriginalUri, PathParams, insert_params
from pyrama_http.web._response import into_response
from pyrama_http_types import Method, Request, Response, StatusCode

__all__ = ["Endpoint", "Router", "not_found", "parse_pattern", "to_service"]

F = TypeVar("F", bound=Callable[..., Any])

_REST = "\x00rest"  # the private wildcard of nest_service: the raw remainder of the path

ServeFn = Callable[[Request], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    wildcard: bool


def parse_pattern(pattern: str) -> list[str | _Param]:
    """Split a route pattern into static segments and ``{name}`` / ``{*name}`` parameters.

    Raises :class:`~pyrama_http.web.RouteError` for a pattern that does not start with
    ``/``, a parameter that is not a whole segment, a wildcard that is not last, or a name
    used twice.
    """
    if not pattern.startswith("/"):
        raise RouteError(f"route {pattern!r} must start with '/'")
    out: list[str | _Param] = []
    names: set[str] = set()
    segments = pattern[1:].split("/")
    for i, seg in enumerate(segments):
        if "{" in seg or "}" in seg:
            if not (seg.startswith("{") and seg.endswith("}")) or seg.count("{") != 1:
                raise RouteError(
                    f"route {pattern!r}: a parameter must be a whole segment, got {seg!r}"
                )
            name = seg[1:-1]
            wildcard = name.startswith("*")
            if wildcard:
                name = name[1:]
                if i != len(segments) - 1:
                    raise RouteError(f"route {pattern!r}: {{*{name}}} must be the last segment")
            if not name.isidentifier():
                raise RouteError(f"route {pattern!r}: parameter name {name!r} is not an identifier")
            if name in names:
                raise RouteError(f"route {pattern!r}: parameter {name!r} appears twice")
            names.add(name)
            out.append(_Param(name, wildcard))
        else:
            out.append(seg)
    return out


def not_found(request: Request) -> Awaitable[Response]:
    """The default fallback: ``404 Not Found`` with a short text body."""
    return _not_found(request)


async def _not_found(request: Request) -> Response:
    return Response.text("not found\n", StatusCode.NOT_FOUND)


def to_service(
    target: Any, *, route_params: tuple[str, ...] | None, state: Any, body_limit: int | None
) -> ServeFn:
    """The ``serve`` callable of *target*: a Service (has ``serve``) or a handler function."""
    serve = getattr(target, "serve", None)
    if serve is not None and callable(serve):
        return serve  # type: ignore[no-any-return]
    if callable(target):
        return compile_handler(
            target, route_params=route_params, state=state, body_limit=body_limit
        ).serve
    raise TypeError(f"{target!r} is neither a service (no .serve) nor a handler function")


class Endpoint:
    """The services of one route pattern, by method (what a tree node points at)."""

    __slots__ = ("any", "methods", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.methods: dict[str, ServeFn] = {}
        self.any: ServeFn | None = None

    def allow(self) -> str:
        """The ``Allow`` header value of this route."""
        names = list(self.methods)
        if "GET" in self.methods and "HEAD" not in self.methods:
            names.append("HEAD")
        return ", ".join(names)

    def pick(self, method: str) -> ServeFn | None:
        """The service for *method* (HEAD falls back to GET), or ``None``."""
        svc = self.methods.get(method)
        if svc is None:
            if method == "HEAD":
                svc = self.methods.get("GET")
            if svc is None:
                svc = self.any
        return svc


class _Node:
    __slots__ = ("endpoint", "param", "param_name", "static", "wild_endpoint", "wild_name")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.param_name: str | None = None
        self.endpoint: Endpoint | None = None
        self.wild_name: str | None = None
        self.wild_endpoint: Endpoint | None = None


def _find(node: _Node, segs: list[str], i: int, found: list[tuple[str, str]]) -> Endpoint | None:
    """Depth-first look-up: static children first, then the parameter, then the wildcard."""
    if i == len(segs):
        return node.endpoint
    seg = segs[i]
    child = node.static.get(seg)
    if child is not None:
        ep = _find(child, segs, i + 1, found)
        if ep is not None:
            return ep
    param = node.param
    if param is not None and seg:
        ep = _find(param, segs, i + 1, found)
        if ep is not None:
            assert node.param_name is not None
            found.append((node.param_name, unquote(seg) if "%" in seg else seg))
            return ep
    if node.wild_endpoint is not None:
        assert node.wild_name is not None
        rest = "/".join(segs[i:])
        if node.wild_name != _REST and "%" in rest:
            rest = unquote(rest)
        found.append((node.wild_name, rest))
        return node.wild_endpoint
    return None


@dataclass(frozen=True, slots=True)
class _Spec:
    """A route as added (kept so a router can be nested into another)."""

    methods: tuple[str, ...] | None  # None: any method
    pattern: str
    target: Any
    state: Any
    body_limit: int | None


class _StripPrefix:
    """Serve a nested service with the matched prefix cut off the request path."""

    __slots__ = ("inner",)

    def __init__(self, inner: ServeFn) -> None:
        self.inner = inner

    async def __call__(self, request: Request) -> Any:
        params = request.extensions.get(PathParams)
        rest = "" if params is None else params._params.pop(_REST, "")
        uri = request.uri
        if request.extensions.get(OriginalUri) is None:
            request.extensions.insert(OriginalUri(uri))
        path = "/" + rest
        if uri.query is not None:
            path += "?" + uri.query
        request.uri = uri.with_path_and_query(path)
        return await self.inner(request)


class Router:
    """Routes requests by path pattern and method to handlers or services.

    Patterns: static segments, ``{name}`` (one non-empty segment) and a final ``{*name}``
    (the rest of the path after its slash, possibly empty: ``/files/{*p}`` matches
    ``/files/`` and ``/files/a/b``, not ``/files``). Every route is inserted into a segment
    tree as it is added; a request walks the tree once (static segments win over parameters,
    parameters over wildcards, with backtracking); entirely static paths are found with one
    dict look-up.

    * :meth:`route` and the method helpers (:meth:`get`, :meth:`post`, ...) add a handler: an
      ``async def`` whose parameters are extractors (see :mod:`pyrama_http.web`), or any
      ``Service[Request, Response]``. They also work as decorators: ``@router.get("/")``.
    * :meth:`nest` copies another router's routes under a prefix; :meth:`nest_service`
      sends every request under a prefix to a service, which sees the path without the prefix
      (the original URI is in the extensions as :class:`~pyrama_http.web.OriginalUri`).
    * No route: the fallback (``404``); a route without that method: ``405`` with ``Allow``.
      ``HEAD`` is served by the ``GET`` handler when there is no ``HEAD`` route.
    * Captured parameters go into the request's extensions as
      :class:`~pyrama_http.web.PathParams`.

    *state* is what ``State[T]`` parameters receive; *body_limit* caps body extractors
    (``413`` beyond it; ``None``: no cap of its own).
    """

    def __init__(
        self,
        *,
        state: Any = None,
        body_limit: int | None = DEFAULT_BODY_LIMIT,
        fallback: Any = None,
    ) -> None:
        """Make an empty router (see the class docs)."""
        self._state = state
        self._body_limit = body_limit
        self._root = _Node()
        self._static: dict[str, Endpoint] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._specs: list[_Spec] = []
        self._nested: list[tuple[str, Any]] = []
        self._fallback: ServeFn = not_found
        if fallback is not None:
            self.fallback(fallback)

    @property
    def state(self) -> Any:
        """The state handed to ``State[T]`` parameters."""
        return self._state

    # -- building ----------------------------------------------------------------------------

    def _add(self, spec: _Spec) -> None:
        parts = parse_pattern(spec.pattern)
        params = tuple(p.name for p in parts if isinstance(p, _Param))
        serve = to_service(
            spec.target, route_params=params, state=spec.state, body_limit=spec.body_limit
        )
        key = "/" + "/".join(
            p if isinstance(p, str) else f"{{{'*' if p.wildcard else ''}}}" for p in parts
        )
        ep = self._endpoints.get(key)
        if ep is None:
            ep = Endpoint(spec.pattern)
            self._insert(parts, ep, spec.pattern)
            self._endpoints[key] = ep
            if not params:
                self._static[spec.pattern] = ep
        elif ep.pattern != spec.pattern:
            raise RouteError(f"route {spec.pattern!r} conflicts with {ep.pattern!r}")
        if spec.methods is None:
            if ep.any is not None:
                raise RouteError(f"route {spec.pattern!r} already has a service for any method")
            ep.any = serve
        else:
            for m in spec.methods:
                if m in ep.methods:
                    raise RouteError(f"route {m} {spec.pattern!r} is defined twice")
                ep.methods[m] = serve
        self._specs.append(spec)

    def _insert(self, parts: list[str | _Param], ep: Endpoint, pattern: str) -> None:
        node = self._root
        for part in parts:
            if isinstance(part, str):
                child = node.static.get(part)
                if child is None:
                    child = node.static[part] = _Node()
                node = child
            elif part.wildcard:
                if node.wild_endpoint is not None:
                    raise RouteError(
                        f"route {pattern!r} conflicts with {node.wild_endpoint.pattern!r}"
                    )
                node.wild_name = part.name
                node.wild_endpoint = ep
                return
            else:
                if node.param is None:
                    node.param = _Node()
                    node.param_name = part.name
                elif node.param_name != part.name:
                    raise RouteError(
                        f"route {pattern!r}: parameter {{{part.name}}} conflicts with "
                        f"{{{node.param_name}}} at the same position of another route"
                    )
                node = node.param
        if node.endpoint is not None and node.endpoint is not ep:
            raise RouteError(f"route {pattern!r} conflicts with {node.endpoint.pattern!r}")
        node.endpoint = ep

    def route(self, methods: str | Iterable[str], path: str, handler: Any) -> Self:
        """Serve *methods* (``"GET"``, ``"GET,POST"`` or a list) on *path* with *handler*.

        Method names are uppercased (``"get"`` routes ``GET``): methods on the wire are
        case-sensitive, route tables are written by people.
        """
        if isinstance(methods, str):
            names = [m.strip().upper() for m in methods.split(",") if m.strip()]
        else:
            names = [str(m).upper() for m in methods]
        if not names:
            raise RouteError(f"route {path!r}: no methods given")
        checked = tuple(str(Method(m)) for m in names)
        self._add(_Spec(checked, path, handler, self._state, self._body_limit))
        return self

    @overload
    def _method(self, method: str, path: str, handler: None) -> Callable[[F], F]: ...
    @overload
    def _method(self, method: str, path: str, handler: Any) -> Self: ...
    def _method(self, method: str, path: str, handler: Any) -> Any:
        if handler is None:

            def _decorate(fn: F) -> F:
                self.route(method, path, fn)
                return fn

            return _decorate
        return self.route(method, path, handler)

    @overload
    def get(self, path: str) -> Callable[[F], F]: ...
    @overload
    def get(self, path: str, handler: Any) -> Self: ...
    def get(self, path: str, handler: Any = None) -> Any:
        """Serve ``GET`` (and ``HEAD``, unless it has its own route) on *path*."""
        return self._method("GET", path, handler)

    @overload
    def post(self, path: str) -> Callable[[F], F]: ...
    @overload
    def post(self, path: str, handler: Any) -> Self: ...
    def post(self, path: str, handler: Any = None) -> Any:
        """Serve ``POST`` on *path*."""
        return self._method("POST", path, handler)

    @overload
    def put(self, path: str) -> Callable[[F], F]: ...
    @overload
    def put(self, path: str, handler: Any) -> Self: ...
    def put(self, path: str, handler: Any = None) -> Any:
        """Serve ``PUT`` on *path*."""
        return self._method("PUT", path, handler)

    @overload
    def delete(self, path: str) -> Callable[[F], F]: ...
    @overload
    def delete(self, path: str, handler: Any) -> Self: ...
    def delete(self, path: str, handler: Any = None) -> Any:
        """Serve ``DELETE`` on *path*."""
        return self._method("DELETE", path, handler)

    @overload
    def patch(self, path: str) -> Callable[[F], F]: ...
    @overload
    def patch(self, path: str, handler: Any) -> Self: ...
    def patch(self, path: str, handler: Any = None) -> Any:
        """Serve ``PATCH`` on *path*."""
        return self._method("PATCH", path, handler)

    @overload
    def head(self, path: str) -> Callable[[F], F]: ...
    @overload
    def head(self, path: str, handler: Any) -> Self: ...
    def head(self, path: str, handler: Any = None) -> Any:
        """Serve ``HEAD`` on *path* (instead of the ``GET`` handler)."""
        return self._method("HEAD", path, handler)

    @overload
    def options(self, path: str) -> Callable[[F], F]: ...
    @overload
    def options(self, path: str, handler: Any) -> Self: ...
    def options(self, path: str, handler: Any = None) -> Any:
        """Serve ``OPTIONS`` on *path*."""
        return self._method("OPTIONS", path, handler)

    @overload
    def query(self, path: str) -> Callable[[F], F]: ...
    @overload
    def query(self, path: str, handler: Any) -> Self: ...
    def query(self, path: str, handler: Any = None) -> Any:
        """Serve ``QUERY`` (the safe method with a body) on *path*."""
        return self._method("QUERY", path, handler)

    @overload
    def connect(self, path: str) -> Callable[[F], F]: ...
    @overload
    def connect(self, path: str, handler: Any) -> Self: ...
    def connect(self, path: str, handler: Any = None) -> Any:
        """Serve ``CONNECT`` on *path*."""
        return self._method("CONNECT", path, handler)

    @overload
    def trace(self, path: str) -> Callable[[F], F]: ...
    @overload
    def trace(self, path: str, handler: Any) -> Self: ...
    def trace(self, path: str, handler: Any = None) -> Any:
        """Serve ``TRACE`` on *path*."""
        return self._method("TRACE", path, handler)

    def nest(self, prefix: str, router: Router) -> Self:
        """Add every route of *router* under *prefix* (its handlers keep their own state)."""
        prefix = _check_prefix(prefix)
        for spec in router._specs:
            pattern = prefix + spec.pattern if spec.pattern != "/" else (prefix or "/")
            self._add(_Spec(spec.methods, pattern, spec.target, spec.state, spec.body_limit))
        for inner_prefix, service in router._nested:
            self.nest_service(prefix + inner_prefix, service)
        return self

    def nest_service(self, prefix: str, service: Any) -> Self:
        """Send every request under *prefix* (any method) to *service*, prefix removed.

        ``/prefix`` and ``/prefix/...`` match; the service sees ``/`` and ``/...``.
        """
        prefix = _check_prefix(prefix)
        if not prefix:
            raise RouteError("nest_service needs a prefix; use fallback() for the root")
        serve = to_service(
            service, route_params=None, state=self._state, body_limit=self._body_limit
        )
        strip = _StripPrefix(serve)
        ep = Endpoint(prefix)
        ep.any = strip
        parts = parse_pattern(prefix)
        self._insert(parts, ep, prefix)
        wild = Endpoint(prefix + "/{*}")
        wild.any = strip
        self._insert([*parts, _Param(_REST, True)], wild, prefix + "/{*}")
        if not any(isinstance(p, _Param) for p in parts):
            self._static[prefix] = ep
        self._nested.append((prefix, service))
        return self

    def fallback(self, service: Any) -> Self:
        """Serve requests no route matches with *service* (default: ``404``)."""
        self._fallback = to_service(
            service, route_params=None, state=self._state, body_limit=self._body_limit
        )
        return self

    # -- serving -----------------------------------------------------------------------------

    def lookup(self, path: str) -> tuple[Endpoint, dict[str, str]] | None:
        """The endpoint for *path* and the parameters it captured, or ``None``."""
        ep = self._static.get(path)
        if ep is not None:
            return ep, {}
        found: list[tuple[str, str]] = []
        ep = _find(self._root, path[1:].split("/"), 0, found) if path[:1] == "/" else None
        if ep is None:
            return None
        found.reverse()
        return ep, dict(found)

    async def serve(self, request: Request, /) -> Response:
        """Route *request* and return its response."""
        path = request.uri.path
        ep = self._static.get(path)
        if ep is None:
            found: list[tuple[str, str]] = []
            ep = _find(self._root, path[1:].split("/"), 0, found) if path[:1] == "/" else None
            if ep is None:
                result = await self._fallback(request)
                return result if type(result) is Response else into_response(result)
            if found:
                found.reverse()
                insert_params(request.extensions, dict(found))
        svc = ep.pick(request.method)
        if svc is None:
            return Response(StatusCode.METHOD_NOT_ALLOWED, headers=[("Allow", ep.allow())])
        result = await svc(request)
        return result if type(result) is Response else into_response(result)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._specs)} routes)"


def _check_prefix(prefix: str) -> str:
    if prefix in ("", "/"):
        return ""
    if not prefix.startswith("/"):
        raise RouteError(f"prefix {prefix!r} must start with '/'")
    return prefix.rstrip("/")
