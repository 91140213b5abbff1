"""IntoResponse: what a handler may return, and how it becomes a :class:`Response`."""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from pyrama_http_types import Body, HeaderMap, Response, StatusCode, Uri

__all__ = [
    "Html",
    "IntoResponse",
    "JsonResponse",
    "Redirect",
    "into_response",
    "json_default",
]


@runtime_checkable
class IntoResponse(Protocol):
    """Anything that knows how to become a :class:`~pyrama_http_types.Response`.

    Handlers may return such a value; :func:`into_response` calls :meth:`into_response`.
    Other packages' types (server-sent events, files) implement it.
    """

    def into_response(self) -> Response:
        """The response this value stands for."""
        ...


def json_default(obj: Any) -> Any:
    """``json.dumps`` fallback: dataclasses as objects, enums as their values, sets as lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=json_default)


def _dumps(obj: Any) -> bytes:
    # one shared encoder: json.dumps would check its arguments and build one per call
    return _ENCODER.encode(obj).encode()


class Html:
    """An HTML response body: ``text/html; charset=utf-8``."""

    __slots__ = ("html", "status")

    def __init__(self, html: str, status: StatusCode | int = StatusCode.OK) -> None:
        """Wrap *html* (answered with *status*)."""
        self.html = html
        self.status = status

    def into_response(self) -> Response:
        """``200`` (or the given status) with the UTF-8 HTML."""
        return Response.html(self.html, self.status)

    def __repr__(self) -> str:
        return f"Html({self.html[:40]!r}...)"


class JsonResponse:
    """A JSON response of any JSON-able value (dataclasses and enums included).

    ``dict`` and ``list`` return values become JSON on their own; use this for other values,
    another status, or extra headers.
    """

    __slots__ = ("headers", "status", "value")

    def __init__(
        self,
        value: Any,
        status: StatusCode | int = StatusCode.OK,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        """Wrap *value*, answered with *status* and *headers*."""
        self.value = value
        self.status = status
        self.headers = headers

    def into_response(self) -> Response:
        """The compact UTF-8 JSON response (``Content-Type: application/json``)."""
        resp = Response.binary(_dumps(self.value), self.status, content_type="application/json")
        if self.headers is not None:
            _apply_headers(resp, self.headers)
        return resp

    def __repr__(self) -> str:
        return f"JsonResponse({self.value!r})"


class Redirect:
    """A redirect: :meth:`see_other` (303), :meth:`temporary` (307), :meth:`permanent` (308)."""

    __slots__ = ("location", "status")

    def __init__(self, location: str | Uri, status: StatusCode | int) -> None:
        """Redirect to *location* with *status* (prefer the named constructors)."""
        self.location = str(location)
        self.status = StatusCode(int(status))

    @classmethod
    def see_other(cls, location: str | Uri) -> Redirect:
        """``303 See Other``: the client follows with a GET (after a form POST)."""
        return cls(location, StatusCode.SEE_OTHER)

    @classmethod
    def temporary(cls, location: str | Uri) -> Redirect:
        """``307 Temporary Redirect``: same method and body, this time only."""
        return cls(location, StatusCode.TEMPORARY_REDIRECT)

    @classmethod
    def permanent(cls, location: str | Uri) -> Redirect:
        """``308 Permanent Redirect``: same method and body, from now on."""
        return cls(location, StatusCode.PERMANENT_REDIRECT)

    def into_response(self) -> Response:
        """An empty response with the status and a ``Location`` header."""
        return Response.redirect(self.location, self.status)

    def __repr__(self) -> str:
        return f"Redirect({self.location!r}, {int(self.status)})"


def _apply_headers(
    resp: Response, headers: HeaderMap | Mapping[str, str] | Iterable[tuple[str, str]]
) -> None:
    """Set *headers* on *resp*: a name's first value replaces the response's, later ones add."""
    pairs: Iterable[tuple[Any, Any]]
    if isinstance(headers, HeaderMap):
        pairs = headers.raw_items()
    elif isinstance(headers, Mapping):
        pairs = headers.items()
    else:
        pairs = headers
    seen: set[str] = set()
    for name, value in pairs:
        key = (name.decode("latin-1") if isinstance(name, bytes) else name).lower()
        if key in seen:
            resp.headers.add(name, value)
        else:
            seen.add(key)
            resp.headers.set(name, value)


def _empty(status: StatusCode | int) -> Response:
    resp = Response(status)
    return resp


def _from_tuple(value: tuple[Any, ...]) -> Response:
    if len(value) == 2:
        status, body = value
        headers = None
    elif len(value) == 3:
        status, headers, body = value
    else:
        raise TypeError(
            f"a response tuple is (status, body) or (status, headers, body), not {len(value)} items"
        )
    if isinstance(status, bool) or not isinstance(status, int):
        raise TypeError(f"the first item of a response tuple is a status, got {status!r}")
    resp = into_response(body)
    resp.status = status if type(status) is StatusCode else StatusCode(status)
    if headers is not None:
        _apply_headers(resp, headers)
    return resp


def _stream(value: AsyncIterable[bytes]) -> Response:
    return Response(
        StatusCode.OK,
        headers=HeaderMap.from_raw([(b"Content-Type", b"application/octet-stream")]),
        body=Body.from_iter(value),
    )


_BY_TYPE: dict[type[Any], Callable[[Any], Response]] = {
    str: Response.text,
    bytes: Response.binary,
    bytearray: lambda v: Response.binary(bytes(v)),
    memoryview: lambda v: Response.binary(bytes(v)),
    dict: lambda v: Response.binary(_dumps(v), content_type="application/json"),
    list: lambda v: Response.binary(_dumps(v), content_type="application/json"),
    type(None): lambda _: Response(StatusCode.OK),
    tuple: _from_tuple,
    StatusCode: _empty,
    int: _empty,
}


def into_response(value: Any) -> Response:
    """Turn a handler's return value into a :class:`~pyrama_http_types.Response`.

    * a ``Response`` as it is; anything with ``into_response()`` (:class:`IntoResponse`);
    * ``str``: ``text/plain; charset=utf-8``; ``bytes``: ``application/octet-stream``;
    * ``dict``, ``list`` and dataclass instances: compact JSON;
    * ``None``: ``200`` with an empty body (like axum's ``()``); an ``int`` or
      :class:`~pyrama_http_types.StatusCode`: that status, empty body;
    * ``(status, body)`` and ``(status, headers, body)``: *body* converted by these rules,
      then the status and headers applied (headers: a mapping, pairs or a ``HeaderMap``);
    * an async iterable of ``bytes``: a streamed ``application/octet-stream`` body.

    Anything else raises ``TypeError``.
    """
    t = type(value)
    if t is Response:
        return value  # type: ignore[no-any-return]
    conv = _BY_TYPE.get(t)
    if conv is not None:
        return conv(value)
    hook = getattr(value, "into_response", None)
    if hook is not None:
        resp = hook()
        if not isinstance(resp, Response):
            raise TypeError(f"{t.__name__}.into_response() returned {type(resp).__name__}")
        return resp
    if isinstance(value, Response):
        return value
    if isinstance(value, bool):
        raise TypeError("a bool is not a response")
    if isinstance(value, int):
        return _empty(value)
    if isinstance(value, str):
        return Response.text(str(value))
    if isinstance(value, bytes):
        return Response.binary(bytes(value))
    if isinstance(value, tuple):
        return _from_tuple(value)
    if isinstance(value, Mapping):
        return Response.binary(_dumps(dict(value)), content_type="application/json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return Response.binary(_dumps(value), content_type="application/json")
    if isinstance(value, AsyncIterable):
        return _stream(value)
    raise TypeError(f"cannot turn {t.__name__} into a response (see into_response's docs)")
