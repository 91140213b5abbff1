"""CONNECT tunnels: the target of a CONNECT request, and the task that relays one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

from pyrama_core import Executor, Extensions, Service
from pyrama_core.errors import PyramaError
from pyrama_http_core import OnUpgrade
from pyrama_http_types import Method, Request, UriForm
from pyrama_net import Authority, ProxyAddress, Stream

__all__ = [
    "ConnectTargetError",
    "TunnelKeeper",
    "TunnelKeeperLayer",
    "TunnelTarget",
    "connect_authority",
    "has_tunnel_keeper",
    "spawn_tunnel",
]


class ConnectTargetError(PyramaError, ValueError):
    """A CONNECT request names no usable ``host:port`` (answered ``400``)."""


# an enum member as a module constant: `UriForm.AUTHORITY` is a look-up through the enum's
# metaclass on every call
_AUTHORITY_FORM = UriForm.AUTHORITY


def connect_authority(request: Request) -> Authority:
    """The ``host:port`` a CONNECT request asks for.

    Only the authority form is accepted (``example.com:443``, ``[::1]:8443``): a path, a
    scheme, userinfo, a missing port or port 0 raise :class:`ConnectTargetError`. (The
    HTTP drivers already refuse targets that do not parse at all: a bad host, a port
    beyond 65535.)
    """
    if request.method != Method.CONNECT:
        raise ConnectTargetError(f"not a CONNECT request: {request.method}")
    uri = request.uri
    if uri.form is not _AUTHORITY_FORM:
        raise ConnectTargetError(
            f"a CONNECT target is host:port (authority form), got {str(uri)[:200]!r}"
        )
    authority = uri.authority
    if authority is None or uri.userinfo is not None:
        raise ConnectTargetError(f"a CONNECT target is host:port, got {str(uri)[:200]!r}")
    if authority.port == 0:
        raise ConnectTargetError(f"port 0 cannot be connected to: {str(uri)[:200]!r}")
    return authority


@dataclass(frozen=True, slots=True)
class TunnelTarget:
    """What a proxy dials for a CONNECT tunnel: ``host``, ``port`` and an upstream proxy.

    Transport connectors (:class:`~pyrama_tcp.TcpConnector`) take it as it is (it has
    ``host`` and ``port``); :class:`~pyrama_http.ProxyConnector` also reads :attr:`proxy`
    (the request's :class:`~pyrama_net.ProxyAddress` extension, set for example by an
    upstream-selection layer) and chains through that proxy.
    """

    host: str
    """The host: a domain or an IP address (IPv6 without brackets)."""
    port: int
    """The port."""
    proxy: ProxyAddress | None = None
    """An upstream proxy to reach the target through, if any."""
    request: Request | None = field(default=None, compare=False, repr=False)
    """The CONNECT request."""

    @property
    def authority(self) -> str:
        """``host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @classmethod
    def for_request(cls, request: Request, authority: Authority) -> TunnelTarget:
        """The target of a CONNECT *request* to *authority*."""
        host_obj = authority.host
        text = request.uri.authority_text
        if type(host_obj.value) is IPv4Address and text is not None:
            # as written: an IPv4 address parses only in its one canonical form, and the
            # text is at hand (str() of the address would build it again, digit by digit)
            host = text.rpartition(":")[0]
        else:
            host = str(host_obj)
            if host.startswith("["):
                host = host[1:-1]
        return cls(host, authority.port, request.extensions.get(ProxyAddress), request)


_orphans: set[asyncio.Task[Any]] = set()


def has_tunnel_keeper(extensions: Extensions) -> bool:
    """Whether a connection needs a :class:`TunnelKeeper` to keep its tunnels: never now.

    :class:`~pyrama_http.HttpServerService` itself keeps a switched HTTP/1.1 connection
    open until its tunnel closed the stream; kept for compatibility, always ``False``.
    """
    del extensions
    return False


def spawn_tunnel(
    request: Request, coro: Any, *, name: str | None = None, on_upgrade: OnUpgrade | None = None
) -> asyncio.Task[Any] | None:
    """Run *coro* (a tunnel relay awaiting the request's ``OnUpgrade``) for *request*.

    When the connection's driver runs takers itself (an HTTP/1.1 connection whose driver
    made the :class:`~pyrama_http_core.OnUpgrade` with ``runs_takers``), *coro* is handed
    over and runs in the connection's own task after the response: no task is made and
    ``None`` is returned. Otherwise it runs as a task (returned), spawned with the
    connection's :class:`~pyrama_core.Executor` when there is one (graceful shutdown waits
    for it, then cancels it at its deadline). Either way the connection stays open until the
    relay closes the switched stream: the :class:`~pyrama_http.HttpServerService` waits for
    that. *on_upgrade* is the request's :class:`~pyrama_http_core.OnUpgrade` when the caller
    has it at hand already (else it is looked up).
    """
    extensions = request.extensions
    if on_upgrade is None:
        on_upgrade = extensions.get(OnUpgrade)
    if on_upgrade is not None and on_upgrade.hand_over(coro):
        return None
    executor = extensions.get(Executor)
    if executor is not None:
        task: asyncio.Task[Any] = executor.spawn_task(coro, name=name)
    else:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        _orphans.add(task)
        task.add_done_callback(_orphans.discard)
    return task


class TunnelKeeper:
    """``Service[Stream, None]``: a pass-through, kept for compatibility.

    It used to keep a connection open until its CONNECT tunnels were over, because the
    HTTP/1.1 driver returned (and the listener closed the stream) once it answered ``2xx``.
    :class:`~pyrama_http.HttpServerService` now waits itself until whoever took a switched
    connection's stream has closed it, so a plain ``HttpServer.auto().listen(addr,
    HttpProxy())`` serves tunnels and this wrapper only calls *inner*.
    """

    __slots__ = ("inner",)

    def __init__(self, inner: Service[Stream, None]) -> None:
        """Wrap the stream service *inner* (usually ``HttpServer.auto().service(...)``)."""
        self.inner = inner

    async def serve(self, stream: Stream, /) -> None:
        """Serve *stream* with the inner service."""
        await self.inner.serve(stream)

    def __repr__(self) -> str:
        return f"TunnelKeeper({self.inner!r})"


class TunnelKeeperLayer:
    """Layer form of :class:`TunnelKeeper` (a pass-through, kept for compatibility)."""

    __slots__ = ()

    def layer(self, inner: Service[Stream, None], /) -> TunnelKeeper:
        """Wrap *inner*."""
        return TunnelKeeper(inner)

    def __repr__(self) -> str:
        return "TunnelKeeperLayer()"
