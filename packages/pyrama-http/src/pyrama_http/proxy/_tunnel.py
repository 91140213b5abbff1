"""CONNECT tunnels: the target of a CONNECT request, and the keeper of a connection's tunnels."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from pyrama_core import Executor, Extensions, Service
from pyrama_core.errors import PyramaError
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
    if uri.form is not UriForm.AUTHORITY:
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
        host = str(authority.host)
        if host.startswith("["):
            host = host[1:-1]
        return cls(host, authority.port, request.extensions.get(ProxyAddress), request)


class _Tunnels:
    """The tunnel tasks started on one connection (an extension of its stream)."""

    __slots__ = ("tasks",)

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()

    def add(self, task: asyncio.Task[Any]) -> None:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


_orphans: set[asyncio.Task[Any]] = set()


def has_tunnel_keeper(extensions: Extensions) -> bool:
    """Whether a :class:`TunnelKeeper` keeps the connection these extensions belong to."""
    return extensions.get(_Tunnels) is not None


def spawn_tunnel(request: Request, coro: Any, *, name: str | None = None) -> asyncio.Task[Any]:
    """Run *coro* (a tunnel relay) as a task tied to *request*'s connection.

    The task is spawned with the connection's :class:`~pyrama_core.Executor` when there is
    one (graceful shutdown waits for it, then cancels it at its deadline), and registered
    with the :class:`TunnelKeeper` of the connection when there is one, so the connection
    (and its stream) stays open until the tunnel is over.
    """
    ext = request.extensions
    executor = ext.get(Executor)
    if executor is not None:
        task: asyncio.Task[Any] = executor.spawn_task(coro, name=name)
    else:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        _orphans.add(task)
        task.add_done_callback(_orphans.discard)
    keeper = ext.get(_Tunnels)
    if keeper is not None:
        keeper.add(task)
    return task


class TunnelKeeper:
    """``Service[Stream, None]``: keeps a connection open until its CONNECT tunnels are over.

    An HTTP/1.1 connection hands its stream to the tunnel once it answered ``CONNECT``
    with ``2xx``, and its driver returns. Listeners such as :class:`~pyrama_tcp.TcpListener`
    (and :class:`~pyrama_tls.TlsAcceptorLayer`) close a connection's stream when its service
    returns; this wrapper sits between them and the :class:`~pyrama_http.HttpServerService`
    and waits for the tunnels the connection started (see :func:`spawn_tunnel`, which
    :class:`~pyrama_http.proxy.HttpProxy` uses) before returning. When it is cancelled
    (shutdown deadline) it cancels them.
    """

    __slots__ = ("inner",)

    def __init__(self, inner: Service[Stream, None]) -> None:
        """Wrap the stream service *inner* (usually ``HttpServer.auto().service(...)``)."""
        self.inner = inner

    async def serve(self, stream: Stream, /) -> None:
        """Serve *stream* with the inner service, then wait for the connection's tunnels."""
        tunnels = _Tunnels()
        stream.extensions.insert(tunnels)
        try:
            await self.inner.serve(stream)
        finally:
            tasks = tunnels.tasks
            if tasks:
                try:
                    await asyncio.wait(list(tasks))
                except asyncio.CancelledError:
                    for t in list(tasks):
                        t.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.wait(list(tasks))
                    raise

    def __repr__(self) -> str:
        return f"TunnelKeeper({self.inner!r})"


class TunnelKeeperLayer:
    """Layer form of :class:`TunnelKeeper`."""

    __slots__ = ()

    def layer(self, inner: Service[Stream, None], /) -> TunnelKeeper:
        """Wrap *inner*."""
        return TunnelKeeper(inner)

    def __repr__(self) -> str:
        return "TunnelKeeperLayer()"
