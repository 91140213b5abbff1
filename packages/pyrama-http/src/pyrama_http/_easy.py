"""EasyHttpWebClient: a pooled HTTP/1.1 + HTTP/2 client as a ``Service[Request, Response]``."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Final

from pyrama_core.errors import ConfigError
from pyrama_http._connector import HttpConnector, StreamConnector
from pyrama_http._pool import (
    H1Handle,
    H2Handle,
    HttpConnectionPool,
    HttpPoolStats,
    PooledConnection,
)
from pyrama_http._proxy_connector import HttpProxyForward, ProxyConnector
from pyrama_http._proxy_env import NoProxy, ProxyConfig
from pyrama_http._target import (
    HttpConnectTarget,
    HttpVersionPolicy,
    RequestTimeout,
    TargetHttpVersion,
)
from pyrama_http.errors import RequestTimeoutError
from pyrama_http_core import H2ClientConfig, Http1ClientConfig, Http1ClientConnection
from pyrama_http_core.errors import ConnectionClosedError, H2GoAwayError, H2StreamResetError
from pyrama_http_types import (
    Body,
    HeaderMap,
    Request,
    Response,
    Uri,
    UriForm,
    check_header_value,
    memory_body,
)
from pyrama_http_types.errors import BodyError
from pyrama_net import ConnectTimeoutError, ProxyAddress
from pyrama_tcp import TcpConnector
from pyrama_tls import CertifiedKey, TlsConnectorData

__all__ = ["DEFAULT_USER_AGENT", "EasyHttpWebClient"]

DEFAULT_USER_AGENT: Final = "pyrama/0.1"
"""The ``User-Agent`` the client sends when a request has none."""

_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
_TARGET_CACHE_MAX: Final = 1024
# the request extensions that change how one request is sent (has_any: one walk for all)
_PER_REQUEST_DEMANDS: Final = frozenset({TargetHttpVersion, ProxyAddress, RequestTimeout})
_ORIGIN_FORMS: dict[bytes, Uri] = {}
_ORIGIN_FORMS_MAX: Final = 1024
_orphans: set[asyncio.Task[None]] = set()
_new = object.__new__


class EasyHttpWebClient:
    """An HTTP client service: ``response = await client.serve(request)``.

    Requests carry an absolute ``http://`` or ``https://`` URI. The client finds a connection
    in its :class:`~pyrama_http.HttpConnectionPool` or makes one with its
    :class:`~pyrama_http.HttpConnector` (TCP, TLS for https with ALPN, then the HTTP/1.1 or
    HTTP/2 driver), sends the request and returns the response as soon as its head arrived.
    The body streams from the connection: an HTTP/1.1 connection goes back to the pool once
    the body is read to its end (or closed, which closes the connection), or at once when the
    whole body arrived with the head (it is then in memory); HTTP/2 connections are shared by
    concurrent requests.

    On the wire, header fields keep the case and order they have in the request. HTTP/1.1
    gets a ``Host`` field first when the request has none, and the origin-form target; HTTP/2
    gets ``:authority`` and ``:path`` from the URI. Requests without ``User-Agent`` get
    *user_agent* (``None``: send none).

    Settings:

    * *version_policy*: see :class:`~pyrama_http.HttpVersionPolicy` (a request's
      :class:`~pyrama_http.TargetHttpVersion` extension overrides it).
    * *tls*: a :class:`~pyrama_tls.TlsConnectorData` (certificates verified by default), or
      the shortcuts *insecure*, *ca_file*, *client_certificate*.
    * *connect_timeout*: seconds to get a new connection ready (TCP, TLS, HTTP/2 preface);
      :class:`~pyrama_net.ConnectTimeoutError`.
    * *request_timeout*: seconds for a whole exchange (a connection, the response head and
      the response body read to its end); :class:`~pyrama_http.errors.RequestTimeoutError`.
      A request's :class:`~pyrama_http.RequestTimeout` extension can shorten it.
    * *idle_timeout*, *max_connections*, *max_connections_per_host*, *max_idle_per_host*:
      pool limits (see :class:`~pyrama_http.HttpConnectionPool`).
    * *max_retries*: how often a request is sent again on another connection when it
      certainly was not processed (HTTP/2 GOAWAY or REFUSED_STREAM, a connection closed
      before the request went out) or when a reused HTTP/1.1 connection turned out dead and
      the method is idempotent. Only requests with an in-memory body are retried.
    * Proxies: *proxy* (``"http://user:pass@127.0.0.1:3128"``, ``https://...``,
      ``socks5://...``, ``socks5h://...`` or a :class:`~pyrama_net.ProxyAddress`) sends every
      request through that proxy except for hosts in *no_proxy* (see
      :class:`~pyrama_http.NoProxy`). Without *proxy* and with *trust_env* (the default) the
      environment decides: ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY`` (either
      case; see :class:`~pyrama_http.ProxyConfig`; a *no_proxy* given here replaces
      ``NO_PROXY``). A request's own
      :class:`~pyrama_net.ProxyAddress` extension wins over both. ``https`` targets go
      through a ``CONNECT`` tunnel, plain ``http`` targets through an HTTP proxy as
      absolute-form requests (with ``Proxy-Authorization``); *proxy_tls* is the TLS to an
      ``https://`` proxy itself.
    * *transport*: the stream connector under TLS (default a
      :class:`~pyrama_http.ProxyConnector` over :class:`~pyrama_tcp.TcpConnector`, which
      connects directly or through the target's proxy); it gets the
      :class:`~pyrama_http.HttpConnectTarget`, whose ``proxy`` is the proxy chosen for the
      request. *connector* replaces the whole :class:`~pyrama_http.HttpConnector`.
    """

    __slots__ = (
        "_connect_timeout",
        "_connector",
        "_max_retries",
        "_policy",
        "_pool",
        "_proxies",
        "_request_timeout",
        "_routes",
        "_targets",
        "_user_agent",
    )

    def __init__(
        self,
        *,
        version_policy: HttpVersionPolicy = HttpVersionPolicy.AUTO,
        tls: TlsConnectorData | None = None,
        insecure: bool = False,
        ca_file: str | None = None,
        client_certificate: CertifiedKey | None = None,
        connect_timeout: float | None = 30.0,
        request_timeout: float | None = None,
        idle_timeout: float | None = 90.0,
        max_connections: int | None = 100,
        max_connections_per_host: int | None = None,
        max_idle_per_host: int = 10,
        max_retries: int = 1,
        user_agent: str | None = DEFAULT_USER_AGENT,
        http1_config: Http1ClientConfig | None = None,
        h2_config: H2ClientConfig | None = None,
        transport: StreamConnector | None = None,
        connector: HttpConnector | None = None,
        proxy: ProxyAddress | str | None = None,
        no_proxy: str | Iterable[str] | None = None,
        trust_env: bool = True,
        proxy_tls: TlsConnectorData | None = None,
    ) -> None:
        """Configure the client (see the class docs); :class:`ConfigError` on bad values."""
        if not isinstance(version_policy, HttpVersionPolicy):
            raise ConfigError(f"version_policy must be HttpVersionPolicy, got {version_policy!r}")
        for name, t in (
            ("connect_timeout", connect_timeout),
            ("request_timeout", request_timeout),
        ):
            if t is not None and not t > 0:
                raise ConfigError(f"{name} must be > 0 seconds or None, got {t!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigError(f"max_retries must be an int >= 0, got {max_retries!r}")
        shortcuts = insecure or ca_file is not None or client_certificate is not None
        if tls is not None and shortcuts:
            raise ConfigError("give tls=TlsConnectorData(...) or the TLS shortcuts, not both")
        if connector is not None and (
            tls is not None or shortcuts or transport is not None or http1_config or h2_config
        ):
            raise ConfigError("with connector=..., configure TLS and drivers on the connector")
        if tls is None and shortcuts:
            tls = TlsConnectorData(
                insecure=insecure, ca_file=ca_file, client_certificate=client_certificate
            )
        own_transport = connector is None and transport is None
        if proxy_tls is not None and not own_transport:
            raise ConfigError("proxy_tls configures the default transport; not with transport=")
        proxies: ProxyConfig | None = None
        if proxy is not None:
            proxies = ProxyConfig.fixed(proxy, None if no_proxy is None else _no_proxy(no_proxy))
        elif trust_env and own_transport:
            proxies = ProxyConfig.from_env()
            if no_proxy is not None:
                proxies = proxies.with_no_proxy(_no_proxy(no_proxy))
        self._proxies = None if proxies is None or proxies.is_empty else proxies
        if connector is None:
            if transport is None:
                transport = ProxyConnector(
                    TcpConnector(connect_timeout=connect_timeout), tls=proxy_tls
                )
            connector = HttpConnector(
                transport, tls=tls, http1_config=http1_config, h2_config=h2_config
            )
        self._user_agent = None if user_agent is None else check_header_value(user_agent)
        self._policy = version_policy
        self._connector = connector
        self._connect_timeout = connect_timeout
        self._request_timeout = request_timeout
        self._max_retries = max_retries
        self._targets: dict[tuple[str | None, str | None], HttpConnectTarget] = {}
        self._routes: dict[bytes, tuple[HttpConnectTarget, bytes]] = {}
        self._pool = HttpConnectionPool(
            self._connect,
            max_connections=max_connections,
            max_connections_per_host=max_connections_per_host,
            max_idle_per_host=max_idle_per_host,
            idle_timeout=idle_timeout,
        )

    # -- facts ------------------------------------------------------------------------------

    @property
    def connector(self) -> HttpConnector:
        """The connector new connections come from."""
        return self._connector

    @property
    def pool(self) -> HttpConnectionPool:
        """The connection pool."""
        return self._pool

    @property
    def version_policy(self) -> HttpVersionPolicy:
        """The default version policy."""
        return self._policy

    def stats(self) -> HttpPoolStats:
        """Counts of pooled connections."""
        return self._pool.stats()

    # -- lifetime ---------------------------------------------------------------------------

    async def close(self) -> None:
        """Close every pooled connection; requests after this fail."""
        await self._pool.close()

    async def __aenter__(self) -> EasyHttpWebClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the exchange -----------------------------------------------------------------------

    async def _connect(self, target: HttpConnectTarget) -> PooledConnection:
        timeout = self._connect_timeout
        if timeout is None:
            return await self._connector.serve(target)
        scope = asyncio.timeout(timeout)
        try:
            async with scope:
                return await self._connector.serve(target)
        except TimeoutError as exc:
            if not scope.expired():
                raise
            raise ConnectTimeoutError(target.host, target.port, timeout) from exc

    def _target(self, request: Request) -> HttpConnectTarget:
        """Where *request* goes: its :class:`HttpConnectTarget` (``request`` not set).

        Cached per scheme and authority for requests without a
        :class:`~pyrama_http.TargetHttpVersion` or :class:`~pyrama_net.ProxyAddress`
        extension (they decide per request): the same few origins come again and again.
        """
        uri = request.uri
        ext = request.extensions
        cacheable = ext.get(TargetHttpVersion) is None and ext.get(ProxyAddress) is None
        if cacheable:
            key = (uri.scheme, uri.authority_text)
            target = self._targets.get(key)
            if target is not None:
                return target
        target = HttpConnectTarget.for_request(request, self._policy)
        proxies = self._proxies
        if proxies is not None and target.proxy is None:
            chosen = proxies.select(target.scheme, target.host, target.port)
            if chosen is not None:
                target = dataclasses.replace(target, proxy=chosen)
        target = dataclasses.replace(target, request=None)
        if cacheable:
            targets = self._targets
            if len(targets) >= _TARGET_CACHE_MAX:
                targets.clear()
            targets[key] = target
        return target

    def _route(self, request: Request) -> tuple[HttpConnectTarget, bytes]:
        """:meth:`_target` and the origin-form target bytes of *request*.

        Kept per URI (by its exact bytes) for requests without the per-request
        extensions :meth:`_target` looks at: the look-up of every request to a known URI.
        """
        uri = request.uri
        raw = uri.as_bytes()
        ext = request.extensions
        if ext.get(TargetHttpVersion) is None and ext.get(ProxyAddress) is None:
            known = self._routes.get(raw)
            if known is not None:
                return known
            route = (self._target(request), _origin_form(uri).as_bytes())
            if uri.form is UriForm.ABSOLUTE and type(raw) is bytes:
                routes = self._routes
                if len(routes) >= _TARGET_CACHE_MAX:
                    routes.clear()
                routes[raw] = route
            return route
        return self._target(request), _origin_form(uri).as_bytes()

    async def serve(self, request: Request, /) -> Response:
        """Send *request* and return the response once its head arrived (the body streams)."""
        ext = request.extensions
        route = None
        # one walk of the extensions for the three per-request demands (usually none)
        plain = not ext.has_any(_PER_REQUEST_DEMANDS)
        if plain:
            route = self._routes.get(request.uri.as_bytes())  # _route()'s hit, inline
        if route is None:
            route = self._route(request)
        target, origin = route
        timeout = self._request_timeout
        demand = None if plain else ext.get(RequestTimeout)
        if demand is not None:
            timeout = demand.seconds if timeout is None else min(timeout, demand.seconds)
        # the exchange runs here, not in a coroutine of its own (one frame less per request);
        # with a deadline the timeout scope is entered and left by hand around it
        scope: asyncio.Timeout | None = None
        deadline: float | None = None
        if timeout is not None:
            deadline = asyncio.get_running_loop().time() + timeout
            scope = asyncio.timeout_at(deadline)
            await scope.__aenter__()
        try:
            body = request.body
            trailers: HeaderMap | None = None
            data = body.try_take_bytes(True)  # in memory without trailers: the usual request
            if data is None:
                data = body.try_take_bytes()  # None for a stream, or a body being read
                if data is not None:
                    trailers = body.trailers
            attempt = 0
            pool = self._pool
            while True:
                handle = pool.acquire_idle(target)
                if handle is None:
                    handle = await pool.acquire(target, request)
                est = handle.established
                conn = est.conn
                if data is not None:
                    body = memory_body(data) if trailers is None else Body(data, trailers=trailers)
                try:
                    if not isinstance(conn, Http1ClientConnection):
                        response = await conn.send_request(self._h2_wire(request, body))
                    elif self._user_agent is None and est.target.proxy is None:
                        # nothing to add: the request as it is, with the origin-form target
                        response = await conn.send_request(request, target=origin, body=body)
                    else:
                        wire_target, fields = self._h1_wire(request, origin, est)
                        response = await conn.send_request(
                            request, target=wire_target, fields=fields, body=body
                        )
                except BaseException as exc:
                    await handle.done(False)
                    if (
                        isinstance(exc, Exception)
                        and data is not None
                        and attempt < self._max_retries
                        and _retryable(exc, handle, request)
                    ):
                        attempt += 1
                        continue
                    raise
                if deadline is None and type(conn) is Http1ClientConnection and not conn.is_busy:
                    # the whole exchange is over (a body that came with the head is in memory)
                    response.extensions.extend(est.extensions)
                    handle.done_nowait(not conn.is_closed)
                else:
                    response = await self._finish(response, request, handle, est, deadline, timeout)
                break
        except BaseException as exc:
            if scope is None:
                raise
            try:
                await scope.__aexit__(type(exc), exc, exc.__traceback__)
            except TimeoutError as timed_out:
                if not scope.expired():
                    raise
                raise RequestTimeoutError(
                    f"no response from {target.authority} within {timeout:g}s", seconds=timeout
                ) from timed_out
            raise
        if scope is not None:
            await scope.__aexit__(None, None, None)
        return response

    def _h1_wire(
        self, request: Request, origin: bytes, est: PooledConnection
    ) -> tuple[bytes, list[tuple[bytes, bytes]] | None]:
        """What the HTTP/1.1 driver sends instead of the request's: target bytes and fields.

        The request keeps its absolute URI (the driver adds ``Host`` from it when there is
        none); the target is the origin form, or the absolute form (without userinfo) through
        a forwarding HTTP proxy, which also gets its ``Proxy-Authorization``. ``None`` fields:
        the request's own.
        """
        headers = request.headers
        uri = request.uri
        fields: list[tuple[bytes, bytes]] | None = None
        ua = self._user_agent
        if ua is not None and b"user-agent" not in headers:
            fields = [*headers.raw_items(), (b"User-Agent", ua)]
        if est.target.proxy is None:
            return origin, fields
        forward = est.extensions.get(HttpProxyForward)
        if forward is None:  # a tunnel through the proxy: as if direct
            return origin, fields
        cred = forward.proxy.credential
        if cred is not None and b"proxy-authorization" not in headers:
            value = cred.encode_header_value().encode("latin-1")
            if fields is None:
                fields = headers.raw_items()
            fields.append((b"Proxy-Authorization", value))
        if uri.userinfo is not None:
            uri = uri.without_userinfo()
        return uri.as_bytes(), fields

    def _h2_wire(self, request: Request, body: Body) -> Request:
        """The request as the HTTP/2 driver sends it (with *user_agent* when it has none)."""
        ua = self._user_agent
        headers = request.headers
        if ua is not None and b"user-agent" not in headers:
            headers = HeaderMap.from_raw([*headers.raw_items(), (b"user-agent", ua)])
        return _rewire(request, body, headers)

    async def _finish(
        self,
        response: Response,
        request: Request,
        handle: H1Handle | H2Handle,
        est: PooledConnection,
        deadline: float | None,
        timeout: float | None,  # noqa: ASYNC109 - reported in errors; the deadline rules
    ) -> Response:
        conn = est.conn
        if isinstance(conn, Http1ClientConnection):
            response.extensions.extend(est.extensions)
            if not conn.is_busy:  # no body to read (HEAD, 204, a switch): the lease is over
                await handle.done(not conn.is_closed)
                if deadline is None:
                    return response
                handle_or_none: H1Handle | H2Handle | None = None
            else:
                handle_or_none = handle
        else:
            ext = request.extensions.fork()
            ext.extend(response.extensions)
            response.extensions = ext
            handle_or_none = handle
            if deadline is None:
                return response
        inner = response.body
        guard = _BodyGuard(inner, handle_or_none, deadline, timeout)
        response.body = Body.from_iter(guard, size_hint=inner.size_hint, trailers=guard.trailers)
        return response

    def __repr__(self) -> str:
        return f"EasyHttpWebClient(policy={self._policy.value}, pool={self._pool!r})"


def _rewire(request: Request, body: Body, headers: HeaderMap) -> Request:
    """*request* with *body* and *headers* (built field by field: every part is typed)."""
    wire: Request = _new(Request)
    wire.method = request.method
    wire.uri = request.uri
    wire.version = request.version
    wire.headers = headers
    wire.body = body
    wire.extensions = request.extensions
    return wire


def _origin_form(uri: Uri) -> Uri:
    """``uri.to_origin_form()``, the parsed result kept per absolute URI (it never changes).

    Keyed by the URI's exact bytes, which decide its form, path and query; only absolute
    URIs without a fragment are kept (no other form has the same bytes as one of them).
    """
    raw = uri.as_bytes()
    origin = _ORIGIN_FORMS.get(raw)
    if origin is not None:
        return origin
    origin = uri.to_origin_form()
    if uri.form is UriForm.ABSOLUTE and uri.fragment is None and type(raw) is bytes:
        if len(_ORIGIN_FORMS) >= _ORIGIN_FORMS_MAX:
            _ORIGIN_FORMS.clear()
        _ORIGIN_FORMS[raw] = origin
    return origin


def _no_proxy(value: str | Iterable[str]) -> NoProxy:
    return NoProxy.parse(value) if isinstance(value, str) else NoProxy(value)


def _retryable(exc: Exception, handle: H1Handle | H2Handle, request: Request) -> bool:
    """Whether *exc* proves the request was not processed (or may safely be repeated)."""
    if isinstance(exc, H2GoAwayError):
        return exc.retryable
    if isinstance(exc, H2StreamResetError):
        return exc.retryable
    if isinstance(exc, ConnectionClosedError):
        if not exc.request_sent:
            return True
        return handle.reused and request.method in _IDEMPOTENT
    return False


class _BodyGuard:
    """Streams a response body: gives the connection back at its end, enforces the deadline."""

    __slots__ = ("_body", "_deadline", "_done", "_handle", "_it", "_timeout")

    def __init__(
        self,
        body: Body,
        handle: H1Handle | H2Handle | None,
        deadline: float | None,
        timeout: float | None,
    ) -> None:
        self._body = body
        self._handle = handle
        self._deadline = deadline
        self._timeout = timeout
        self._done = False
        self._it: Any = None

    def trailers(self) -> HeaderMap | None:
        try:
            return self._body.trailers
        except BodyError:
            return None

    def __aiter__(self) -> _BodyGuard:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        it = self._it
        if it is None:
            it = self._it = self._body.__aiter__()
        try:
            deadline = self._deadline
            if deadline is None:
                chunk: bytes = await it.__anext__()
            else:
                scope = asyncio.timeout_at(deadline)
                try:
                    async with scope:
                        chunk = await it.__anext__()
                except TimeoutError as exc:
                    if not scope.expired():
                        raise
                    t = self._timeout
                    raise RequestTimeoutError(
                        f"the response body was not read within {t:g}s", seconds=t
                    ) from exc
        except StopAsyncIteration:
            await self._end(True)
            raise
        except BaseException:
            await self._end(False)
            raise
        return chunk

    async def _end(self, ok: bool) -> None:
        if self._done:
            return
        self._done = True
        if not ok:
            with contextlib.suppress(Exception):
                await self._body.aclose()
        handle = self._handle
        self._handle = None
        if handle is not None:
            await handle.done(ok)

    async def aclose(self) -> None:
        """The reader dropped the body: close it (an HTTP/1.1 connection is not reused)."""
        await self._end(False)

    def __del__(self) -> None:
        handle = self._handle
        if handle is None or self._done:
            return
        self._handle = None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(handle.done(False))
        _orphans.add(task)
        task.add_done_callback(_orphans.discard)
