"""Ready-made proxy stacks: the stream service and a listening HTTP(S) proxy server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from pyrama_core import Service, Shutdown, ShutdownResult
from pyrama_core.telemetry import get_logger
from pyrama_http._server import HttpServer
from pyrama_http.proxy._service import HttpProxy
from pyrama_http_core import HttpLimits
from pyrama_http_types import Request, Response
from pyrama_net import AddrLike, SocketAddress, Stream
from pyrama_tcp import TcpListener
from pyrama_tls import TlsAcceptorData, TlsAcceptorLayer

__all__ = ["DEFAULT_PROXY_ADDRESS", "http_proxy_server", "http_proxy_service", "proxy_http_server"]

_log = get_logger(__name__)

DEFAULT_PROXY_ADDRESS: Final = "127.0.0.1:8080"
"""Where :func:`http_proxy_server` listens by default: loopback only."""


def proxy_http_server() -> HttpServer:
    """The :class:`~pyrama_http.HttpServer` a proxy wants: HTTP/1.1 + HTTP/2, bodies unlimited.

    Bodies stream through a proxy, so the server's default request body limit is lifted
    (``HttpLimits()``: head limits and timeouts stay).
    """
    return HttpServer.auto(limits=HttpLimits())


def http_proxy_service(
    service: Service[Request, Response] | None = None,
    *,
    server: HttpServer | None = None,
    tls: TlsAcceptorData | None = None,
) -> Service[Stream, None]:
    """The stream service of an HTTP(S) proxy, for any listener.

    The stack, outermost first: :class:`~pyrama_tls.TlsAcceptorLayer` (only with *tls*:
    an HTTPS proxy, ALPN ``h2``/``http/1.1`` unless *tls* names its own), the *server*
    (default :func:`proxy_http_server`; it keeps a connection open until its CONNECT tunnel
    is over), and *service* (default a new :class:`~pyrama_http.proxy.HttpProxy`; put
    :class:`~pyrama_http.proxy.ProxyAuthLayer` and other layers in front of it yourself).
    """
    if server is None:
        server = proxy_http_server()
    inner: Service[Request, Response] = HttpProxy() if service is None else service
    stream_svc: Service[Stream, None] = server.service(inner)
    if tls is not None:
        stream_svc = TlsAcceptorLayer(server.tls_acceptor_data(tls)).layer(stream_svc)
    return stream_svc


async def http_proxy_server(
    addr: AddrLike = DEFAULT_PROXY_ADDRESS,
    service: Service[Request, Response] | None = None,
    *,
    server: HttpServer | None = None,
    tls: TlsAcceptorData | None = None,
    shutdown: Shutdown | None = None,
    max_connections: int | None = None,
    on_listening: Callable[[SocketAddress], None] | None = None,
) -> ShutdownResult:
    """Run an HTTP(S) proxy on *addr* (default ``127.0.0.1:8080``) until shutdown.

    *service* is the request service (default a new :class:`~pyrama_http.proxy.HttpProxy`);
    see :func:`http_proxy_service` for the stack (*tls* makes it an HTTPS proxy). Without
    *shutdown*, SIGINT/SIGTERM stop it (call this in the main thread). *on_listening* gets
    the bound address (useful with port 0). Returns the drain's
    :class:`~pyrama_core.ShutdownResult`.
    """
    owned = service is None
    proxy = HttpProxy() if service is None else service
    stream_svc = http_proxy_service(proxy, server=server, tls=tls)
    listener = await TcpListener.bind(addr)
    _log.info("http proxy listening", address=str(listener.local_addr), tls=tls is not None)
    if on_listening is not None:
        on_listening(listener.local_addr)
    try:
        return await listener.serve_graceful(stream_svc, shutdown, max_connections=max_connections)
    finally:
        if owned and isinstance(proxy, HttpProxy):
            await proxy.close()
