"""pyrama-http: HttpServer (HTTP/1.1 + HTTP/2), EasyHttpWebClient and the HttpClient API."""

from pyrama_http._api import ClientResponse, HttpClient, QueryParams, RequestBuilder
from pyrama_http._connector import ClientConnection, HttpConnector, StreamConnector
from pyrama_http._easy import DEFAULT_USER_AGENT, EasyHttpWebClient
from pyrama_http._pool import H1Handle, H2Handle, HttpConnectionPool, HttpPoolStats, PoolKey
from pyrama_http._proxy_connector import (
    HttpProxyConnector,
    HttpProxyForward,
    ProxyConnectError,
    ProxyConnector,
)
from pyrama_http._proxy_env import NoProxy, ProxyConfig
from pyrama_http._server import DEFAULT_MAX_BODY_SIZE, HttpServer, HttpServerService, HttpVersions
from pyrama_http._target import (
    HttpConnectTarget,
    HttpVersionPolicy,
    RequestTimeout,
    TargetHttpVersion,
    WireMode,
)

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_USER_AGENT",
    "ClientConnection",
    "ClientResponse",
    "EasyHttpWebClient",
    "H1Handle",
    "H2Handle",
    "HttpClient",
    "HttpConnectTarget",
    "HttpConnectionPool",
    "HttpConnector",
    "HttpPoolStats",
    "HttpProxyConnector",
    "HttpProxyForward",
    "HttpServer",
    "HttpServerService",
    "HttpVersionPolicy",
    "HttpVersions",
    "NoProxy",
    "PoolKey",
    "ProxyConfig",
    "ProxyConnectError",
    "ProxyConnector",
    "QueryParams",
    "RequestBuilder",
    "RequestTimeout",
    "StreamConnector",
    "TargetHttpVersion",
    "WireMode",
]

__version__ = "0.1.0"
