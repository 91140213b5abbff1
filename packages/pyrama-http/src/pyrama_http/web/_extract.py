"""Extractors: handler parameters filled from the request by their type annotation.

A handler is a plain ``async def`` whose parameters say what they need::

    async def update(id: Path[int], q: Query[Paging], item: Json[Item], db: State[Db]) -> Item:

The signature is inspected once, when the route is added: every parameter gets one
extractor callable and the route keeps the list. Per request only those calls run.
"""

from __future__ import annotations

import functools
import inspect
import json
import types
import typing
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol, Self, TypeVar, get_args, get_origin
from urllib.parse import unquote_plus

from pyrama_core import Extensions
from pyrama_http.web._convert import Invalid, json_converter, model_converter, text_converter
from pyrama_http.web._errors import ExtractError, RouteError
from pyrama_http.web._multipart import Multipart, MultipartLimits, boundary_of
from pyrama_http.web._params import PathParams
from pyrama_http.web._response import into_response
from pyrama_http_types import (
    Body,
    HeaderMap,
    Method,
    Request,
    Response,
    Uri,
    Version,
)
from pyrama_http_types.errors import BodyError, BodyTooLargeError, HttpError, TypedHeaderError

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "Extension",
    "Form",
    "FromRequest",
    "Json",
    "Path",
    "Query",
    "State",
    "TypedHeader",
    "compile_handler",
    "parse_query",
]

T = TypeVar("T")

DEFAULT_BODY_LIMIT = 2 * 1024 * 1024
"""The body size limit of body extractors (``bytes``, ``str``, ``Json``, ``Form``): 2 MiB."""

_MAX_FORM_FIELDS = 1000


class _Marker:
    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"<extract {self.kind}>"


_PATH = _Marker("Path")
_QUERY = _Marker("Query")
_JSON = _Marker("Json")
_FORM = _Marker("Form")
_STATE = _Marker("State")
_EXTENSION = _Marker("Extension")
_TYPED_HEADER = _Marker("TypedHeader")

Path = Annotated[T, _PATH]
"""``Path[T]``: the path parameters as *T*: ``int``/``str``/... (the parameter of the same
name, or the only one), a ``tuple`` (in order), a dataclass, a ``TypedDict`` or
``dict[str, str]``. Bad values: ``400``."""

Query = Annotated[T, _QUERY]
"""``Query[T]``: the query string as a dataclass, ``TypedDict`` or ``dict[str, str]``
(list-typed fields take every value). Bad values: ``400``."""

Json = Annotated[T, _JSON]
"""``Json[T]``: the body as JSON validated against *T* (dataclass, ``TypedDict``, ``list``,
``dict``, ...). Wrong content type ``415``, malformed JSON ``400``, invalid data ``422``
naming the field, over the body limit ``413``."""

Form = Annotated[T, _FORM]
"""``Form[T]``: an ``application/x-www-form-urlencoded`` body as *T* (like :data:`Query`).
Wrong content type ``415``, invalid data ``422``, over the body limit ``413``."""

State = Annotated[T, _STATE]
"""``State[T]``: the state object given to the router (``Router(state=...)``)."""

Extension = Annotated[T, _EXTENSION]
"""``Extension[T]``: the request extension of type *T* (``500`` if absent; ``Extension[T |
None]`` gives ``None`` instead)."""

TypedHeader = Annotated[T, _TYPED_HEADER]
"""``TypedHeader[H]``: the typed header *H* (``ContentType``, ``Authorization``, ...).
Missing: ``400`` (``TypedHeader[H | None]`` gives ``None``); malformed: ``400``."""


class FromRequest(Protocol):
    """A custom extractor: a class with ``async def from_request(cls, request) -> Self``.

    Annotate a handler parameter with the class; what ``from_request`` returns is passed in.
    Raise :class:`~pyrama_http.web.ExtractError` to refuse the request.
    """

    @classmethod
    async def from_request(cls, request: Request, /) -> Self:
        """Build the value from *request*."""
        ...


Extractor = Callable[[Request], Any]
"""One compiled extractor: ``extractor(request)`` -> the value, or an awaitable of it."""


# -- helpers ---------------------------------------------------------------------------------


def _params_of(request: Request) -> PathParams:
    p = request.extensions.get(PathParams)
    return PathParams() if p is None else p


async def _read_body(body: Body, limit: int | None) -> bytes:
    try:
        if limit is not None:
            body.limited(limit)
        return await body.collect()
    except BodyTooLargeError as exc:
        raise ExtractError(
            f"request body is larger than the limit of {limit} bytes", status=413
        ) from exc
    except BodyError as exc:
        raise ExtractError(f"could not read the request body: {exc}", status=400) from exc


def _content_type_essence(request: Request) -> str:
    raw = request.headers.get_raw("content-type")
    if raw is None:
        return ""
    return raw.split(b";", 1)[0].strip().lower().decode("latin-1")


def _is_json(essence: str) -> bool:
    return essence == "application/json" or (
        essence.startswith("application/") and essence.endswith("+json")
    )


def _optional_inner(tp: Any) -> tuple[Any, bool]:
    """``(X, True)`` for ``X | None``, else ``(tp, False)``."""
    if get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return args[0], True
    return tp, False


def parse_query(text: str, max_fields: int = _MAX_FORM_FIELDS) -> dict[str, list[str]]:
    """Parse ``a=1&b=&a=2`` into ``{"a": ["1", "2"], "b": [""]}``.

    Like ``urllib.parse.parse_qs(text, keep_blank_values=True)``: ``+`` is a space,
    percent-escapes are UTF-8 (invalid ones replaced), a field without ``=`` has the value
    ``""``; more than *max_fields* fields raise ``ValueError``.
    """
    if text.count("&") >= max_fields:
        raise ValueError(f"more than {max_fields} fields")
    out: dict[str, list[str]] = {}
    for pair in text.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        if "%" in key or "+" in key:
            key = unquote_plus(key)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        values = out.get(key)
        if values is None:
            out[key] = [value]
        else:
            values.append(value)
    return out


# -- the extractor builders ------------------------------------------------------------------


def _path_extractor(tp: Any, name: str, route_params: tuple[str, ...] | None) -> Extractor:
    origin = get_origin(tp)
    if origin is tuple:
        args = get_args(tp)
        convs = [text_converter(a) for a in args]

        def _tuple(request: Request) -> Any:
            values = list(_params_of(request).values())
            if len(values) != len(convs):
                raise ExtractError(
                    f"expected {len(convs)} path parameters, got {len(values)}", status=400
                )
            try:
                return tuple(
                    c(v, str(i)) for i, (c, v) in enumerate(zip(convs, values, strict=True))
                )
            except Invalid as exc:
                raise ExtractError(f"invalid path parameter: {exc}", status=400) from None

        return _tuple
    try:
        conv = text_converter(tp)
    except TypeError:
        model = model_converter(tp)

        def _model(request: Request) -> Any:
            try:
                return model({k: [v] for k, v in _params_of(request).items()})
            except Invalid as exc:
                raise ExtractError(f"invalid path parameter {exc}", status=400) from None

        return _model
    key: str | None = name
    if route_params is not None and name not in route_params:
        if len(route_params) != 1:
            raise RouteError(
                f"parameter {name!r}: the route has path parameters {list(route_params)}; "
                "name it like one of them, or take a tuple or a dataclass"
            )
        key = route_params[0]

    def _one(request: Request) -> Any:
        params = _params_of(request)
        value = params.get(key) if key is not None else None
        if value is None:
            if len(params) != 1:
                raise ExtractError(f"no path parameter {name!r}", status=500)
            value = next(iter(params.values()))
        try:
            return conv(value, name)
        except Invalid as exc:
            raise ExtractError(f"invalid path parameter {exc}", status=400) from None

    return _one


def _query_extractor(tp: Any) -> Extractor:
    model = model_converter(tp)

    def _query(request: Request) -> Any:
        q = request.uri.query
        try:
            src = parse_query(q) if q else {}
        except ValueError as exc:
            raise ExtractError(f"invalid query string: {exc}", status=400) from None
        try:
            return model(src)
        except Invalid as exc:
            raise ExtractError(f"invalid query parameter {exc}", status=400) from None

    return _query


def _json_extractor(tp: Any, limit: int | None) -> Extractor:
    conv = json_converter(tp)

    async def _json(request: Request) -> Any:
        essence = _content_type_essence(request)
        if not _is_json(essence):
            raise ExtractError("expected a request with Content-Type: application/json", status=415)
        data = await _read_body(request.body, limit)
        try:
            value = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ExtractError(f"malformed JSON body: {exc}", status=400) from None
        except RecursionError:
            raise ExtractError("the JSON body is nested too deeply", status=400) from None
        try:
            return conv(value, "")
        except RecursionError:
            raise ExtractError("the JSON body is nested too deeply", status=400) from None
        except Invalid as exc:
            raise ExtractError(
                exc.message if not exc.field else f"{exc.field}: {exc.message}",
                status=422,
                field=exc.field or None,
            ) from None

    return _json


def _form_extractor(tp: Any, limit: int | None) -> Extractor:
    model = model_converter(tp)

    async def _form(request: Request) -> Any:
        if _content_type_essence(request) != "application/x-www-form-urlencoded":
            raise ExtractError(
                "expected a request with Content-Type: application/x-www-form-urlencoded",
                status=415,
            )
        data = await _read_body(request.body, limit)
        try:
            text = data.decode("utf-8")
            src = parse_query(text)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ExtractError(f"malformed form body: {exc}", status=400) from None
        try:
            return model(src)
        except Invalid as exc:
            raise ExtractError(f"{exc.field}: {exc.message}", status=422, field=exc.field) from None

    return _form


def _typed_header_extractor(tp: Any) -> Extractor:
    header, optional = _optional_inner(tp)
    if not (hasattr(header, "name") and callable(getattr(header, "decode", None))):
        raise RouteError(f"TypedHeader[{header!r}]: not a typed header (needs name and decode)")
    hname = header.name

    def _typed(request: Request) -> Any:
        try:
            value = request.headers.typed_get(header)
        except TypedHeaderError as exc:
            raise ExtractError(str(exc), status=400) from None
        if value is None and not optional:
            raise ExtractError(f"missing {hname} header", status=400)
        return value

    return _typed


def _extension_extractor(tp: Any) -> Extractor:
    key, optional = _optional_inner(tp)
    if not isinstance(key, type):
        raise RouteError(f"Extension[{key!r}]: the type must be a class")
    kname = key.__name__

    def _ext(request: Request) -> Any:
        value = request.extensions.get(key)
        if value is None and not optional:
            raise ExtractError(f"missing request extension {kname}", status=500)
        return value

    return _ext


def _multipart_extractor(limits: MultipartLimits) -> Extractor:
    async def _multipart(request: Request) -> Multipart:
        boundary = boundary_of(request.headers.get_raw("content-type"))
        return Multipart(request.body, boundary, limits)

    return _multipart


async def _body_bytes(request: Request, limit: int | None) -> bytes:
    return await _read_body(request.body, limit)


def compile_param(
    name: str,
    annotation: Any,
    *,
    route_params: tuple[str, ...] | None,
    state: Any,
    body_limit: int | None,
) -> tuple[Extractor, bool]:
    """The extractor of one handler parameter and whether it returns an awaitable."""
    if get_origin(annotation) is Annotated:
        inner, *meta = get_args(annotation)
        marker = next((m for m in meta if isinstance(m, _Marker)), None)
        if marker is _PATH:
            return _path_extractor(inner, name, route_params), False
        if marker is _QUERY:
            return _query_extractor(inner), False
        if marker is _JSON:
            return _json_extractor(inner, body_limit), True
        if marker is _FORM:
            return _form_extractor(inner, body_limit), True
        if marker is _TYPED_HEADER:
            return _typed_header_extractor(inner), False
        if marker is _EXTENSION:
            return _extension_extractor(inner), False
        if marker is _STATE:
            cls = get_origin(inner) or inner
            if state is None:
                raise RouteError(f"parameter {name!r} asks for State, but no state was given")
            if isinstance(cls, type) and not isinstance(state, cls):
                raise RouteError(
                    f"parameter {name!r} asks for State[{cls.__name__}], "
                    f"the state is a {type(state).__name__}"
                )
            return (lambda _request: state), False
        limits = next((m for m in meta if isinstance(m, MultipartLimits)), None)
        if limits is not None and inner is Multipart:
            return _multipart_extractor(limits), True
        annotation = inner  # a user's own Annotated: use the type
    if annotation is Request:
        return (lambda request: request), False
    if annotation is HeaderMap:
        return (lambda request: request.headers), False
    if annotation is Method:
        return (lambda request: request.method), False
    if annotation is Uri:
        return (lambda request: request.uri), False
    if annotation is Version:
        return (lambda request: request.version), False
    if annotation is Extensions:
        return (lambda request: request.extensions), False
    if annotation is PathParams:
        return _params_of, False
    if annotation is Body:
        return (lambda request: request.body), False
    if route_params is not None and name in route_params:
        return _path_extractor(annotation, name, route_params), False
    if annotation is bytes:
        return (lambda request: _body_bytes(request, body_limit)), True
    if annotation is str:

        async def _text(request: Request) -> str:
            data = await _read_body(request.body, body_limit)
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                raise ExtractError("the request body is not valid UTF-8", status=400) from None

        return _text, True
    hook = getattr(annotation, "from_request", None)
    if hook is not None and callable(hook):
        if inspect.iscoroutinefunction(hook):
            return hook, True
        return hook, False
    shown = getattr(annotation, "__name__", repr(annotation))
    raise RouteError(
        f"cannot extract parameter {name!r} of type {shown}: annotate it with Path[...], "
        "Query[...], Json[...], Form[...], State[...], Extension[...], TypedHeader[...], "
        "or use Request, HeaderMap, Method, Uri, bytes, str or a class with from_request"
    )


def _client_error(exc: HttpError) -> Response:
    """A custom extractor's HTTP error with a client status hint (4xx) becomes that answer."""
    hint = exc.status_hint
    if hint is None or not 400 <= hint < 500:
        raise exc
    return Response.text(f"{exc}\n", hint)


class Handler:
    """A compiled handler: ``Service[Request, Response]`` around an extractor-taking function.

    Built by routers from ``async def`` functions (see :func:`compile_handler`); the
    function's return value goes through :func:`~pyrama_http.web.into_response`, an
    :class:`~pyrama_http.web.ExtractError` becomes its response.
    """

    __slots__ = ("_async", "_extractors", "_fn", "_is_coro", "_keywords", "serve")

    def __init__(
        self,
        fn: Callable[..., Any],
        extractors: list[tuple[Extractor, bool]],
        keywords: list[str | None],
    ) -> None:
        self._fn = fn
        self._extractors = [e for e, _ in extractors]
        self._async = [a for _, a in extractors]
        self._keywords = keywords
        self._is_coro = inspect.iscoroutinefunction(fn)
        self.serve: Callable[[Request], Awaitable[Response]]
        if not extractors and self._is_coro:
            self.serve = self._serve_none
        elif not any(self._async) and all(k is None for k in keywords) and self._is_coro:
            self.serve = self._serve_sync_args
        else:
            self.serve = self._serve_general

    async def _serve_none(self, request: Request, /) -> Response:
        try:
            result = await self._fn()
        except ExtractError as exc:
            return exc.into_response()
        if type(result) is Response:
            return result
        return into_response(result)

    async def _serve_sync_args(self, request: Request, /) -> Response:
        try:
            args = [e(request) for e in self._extractors]
        except ExtractError as exc:
            return exc.into_response()
        except HttpError as exc:
            return _client_error(exc)
        try:
            result = await self._fn(*args)
        except ExtractError as exc:
            return exc.into_response()
        if type(result) is Response:
            return result
        return into_response(result)

    async def _serve_general(self, request: Request, /) -> Response:
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        try:
            for e, is_async, kw in zip(self._extractors, self._async, self._keywords, strict=True):
                v = e(request)
                if is_async:
                    v = await v
                if kw is None:
                    args.append(v)
                else:
                    kwargs[kw] = v
        except ExtractError as exc:
            return exc.into_response()
        except HttpError as exc:
            return _client_error(exc)
        try:
            result = self._fn(*args, **kwargs)
            if self._is_coro or inspect.isawaitable(result):
                result = await result
        except ExtractError as exc:  # raised while the handler read a streamed extractor
            return exc.into_response()
        if type(result) is Response:
            return result
        return into_response(result)

    def __repr__(self) -> str:
        return f"Handler({getattr(self._fn, '__qualname__', self._fn)})"


def compile_handler(
    fn: Callable[..., Any],
    *,
    route_params: tuple[str, ...] | None = None,
    state: Any = None,
    body_limit: int | None = DEFAULT_BODY_LIMIT,
) -> Handler:
    """Compile *fn* into a :class:`Handler`.

    *fn* is an ``async def`` or plain function, a ``functools.partial`` of one, or an object
    with such a ``__call__``.

    *route_params* are the path parameter names of the route (``None``: unknown, as under a
    matcher); unannotated-by-marker parameters named like one of them are path parameters.
    Raises :class:`~pyrama_http.web.RouteError` for a parameter that cannot be extracted.
    """
    source: Any = fn
    while isinstance(source, functools.partial):
        source = source.func
    if not (inspect.isfunction(source) or inspect.ismethod(source)) and callable(source):
        source = type(source).__call__  # a callable object: its __call__'s annotations
    try:
        hints = typing.get_type_hints(source, include_extras=True)
    except Exception as exc:  # unresolvable forward references
        raise RouteError(f"cannot resolve the annotations of {fn!r}: {exc}") from exc
    extractors: list[tuple[Extractor, bool]] = []
    keywords: list[str | None] = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        annotation = hints.get(p.name)
        if annotation is None:
            if route_params is not None and p.name in route_params:
                annotation = str  # an unannotated path parameter: its text
            elif p.default is not inspect.Parameter.empty:
                continue
            else:
                shown = getattr(fn, "__qualname__", repr(fn))
                raise RouteError(f"parameter {p.name!r} of {shown} has no annotation")
        try:
            extractor = compile_param(
                p.name, annotation, route_params=route_params, state=state, body_limit=body_limit
            )
        except TypeError as exc:  # a type the converters do not support
            raise RouteError(f"parameter {p.name!r}: {exc}") from exc
        extractors.append(extractor)
        keywords.append(p.name if p.kind is inspect.Parameter.KEYWORD_ONLY else None)
    return Handler(fn, extractors, keywords)
