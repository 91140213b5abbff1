"""pyrama_http.proxy: an HTTP(S) forward proxy (absolute-form forwarding and CONNECT tunnels).

The pieces, as services and layers (a plain ``HttpServer.auto().listen(addr, HttpProxy())``
serves CONNECT tunnels too: the server keeps a switched connection open until its tunnel
is over; ``TunnelKeeper`` is a pass-through kept for compatibility):

* :class:`HttpProxy`: the ``Service[Request, Response]`` that forwards absolute-form requests
  through an HTTP client and relays ``CONNECT`` tunnels (HTTP/1.1 and HTTP/2);
* :class:`ProxyAuthLayer`: Basic proxy authentication (``407``), with a username-label hook;
* :func:`http_proxy_service` / :func:`http_proxy_server`: the ready stack.

Recipe (what :func:`http_proxy_server` does), an HTTPS proxy when *tls* is given::

    from pyrama_core import layers
    from pyrama_http.proxy import HttpProxy, ProxyAuthLayer, http_proxy_service
    from pyrama_net import Basic
    from pyrama_tcp import TcpListener

    proxy = layers(ProxyAuthLayer(Basic("john", "secret"))).into(HttpProxy())
    service = http_proxy_service(proxy)            # HttpServer.auto().service(proxy)
    # service = http_proxy_service(proxy, tls=TlsAcceptorData(certified_key=key))  # HTTPS
    listener = await TcpListener.bind("127.0.0.1:8080")
    await listener.serve_graceful(service)
"""

from pyrama_http.proxy._auth import (
    Authorizer,
    ProxyAuthLayer,
    ProxyAuthService,
    ProxyUser,
    UsernameParser,
)
from pyrama_http.proxy._headers import (
    HOP_BY_HOP_HEADERS,
    connection_nominated,
    strip_hop_by_hop,
    via_value,
)
from pyrama_http.proxy._server import (
    DEFAULT_PROXY_ADDRESS,
    http_proxy_server,
    http_proxy_service,
    proxy_http_server,
)
from pyrama_http.proxy._service import (
    DEFAULT_RESPONSE_BUFFER,
    DEFAULT_SPLICE_AFTER,
    HttpProxy,
    TunnelConnector,
)
from pyrama_http.proxy._tunnel import (
    ConnectTargetError,
    TunnelKeeper,
    TunnelKeeperLayer,
    TunnelTarget,
    connect_authority,
    has_tunnel_keeper,
    spawn_tunnel,
)

__all__ = [
    "DEFAULT_PROXY_ADDRESS",
    "DEFAULT_RESPONSE_BUFFER",
    "DEFAULT_SPLICE_AFTER",
    "HOP_BY_HOP_HEADERS",
    "Authorizer",
    "ConnectTargetError",
    "HttpProxy",
    "ProxyAuthLayer",
    "ProxyAuthService",
    "ProxyUser",
    "TunnelConnector",
    "TunnelKeeper",
    "TunnelKeeperLayer",
    "TunnelTarget",
    "UsernameParser",
    "connect_authority",
    "connection_nominated",
    "has_tunnel_keeper",
    "http_proxy_server",
    "http_proxy_service",
    "proxy_http_server",
    "spawn_tunnel",
    "strip_hop_by_hop",
    "via_value",
]
