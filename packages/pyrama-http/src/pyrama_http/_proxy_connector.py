"""Client-side proxies: CONNECT through HTTP(S) proxies, SOCKS5, absolute-form forwarding."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from pyrama_core import Service
from pyrama_core.errors import ConfigError
from pyrama_http.errors import HttpClientError
from pyrama_http_core import H2ClientConnection, Http1ClientConfig, Http1ClientConnection, Upgraded
from pyrama_http_types import HeaderMap, HeadersLike, Method, Request, Uri, Version
from pyrama_net import (
    Authority,
    DnsResolver,
    EstablishedConnection,
    Host,
    ProxyAddress,
    Stream,
    StreamWrapper,
    SystemResolver,
    ip_literal,
    target_host_port,
)
from pyrama_net.errors import AddressError, ConnectError
from pyrama_tcp import TcpConnector
from pyrama_tls import NegotiatedTls, TlsConnectorData, tls_connect

__all__ = [
    "HttpProxyConnector",
    "HttpProxyForward",
    "ProxyConnectError",
    "ProxyConnector",
]

T = TypeVar("T")

_ALPN_H1 = (b"http/1.1",)
_ALPN_H2 = (b"h2",)
_MAX_ERROR_BODY = 512


class ProxyConnectError(HttpClientError, ConnectError):
    """A proxy refused to open the tunnel (or answered something that is not a tunnel).

    :attr:`status` is the HTTP status the proxy answered (``407``: proxy authentication
    required), ``None`` when the failure was not an HTTP answer.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class HttpProxyForward:
    """A connection extension: this stream goes to an HTTP proxy that forwards requests.

    :class:`ProxyConnector` sets it when a plain ``http://`` target goes through an HTTP(S)
    proxy without a tunnel; the HTTP client then sends absolute-form request targets and
    the proxy's ``Proxy-Authorization``.
    """

    proxy: ProxyAddress
    """The proxy."""


def _host_text(host: Host) -> str:
    text = str(host)
    return text[1:-1] if text.startswith("[") else text


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _close_quietly(stream: Stream) -> None:
    with contextlib.suppress(Exception):
        await stream.close()


_closing: set[asyncio.Task[None]] = set()


class _OwnedTunnel(StreamWrapper):
    """An HTTP/2 CONNECT stream that also closes its HTTP/2 connection when closed."""

    __slots__ = ("_conn",)

    def __init__(self, inner: Stream, conn: H2ClientConnection) -> None:
        super().__init__(inner)
        self._conn = conn

    async def close(self) -> None:
        try:
            await self.inner.close()
        finally:
            await self._conn.close()

    def abort(self) -> None:
        super().abort()
        with contextlib.suppress(RuntimeError):  # no running loop: nothing left to close
            task = asyncio.get_running_loop().create_task(self._conn.close())
            _closing.add(task)
            task.add_done_callback(_closing.discard)


class HttpProxyConnector:
    """A stream connector that opens ``CONNECT`` tunnels through an HTTP or HTTPS proxy.

    ``await HttpProxyConnector("http://user:pass@127.0.0.1:3128").serve(("example.com", 443))``
    returns an :class:`~pyrama_net.EstablishedConnection` whose ``conn`` is the tunnel: a
    :class:`~pyrama_net.Stream` to ``example.com:443`` (TLS on top is the caller's, as
    :class:`~pyrama_http.HttpConnector` does for ``https`` targets).

    * The proxy is the target's ``proxy`` attribute when it has one that is not ``None``
      (:class:`~pyrama_http.HttpConnectTarget`, :class:`~pyrama_http.proxy.TunnelTarget`),
      else *proxy*. ``http://`` proxies are dialed with *transport* (default
      :class:`~pyrama_tcp.TcpConnector`), ``https://`` proxies get a TLS handshake first
      (*tls*, default certificates verified against the system store).
    * The request is ``CONNECT host:port`` with ``Host``, ``Proxy-Authorization: Basic``
      when the proxy address has credentials, and *headers*.
    * *version* ``HTTP_11`` (default) sends it over HTTP/1.1; ``HTTP_2`` over HTTP/2 (ALPN
      ``h2`` for an https proxy, prior knowledge for an http one), one HTTP/2 connection per
      tunnel, closed with it.
    * A proxy that answers anything but ``2xx`` raises :class:`ProxyConnectError` (with the
      status); connection failures raise :class:`~pyrama_net.errors.ConnectError`.
    """

    __slots__ = ("_h1_config", "_headers", "_proxy", "_tls", "_tls_alpn", "_version", "transport")

    def __init__(
        self,
        proxy: ProxyAddress | str | None = None,
        *,
        transport: Service[Any, EstablishedConnection[Any, Any]] | None = None,
        tls: TlsConnectorData | None = None,
        version: Version = Version.HTTP_11,
        headers: HeadersLike | None = None,
        http1_config: Http1ClientConfig | None = None,
    ) -> None:
        """Configure the connector (see the class docs); :class:`ConfigError` on bad values."""
        if isinstance(proxy, str):
            try:
                proxy = ProxyAddress.parse(proxy)
            except AddressError as exc:
                raise ConfigError(f"proxy: {exc}") from exc
        if proxy is not None and proxy.protocol.scheme not in ("http", "https"):
            raise ConfigError(f"HttpProxyConnector speaks to http(s) proxies, not {proxy!r}")
        if version not in (Version.HTTP_11, Version.HTTP_2):
            raise ConfigError(f"version must be HTTP_11 or HTTP_2, got {version}")
        if tls is not None and not isinstance(tls, TlsConnectorData):
            raise ConfigError(f"tls must be TlsConnectorData, got {tls!r}")
        self._proxy = proxy
        self.transport: Service[Any, EstablishedConnection[Any, Any]] = (
            TcpConnector() if transport is None else transport
        )
        """The connector that reaches the proxy."""
        self._tls = TlsConnectorData() if tls is None else tls
        self._tls_alpn: dict[tuple[bytes, ...], TlsConnectorData] = {}
        self._version = version
        self._headers = HeaderMap(headers) if headers is not None else HeaderMap()
        self._h1_config = http1_config

    @property
    def proxy(self) -> ProxyAddress | None:
        """The default proxy (used when the target names none)."""
        return self._proxy

    def _tls_data(self, alpn: tuple[bytes, ...]) -> TlsConnectorData:
        data = self._tls
        if data.alpn:
            return data
        cached = self._tls_alpn.get(alpn)
        if cached is None:
            cached = self._tls_alpn[alpn] = dataclasses.replace(data, alpn=alpn)
        return cached

    async def dial_proxy(self, proxy: ProxyAddress, *, h2: bool = False) -> Stream:
        """A stream to *proxy* itself: TCP, plus TLS for an ``https://`` proxy."""
        est = await self.transport.serve(proxy.authority)
        stream: Stream = est.conn
        if proxy.protocol.scheme == "https":
            stream = await tls_connect(
                stream,
                _host_text(proxy.authority.host),
                self._tls_data(_ALPN_H2 if h2 else _ALPN_H1),
                port=proxy.authority.port,
            )
        return stream

    def _connect_request(self, proxy: ProxyAddress, authority: str, version: Version) -> Request:
        items: list[tuple[bytes, bytes]] = []
        if version is Version.HTTP_11:
            items.append((b"Host", authority.encode("ascii")))
        cred = proxy.credential
        if cred is not None:
            items.append((b"Proxy-Authorization", cred.encode_header_value().encode("latin-1")))
        items.extend(self._headers.raw_items())
        return Request(
            Method.CONNECT, Uri(authority), version=version, headers=HeaderMap.from_raw(items)
        )

    async def open_tunnel(self, proxy: ProxyAddress, host: str, port: int) -> Stream:
        """Ask *proxy* for a tunnel to *host*:*port* and return it (see the class docs)."""
        if proxy.protocol.scheme not in ("http", "https"):
            raise ConfigError(f"not an http(s) proxy: {proxy!r}")
        authority = _authority(host, port)
        h2 = self._version is Version.HTTP_2
        stream = await self.dial_proxy(proxy, h2=h2)
        if h2:
            return await self._tunnel_h2(stream, proxy, authority)
        conn = Http1ClientConnection(stream, self._h1_config)
        try:
            response = await conn.send_request(
                self._connect_request(proxy, authority, Version.HTTP_11)
            )
            status = int(response.status)
            upgraded = response.extensions.get(Upgraded)
            if not 200 <= status < 300 or upgraded is None:
                detail = await _error_detail(response.body)
                raise ProxyConnectError(
                    f"proxy {proxy.authority} refused CONNECT {authority}: {status}{detail}",
                    status=status,
                )
        except BaseException:
            await conn.close()
            raise
        return upgraded.stream

    async def _tunnel_h2(self, stream: Stream, proxy: ProxyAddress, authority: str) -> Stream:
        negotiated = stream.extensions.get(NegotiatedTls)
        if proxy.protocol.scheme == "https" and (negotiated is None or negotiated.alpn != "h2"):
            await _close_quietly(stream)
            raise ProxyConnectError(
                f"proxy {proxy.authority} did not agree to HTTP/2 (ALPN "
                f"{None if negotiated is None else negotiated.alpn!r})"
            )
        conn = H2ClientConnection(stream, default_scheme="https")
        try:
            await conn.start()
            response = await conn.send_request(
                self._connect_request(proxy, authority, Version.HTTP_2)
            )
            status = int(response.status)
            upgraded = response.extensions.get(Upgraded)
            if not 200 <= status < 300 or upgraded is None:
                detail = await _error_detail(response.body)
                raise ProxyConnectError(
                    f"proxy {proxy.authority} refused CONNECT {authority} (h2): {status}{detail}",
                    status=status,
                )
        except BaseException:
            await conn.close()
            raise
        return _OwnedTunnel(upgraded.stream, conn)

    async def serve(self, target: T, /) -> EstablishedConnection[T, Stream]:
        """Open a tunnel to *target* (``host``/``port``, or ``(host, port)``)."""
        proxy = getattr(target, "proxy", None) or self._proxy
        if proxy is None:
            raise ConfigError("HttpProxyConnector: no proxy (give one, or a target naming one)")
        host, port = target_host_port(target)  # type: ignore[arg-type]
        stream = await self.open_tunnel(proxy, host, port)
        return EstablishedConnection(conn=stream, target=target, extensions=stream.extensions)

    def __repr__(self) -> str:
        return f"HttpProxyConnector(proxy={self._proxy!r}, version={self._version.value})"


async def _error_detail(body: Any) -> str:
    """A short excerpt of a refusal's body, for the error message."""
    data = b""
    try:
        async for chunk in body:
            data += chunk
            if len(data) >= _MAX_ERROR_BODY:
                break
    except Exception:
        pass
    finally:
        with contextlib.suppress(Exception):
            await body.aclose()
    text = data[:_MAX_ERROR_BODY].decode("utf-8", "replace").strip()
    return f" ({text[:200]})" if text else ""


class ProxyConnector:
    """The client's transport: direct TCP, or through the proxy the target names.

    A stream connector for targets with ``host``, ``port`` and an optional ``proxy``
    (:class:`~pyrama_net.ProxyAddress`): :class:`~pyrama_http.HttpConnectTarget` (what
    :class:`~pyrama_http.EasyHttpWebClient` uses it for) or
    :class:`~pyrama_http.proxy.TunnelTarget` (an :class:`~pyrama_http.proxy.HttpProxy`
    chaining to an upstream proxy).

    * no proxy: *transport* (default :class:`~pyrama_tcp.TcpConnector`) connects directly;
    * ``http://`` / ``https://`` proxy: a ``CONNECT`` tunnel (:class:`HttpProxyConnector`),
      except for plain ``http`` targets of an HTTP client when *forward_plain_http* is
      true (the default): the stream then goes to the proxy itself, marked with
      :class:`HttpProxyForward`, and the client sends absolute-form requests (what curl
      and browsers do);
    * ``socks5://`` (names resolved here, with *resolver*) and ``socks5h://`` (names
      resolved by the proxy): the SOCKS5 handshake of ``pyrama_socks5.socks5_connect``
      (install ``pyrama-http[socks5]``), with the proxy's credentials.

    *tls* is for ``https://`` proxies (the TLS to the proxy, not to the target).
    """

    __slots__ = ("_forward", "_http", "_resolver", "transport")

    def __init__(
        self,
        transport: Service[Any, EstablishedConnection[Any, Any]] | None = None,
        *,
        tls: TlsConnectorData | None = None,
        http_version: Version = Version.HTTP_11,
        forward_plain_http: bool = True,
        resolver: DnsResolver | None = None,
    ) -> None:
        """Configure the connector (see the class docs)."""
        self.transport: Service[Any, EstablishedConnection[Any, Any]] = (
            TcpConnector() if transport is None else transport
        )
        """The connector for direct connections and for reaching proxies."""
        self._http = HttpProxyConnector(transport=self.transport, tls=tls, version=http_version)
        self._forward = forward_plain_http
        self._resolver: DnsResolver = SystemResolver() if resolver is None else resolver

    def serve(self, target: T, /) -> Coroutine[Any, Any, EstablishedConnection[T, Stream]]:
        """Connect to *target*, through its proxy when it names one.

        Without a proxy this returns the transport's own coroutine (no coroutine layer of its
        own around a direct connection).
        """
        proxy: ProxyAddress | None = getattr(target, "proxy", None)
        if proxy is None:
            direct: Coroutine[Any, Any, EstablishedConnection[T, Stream]] = self.transport.serve(
                target
            )
            return direct
        return self._through(target, proxy)

    async def _through(self, target: T, proxy: ProxyAddress) -> EstablishedConnection[T, Stream]:
        """Connect to *target* through *proxy*."""
        scheme = proxy.protocol.scheme
        if scheme in ("http", "https"):
            if self._forward and getattr(target, "scheme", None) == "http":
                stream = await self._http.dial_proxy(proxy)
                stream.extensions.insert(HttpProxyForward(proxy))
                return EstablishedConnection(
                    conn=stream, target=target, extensions=stream.extensions
                )
            return await self._http.serve(target)
        if scheme in ("socks5", "socks5h"):
            host, port = target_host_port(target)  # type: ignore[arg-type]
            stream = await self._socks5(proxy, host, port)
            return EstablishedConnection(conn=stream, target=target, extensions=stream.extensions)
        raise ConfigError(f"unsupported proxy scheme {scheme!r} (http, https, socks5, socks5h)")

    async def _resolve(self, host: str) -> str:
        if ip_literal(host) is not None:
            return host
        try:
            return str((await self._resolver.ipv4_lookup(host))[0])
        except Exception:
            return str((await self._resolver.ipv6_lookup(host))[0])

    async def _socks5(self, proxy: ProxyAddress, host: str, port: int) -> Stream:
        try:
            from pyrama_socks5 import socks5_connect
        except ImportError as exc:
            raise ConfigError(
                "socks5:// proxies need pyrama-socks5: pip install 'pyrama-http[socks5]'"
            ) from exc
        if proxy.protocol.scheme == "socks5":
            host = await self._resolve(host)
        try:
            target = Authority(Host.parse(host), port)
        except AddressError as exc:
            raise ConnectError(f"cannot ask a SOCKS5 proxy for {host!r}: {exc}") from exc
        est = await self.transport.serve(proxy.authority)
        stream: Stream = est.conn
        try:
            await socks5_connect(stream, target, credentials=proxy.credential)
        except BaseException:
            await _close_quietly(stream)
            raise
        return stream

    def __repr__(self) -> str:
        return f"ProxyConnector(transport={self.transport!r})"
