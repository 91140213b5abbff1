"""HttpServer: serve HTTP/1.1 and HTTP/2 on any stream with one ``Service[Request, Response]``.

The server is a thin dispatcher over pyrama-http-core's connection drivers: it decides which
protocol a connection speaks (TLS ALPN, else a peek for the HTTP/2 prior-knowledge preface)
and hands the stream and the service straight to :class:`~pyrama_http_core.Http1ServerConnection`
or :class:`~pyrama_http_core.H2ServerConnection`. Nothing is built per request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import Callable
from typing import Any, Final, Protocol

from pyrama_core import Executor, Service, Shutdown, ShutdownResult
from pyrama_core.errors import ConfigError
from pyrama_core.telemetry import get_logger
from pyrama_http_core import (
    H2_PREFACE,
    H2ServerConfig,
    H2ServerConnection,
    Http1Config,
    Http1ServerConnection,
    HttpLimits,
    may_be_h2_preface,
)
from pyrama_http_types import Request, Response
from pyrama_net import AddrLike, SocketAddress, Stream, TaskDeadline, rewind
from pyrama_tcp import TcpListener
from pyrama_tls import NegotiatedTls, TlsAcceptorData, TlsAcceptorLayer

__all__ = ["DEFAULT_MAX_BODY_SIZE", "HttpServer", "HttpServerService", "HttpVersions"]

_log = get_logger(__name__)

DEFAULT_MAX_BODY_SIZE: Final = 16 * 1024 * 1024
"""The request body limit :class:`HttpServer` uses unless given its own :class:`HttpLimits`."""

_FIRST_READ: Final = 65536
_PREFACE_LEN: Final = len(H2_PREFACE)


class HttpVersions(enum.Enum):
    """Which HTTP versions an :class:`HttpServer` speaks on a connection."""

    AUTO = "auto"
    """HTTP/1.1 and HTTP/2: ALPN decides over TLS, else the h2c prior-knowledge preface."""
    HTTP1 = "http1"
    """HTTP/1.x only."""
    H2 = "h2"
    """HTTP/2 only (h2 over TLS, or h2c with prior knowledge on plain connections)."""


class _Stoppable(Protocol):
    def _stop_gracefully(self) -> None: ...


class _H1(Http1ServerConnection):
    """The HTTP/1.1 driver with the stop hooks the shutdown watch calls."""

    __slots__ = ()

    # HttpServerService awaits released() right after run(): a CONNECT relay handed over
    # runs in the connection's task (no task per tunnel)
    RUNS_TAKERS = True

    def _stop_gracefully(self) -> None:
        self.graceful_shutdown()

    def _stop_before_start(self) -> None:
        self.graceful_shutdown()  # the first response then says Connection: close


class _H2(H2ServerConnection):
    """The HTTP/2 driver with the stop hook the shutdown watch calls."""

    def _stop_gracefully(self) -> None:
        self.shutdown()

    def _stop_before_start(self) -> None:
        # once run() has started: the GOAWAY must follow our SETTINGS frame
        asyncio.get_running_loop().call_soon(self.shutdown)


class _ShutdownWatch:
    """Tells every live connection of one :class:`~pyrama_core.Shutdown` to stop gracefully.

    One watcher task per shutdown (not per connection), alive only while that shutdown has
    connections; it holds no guard, so it never delays the drain.
    """

    __slots__ = ("conns", "shutdown", "task", "watches")

    def __init__(self, shutdown: Shutdown, watches: dict[int, _ShutdownWatch]) -> None:
        self.shutdown = shutdown
        self.watches = watches
        self.conns: set[_Stoppable] = set()
        self.task: asyncio.Task[None] | None = None

    def add(self, conn: _Stoppable) -> None:
        self.conns.add(conn)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._watch())

    def remove(self, conn: _Stoppable) -> None:
        self.conns.discard(conn)
        if not self.conns:
            self.watches.pop(id(self.shutdown), None)
            task = self.task
            self.task = None
            if task is not None and not task.done():
                task.cancel()

    async def _watch(self) -> None:
        await self.shutdown.triggered.wait()
        for conn in list(self.conns):
            conn._stop_gracefully()


class HttpServer:
    """Serves HTTP on streams: HTTP/1.1, HTTP/2, or both on one port (:meth:`auto`).

    ``HttpServer.auto()`` speaks HTTP/1.1 and HTTP/2: over TLS the ALPN protocol picks the
    version (``h2`` or ``http/1.1``); on a plain connection (or TLS without ALPN) the first
    bytes are peeked and the HTTP/2 prior-knowledge preface selects h2c. ``HttpServer.http1()``
    and ``HttpServer.h2()`` speak one version only. (The HTTP/1.1 ``Upgrade: h2c`` dance is
    not offered; clients use prior knowledge or TLS.)

    Three ways to run it:

    * ``await server.serve(stream, service)``: serve one connection (from any listener).
    * ``server.service(service)``: an :class:`HttpServerService`, a ``Service[Stream, None]``
      that stacks under :class:`~pyrama_tls.TlsAcceptorLayer` and runs under
      :class:`~pyrama_tcp.TcpListener` or any other stream listener.
    * ``await server.listen("127.0.0.1:8080", service, tls=...)``: bind, serve, and stop
      gracefully on SIGINT/SIGTERM (or the given :class:`~pyrama_core.Shutdown`).

    Limits (an :class:`~pyrama_http_core.HttpLimits`, shared by both versions): by default the
    core's head limits (64 KiB head, 100 fields: ``431``), header read timeout 30 s
    (slowloris: ``408`` and close), keep-alive idle timeout 60 s, a request body limit of
    :data:`DEFAULT_MAX_BODY_SIZE` (``413``), and no limit on requests per connection. Give
    ``limits=HttpLimits(...)`` to change them (an explicit ``HttpLimits()`` keeps the core's
    own defaults, which leave bodies unlimited), or full *http1_config* / *h2_config* for
    every driver setting.

    The service is called directly by the drivers, with each request's extensions forked
    from the connection's (``SocketInfo``, ``NegotiatedTls``, the peeked ``ClientHello``,
    the h2 ``H2ClientFingerprintData``, ...). A service that raises gets a ``500`` answered
    for it; the connection and the server go on. When the stream carries an
    :class:`~pyrama_core.Executor` tied to a shutdown guard (as :class:`~pyrama_tcp.TcpListener`
    provides), shutdown closes idle HTTP/1.1 connections at once, busy ones after their
    response, and HTTP/2 connections with a graceful GOAWAY.
    """

    __slots__ = ("_h1_config", "_h2_config", "_versions")

    def __init__(
        self,
        versions: HttpVersions = HttpVersions.AUTO,
        *,
        limits: HttpLimits | None = None,
        http1_config: Http1Config | None = None,
        h2_config: H2ServerConfig | None = None,
    ) -> None:
        """Configure the server (see the class docs); :class:`ConfigError` on bad values."""
        if not isinstance(versions, HttpVersions):
            raise ConfigError(f"versions must be HttpVersions, got {versions!r}")
        if limits is not None and not isinstance(limits, HttpLimits):
            raise ConfigError(f"limits must be HttpLimits, got {limits!r}")
        eff = HttpLimits(max_body_size=DEFAULT_MAX_BODY_SIZE) if limits is None else limits
        if http1_config is None:
            http1_config = Http1Config(limits=eff, send_408_on_header_timeout=True)
        elif limits is not None:
            http1_config = dataclasses.replace(http1_config, limits=limits)
        if h2_config is None:
            h2_config = H2ServerConfig(limits=eff)
        elif limits is not None:
            h2_config = dataclasses.replace(h2_config, limits=limits)
        self._versions = versions
        self._h1_config = http1_config
        self._h2_config = h2_config

    @classmethod
    def auto(cls, **settings: Any) -> HttpServer:
        """A server speaking HTTP/1.1 and HTTP/2 (ALPN, or the h2c preface)."""
        return cls(HttpVersions.AUTO, **settings)

    @classmethod
    def http1(cls, **settings: Any) -> HttpServer:
        """A server speaking HTTP/1.x only."""
        return cls(HttpVersions.HTTP1, **settings)

    @classmethod
    def h2(cls, **settings: Any) -> HttpServer:
        """A server speaking HTTP/2 only (h2 over TLS, h2c with prior knowledge)."""
        return cls(HttpVersions.H2, **settings)

    @property
    def versions(self) -> HttpVersions:
        """Which versions this server speaks."""
        return self._versions

    @property
    def http1_config(self) -> Http1Config:
        """The HTTP/1.1 driver settings."""
        return self._h1_config

    @property
    def h2_config(self) -> H2ServerConfig:
        """The HTTP/2 driver settings."""
        return self._h2_config

    def service(self, service: Service[Request, Response]) -> HttpServerService:
        """A ``Service[Stream, None]`` serving HTTP with *service* on each stream it gets."""
        return HttpServerService(self, service)

    async def serve(self, stream: Stream, service: Service[Request, Response]) -> None:
        """Serve HTTP on *stream* with *service* until the connection ends (closes *stream*)."""
        await HttpServerService(self, service).serve(stream)

    def tls_acceptor_data(self, tls: TlsAcceptorData) -> TlsAcceptorData:
        """*tls* with this server's ALPN protocols filled in when it names none."""
        if tls.alpn:
            return tls
        alpn = {
            HttpVersions.AUTO: (b"h2", b"http/1.1"),
            HttpVersions.HTTP1: (b"http/1.1",),
            HttpVersions.H2: (b"h2",),
        }[self._versions]
        return dataclasses.replace(tls, alpn=alpn)

    async def listen(
        self,
        addr: AddrLike,
        service: Service[Request, Response],
        *,
        tls: TlsAcceptorData | None = None,
        shutdown: Shutdown | None = None,
        max_connections: int | None = None,
        on_listening: Callable[[SocketAddress], None] | None = None,
    ) -> ShutdownResult:
        """Bind *addr*, serve HTTP(S) with *service* until shutdown, then drain gracefully.

        With *tls* connections are TLS first (ALPN filled in from the versions served when
        *tls* names none). Without *shutdown*, SIGINT/SIGTERM stop the server (call this in
        the main thread). *on_listening* is called with the bound address once the socket
        listens (useful with port 0). Returns the drain's :class:`~pyrama_core.ShutdownResult`.
        """
        stream_svc: Service[Stream, None] = self.service(service)
        if tls is not None:
            stream_svc = TlsAcceptorLayer(self.tls_acceptor_data(tls)).layer(stream_svc)
        listener = await TcpListener.bind(addr)
        _log.info("http server listening", address=str(listener.local_addr), tls=tls is not None)
        if on_listening is not None:
            on_listening(listener.local_addr)
        return await listener.serve_graceful(stream_svc, shutdown, max_connections=max_connections)

    def __repr__(self) -> str:
        return f"HttpServer({self._versions.value})"


class HttpServerService:
    """The ``Service[Stream, None]`` made by :meth:`HttpServer.service`.

    Each :meth:`serve` call picks the protocol for the stream and runs the matching connection
    driver until the connection ends; see :class:`HttpServer`.
    """

    __slots__ = ("_h1", "_h2", "_inner", "_server", "_versions", "_watches")

    def __init__(self, server: HttpServer, service: Service[Request, Response]) -> None:
        self._server = server
        self._inner = service
        self._versions = server.versions
        self._h1 = server.http1_config
        self._h2 = server.h2_config
        self._watches: dict[int, _ShutdownWatch] = {}

    @property
    def inner(self) -> Service[Request, Response]:
        """The request service."""
        return self._inner

    @property
    def server(self) -> HttpServer:
        """The server configuration."""
        return self._server

    async def serve(self, stream: Stream, /) -> None:
        """Serve HTTP on *stream* until the connection ends; closes *stream*.

        When an HTTP/1.1 connection switches protocols (``CONNECT`` answered ``2xx``, ``101``
        to an ``Upgrade``), its stream belongs to whoever awaits the request's
        :class:`~pyrama_http_core.OnUpgrade`, and this returns only once that taker has
        closed it (or aborted it, or detached its socket), so a listener that closes
        streams when their service returns does not cut the tunnel. The taker must close
        the stream it took.
        """
        # One coroutine runs the whole connection (the driver's run() is awaited from here,
        # not from helpers): each nested coroutine would stay alive as long as the
        # connection, and an idle keep-alive connection should cost as little as possible.
        versions = self._versions
        conn: _H1 | _H2 | None
        if versions is HttpVersions.HTTP1:
            conn = _H1(stream, self._inner, self._h1)
        elif versions is HttpVersions.H2:
            conn = _H2(stream, self._inner, self._h2)
        else:
            tls = stream.extensions.get(NegotiatedTls)
            if tls is not None and tls.alpn is not None:
                if tls.alpn == "h2":
                    conn = _H2(stream, self._inner, self._h2)
                else:
                    conn = _H1(stream, self._inner, self._h1)
            else:
                conn = await self._sniff(stream)
                if conn is None:
                    return
        watch = self._watch_for(stream)
        if watch is None:
            await conn.run()
        else:
            watch.add(conn)
            if watch.shutdown.is_triggered():
                conn._stop_before_start()
            try:
                await conn.run()
            finally:
                watch.remove(conn)
        if type(conn) is _H1:
            # switched (CONNECT tunnel, 101 upgrade): the listener closes the stream when
            # this returns, so hold on until whoever took it has closed or detached it
            await conn.released()

    async def _sniff(self, stream: Stream) -> _H1 | _H2 | None:
        """Read the first bytes: the h2c preface means HTTP/2, anything else HTTP/1.1.

        Returns the driver for the connection, or ``None`` (closed) when nothing came.
        """
        timeout = self._h1.limits.header_read_timeout
        data = b""
        # a timer-wheel deadline: an asyncio.timeout (a loop timer and a context manager per
        # connection) cost about as much as the rest of the sniff
        # the loop from the stream when it tells it (looking it up is a getpid system call)
        deadline = None if timeout is None else TaskDeadline(timeout, getattr(stream, "loop", None))
        try:
            data = await stream.read(_FIRST_READ)
            while data and len(data) < _PREFACE_LEN and may_be_h2_preface(data):
                more = await stream.read(_FIRST_READ)
                if not more:
                    break
                data += more
        except asyncio.CancelledError:
            if deadline is None or not deadline.finish():
                raise
            data = b""  # the deadline passed: nothing to answer
        except Exception:  # a reset, a broken TLS record: nothing to answer
            data = b""
        finally:
            if deadline is not None:
                deadline.finish()
        if not data:
            await _close_quietly(stream)
            return None
        if len(data) >= _PREFACE_LEN and data.startswith(H2_PREFACE):  # (no Python call)
            return _H2(rewind(stream, data), self._inner, self._h2)
        if data.find(b"\r\n\r\n") >= 0:  # (`in` tries an int conversion first on 3.11)
            # a complete head: the driver starts with the bytes already read (no wrapper)
            conn = _H1(stream, self._inner, self._h1)
            conn.codec.receive(data)
            return conn
        # a partial head: the driver reads it again from the start, so its header read
        # timeout (and 408) covers the head as a whole
        return _H1(rewind(stream, data), self._inner, self._h1)

    def _watch_for(self, stream: Stream) -> _ShutdownWatch | None:
        executor = stream.extensions.get(Executor)
        guard = None if executor is None else executor.guard
        if guard is None:
            return None
        shutdown = guard.shutdown
        watch = self._watches.get(id(shutdown))
        if watch is None:
            watch = _ShutdownWatch(shutdown, self._watches)
            self._watches[id(shutdown)] = watch
        return watch

    def __repr__(self) -> str:
        return f"HttpServerService({self._server!r}, {self._inner!r})"


async def _close_quietly(stream: Stream) -> None:
    try:
        await stream.close()
    except Exception as exc:  # a dying transport: nothing left to do
        _log.debug("closing a silent connection failed", error=repr(exc))
