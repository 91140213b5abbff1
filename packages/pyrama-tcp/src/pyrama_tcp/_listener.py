"""TcpListener and the accept/serve machinery it shares with UnixListener."""

from __future__ import annotations

import asyncio
import errno
import functools
import socket
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, Generic, TypeVar

from pyrama_core import (
    Executor,
    ExponentialBackoff,
    Service,
    Shutdown,
    ShutdownGuard,
    ShutdownResult,
    new_task,
)
from pyrama_core.errors import ConfigError, is_connection_fault
from pyrama_core.telemetry import get_logger
from pyrama_net import (
    AddrLike,
    SocketAddress,
    SocketInfo,
    SocketStream,
    SocketStreamProtocol,
    to_bind_address,
)
from pyrama_tcp._stream import TcpStream
from pyrama_tcp.errors import AcceptError, AddressInUseError, BindError, ListenerClosedError

__all__ = ["DEFAULT_BACKLOG", "TcpListener"]

_log = get_logger(__name__)

DEFAULT_BACKLOG: Final[int] = 1024
"""Pending-connection queue length passed to ``listen()`` unless told otherwise."""

# accept() failures that mean "out of a resource": retrying at once would spin, so back off
_RESOURCE_ERRNOS: Final[frozenset[int]] = frozenset(
    {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
)
# accept() failures about one pending connection (it died before we took it): skip it
_TRANSIENT_ERRNOS: Final[frozenset[int]] = frozenset(
    e
    for e in (
        errno.ECONNABORTED,
        errno.ECONNRESET,
        errno.EPROTO,
        errno.EPERM,
        errno.ENETDOWN,
        errno.ENETUNREACH,
        errno.EHOSTDOWN,
        errno.EHOSTUNREACH,
        errno.ENOPROTOOPT,
        errno.EOPNOTSUPP,
        getattr(errno, "ENONET", None),
        getattr(errno, "ENOSR", None),
        getattr(errno, "ETIMEDOUT", None),
    )
    if e is not None
)
# accepts in a row before yielding to the event loop, so a connection flood cannot starve
# the connections already being served
_ACCEPT_BURST: Final[int] = 32
# how long a finished connection may take to flush its last writes before it is aborted
_CLOSE_LINGER: Final[float] = 10.0

StreamT = TypeVar("StreamT", bound=SocketStream)
L = TypeVar("L", bound="_SocketListener[Any]")


_ACCEPTED_CLASSES: dict[tuple[int, int], type[socket.socket]] = {}


def _accepted_class(family: int, type_: int) -> type[socket.socket]:
    """``socket.socket`` whose ``family`` and ``type`` are plain class attributes.

    The event loop reads both of an accepted socket (uvloop three times per connection),
    and ``socket.socket`` makes them enum members anew on every read (a Python-level
    conversion each). Every socket a listener accepts has its listener's family and type.
    """
    key = (family, type_)
    cls = _ACCEPTED_CLASSES.get(key)
    if cls is None:
        cls = _ACCEPTED_CLASSES[key] = type(
            "AcceptedSocket",
            (socket.socket,),
            {
                "__slots__": (),
                "__module__": __name__,
                "family": socket.AddressFamily(family),
                "type": socket.SocketKind(type_),
            },
        )
    return cls


def _accept_backoff() -> ExponentialBackoff:
    return ExponentialBackoff(0.005, 1.0, jitter="equal")


class _AcceptWatch:
    """Wakes the accept loop when the listening socket is readable (a pending connection)."""

    __slots__ = ("_fd", "_loop", "_waiter", "_watching")

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        self._loop = loop
        self._fd = fd
        self._waiter: asyncio.Future[None] | None = None
        self._watching = False

    def readable(self) -> asyncio.Future[None]:
        """A future done when a connection may be pending (register the socket if needed)."""
        if not self._watching:
            self._loop.add_reader(self._fd, self._wake)
            self._watching = True
        w: asyncio.Future[None] = self._loop.create_future()
        self._waiter = w
        return w

    def _wake(self) -> None:
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)

    def stop(self) -> None:
        """Unregister the socket (idempotent)."""
        self._waiter = None
        if self._watching:
            self._watching = False
            self._loop.remove_reader(self._fd)


class _Serving(Generic[StreamT]):
    """The state of one ``serve()`` call: in-flight connections and the accept loop."""

    __slots__ = (
        "backoff",
        "conns",
        "executor",
        "family",
        "guard",
        "limit",
        "listener",
        "local",
        "loop",
        "proto_factory",
        "serve_fn",
        "slot_waiter",
        "timeout",
    )

    def __init__(
        self,
        listener: _SocketListener[StreamT],
        service: Service[StreamT, Any],
        guard: ShutdownGuard | None,
        max_connections: int | None,
        timeout: float | None,
        backoff: ExponentialBackoff,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.listener = listener
        self.serve_fn: Callable[[StreamT], Any] = service.serve
        self.guard = guard
        self.limit = max_connections
        self.timeout = timeout
        self.backoff = backoff
        self.conns: set[asyncio.Task[None]] = set()
        self.slot_waiter: asyncio.Future[None] | None = None
        # built once per serve(): nothing is rebuilt per connection
        self.proto_factory = functools.partial(
            SocketStreamProtocol, loop, stream_factory=listener._stream_factory
        )
        # an IP listener bound to one address: every accepted connection has that local
        # address, and accept() tells the peer's, so a stream's SocketInfo needs no system
        # call (a wildcard or Unix listener leaves it to the stream)
        lsock = listener._sock
        self.family = socket.AddressFamily(lsock.family)
        self.local: Any = None
        if self.family in (socket.AF_INET, socket.AF_INET6):
            local = lsock.getsockname()
            if local[0] not in ("0.0.0.0", "::"):
                self.local = local
        self.executor = Executor.graceful(guard) if guard is not None else Executor()

    # -- accepting --------------------------------------------------------------------------

    async def accept_loop(self) -> None:
        lsock = self.listener._sock
        loop = self.loop
        conns = self.conns
        limit = self.limit
        backoff = self.backoff
        guard = self.guard
        # The listening socket stays registered with the loop while the backlog is empty
        # (one registration for the listener's life, not one per accept as with
        # loop.sock_accept); it is unregistered whenever this loop waits for something
        # else, so pending connections never make the loop spin.
        watch = _AcceptWatch(loop, lsock.fileno())
        try:
            await self._accept_until_stopped(lsock, loop, conns, limit, backoff, guard, watch)
        finally:
            watch.stop()

    async def _accept_until_stopped(
        self,
        lsock: socket.socket,
        loop: asyncio.AbstractEventLoop,
        conns: set[asyncio.Task[None]],
        limit: int | None,
        backoff: ExponentialBackoff,
        guard: ShutdownGuard | None,
        watch: _AcceptWatch,
    ) -> None:
        failing = False
        burst = 0
        # socket.accept() would wrap each descriptor with the listener's family and type read
        # through their enum properties (four enum conversions per connection): read them once
        # (_socket.socket._accept, which socket.accept() itself calls, returns the raw
        # descriptor; stable since Python 3.3); a socket class with its own accept() keeps it
        raw_accept: Callable[[], tuple[int, Any]] | None = None
        if type(lsock).accept is socket.socket.accept:
            raw_accept = lsock._accept  # type: ignore[attr-defined]
        family, type_, proto = lsock.family, lsock.type, lsock.proto
        new_socket = _accepted_class(family, type_)
        while True:
            if limit is not None and len(conns) >= limit:
                # leave further connections in the kernel's backlog until a slot frees
                watch.stop()
                w = loop.create_future()
                self.slot_waiter = w
                await w
                continue
            try:
                try:
                    if raw_accept is not None:
                        fd, peer = raw_accept()
                        conn = new_socket(family, type_, proto, fd)
                    else:
                        conn, peer = lsock.accept()
                except (BlockingIOError, InterruptedError):
                    burst = 0
                    await watch.readable()
                    continue
            except OSError as exc:
                if exc.errno in _RESOURCE_ERRNOS:
                    watch.stop()
                    if not failing:
                        failing = True
                        _log.warning(
                            "accept failed: out of resources; backing off",
                            listener=self.listener._describe(),
                            error=str(exc),
                        )
                    if not await backoff.next_backoff():
                        raise AcceptError(
                            f"accept() kept failing on {self.listener._describe()}: {exc}"
                        ) from exc
                    continue
                if exc.errno in _TRANSIENT_ERRNOS:
                    burst += 1  # each one consumed a pending connection; still yield now and then
                    if burst >= _ACCEPT_BURST:
                        burst = 0
                        await asyncio.sleep(0)
                    continue
                raise AcceptError(f"accept() failed on {self.listener._describe()}: {exc}") from exc
            if failing:
                failing = False
                backoff.reset()
                _log.info("accept recovered", listener=self.listener._describe())
            if guard is not None and guard.is_cancelled():
                conn.close()  # shutdown began while we waited: take no new work
                return
            self.spawn(conn, peer)
            burst += 1
            if burst >= _ACCEPT_BURST:
                burst = 0
                await asyncio.sleep(0)

    def spawn(self, conn: socket.socket, peer: Any = None) -> None:
        task = new_task(self.loop, self.connection(conn, peer), "pyrama-connection")
        if self.guard is not None:
            self.guard.track_task(task)
        self.conns.add(task)
        task.add_done_callback(self.on_done)

    def on_done(self, task: asyncio.Task[None]) -> None:
        self.conns.discard(task)
        w = self.slot_waiter
        if w is not None:
            self.slot_waiter = None
            if not w.done():
                w.set_result(None)

    # -- one connection -----------------------------------------------------------------------

    async def connection(self, conn: socket.socket, peer: Any = None) -> None:
        factory = self.proto_factory
        local = self.local
        if local is not None and type(peer) is tuple:
            # positional: the dataclass __init__ called with keywords costs ~1.4k more
            info = SocketInfo(local, peer, self.family)
            factory = functools.partial(factory, info=info)
        try:
            _, proto = await self.loop.connect_accepted_socket(factory, conn)
        except OSError as exc:
            conn.close()
            _log.debug("accepted connection died before setup", error=str(exc))
            return
        stream: Any = proto.take_stream()
        stream.extensions.insert(self.executor)
        clean = False
        try:
            if self.timeout is None:
                await self.serve_fn(stream)
            else:
                deadline = asyncio.timeout(self.timeout)
                try:
                    async with deadline:
                        await self.serve_fn(stream)
                except TimeoutError:
                    if not deadline.expired():
                        raise
                    _log.info(
                        "connection deadline reached; closing",
                        peer=_peer_of(stream),
                        timeout=self.timeout,
                    )
                    return
            clean = True
        except Exception as exc:
            if is_connection_fault(exc):
                # the peer or the network ended this connection: one line, no traceback
                _log.info(
                    "connection ended with an error",
                    peer=_peer_of(stream),
                    error=f"{type(exc).__name__}: {exc}",
                )
            else:
                _log.error(
                    "connection service failed",
                    peer=_peer_of(stream),
                    listener=self.listener._describe(),
                    error=f"{type(exc).__name__}: {exc}",
                    exc_info=exc,
                )
        finally:
            if not clean:
                stream.abort()
            elif not stream.is_closed():  # (a relay closes it: then no coroutine to make)
                await _close_gracefully(stream)

    # -- stopping -----------------------------------------------------------------------------

    async def drain(self) -> None:
        while self.conns:
            await asyncio.wait(list(self.conns))

    async def cancel_all(self) -> None:
        for task in self.conns:
            task.cancel()
        while self.conns:
            await asyncio.wait(list(self.conns))


async def _close_gracefully(stream: SocketStream) -> None:
    """Close *stream* (not closed yet), waiting at most ``_CLOSE_LINGER`` seconds."""
    try:
        async with asyncio.timeout(_CLOSE_LINGER):
            await stream.close()
    except TimeoutError:
        stream.abort()


def _peer_of(stream: SocketStream) -> Any:
    info = stream.extensions.get(SocketInfo)
    return None if info is None else info.peer


def _check_limits(max_connections: int | None, connection_timeout: float | None) -> None:
    if max_connections is not None and (
        isinstance(max_connections, bool)
        or not isinstance(max_connections, int)
        or max_connections < 1
    ):
        raise ConfigError(f"max_connections must be an int >= 1 or None, got {max_connections!r}")
    if connection_timeout is not None and not connection_timeout > 0:
        raise ConfigError(
            f"connection_timeout must be > 0 seconds or None, got {connection_timeout!r}"
        )


async def _serve_loop(
    listener: _SocketListener[StreamT],
    service: Service[StreamT, Any],
    *,
    guard: ShutdownGuard | None,
    max_connections: int | None,
    connection_timeout: float | None,
    accept_backoff: ExponentialBackoff | None,
) -> None:
    """Accept connections on *listener* and serve each with *service* until told to stop.

    Stops accepting when *guard*'s shutdown begins, when the listener is closed, or when
    this coroutine is cancelled. After a graceful stop it waits for in-flight connections
    (the shutdown cancels them at its deadline); after a cancel it cancels them itself.
    """
    try:
        _check_limits(max_connections, connection_timeout)
        if listener._serving is not None:
            raise ListenerClosedError("the listener is already serving")
        if listener._sock.fileno() < 0:
            raise ListenerClosedError("the listener is closed")
    except BaseException:
        if guard is not None:
            guard.release()
        raise
    loop = asyncio.get_running_loop()
    backoff = _accept_backoff() if accept_backoff is None else accept_backoff
    state = _Serving(listener, service, guard, max_connections, connection_timeout, backoff)
    listener._serving = state
    stop = loop.create_future()
    listener._stop = stop
    stopped: asyncio.Future[None] = loop.create_future()
    listener._accept_stopped = stopped
    accept_task = loop.create_task(state.accept_loop())
    watchers: list[asyncio.Future[Any]] = [accept_task, stop]
    cancelled_task: asyncio.Task[None] | None = None
    if guard is not None:
        cancelled_task = loop.create_task(guard.cancelled())
        watchers.append(cancelled_task)
    try:
        await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
        await _stop_accepting(listener, accept_task, stopped)
        await state.drain()
        if accept_task.done() and not accept_task.cancelled():
            exc = accept_task.exception()
            if exc is not None:
                raise exc
    except asyncio.CancelledError:
        await _stop_accepting(listener, accept_task, stopped)
        await state.cancel_all()
        raise
    finally:
        if cancelled_task is not None:
            cancelled_task.cancel()
        listener._serving = None
        listener._stop = None
        listener._accept_stopped = None
        if not stop.done():
            stop.set_result(None)
        if not stopped.done():  # pragma: no cover - only if stopping itself failed
            stopped.set_result(None)
        if guard is not None:
            guard.release()


async def _stop_accepting(
    listener: _SocketListener[Any],
    accept_task: asyncio.Task[None],
    stopped: asyncio.Future[None],
) -> None:
    if not accept_task.done():
        accept_task.cancel()
        # the cancelled accept loop unregisters the socket before it is closed
        await asyncio.wait([accept_task])
    try:
        listener._close_socket()
    finally:
        if not stopped.done():
            stopped.set_result(None)


class _SocketListener(Generic[StreamT]):
    """Everything a stream listener does once its socket is listening (TCP and Unix)."""

    __slots__ = ("_accept_stopped", "_serving", "_sock", "_stop", "_stream_factory")

    def __init__(
        self,
        sock: socket.socket,
        stream_factory: Callable[[asyncio.Transport, SocketStreamProtocol], StreamT],
    ) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._stream_factory = stream_factory
        self._serving: _Serving[StreamT] | None = None
        self._stop: asyncio.Future[None] | None = None
        self._accept_stopped: asyncio.Future[None] | None = None

    @property
    def socket(self) -> socket.socket:
        """The listening socket (do not accept on it yourself)."""
        return self._sock

    @property
    def connections(self) -> int:
        """How many connections are being served right now."""
        state = self._serving
        return 0 if state is None else len(state.conns)

    @property
    def serving(self) -> bool:
        """Whether :meth:`serve` is running."""
        return self._serving is not None

    def is_closed(self) -> bool:
        """Whether the listening socket is closed."""
        return self._sock.fileno() < 0

    async def serve(
        self,
        service: Service[StreamT, Any],
        *,
        guard: ShutdownGuard | None = None,
        max_connections: int | None = None,
        connection_timeout: float | None = None,
        accept_backoff: ExponentialBackoff | None = None,
    ) -> None:
        """Accept connections and serve each with *service*, each in its own task.

        The service gets the connection's stream and the connection is closed when it
        returns (aborted if it raised or was cancelled). A service error is logged and closes
        only its connection; the listener keeps accepting. An ``Executor`` tied to *guard*
        is put into every stream's extensions for work the service spawns.

        * *guard*: when its shutdown begins, the listener stops accepting (the listening
          socket is closed), waits for in-flight connections (the shutdown cancels them at its
          deadline) and returns. ``serve`` owns the guard and releases it when it returns.
        * *max_connections*: at most this many connections are served at once; further
          connections wait in the kernel's backlog until a slot frees.
        * *connection_timeout*: a whole-connection deadline in seconds; when it passes the
          service is cancelled and the connection aborted.

        Without a guard, ``serve`` runs until cancelled (in-flight connections are then
        cancelled too) or until :meth:`close`. Accept failures from exhausted resources
        (``EMFILE``/``ENFILE``) back off exponentially (*accept_backoff*, by default 5 ms
        doubling up to 1 s, without end) instead of spinning; failures of a single pending
        connection are skipped; an unexpected failure, or a back-off whose *max_attempts* run
        out, raises :class:`~pyrama_tcp.errors.AcceptError`.
        """
        await _serve_loop(
            self,
            service,
            guard=guard,
            max_connections=max_connections,
            connection_timeout=connection_timeout,
            accept_backoff=accept_backoff,
        )

    async def serve_graceful(
        self,
        service: Service[StreamT, Any],
        shutdown: Shutdown | None = None,
        *,
        max_connections: int | None = None,
        connection_timeout: float | None = None,
        deadline: float | None = None,
    ) -> ShutdownResult:
        """Serve until *shutdown* completes; return how the drain went.

        Without *shutdown*, one triggered by SIGINT/SIGTERM is created (call this in the main
        thread) and the listener closing also ends it. *deadline* overrides the shutdown's
        drain deadline. If accepting fails fatally, shutdown is triggered and the error is
        raised once the drain is over.
        """
        own = shutdown is None
        sd = Shutdown.with_signals() if shutdown is None else shutdown
        guard = sd.guard()
        try:
            task = guard.spawn_task(
                self.serve(
                    service,
                    guard=guard.clone(),
                    max_connections=max_connections,
                    connection_timeout=connection_timeout,
                )
            )
        finally:
            guard.release()

        def on_end(t: asyncio.Task[None]) -> None:
            failed = not t.cancelled() and t.exception() is not None
            if failed:
                sd.trigger("listener failed")
            elif own:
                sd.trigger("listener closed")

        task.add_done_callback(on_end)
        result = await (sd.wait_complete() if deadline is None else sd.wait_complete(deadline))
        if task.done() and not task.cancelled():
            exc = task.exception()
            if exc is not None:
                raise exc
        return result

    def _close_socket(self) -> None:
        if self._sock.fileno() >= 0:
            self._sock.close()
        self._after_close()

    def _after_close(self) -> None:
        """Hook run once the listening socket is closed (Unix listeners unlink their path)."""

    async def close(self) -> None:
        """Stop accepting and close the listening socket (idempotent).

        A running :meth:`serve` stops accepting at once and returns after its in-flight
        connections finish.
        """
        stop = self._stop
        stopped = self._accept_stopped
        if stop is not None and stopped is not None:
            if not stop.done():
                stop.set_result(None)
            # serve() closes the socket after its accept loop has let go of it
            await asyncio.shield(stopped)
        else:
            self._close_socket()

    async def __aenter__(self: L) -> L:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _describe(self) -> str:
        return repr(self)


class TcpListener(_SocketListener[TcpStream]):
    """A TCP listening socket that serves a ``Service[TcpStream, Any]``.

    ``listener = await TcpListener.bind("127.0.0.1:8080")`` then
    ``await listener.serve(service, guard=shutdown.guard())``. Nothing listens beyond
    loopback unless an address says so. Each accepted connection is a
    :class:`~pyrama_tcp.TcpStream` served in its own task; see :meth:`serve`.
    """

    __slots__ = ("_local",)

    def __init__(self, sock: socket.socket) -> None:
        """Wrap a bound, listening TCP socket (use :meth:`bind` or :meth:`from_socket`)."""
        if sock.proto != socket.IPPROTO_TCP:
            # accepted sockets inherit the protocol number, and the event loop sets
            # TCP_NODELAY only on sockets that say they are TCP
            sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        super().__init__(sock, TcpStream)
        self._local = SocketAddress.from_tuple(sock.getsockname())

    @classmethod
    async def bind(
        cls,
        addr: AddrLike = "127.0.0.1:0",
        *,
        backlog: int = DEFAULT_BACKLOG,
        reuse_address: bool = True,
        reuse_port: bool = False,
        dual_stack: bool | None = None,
    ) -> TcpListener:
        """Bind and listen on *addr* (``"host:port"``, ``(host, port)`` or an address object).

        The default is an ephemeral port on 127.0.0.1. A host name is resolved with the
        system resolver and its first address is bound. *reuse_address* sets
        ``SO_REUSEADDR`` (restart without waiting out TIME_WAIT); *reuse_port* sets
        ``SO_REUSEPORT`` (several processes share the port); *dual_stack* applies to IPv6
        binds: ``True`` also accepts IPv4 on ``[::]``, ``False`` forbids it, ``None`` keeps
        the OS default. Raises :class:`~pyrama_tcp.errors.AddressInUseError` or
        :class:`~pyrama_tcp.errors.BindError`.
        """
        if isinstance(backlog, bool) or not isinstance(backlog, int) or backlog < 1:
            raise ConfigError(f"backlog must be an int >= 1, got {backlog!r}")
        local = to_bind_address(addr)
        family = local.family
        sockaddr = local.to_tuple()
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            if reuse_address:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6 and dual_stack is not None:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual_stack else 1)
            sock.bind(sockaddr)
            sock.listen(backlog)
        except OSError as exc:
            sock.close()
            err = AddressInUseError if exc.errno == errno.EADDRINUSE else BindError
            raise err(exc.errno or 0, f"cannot listen on TCP {local}: {exc}") from exc
        return cls(sock)

    @classmethod
    def from_socket(cls, sock: socket.socket) -> TcpListener:
        """Adopt a bound, listening TCP socket (socket activation, a parent's socket, ...)."""
        if sock.type != socket.SOCK_STREAM or sock.family not in (
            socket.AF_INET,
            socket.AF_INET6,
        ):
            raise ConfigError("from_socket needs an AF_INET/AF_INET6 SOCK_STREAM socket")
        return cls(sock)

    @property
    def local_addr(self) -> SocketAddress:
        """The address the listener is bound to (with the real port after binding port 0)."""
        return self._local

    def __repr__(self) -> str:
        return f"TcpListener(local={self._local!s})"
