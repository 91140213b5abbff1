"""HttpConnectionPool: exclusive HTTP/1.1 leases and shared (multiplexed) HTTP/2 connections.

HTTP/1.1 connections live in a :class:`~pyrama_net.ConnectionPool` (one request at a time,
returned when the response body is done). HTTP/2 connections carry many requests at once, so
they are kept here, per key, and handed to every request for that key until they close or
receive a GOAWAY. While a connection that may turn out to be HTTP/2 is being made for a key,
other requests for that key wait for it instead of opening their own: twenty concurrent
requests to a fresh h2 origin make one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeAlias

from pyrama_core.errors import ShutdownError
from pyrama_http._connector import ClientConnection
from pyrama_http._target import HttpConnectTarget, WireMode
from pyrama_http_core import H2ClientConnection, Http1ClientConnection
from pyrama_http_types import Request
from pyrama_net import (
    ConnectionPool,
    EstablishedConnection,
    PoolLease,
    PoolStats,
    ProxyAddress,
    SocketStream,
    Stream,
)

__all__ = ["H2Entry", "HttpConnectionPool", "HttpPoolStats", "PoolKey", "PooledConnection"]

PoolKey: TypeAlias = tuple[str, str, int, WireMode, ProxyAddress | None]
"""``(scheme, host, port, mode, proxy)``: see :attr:`HttpConnectTarget.pool_key`."""

PooledConnection: TypeAlias = EstablishedConnection[HttpConnectTarget, ClientConnection]
"""A connection as the pool holds it: the driver, its target and its extensions."""

_H1Key: TypeAlias = tuple[str, str, int, str, ProxyAddress | None]

Connect: TypeAlias = Callable[[HttpConnectTarget], Awaitable[PooledConnection]]

_KNOWN_H1_MAX: Final = 1024
_HTTP1: Final = WireMode.HTTP1  # a module global: an enum member look-up costs ~1k instructions
_SWEEP_EVERY: Final = 1.0


@dataclass(frozen=True, slots=True)
class HttpPoolStats:
    """A snapshot of an :class:`HttpConnectionPool`.

    ``http1`` describes the HTTP/1.1 pool (see :class:`~pyrama_net.PoolStats`);
    ``h2_connections`` counts open HTTP/2 connections and ``h2_streams`` the requests in
    flight on them.
    """

    http1: PoolStats
    h2_connections: int
    h2_streams: int


class H2Entry:
    """One shared HTTP/2 connection in the pool."""

    __slots__ = ("established", "key", "last_used")

    def __init__(self, key: PoolKey, established: PooledConnection, now: float) -> None:
        self.key = key
        self.established = established
        self.last_used = now

    @property
    def conn(self) -> H2ClientConnection:
        """The HTTP/2 connection."""
        conn = self.established.conn
        assert isinstance(conn, H2ClientConnection)
        return conn


def _stream_has_news(stream: Stream) -> bool:
    """Whether an idle connection's peer sent something (EOF, bytes): then it is not reusable.

    Walks stream wrappers down to the socket stream and asks each layer what it buffered
    (``buffered()``) and whether the peer's EOF or a lost connection was seen
    (``at_eof()``, :meth:`~pyrama_net.SocketStream.at_eof`); an idle HTTP/1.1 connection must
    have nothing to read.
    """
    if isinstance(stream, SocketStream):  # the common case, asked twice per request
        return stream.buffered() > 0 or stream.at_eof()
    s: object = stream
    for _ in range(8):
        buffered = getattr(s, "buffered", None)
        if callable(buffered):
            try:
                if buffered():
                    return True
            except Exception:
                return True
        at_eof = getattr(s, "at_eof", None)
        if callable(at_eof):
            try:
                if at_eof():
                    return True
            except Exception:
                return True
        inner = getattr(s, "inner", None)
        if inner is None:
            break
        s = inner
    return False


def _is_alive(est: PooledConnection) -> bool:
    conn = est.conn
    if isinstance(conn, Http1ClientConnection):
        if not conn.is_reusable():
            return False
        stream = conn.stream
        if isinstance(stream, SocketStream):  # _stream_has_news, inline: asked per request
            return not (stream.buffered() > 0 or stream.at_eof())
        return not _stream_has_news(stream)
    return conn.is_usable()


async def _close(est: PooledConnection) -> None:
    await est.conn.close()


class HttpConnectionPool:
    """Connections of an HTTP client, keyed by :attr:`HttpConnectTarget.pool_key`.

    :meth:`acquire` returns an :class:`H1Handle` (an exclusive lease on an HTTP/1.1
    connection) or an :class:`H2Handle` (a share of an HTTP/2 connection). HTTP/2 requests
    beyond the server's SETTINGS_MAX_CONCURRENT_STREAMS wait on the connection for a free
    stream rather than opening more connections.

    Limits: *max_connections* (HTTP/1.1 connections open in total, idle ones evicted first),
    *max_connections_per_host* (HTTP/1.1 connections in use per key; more requests wait),
    *max_idle_per_host*, and *idle_timeout* (seconds an unused connection, of either version,
    is kept). *connect* makes new connections (an :class:`~pyrama_http.HttpConnector`'s
    ``serve`` with a timeout, usually).
    """

    __slots__ = (
        "_background",
        "_clock",
        "_closed",
        "_connect",
        "_h1",
        "_h2",
        "_idle_timeout",
        "_known_h1",
        "_last_sweep",
        "_pending",
    )

    def __init__(
        self,
        connect: Connect,
        *,
        max_connections: int | None = 100,
        max_connections_per_host: int | None = None,
        max_idle_per_host: int = 10,
        idle_timeout: float | None = 90.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Make an empty pool (see the class docs); invalid limits raise ``ConfigError``."""
        self._connect = connect
        self._h1: ConnectionPool[_H1Key, PooledConnection] = ConnectionPool(
            max_total=max_connections,
            max_per_key=max_connections_per_host,
            max_idle_per_key=max_idle_per_host,
            idle_timeout=idle_timeout,
            is_alive=_is_alive,
            close=_close,
            clock=clock,
            # a lease given back as fine comes from an exchange that ended well (the h1
            # driver closes a connection that cannot go on): checked again at checkout only
            check_on_release=False,
        )
        self._h2: dict[PoolKey, list[H2Entry]] = {}
        self._pending: dict[PoolKey, asyncio.Future[None]] = {}
        self._known_h1: OrderedDict[PoolKey, None] = OrderedDict()
        self._idle_timeout = idle_timeout
        self._clock = clock
        self._last_sweep = clock()
        self._closed = False
        self._background: set[asyncio.Task[None]] = set()

    # -- checkout ---------------------------------------------------------------------------

    async def acquire(
        self, target: HttpConnectTarget, request: Request | None = None
    ) -> H1Handle | H2Handle:
        """A connection for *target*: a shared HTTP/2 one, an idle HTTP/1.1 one, or a new one.

        A new connection is made for *target* with *request* as its ``request`` when one is
        given (a client may keep one target per origin and name the request only here).
        """
        key = target.pool_key
        mode = target.mode
        may_h2 = mode is not _HTTP1
        # the HTTP/1.1 pool hashes its key a dozen times per lease: there the mode is its
        # str value (hashed in C, and cached) rather than the Enum member (hashed in Python)
        h1_key: _H1Key = (key[0], key[1], key[2], mode._value_, key[4])
        while True:
            if self._closed:
                raise ShutdownError("the HTTP connection pool is closed")
            self._maybe_sweep()
            if may_h2:
                entry = self._pick_h2(key)
                if entry is not None:
                    entry.last_used = self._clock()
                    return H2Handle(self, entry)
                pending = self._pending.get(key)
                if pending is not None:
                    await asyncio.shield(pending)
                    continue
            lease = await self._h1.checkout(
                h1_key, lambda: self._create(key, target, may_h2, request)
            )
            est = lease.conn
            if isinstance(est.conn, H2ClientConnection):
                lease.detach()
                entry = self._find_entry(key, est)
                if entry is None:  # closed meanwhile, or made for a pool that closed
                    entry = self._add_h2(key, est)
                entry.last_used = self._clock()
                return H2Handle(self, entry)
            return H1Handle(lease)

    def acquire_idle(self, target: HttpConnectTarget) -> H1Handle | H2Handle | None:
        """A connection for *target* that is ready now, or ``None`` (then :meth:`acquire`).

        A shared HTTP/2 connection or an idle HTTP/1.1 one; never waits and never connects.
        """
        if self._closed:
            return None
        if self._h2:  # nothing to sweep otherwise
            self._maybe_sweep()
        mode = target.mode
        if mode is not _HTTP1:
            key = target.pool_key
            entry = self._pick_h2(key)
            if entry is not None:
                entry.last_used = self._clock()
                return H2Handle(self, entry)
            if key in self._pending:
                return None
        # the HTTP/1.1 key of acquire(), built from the fields (no pool_key tuple first)
        lease = self._h1.checkout_idle(
            (target.scheme, target.host, target.port, mode._value_, target.proxy)
        )
        if lease is None:
            return None
        if isinstance(lease.conn.conn, H2ClientConnection):  # pragma: no cover - never idle
            lease.release_nowait()
            return None
        return H1Handle(lease)

    async def _create(
        self, key: PoolKey, target: HttpConnectTarget, may_h2: bool, request: Request | None
    ) -> PooledConnection:
        if request is not None and target.request is not request:
            target = dataclasses.replace(target, request=request)
        fut: asyncio.Future[None] | None = None
        if may_h2 and key not in self._known_h1 and key not in self._pending:
            fut = asyncio.get_running_loop().create_future()
            self._pending[key] = fut
        try:
            est = await self._connect(target)
            if isinstance(est.conn, H2ClientConnection):
                self._known_h1.pop(key, None)
                if not self._closed:
                    self._add_h2(key, est)
            elif may_h2:
                known = self._known_h1
                known[key] = None
                known.move_to_end(key)
                while len(known) > _KNOWN_H1_MAX:
                    known.popitem(last=False)
            return est
        finally:
            if fut is not None:
                if self._pending.get(key) is fut:
                    del self._pending[key]
                fut.set_result(None)

    def _add_h2(self, key: PoolKey, est: PooledConnection) -> H2Entry:
        entry = H2Entry(key, est, self._clock())
        self._h2.setdefault(key, []).append(entry)
        return entry

    def _find_entry(self, key: PoolKey, est: PooledConnection) -> H2Entry | None:
        for entry in self._h2.get(key, ()):
            if entry.established is est:
                return entry
        return None

    def _pick_h2(self, key: PoolKey) -> H2Entry | None:
        entries = self._h2.get(key)
        if not entries:
            return None
        best: H2Entry | None = None
        for entry in list(entries):
            conn = entry.conn
            if not conn.is_usable():
                self._drop_h2(entry)
                continue
            if best is None or conn.in_flight < best.conn.in_flight:
                best = entry
        return best

    def _drop_h2(self, entry: H2Entry) -> None:
        entries = self._h2.get(entry.key)
        if entries is not None and entry in entries:
            entries.remove(entry)
            if not entries:
                del self._h2[entry.key]
        conn = entry.conn
        if conn.in_flight == 0 and not conn.closed:
            self._close_later(conn)

    # -- idle eviction ----------------------------------------------------------------------

    def _maybe_sweep(self) -> None:
        now = self._clock()
        if now - self._last_sweep >= _SWEEP_EVERY:
            self._last_sweep = now
            self._sweep_h2(now)

    def _sweep_h2(self, now: float) -> int:
        timeout = self._idle_timeout
        dropped = 0
        for entries in list(self._h2.values()):
            for entry in list(entries):
                conn = entry.conn
                idle = conn.in_flight == 0 and (
                    timeout is not None and now - entry.last_used >= timeout
                )
                if idle or not conn.is_usable():
                    self._drop_h2(entry)
                    dropped += 1
        return dropped

    async def evict_expired(self) -> int:
        """Close connections idle for longer than *idle_timeout*; return how many."""
        n = self._sweep_h2(self._clock())
        return n + await self._h1.evict_expired()

    def _close_later(self, conn: ClientConnection) -> None:
        try:
            task = asyncio.get_running_loop().create_task(conn.close())
        except RuntimeError:
            return
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- facts and closing ------------------------------------------------------------------

    def stats(self) -> HttpPoolStats:
        """Counts of HTTP/1.1 and HTTP/2 connections."""
        h2 = [e.conn for entries in self._h2.values() for e in entries]
        return HttpPoolStats(
            http1=self._h1.stats(),
            h2_connections=sum(1 for c in h2 if not c.closed),
            h2_streams=sum(c.in_flight for c in h2),
        )

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    async def close(self) -> None:
        """Close every pooled connection (HTTP/2 ones at once, with GOAWAY); refuse new work.

        HTTP/1.1 connections still leased are closed when their responses are done.
        """
        self._closed = True
        h2 = [e.conn for entries in self._h2.values() for e in entries]
        self._h2.clear()
        await self._h1.close()
        for conn in h2:
            with contextlib.suppress(Exception):
                await conn.close()
        if self._background:
            await asyncio.wait(list(self._background))

    def __repr__(self) -> str:
        s = self.stats()
        return f"HttpConnectionPool(http1_open={s.http1.open}, h2_connections={s.h2_connections})"


class H1Handle:
    """An exclusive lease on an HTTP/1.1 connection; :meth:`done` gives it back."""

    __slots__ = ("established", "lease")

    def __init__(self, lease: PoolLease[_H1Key, PooledConnection]) -> None:
        self.lease = lease
        self.established: PooledConnection = lease.conn
        """The connection with its target and extensions."""

    @property
    def reused(self) -> bool:
        """Whether the connection carried a request before."""
        return self.lease.reused

    async def done(self, ok: bool) -> None:
        """The exchange is over: keep the connection if *ok* and it can go on, else close it."""
        if not ok:
            self.lease.mark_broken()
        await self.lease.release()

    def done_nowait(self, ok: bool) -> None:
        """:meth:`done` without waiting (a connection to close is closed in the background)."""
        if not ok:
            self.lease.mark_broken()
        self.lease.release_nowait()


class H2Handle:
    """A share of an HTTP/2 connection for one request."""

    __slots__ = ("entry", "pool")

    def __init__(self, pool: HttpConnectionPool, entry: H2Entry) -> None:
        self.pool = pool
        self.entry = entry

    @property
    def established(self) -> PooledConnection:
        """The connection with its target and extensions."""
        return self.entry.established

    @property
    def reused(self) -> bool:
        """Always ``True`` for a shared connection (other requests may use it)."""
        return True

    async def done(self, ok: bool) -> None:
        """The request's stream is over; the connection stays shared."""
        self.entry.last_used = self.pool._clock()

    def done_nowait(self, ok: bool) -> None:
        """:meth:`done` (it never waits)."""
        self.entry.last_used = self.pool._clock()
