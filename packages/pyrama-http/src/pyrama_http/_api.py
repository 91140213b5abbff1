"""The high-level client API: ``await client.get(url).header(k, v).json(obj).send()``."""

from __future__ import annotations

import asyncio
import builtins
import json as _json
import urllib.parse
from collections.abc import AsyncIterable, AsyncIterator, Callable, Generator, Iterable, Mapping
from types import TracebackType
from typing import Any, Final, TypeAlias

from pyrama_core import Extensions, Service
from pyrama_core.errors import ConfigError
from pyrama_http._easy import EasyHttpWebClient
from pyrama_http._target import RequestTimeout, TargetHttpVersion
from pyrama_http.errors import HttpStatusError, InvalidRequestError, RequestTimeoutError
from pyrama_http_types import (
    Body,
    HeaderMap,
    HeadersLike,
    Method,
    MimeType,
    Request,
    Response,
    StatusCode,
    Uri,
    Version,
)
from pyrama_http_types.errors import BodyError, HttpError
from pyrama_net import Basic, Bearer
from pyrama_net.errors import AddressError

__all__ = ["ClientResponse", "HttpClient", "QueryParams", "RequestBuilder"]

QueryParams: TypeAlias = Mapping[str, Any] | Iterable[tuple[str, Any]]
"""Query parameters: a mapping or ``(name, value)`` pairs; values are turned into text."""

_URL_SAFE: Final = ":/?#[]@!$&'()*+,;=%~"


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _pairs(params: QueryParams) -> list[tuple[str, str]]:
    items: Iterable[tuple[str, Any]]
    items = params.items() if isinstance(params, Mapping) else params
    out: list[tuple[str, str]] = []
    for name, value in items:
        if isinstance(value, list | tuple):
            out.extend((str(name), _query_value(v)) for v in value)
        else:
            out.append((str(name), _query_value(value)))
    return out


class RequestBuilder:
    """Builds one request step by step; :meth:`send` (or ``await builder``) sends it.

    Made by :meth:`HttpClient.get` and friends. Every method returns the builder, so calls
    chain. Header fields go out in the order they were added, with the case given.
    """

    __slots__ = (
        "_body",
        "_client",
        "_content_type",
        "_extensions",
        "_headers",
        "_method",
        "_query",
        "_timeout",
        "_url",
        "_version",
    )

    def __init__(self, client: HttpClient, method: Method | str, url: str | Uri) -> None:
        """Start a request of *method* to *url* (absolute, or relative to the base URL)."""
        self._client = client
        self._method = method if isinstance(method, Method) else Method(method)
        self._url = url
        self._headers = HeaderMap()
        self._query: list[tuple[str, str]] = []
        self._body: Body | None = None
        self._content_type: str | None = None
        self._timeout: float | None = None
        self._version: Version | None = None
        self._extensions: list[object] = []

    # -- head -------------------------------------------------------------------------------

    def header(self, name: str | bytes, value: str | bytes) -> RequestBuilder:
        """Add a header field (kept beside other fields of the same name)."""
        self._headers.add(name, value)
        return self

    def headers(self, headers: HeadersLike) -> RequestBuilder:
        """Add several header fields, in order."""
        self._headers.extend(headers)
        return self

    def query(self, params: QueryParams) -> RequestBuilder:
        """Add query parameters (appended to any query the URL already has)."""
        self._query.extend(_pairs(params))
        return self

    def basic_auth(self, username: str, password: str = "") -> RequestBuilder:
        """Set ``Authorization: Basic ...``."""
        try:
            value = Basic(username, password).encode_header_value()
        except AddressError as exc:
            raise InvalidRequestError(str(exc)) from exc
        self._headers.set("Authorization", value)
        return self

    def bearer_auth(self, token: str) -> RequestBuilder:
        """Set ``Authorization: Bearer <token>``."""
        try:
            value = Bearer(token).encode_header_value()
        except AddressError as exc:
            raise InvalidRequestError(str(exc)) from exc
        self._headers.set("Authorization", value)
        return self

    def timeout(self, seconds: float) -> RequestBuilder:
        """Bound the whole exchange (response body included) to *seconds*."""
        RequestTimeout(seconds)  # validates
        self._timeout = seconds
        return self

    def version(self, version: Version) -> RequestBuilder:
        """Demand an HTTP version (``Version.HTTP_2`` or ``Version.HTTP_11``)."""
        TargetHttpVersion(version)  # validates
        self._version = version
        return self

    def extension(self, value: object) -> RequestBuilder:
        """Insert *value* into the request's extensions (keyed by its type)."""
        self._extensions.append(value)
        return self

    # -- body -------------------------------------------------------------------------------

    def body(
        self,
        content: bytes | str | AsyncIterable[bytes] | Body,
        *,
        size: int | None = None,
        content_type: str | None = None,
    ) -> RequestBuilder:
        """Send *content*: bytes, text (UTF-8), a :class:`Body` or an async iterable of chunks.

        A stream of unknown *size* is sent chunked (HTTP/1.1) or as DATA frames (HTTP/2).
        """
        if isinstance(content, Body):
            self._body = content
        elif isinstance(content, bytes | bytearray | memoryview | str):
            self._body = Body(content)
        else:
            self._body = Body.from_iter(content, size_hint=size)
        if content_type is not None:
            self._content_type = content_type
        return self

    def json(self, obj: Any) -> RequestBuilder:
        """Send *obj* as compact UTF-8 JSON with ``Content-Type: application/json``."""
        data = _json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        self._body = Body(data)
        self._content_type = "application/json"
        return self

    def form(self, data: QueryParams) -> RequestBuilder:
        """Send *data* URL-encoded (``application/x-www-form-urlencoded``)."""
        self._body = Body(urllib.parse.urlencode(_pairs(data)).encode("ascii"))
        self._content_type = "application/x-www-form-urlencoded"
        return self

    # -- building and sending ---------------------------------------------------------------

    def build(self) -> Request:
        """The :class:`~pyrama_http_types.Request` this builder describes."""
        uri = self._client._resolve(self._url)
        headers = self._headers
        userinfo = uri.userinfo
        if userinfo is not None:
            user, _, password = userinfo.partition(":")
            if "authorization" not in headers:
                self.basic_auth(urllib.parse.unquote(user), urllib.parse.unquote(password))
            uri = uri.without_userinfo()
        if self._query:
            extra = urllib.parse.urlencode(self._query)
            q = uri.query
            uri = uri.with_query(extra if not q else f"{q}&{extra}")
        default_headers = self._client._default_headers
        if default_headers:
            merged = HeaderMap()
            for name, value in default_headers.raw_items():
                if name not in headers:
                    merged.add(name, value)
            merged.extend(headers)
            headers = merged
        if self._content_type is not None and "content-type" not in headers:
            headers.add("Content-Type", self._content_type)
        ext = Extensions()
        for item in self._extensions:
            ext.insert(item)
        version = Version.HTTP_11
        if self._version is not None:
            version = self._version
            ext.insert(TargetHttpVersion(version))
        timeout = self._timeout if self._timeout is not None else self._client._timeout
        if timeout is not None:
            ext.insert(RequestTimeout(timeout))
        body = self._body if self._body is not None else Body.empty()
        return Request(
            self._method, uri, version=version, headers=headers, body=body, extensions=ext
        )

    async def send(self) -> ClientResponse:
        """Send the request; the response's head has arrived when this returns."""
        return await self._client.send(self.build())

    def __await__(self) -> Generator[Any, None, ClientResponse]:
        return self.send().__await__()

    def __repr__(self) -> str:
        return f"<RequestBuilder {self._method} {self._url}>"


class ClientResponse:
    """A response as :class:`HttpClient` hands it out: head facts and body readers.

    The body is read once: with :meth:`bytes`, :meth:`text`, :meth:`json` or by iterating
    :meth:`stream`. A status of 400 or more is not an error until :meth:`raise_for_status`.
    ``async with`` (or :meth:`aclose`) discards an unread body, which gives an HTTP/1.1
    connection back by closing it.
    """

    __slots__ = ("_deadline", "_request", "_response", "_timeout")

    def __init__(
        self,
        response: Response,
        request: Request,
        deadline: float | None = None,
        timeout: float | None = None,
    ) -> None:
        """Wrap *response* to *request*; *deadline* (loop time) bounds the body reads."""
        self._response = response
        self._request = request
        self._deadline = deadline
        self._timeout = timeout

    @property
    def raw(self) -> Response:
        """The underlying :class:`~pyrama_http_types.Response`."""
        return self._response

    @property
    def request(self) -> Request:
        """The request this answers."""
        return self._request

    @property
    def url(self) -> Uri:
        """The URL that was requested."""
        return self._request.uri

    @property
    def status(self) -> StatusCode:
        """The status code."""
        return self._response.status

    @property
    def headers(self) -> HeaderMap:
        """The header fields (order and case as received)."""
        return self._response.headers

    @property
    def version(self) -> Version:
        """The HTTP version of the response."""
        return self._response.version

    @property
    def extensions(self) -> Extensions:
        """Typed facts: the request's extensions, ``SocketInfo``, ``NegotiatedTls``, ..."""
        return self._response.extensions

    @property
    def body(self) -> Body:
        """The body (streamed; read once)."""
        return self._response.body

    @property
    def is_success(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= int(self._response.status) < 300

    def raise_for_status(self) -> ClientResponse:
        """Raise :class:`~pyrama_http.errors.HttpStatusError` for a status >= 400; else self."""
        status = int(self._response.status)
        if status >= 400:
            kind = "client error" if status < 500 else "server error"
            raise HttpStatusError(
                f"{status} {self._response.status.reason_phrase} ({kind}) "
                f"for {self._request.method} {self._request.uri}",
                response=self,
            )
        return self

    async def _bounded(self, fn: Callable[[], Any]) -> Any:
        deadline = self._deadline
        if deadline is None:
            return await fn()
        scope = asyncio.timeout_at(deadline)
        try:
            async with scope:
                return await fn()
        except TimeoutError as exc:
            if not scope.expired():
                raise
            raise RequestTimeoutError(
                f"the response body was not read within {self._timeout:g}s",
                seconds=self._timeout,
            ) from exc

    async def bytes(self, *, limit: int | None = None) -> builtins.bytes:
        """Read the whole body (at most *limit* bytes, else ``BodyTooLargeError``)."""
        body = self._response.body
        data: builtins.bytes = await self._bounded(lambda: body.read_all(limit))
        return data

    async def text(self, encoding: str | None = None, *, limit: int | None = None) -> str:
        """Read the body and decode it (*encoding*, else the ``charset``, else UTF-8)."""
        data = await self.bytes(limit=limit)
        enc = encoding or self.charset or "utf-8"
        try:
            return data.decode(enc)
        except (UnicodeDecodeError, LookupError) as exc:
            raise BodyError(f"the body is not valid {enc}") from exc

    async def json(self, *, limit: int | None = None) -> Any:
        """Read the body and parse it as JSON."""
        data = await self.bytes(limit=limit)
        try:
            return _json.loads(data)
        except ValueError as exc:
            raise BodyError(f"the body is not valid JSON: {exc}") from exc

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of ``Content-Type``, if any."""
        ct = self._response.headers.get("content-type")
        if ct is None:
            return None
        try:
            return MimeType.parse(ct).charset
        except ValueError:
            return None

    async def stream(self) -> AsyncIterator[builtins.bytes]:
        """Yield the body's chunks as they arrive."""
        body = self._response.body
        it = body.__aiter__()
        deadline = self._deadline
        try:
            while True:
                if deadline is None:
                    try:
                        chunk = await it.__anext__()
                    except StopAsyncIteration:
                        return
                else:
                    try:
                        chunk = await self._bounded(it.__anext__)
                    except StopAsyncIteration:
                        return
                yield chunk
        finally:
            if not _finished(body):
                await body.aclose()

    async def aclose(self) -> None:
        """Discard the body if it was not read (idempotent)."""
        body = self._response.body
        if not _finished(body):
            await body.aclose()

    async def __aenter__(self) -> ClientResponse:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        r = self._response
        return f"<ClientResponse {int(r.status)} {r.status.reason_phrase} {r.version}>"


def _finished(body: Body) -> bool:
    try:
        body.trailers  # noqa: B018 - raises until the body was read to its end
    except BodyError:
        return False
    return True


class HttpClient:
    """The friendly face of an HTTP client service.

    ``HttpClient()`` wraps a new :class:`~pyrama_http.EasyHttpWebClient` (keyword arguments
    not listed here go to it); ``HttpClient(service)`` wraps any
    ``Service[Request, Response]`` (a client with layers around it, a test double...).

    >>> async with HttpClient() as client:                              # doctest: +SKIP
    ...     resp = await client.get("https://example.com/").query({"q": "x"}).send()
    ...     data = await resp.json()

    *base_url* resolves relative URLs (``client.get("/path")``); *headers* are sent with
    every request (a request's own field of the same name replaces them); *timeout* bounds
    every exchange unless a request sets its own. ``async with`` closes the pooled
    connections (it calls the service's ``close()`` when it has one).
    """

    __slots__ = ("_base", "_default_headers", "_service", "_timeout")

    def __init__(
        self,
        service: Service[Request, Response] | None = None,
        *,
        base_url: str | None = None,
        headers: HeadersLike | None = None,
        timeout: float | None = None,
        **client_settings: Any,
    ) -> None:
        """Wrap *service*, or a new ``EasyHttpWebClient(**client_settings)``."""
        if service is not None and client_settings:
            raise ConfigError("client settings apply to the default client; configure yours")
        self._service: Service[Request, Response] = (
            EasyHttpWebClient(**client_settings) if service is None else service
        )
        if timeout is not None:
            RequestTimeout(timeout)  # validates
        self._timeout = timeout
        self._default_headers = HeaderMap() if headers is None else HeaderMap(headers)
        self._base: Uri | None = None
        if base_url is not None:
            base = Uri(base_url)
            if not base.is_absolute:
                raise ConfigError(f"base_url must be an absolute URL, got {base_url!r}")
            self._base = base

    @property
    def service(self) -> Service[Request, Response]:
        """The service requests are sent with."""
        return self._service

    def _resolve(self, url: str | Uri) -> Uri:
        if isinstance(url, Uri):
            uri = url
        else:
            text = url if url.isascii() else urllib.parse.quote(url, safe=_URL_SAFE)
            try:
                uri = Uri(text, allow_fragment=True)
            except HttpError as exc:
                raise InvalidRequestError(f"invalid URL {url!r}: {exc}") from exc
        if uri.fragment is not None:
            uri = uri.with_fragment(None)
        if uri.is_absolute:
            return uri
        base = self._base
        if base is None or not str(uri).startswith("/"):
            raise InvalidRequestError(f"{str(uri)!r} is not an absolute http(s) URL")
        prefix = base.path.rstrip("/")
        return base.with_path_and_query(prefix + uri.path_and_query)

    # -- request builders -------------------------------------------------------------------

    def request(self, method: Method | str, url: str | Uri) -> RequestBuilder:
        """Start a request with any method."""
        return RequestBuilder(self, method, url)

    def get(self, url: str | Uri) -> RequestBuilder:
        """Start a ``GET``."""
        return RequestBuilder(self, Method.GET, url)

    def head(self, url: str | Uri) -> RequestBuilder:
        """Start a ``HEAD``."""
        return RequestBuilder(self, Method.HEAD, url)

    def post(self, url: str | Uri) -> RequestBuilder:
        """Start a ``POST``."""
        return RequestBuilder(self, Method.POST, url)

    def put(self, url: str | Uri) -> RequestBuilder:
        """Start a ``PUT``."""
        return RequestBuilder(self, Method.PUT, url)

    def patch(self, url: str | Uri) -> RequestBuilder:
        """Start a ``PATCH``."""
        return RequestBuilder(self, Method.PATCH, url)

    def delete(self, url: str | Uri) -> RequestBuilder:
        """Start a ``DELETE``."""
        return RequestBuilder(self, Method.DELETE, url)

    def options(self, url: str | Uri) -> RequestBuilder:
        """Start an ``OPTIONS``."""
        return RequestBuilder(self, Method.OPTIONS, url)

    # -- sending ----------------------------------------------------------------------------

    async def send(self, request: Request) -> ClientResponse:
        """Send a ready :class:`~pyrama_http_types.Request` and wrap its response.

        A :class:`~pyrama_http.RequestTimeout` extension (or the client's *timeout*) bounds
        the exchange, body reads included, whatever the service.
        """
        demand = request.extensions.get(RequestTimeout)
        if demand is None and self._timeout is not None:
            demand = RequestTimeout(self._timeout)
            request.extensions.insert(demand)
        if demand is None or isinstance(self._service, EasyHttpWebClient):
            # the easy client enforces the deadline itself, body reads included
            return ClientResponse(await self._service.serve(request), request)
        timeout = demand.seconds
        deadline = asyncio.get_running_loop().time() + timeout
        scope = asyncio.timeout_at(deadline)
        try:
            async with scope:
                response = await self._service.serve(request)
        except TimeoutError as exc:
            if not scope.expired():
                raise
            raise RequestTimeoutError(
                f"no response within {timeout:g}s for {request.method} {request.uri}",
                seconds=timeout,
            ) from exc
        return ClientResponse(response, request, deadline, timeout)

    async def close(self) -> None:
        """Close the service's connections (when it has a ``close()``)."""
        close = getattr(self._service, "close", None)
        if callable(close):
            result = close()
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                await result

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"HttpClient({self._service!r})"
