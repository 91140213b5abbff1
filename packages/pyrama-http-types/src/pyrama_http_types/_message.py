"""Request and Response: an HTTP message head with a body and extensions."""

from __future__ import annotations

import json as _json
from collections.abc import AsyncIterable, Callable
from typing import Any

from pyrama_core import Extensions
from pyrama_http_types._body import Body, memory_body
from pyrama_http_types._headers import HeaderItems, HeaderMap, check_header_value
from pyrama_http_types._method import Method
from pyrama_http_types._status import StatusCode
from pyrama_http_types._uri import Uri
from pyrama_http_types._version import Version

__all__ = ["HeadersLike", "Request", "RequestParts", "Response", "ResponseParts"]

HeadersLike = HeaderMap | HeaderItems
"""What message constructors accept as headers: a :class:`HeaderMap` (used as is), a mapping
or ``(name, value)`` pairs (validated into a new map)."""

BodyLike = Body | bytes | str | AsyncIterable[bytes] | None

# validated Content-Type values of the content constructors (a handful of distinct ones)
_new = object.__new__
# a module global: an enum member look-up (Version.HTTP_11) costs ~1k instructions per use
_HTTP_11 = Version.HTTP_11
_from_raw = HeaderMap.from_raw  # bound once: a classmethod is bound again at every look-up
_CONTENT_TYPES: dict[str, tuple[bytes, bytes]] = {}  # the Content-Type field per value
_CONTENT_TYPES_MAX = 64


def _headers(value: HeadersLike | None) -> HeaderMap:
    if value is None:
        return HeaderMap()
    if isinstance(value, HeaderMap):
        return value
    return HeaderMap(value)


def _body(value: BodyLike) -> Body:
    if isinstance(value, Body):
        return value
    return Body(value)


class Request:
    """An HTTP request: method, target URI, version, headers, body and extensions.

    A plain mutable, slotted object (services replace fields as they go). The constructor
    coerces convenient inputs: a ``str`` method becomes a :class:`Method`, a ``str``/``bytes``
    target a :class:`Uri`, bytes/text/an async iterable a :class:`Body`, and a mapping or pairs
    a validated :class:`HeaderMap`. Protocol drivers pass ready-made objects, which are used as
    they are.
    """

    __slots__ = ("body", "extensions", "headers", "method", "uri", "version")

    method: Method
    """The request method."""
    uri: Uri
    """The request-target as received (or the URI to request)."""
    version: Version
    """The HTTP version."""
    headers: HeaderMap
    """The header fields (order and name case kept)."""
    body: Body
    """The content."""
    extensions: Extensions
    """Typed per-request data (peer address, TLS facts, ...)."""

    def __init__(
        self,
        method: Method | str = Method.GET,
        uri: Uri | str | bytes = "/",
        *,
        version: Version = Version.HTTP_11,
        headers: HeadersLike | None = None,
        body: BodyLike = None,
        extensions: Extensions | None = None,
    ) -> None:
        self.method = method if type(method) is Method else Method(method)
        self.uri = uri if isinstance(uri, Uri) else Uri(uri)
        self.version = version
        self.headers = _headers(headers)
        self.body = _body(body)
        self.extensions = Extensions() if extensions is None else extensions

    def head(self) -> RequestParts:
        """The head (everything but the body); shares headers and extensions with this request."""
        return RequestParts(self.method, self.uri, self.version, self.headers, self.extensions)

    def into_parts(self) -> tuple[RequestParts, Body]:
        """Split into head and body (see :meth:`from_parts`)."""
        return self.head(), self.body

    @classmethod
    def from_parts(cls, parts: RequestParts, body: Body) -> Request:
        """Join a head and a body."""
        req = cls.__new__(cls)
        req.method = parts.method
        req.uri = parts.uri
        req.version = parts.version
        req.headers = parts.headers
        req.body = body
        req.extensions = parts.extensions
        return req

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri} {self.version}>"


class Response:
    """An HTTP response: status, version, headers, body and extensions.

    Like :class:`Request`, mutable and slotted; the constructor coerces an ``int`` status,
    bytes/text/streams as the body and mappings/pairs as headers. :meth:`text`, :meth:`json`,
    :meth:`html`, :meth:`empty` and :meth:`redirect` build the common responses.
    """

    __slots__ = ("_extensions", "body", "headers", "status", "version")

    status: StatusCode
    """The status code."""
    version: Version
    """The HTTP version."""
    headers: HeaderMap
    """The header fields (order and name case kept)."""
    body: Body
    """The content."""

    def __init__(
        self,
        status: StatusCode | int = StatusCode.OK,
        *,
        version: Version = Version.HTTP_11,
        headers: HeadersLike | None = None,
        body: BodyLike = None,
        extensions: Extensions | None = None,
    ) -> None:
        self.status = status if type(status) is StatusCode else StatusCode(status)
        self.version = version
        self.headers = _headers(headers)
        self.body = _body(body)
        self._extensions = extensions

    @property
    def extensions(self) -> Extensions:
        """Typed per-response data.

        Made on first use: most responses (a hello world, a file) never carry a value, and a
        map per response would cost each of them an object.
        """
        ext = self._extensions
        if ext is None:
            ext = self._extensions = Extensions()
        return ext

    @extensions.setter
    def extensions(self, value: Extensions) -> None:
        self._extensions = value

    @classmethod
    def text(
        cls,
        text: str,
        status: StatusCode | int = StatusCode.OK,
        *,
        headers: HeadersLike | None = None,
        content_type: str = "text/plain; charset=utf-8",
    ) -> Response:
        """A UTF-8 text response with ``Content-Type: text/plain; charset=utf-8``."""
        return _content_response(cls, text.encode("utf-8"), content_type, status, headers)

    @classmethod
    def html(
        cls,
        html: str,
        status: StatusCode | int = StatusCode.OK,
        *,
        headers: HeadersLike | None = None,
    ) -> Response:
        """A UTF-8 HTML response with ``Content-Type: text/html; charset=utf-8``."""
        return _content_response(
            cls, html.encode("utf-8"), "text/html; charset=utf-8", status, headers
        )

    @classmethod
    def json(
        cls,
        obj: Any,
        status: StatusCode | int = StatusCode.OK,
        *,
        headers: HeadersLike | None = None,
        default: Callable[[Any], Any] | None = None,
    ) -> Response:
        """A compact JSON response (UTF-8) with ``Content-Type: application/json``."""
        data = _json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=default)
        return _content_response(cls, data.encode("utf-8"), "application/json", status, headers)

    @classmethod
    def binary(
        cls,
        data: bytes,
        status: StatusCode | int = StatusCode.OK,
        *,
        headers: HeadersLike | None = None,
        content_type: str = "application/octet-stream",
    ) -> Response:
        """A binary response with ``Content-Type: application/octet-stream`` by default."""
        return _content_response(cls, data, content_type, status, headers)

    @classmethod
    def empty(
        cls, status: StatusCode | int = StatusCode.NO_CONTENT, *, headers: HeadersLike | None = None
    ) -> Response:
        """A response with an empty body (``204 No Content`` by default)."""
        return cls(status, headers=headers)

    @classmethod
    def redirect(
        cls, location: str | Uri, status: StatusCode | int = StatusCode.SEE_OTHER
    ) -> Response:
        """A redirect (``303 See Other`` by default) to *location*."""
        resp = cls(status)
        resp.headers.add("Location", str(location))
        return resp

    def head(self) -> ResponseParts:
        """The head (everything but the body); shares headers and extensions."""
        return ResponseParts(self.status, self.version, self.headers, self.extensions)

    def into_parts(self) -> tuple[ResponseParts, Body]:
        """Split into head and body (see :meth:`from_parts`)."""
        return self.head(), self.body

    @classmethod
    def from_parts(cls, parts: ResponseParts, body: Body) -> Response:
        """Join a head and a body."""
        resp = cls.__new__(cls)
        resp.status = parts.status
        resp.version = parts.version
        resp.headers = parts.headers
        resp.body = body
        resp._extensions = parts.extensions
        return resp

    def __repr__(self) -> str:
        return f"<Response {int(self.status)} {self.status.reason_phrase} {self.version}>"


class RequestParts:
    """A request head: everything of a :class:`Request` except the body."""

    __slots__ = ("extensions", "headers", "method", "uri", "version")

    def __init__(
        self,
        method: Method,
        uri: Uri,
        version: Version,
        headers: HeaderMap,
        extensions: Extensions,
    ) -> None:
        self.method = method
        """The request method."""
        self.uri = uri
        """The request-target."""
        self.version = version
        """The HTTP version."""
        self.headers = headers
        """The header fields."""
        self.extensions = extensions
        """Typed per-request data."""

    def __repr__(self) -> str:
        return f"<RequestParts {self.method} {self.uri} {self.version}>"


class ResponseParts:
    """A response head: everything of a :class:`Response` except the body."""

    __slots__ = ("extensions", "headers", "status", "version")

    def __init__(
        self, status: StatusCode, version: Version, headers: HeaderMap, extensions: Extensions
    ) -> None:
        self.status = status
        """The status code."""
        self.version = version
        """The HTTP version."""
        self.headers = headers
        """The header fields."""
        self.extensions = extensions
        """Typed per-response data."""

    def __repr__(self) -> str:
        return f"<ResponseParts {int(self.status)} {self.version}>"


def _content_response(
    cls: type[Response],
    data: bytes,
    content_type: str,
    status: StatusCode | int,
    headers: HeadersLike | None,
) -> Response:
    """What :meth:`Response.text`, ``html``, ``json`` and ``binary`` return.

    A module function rather than a classmethod: once per response, and calling it costs
    less than binding and calling a classmethod.
    """
    if headers is None:
        cacheable = type(content_type) is str
        field = _CONTENT_TYPES.get(content_type) if cacheable else None
        if field is None:
            field = (b"Content-Type", check_header_value(content_type))
            if cacheable and len(_CONTENT_TYPES) < _CONTENT_TYPES_MAX:
                _CONTENT_TYPES[content_type] = field
        hmap = _from_raw([field])
    else:
        hmap = _headers(headers)
        if "content-type" not in hmap:
            hmap.add("Content-Type", content_type)
    if cls is not Response:  # a subclass gets its own constructor
        return cls(status, headers=hmap, body=Body(data))
    # every part is ready-made: fill the slots instead of the coercing constructor
    resp: Response = _new(Response)
    resp.status = status if type(status) is StatusCode else StatusCode(status)
    resp.version = _HTTP_11
    resp.headers = hmap
    resp.body = memory_body(data) if type(data) is bytes else Body(data)
    resp._extensions = None  # made on first use
    return resp
