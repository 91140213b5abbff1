"""UdpRelay: a layer-4 UDP forwarder with one upstream socket per client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

from pyrama_core import ShutdownGuard
from pyrama_core.errors import ConfigError
from pyrama_core.telemetry import get_logger
from pyrama_net import AddrLike, DnsResolver, SocketAddress, to_bind_address
from pyrama_udp._addr import resolve
from pyrama_udp._datagram import Datagram
from pyrama_udp._server import check_positive_int, run_until_stopped
from pyrama_udp._socket import DEFAULT_QUEUE_SIZE, UdpSocket
from pyrama_udp.errors import UdpClosedError, UdpError

__all__ = ["DEFAULT_IDLE_TIMEOUT", "DEFAULT_MAX_SESSIONS", "RelayReply", "RelayRoute", "UdpRelay"]

_log = get_logger(__name__)

DEFAULT_IDLE_TIMEOUT: Final[float] = 60.0
"""Seconds without traffic (either way) after which a relay session is closed."""

DEFAULT_MAX_SESSIONS: Final[int] = 1024
"""Clients a :class:`UdpRelay` relays for at once unless told otherwise."""

RelayRoute = Callable[[Datagram], Awaitable[tuple[bytes, AddrLike] | None]]
"""Picks where a client's datagram goes: ``(payload, destination)``, or ``None`` to drop it."""

RelayReply = Callable[[bytes, SocketAddress, SocketAddress], bytes | None]
"""Turns an upstream reply ``(data, from_addr, client)`` into what the client gets (or ``None``
to drop it)."""


class _Session:
    """One client's relay state: its upstream socket and the task pumping replies back."""

    __slots__ = ("client", "last_active", "reader", "upstream")

    def __init__(self, client: SocketAddress, upstream: UdpSocket, now: float) -> None:
        self.client = client
        self.upstream = upstream
        self.last_active = now
        self.reader: asyncio.Task[None] | None = None


class _RelayRun:
    """The state of one ``UdpRelay.serve`` call."""

    __slots__ = ("draining", "guard", "relay", "sessions", "sock", "sweeper", "target", "wake")

    def __init__(
        self,
        relay: UdpRelay,
        sock: UdpSocket,
        guard: ShutdownGuard | None,
        target: SocketAddress | None,
    ) -> None:
        self.relay = relay
        self.sock = sock
        self.guard = guard
        self.target = target
        self.sessions: dict[SocketAddress, _Session] = {}
        self.draining = False
        self.sweeper: asyncio.Task[None] | None = None
        self.wake: asyncio.Event = asyncio.Event()  # set when the last session is gone

    # -- client side ----------------------------------------------------------------------

    async def client_loop(self) -> None:
        relay = self.relay
        sock = self.sock
        sessions = self.sessions
        clock = relay._clock
        route = relay._route
        local = sock.local_addr
        base_ext = sock.extensions
        guard = self.guard
        while True:
            try:
                data, peer = await sock.recv_from()
            except UdpClosedError:
                return
            except UdpError as exc:
                _log.debug("udp relay receive error", local=str(local), error=str(exc))
                continue
            if guard is not None and guard.is_cancelled():
                return  # shutdown began while we waited: take no new work
            dest: SocketAddress | None = None
            if route is not None:
                try:
                    routed = await route(Datagram(data, peer, local, base_ext.fork()))
                    if routed is None:
                        continue
                    data, where = routed
                    dest = await resolve(where, resolver=relay._resolver)
                except Exception as exc:
                    _log.warning(
                        "udp relay route failed",
                        client=str(peer),
                        error=f"{type(exc).__name__}: {exc}",
                    )
                    continue
            session = sessions.get(peer)
            if session is None:
                if len(sessions) >= relay._max_sessions:
                    relay._refused += 1
                    _log.debug(
                        "udp relay session limit reached; datagram dropped", client=str(peer)
                    )
                    continue
                session = await self.open_session(peer)
                if session is None:
                    continue
            session.last_active = clock()
            try:
                if dest is None:
                    await session.upstream.send(data)
                else:
                    await session.upstream.send_to(data, dest)
            except UdpError as exc:
                _log.debug("udp relay forward failed", client=str(peer), error=str(exc))

    async def open_session(self, client: SocketAddress) -> _Session | None:
        relay = self.relay
        try:
            if self.target is not None:
                upstream = await UdpSocket.connect_to(
                    self.target, queue_size=relay._queue_size, resolver=relay._resolver
                )
            else:
                bind = relay._session_bind
                if bind is None:
                    bind = (
                        SocketAddress.any_ipv6(0) if client.is_ipv6 else SocketAddress.any_ipv4(0)
                    )
                upstream = await UdpSocket.bind(
                    bind, queue_size=relay._queue_size, resolver=relay._resolver
                )
        except UdpError as exc:
            _log.warning(
                "udp relay cannot open an upstream socket", client=str(client), error=str(exc)
            )
            return None
        session = _Session(client, upstream, relay._clock())
        coro = self.pump(session)
        guard = self.guard
        reader = (
            asyncio.get_running_loop().create_task(coro)
            if guard is None
            else guard.spawn_task(coro)
        )
        session.reader = reader
        reader.add_done_callback(lambda _t: self.forget(session))
        self.sessions[client] = session
        return session

    # -- upstream side ---------------------------------------------------------------------

    async def pump(self, session: _Session) -> None:
        relay = self.relay
        clock = relay._clock
        reply = relay._reply
        sock = self.sock
        client = session.client
        upstream = session.upstream
        while True:
            try:
                data, src = await upstream.recv_from()
            except UdpClosedError:
                return
            except UdpError as exc:  # e.g. ICMP port unreachable from the upstream
                _log.debug("udp relay upstream error", client=str(client), error=str(exc))
                continue
            session.last_active = clock()
            if reply is not None:
                try:
                    out = reply(data, src, client)
                except Exception as exc:
                    _log.warning(
                        "udp relay reply hook failed",
                        client=str(client),
                        error=f"{type(exc).__name__}: {exc}",
                    )
                    continue
                if not out:
                    continue
                data = out
            try:
                await sock.send_to(data, client)
            except UdpClosedError:
                return
            except UdpError as exc:
                _log.debug("udp relay reply failed", client=str(client), error=str(exc))

    def forget(self, session: _Session) -> None:
        if self.sessions.get(session.client) is session:
            del self.sessions[session.client]
        session.upstream.abort()
        if not self.sessions:
            self.wake.set()

    # -- eviction ------------------------------------------------------------------------------

    def evict_idle(self) -> int:
        relay = self.relay
        limit = relay._shutdown_idle if self.draining else relay._idle_timeout
        now = relay._clock()
        victims = [s for s in self.sessions.values() if now - s.last_active >= limit]
        for s in victims:
            if s.reader is not None:
                s.reader.cancel()
        return len(victims)

    async def sweep_loop(self) -> None:
        relay = self.relay
        while True:
            limit = relay._shutdown_idle if self.draining else relay._idle_timeout
            await asyncio.sleep(max(limit / 4, 0.001))
            self.evict_idle()

    def restart_sweeper(self) -> None:
        if self.sweeper is not None:
            self.sweeper.cancel()
        self.sweeper = asyncio.get_running_loop().create_task(self.sweep_loop())

    async def close_all(self) -> None:
        readers = [s.reader for s in self.sessions.values() if s.reader is not None]
        for r in readers:
            r.cancel()
        if readers:
            await asyncio.wait(readers)

    async def wait_gone(self) -> None:
        while self.sessions:
            self.wake.clear()
            await self.wake.wait()


class UdpRelay:
    """A layer-4 UDP forwarder: every client gets its own upstream socket.

    Datagrams a client sends to the relay's socket go out through that client's upstream
    socket; whatever comes back on it is sent to the client. Two ways to say where datagrams
    go:

    * *upstream*: a fixed address (``pyrama serve forward --mode udp``). Each session socket
      is connected to it, so the kernel filters out datagrams from anyone else.
    * *route*: an async hook that gets each client :class:`Datagram` and returns
      ``(payload, destination)`` or ``None`` (drop). Session sockets are then unconnected and
      bound to *session_bind* (the wildcard address of the client's family by default, since
      they must reach any destination); *reply* may rewrite or drop what comes back. This is
      the shape of SOCKS5 UDP ASSOCIATE.

    Limits: a session is closed after *idle_timeout* seconds without traffic in either
    direction; at most *max_sessions* clients at once (datagrams from further clients are
    dropped and counted in :attr:`refused`); each upstream socket's receive queue holds
    *queue_size* datagrams. *clock* (default: the event loop's) is injectable for tests.
    """

    __slots__ = (
        "_clock",
        "_idle_timeout",
        "_max_sessions",
        "_queue_size",
        "_refused",
        "_reply",
        "_resolver",
        "_route",
        "_runs",
        "_session_bind",
        "_shutdown_idle",
        "_upstream",
    )

    def __init__(
        self,
        upstream: AddrLike | None = None,
        *,
        route: RelayRoute | None = None,
        reply: RelayReply | None = None,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        shutdown_idle: float = 1.0,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        session_bind: AddrLike | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        resolver: DnsResolver | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """Configure the relay; give exactly one of *upstream* and *route*.

        *shutdown_idle*: once graceful shutdown begins, sessions idle this long (capped by
        *idle_timeout*) are closed, so in-flight exchanges can finish without waiting out the
        full idle timeout.
        """
        if (upstream is None) == (route is None):
            raise ConfigError("give exactly one of upstream and route")
        if not idle_timeout > 0:
            raise ConfigError(f"idle_timeout must be > 0 seconds, got {idle_timeout!r}")
        if not shutdown_idle > 0:
            raise ConfigError(f"shutdown_idle must be > 0 seconds, got {shutdown_idle!r}")
        self._upstream = upstream
        self._route = route
        self._reply = reply
        self._idle_timeout = float(idle_timeout)
        self._shutdown_idle = min(float(shutdown_idle), self._idle_timeout)
        self._max_sessions = check_positive_int("max_sessions", max_sessions)
        self._queue_size = check_positive_int("queue_size", queue_size)
        self._session_bind = None if session_bind is None else to_bind_address(session_bind)
        self._resolver = resolver
        self._clock: Callable[[], float] = clock or _loop_time
        self._refused = 0
        self._runs: set[_RelayRun] = set()

    @property
    def sessions(self) -> int:
        """How many client sessions are open (over every served socket)."""
        return sum(len(run.sessions) for run in self._runs)

    @property
    def refused(self) -> int:
        """Datagrams dropped because *max_sessions* clients already had sessions."""
        return self._refused

    def session_clients(self) -> list[SocketAddress]:
        """The clients that have a session right now."""
        return [c for run in self._runs for c in run.sessions]

    def evict_idle(self) -> int:
        """Close the sessions idle for *idle_timeout* now; return how many (also runs by itself)."""
        return sum(run.evict_idle() for run in list(self._runs))

    async def serve(self, sock: UdpSocket, *, guard: ShutdownGuard | None = None) -> None:
        """Relay for the clients of *sock* until told to stop.

        With *guard*: when its shutdown begins, datagrams from clients are no longer taken,
        replies still flow back until each session has been idle for *shutdown_idle* (the
        shutdown cancels what is left at its deadline), then ``serve`` returns and releases
        *guard* (it owns it). Without a guard it runs until cancelled, or until *sock* is
        closed; either closes every session. *sock* itself is never closed here. A fixed
        *upstream* domain is resolved once, here.
        """
        try:
            target = None
            if self._upstream is not None:
                target = await resolve(self._upstream, resolver=self._resolver)
            run = _RelayRun(self, sock, guard, target)
            self._runs.add(run)
            try:
                run.restart_sweeper()
                stopped = await run_until_stopped(run.client_loop(), guard)
                if stopped:
                    run.draining = True
                    run.evict_idle()
                    run.restart_sweeper()
                    await run.wait_gone()
            finally:
                if run.sweeper is not None:
                    run.sweeper.cancel()
                await run.close_all()
                self._runs.discard(run)
        finally:
            if guard is not None:
                guard.release()

    def __repr__(self) -> str:
        where = f"upstream={self._upstream!s}" if self._upstream is not None else "route=..."
        return f"UdpRelay({where}, sessions={self.sessions}, max_sessions={self._max_sessions})"


def _loop_time() -> float:
    return asyncio.get_running_loop().time()
