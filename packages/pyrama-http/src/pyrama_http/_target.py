"""What the HTTP client connects to: the target of a request, and the version it may speak."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from pyrama_core.errors import ConfigError
from pyrama_http.errors import InvalidRequestError
from pyrama_http_types import Request, Version
from pyrama_net import ProxyAddress

__all__ = [
    "HttpConnectTarget",
    "HttpVersionPolicy",
    "RequestTimeout",
    "TargetHttpVersion",
    "WireMode",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class HttpVersionPolicy(enum.Enum):
    """Which HTTP version an :class:`~pyrama_http.EasyHttpWebClient` asks for.

    ============================  =============================  ==========================
    policy                        ``https://``                   ``http://``
    ============================  =============================  ==========================
    ``AUTO`` (default)            ALPN ``h2``, ``http/1.1``      HTTP/1.1
    ``HTTP1_ONLY``                ALPN ``http/1.1``              HTTP/1.1
    ``HTTP2_ONLY``                ALPN ``h2`` (else an error)    h2c with prior knowledge
    ``H2C_PRIOR_KNOWLEDGE``       ALPN ``h2``, ``http/1.1``      h2c with prior knowledge
    ============================  =============================  ==========================
    """

    AUTO = "auto"
    """HTTP/2 when the TLS server agrees, else HTTP/1.1; plain HTTP is HTTP/1.1."""
    HTTP1_ONLY = "http1"
    """HTTP/1.1 only."""
    HTTP2_ONLY = "h2"
    """HTTP/2 only: ``h2`` by ALPN (a server that does not agree fails the request), h2c."""
    H2C_PRIOR_KNOWLEDGE = "h2c"
    """Like ``AUTO`` for TLS, h2c with prior knowledge for plain HTTP."""


class WireMode(enum.Enum):
    """What a connection to one target may speak (the policy applied to the scheme)."""

    HTTP1 = "http1"
    """HTTP/1.1 only."""
    H2 = "h2"
    """HTTP/2 only (ALPN ``h2``, or h2c with prior knowledge)."""
    NEGOTIATE = "negotiate"
    """ALPN decides between ``h2`` and ``http/1.1`` (TLS only)."""


def wire_mode(policy: HttpVersionPolicy, secure: bool) -> WireMode:
    """The :class:`WireMode` of *policy* for a TLS (*secure*) or plain target."""
    if policy is HttpVersionPolicy.HTTP1_ONLY:
        return WireMode.HTTP1
    if policy is HttpVersionPolicy.HTTP2_ONLY:
        return WireMode.H2
    if secure:
        return WireMode.NEGOTIATE
    if policy is HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE:
        return WireMode.H2
    return WireMode.HTTP1


@dataclass(frozen=True, slots=True)
class TargetHttpVersion:
    """A request extension: send this request with this HTTP version.

    ``Version.HTTP_2`` demands HTTP/2 (``h2`` by ALPN, or h2c on plain HTTP); ``HTTP_11`` or
    ``HTTP_10`` demands HTTP/1.1. Overrides the client's :class:`HttpVersionPolicy`.
    """

    version: Version
    """The version to speak."""

    def __post_init__(self) -> None:
        if self.version not in (Version.HTTP_10, Version.HTTP_11, Version.HTTP_2):
            raise ConfigError(f"the client speaks HTTP/1.x and HTTP/2, not {self.version}")

    @property
    def policy(self) -> HttpVersionPolicy:
        """The :class:`HttpVersionPolicy` this demand amounts to."""
        if self.version is Version.HTTP_2:
            return HttpVersionPolicy.HTTP2_ONLY
        return HttpVersionPolicy.HTTP1_ONLY


@dataclass(frozen=True, slots=True)
class RequestTimeout:
    """A request extension: a deadline in seconds for the whole exchange.

    Counted from when the client starts on the request, it covers getting a connection,
    sending, the response head and reading the response body to its end.
    """

    seconds: float
    """The time allowed."""

    def __post_init__(self) -> None:
        s = self.seconds
        if (
            isinstance(s, bool)
            or not isinstance(s, int | float)
            or not (s > 0 and math.isfinite(s))
        ):
            raise ConfigError(f"a request timeout is a number of seconds > 0, got {s!r}")


@dataclass(frozen=True, slots=True)
class HttpConnectTarget:
    """The input of HTTP connectors: where to connect and which versions may be spoken.

    It has ``host`` and ``port`` (so transport connectors such as
    :class:`~pyrama_tcp.TcpConnector` and :class:`~pyrama_tls.TlsConnectorLayer` take it as
    is), the ``scheme``, the :class:`WireMode`, and the request that asked for the connection
    (for connectors that need more, such as a proxy connector reading the request's
    extensions). :attr:`pool_key` says which connections are interchangeable.
    """

    scheme: str
    """``"http"`` or ``"https"``."""
    host: str
    """The host: a domain or an IP address (IPv6 without brackets)."""
    port: int
    """The port (the scheme's default when the URL has none)."""
    mode: WireMode
    """What the connection may speak."""
    proxy: ProxyAddress | None = None
    """The proxy to go through (the request's :class:`~pyrama_net.ProxyAddress` extension).

    Only a proxy-aware transport connector acts on it; connections through different
    proxies are never mixed up (it is part of :attr:`pool_key`)."""
    request: Request | None = field(default=None, compare=False, repr=False)
    """The request that needs the connection, if any."""

    @property
    def secure(self) -> bool:
        """Whether the connection is TLS (``https``)."""
        return self.scheme == "https"

    @property
    def pool_key(self) -> tuple[str, str, int, WireMode, ProxyAddress | None]:
        """``(scheme, host, port, mode, proxy)``: equal keys mean interchangeable connections."""
        return (self.scheme, self.host, self.port, self.mode, self.proxy)

    @property
    def authority(self) -> str:
        """``host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @classmethod
    def for_request(cls, request: Request, policy: HttpVersionPolicy) -> HttpConnectTarget:
        """The target of *request* (an absolute ``http``/``https`` URI) under *policy*.

        A :class:`TargetHttpVersion` extension on the request overrides *policy*; a
        :class:`~pyrama_net.ProxyAddress` extension becomes :attr:`proxy`. Raises
        :class:`~pyrama_http.errors.InvalidRequestError` for a URI the client cannot reach.
        """
        uri = request.uri
        scheme = uri.scheme
        if scheme is None:
            raise InvalidRequestError(
                f"the client needs an absolute http:// or https:// URI, got {str(uri)!r}"
            )
        default = _DEFAULT_PORTS.get(scheme)
        if default is None:
            raise InvalidRequestError(f"unsupported URI scheme {scheme!r} (http or https)")
        host = uri.host
        if host is None:
            raise InvalidRequestError(f"the URI {str(uri)!r} has no host")
        demand = request.extensions.get(TargetHttpVersion)
        if demand is not None:
            policy = demand.policy
        port = uri.explicit_port
        text = str(host)
        if text.startswith("["):
            text = text[1:-1]
        return cls(
            scheme,
            text.lower(),
            default if port is None else port,
            wire_mode(policy, scheme == "https"),
            request.extensions.get(ProxyAddress),
            request,
        )
