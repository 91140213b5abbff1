"""ConnectionPool: keyed reuse of connections, with limits, idle expiry and health checks."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pyrama_core.errors import ConfigError, OverloadedError, PyramaTimeoutError, ShutdownError
from pyrama_net._connector import close_duck

__all__ = ["ConnectionPool", "PoolLease", "PoolStats"]

K = TypeVar("K", bound=Hashable)
C = TypeVar("C")


@dataclass(eq=False, slots=True)
class _Entry(Generic[K, C]):
    """One pooled connection (idle or leased)."""

    key: K
    conn: C
    idle_since: float = 0.0
    uses: int = 0


class _Slot:
    """Handed to a waiter: permission to open a new connection (already counted)."""


_SLOT = _Slot()


@dataclass(eq=False, slots=True)
class _Waiter(Generic[K, C]):
    key: K
    fut: asyncio.Future[_Entry[K, C] | _Slot] = field(repr=False)


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A snapshot of a pool (or of one key in it).

    ``open`` counts every connection the pool owns: ``idle`` ones, ``leased`` ones and those
    still being created (``connecting``). ``waiting`` counts checkouts waiting for a limit.
    """

    open: int
    idle: int
    leased: int
    connecting: int
    waiting: int


def _default_is_alive(conn: object) -> bool:
    fn = getattr(conn, "is_closing", None)
    return not fn() if callable(fn) else True


class PoolLease(Generic[K, C]):
    """Exclusive use of one pooled connection until :meth:`release`.

    :attr:`reused` says whether the connection came from the idle set (``False``: it was just
    created). Call :meth:`mark_broken` when the connection must not be reused (a protocol
    error, a half-read response); :meth:`detach` takes the connection out of the pool for good
    (an upgrade to WebSocket, a CONNECT tunnel); :meth:`release` gives it back.
    """

    __slots__ = ("_broken", "_entry", "_pool", "_released", "conn", "reused")

    def __init__(self, pool: ConnectionPool[K, C], entry: _Entry[K, C], *, reused: bool) -> None:
        self._pool = pool
        self._entry = entry
        self._broken = False
        self._released = False
        self.reused = reused
        self.conn: C = entry.conn
        """The leased connection."""

    @property
    def key(self) -> K:
        """The key the connection is pooled under."""
        return self._entry.key

    @property
    def released(self) -> bool:
        """Whether the lease has ended (released or detached)."""
        return self._released

    def mark_broken(self) -> None:
        """Close the connection on release instead of keeping it for reuse."""
        self._broken = True

    def detach(self) -> C:
        """End the lease and take the connection out of the pool; the caller now owns it."""
        if self._released:
            raise RuntimeError("the lease was already released")
        self._released = True
        self._pool._forget(self._entry)
        return self._entry.conn

    async def release(self) -> None:
        """Give the connection back (idempotent).

        It becomes idle (or goes straight to a waiting checkout) unless it was marked broken,
        is no longer alive, or the pool is closed; then it is closed.
        """
        if self._released:
            return
        self._released = True
        pool = self._pool
        doomed = pool._release_now(self._entry, broken=self._broken)
        if doomed:
            await pool._close_all(doomed)

    def release_nowait(self) -> None:
        """:meth:`release` without waiting: what must be closed is closed in the background."""
        if self._released:
            return
        self._released = True
        pool = self._pool
        doomed = pool._release_now(self._entry, broken=self._broken)
        if doomed:
            pool._close_later(doomed)

    def __repr__(self) -> str:
        state = "released" if self._released else "leased"
        return f"PoolLease({self._entry.key!r}, {state}, reused={self.reused})"


class ConnectionPool(Generic[K, C]):
    """Keyed connection reuse with exclusive checkout.

    Connections are pooled under a key that says which connections are interchangeable; for
    HTTP that is ``(scheme, authority, proxy)``. ``async with pool.acquire(key, create) as
    lease`` hands out an idle connection for *key* (the most recently used first, after
    *is_alive* confirms it is still usable) or calls ``create()`` to make a new one, and gives
    it back on exit. If the block raises, the connection is closed instead of reused.

    Limits (each ``None`` means unlimited):

    * *max_total*: connections open across all keys (idle + leased + being created). At the
      limit, the least recently used idle connection of any key is closed to make room; when
      none is idle the checkout waits (or fails, see below).
    * *max_per_key*: leased + being-created connections per key; beyond it checkouts of that key
      wait (or fail).
    * *max_idle_per_key*: idle connections kept per key; extra ones are closed on release.
    * *idle_timeout*: seconds an idle connection is kept. Expiry is checked on every pool
      operation (no background task); call :meth:`evict_expired` from a timer to sweep sooner.

    When a limit blocks a checkout: with *wait* (default) it queues, first come first served,
    for at most *wait_timeout* seconds (:class:`~pyrama_core.errors.PyramaTimeoutError`); without
    it, it raises :class:`~pyrama_core.errors.OverloadedError` at once. A freed connection or
    slot is handed directly to the oldest waiter that can use it.

    *is_alive(conn)* is the health check run on idle connections before reuse and on release
    (default: ``not conn.is_closing()`` when the connection has that method; with
    *check_on_release* false only before reuse, for owners that mark a connection broken
    themselves when it cannot go on: a dead idle connection is then found at its next
    checkout, or expires). *close(conn)*
    disposes of connections (default: await ``conn.close()``); its errors are swallowed.
    *clock* is the monotonic time source for idle expiry (inject a fake one in tests).

    Multiplexed connections (h2, h3) will reuse this structure: an entry gets a lease count and
    a stream limit, a *shared* checkout returns an entry whose count is below its limit
    (incrementing it) and counts it against *max_per_key* only once, and the entry turns idle
    when its count drops to zero. Exclusive checkout is the case "limit = 1".
    """

    def __init__(
        self,
        *,
        max_total: int | None = 100,
        max_per_key: int | None = None,
        max_idle_per_key: int | None = 10,
        idle_timeout: float | None = 90.0,
        wait: bool = True,
        wait_timeout: float | None = None,
        is_alive: Callable[[C], bool] | None = None,
        close: Callable[[C], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        check_on_release: bool = True,
    ) -> None:
        for name, value in (
            ("max_total", max_total),
            ("max_per_key", max_per_key),
        ):
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1 (or None), got {value}")
        if max_idle_per_key is not None and max_idle_per_key < 0:
            raise ConfigError(f"max_idle_per_key must be >= 0, got {max_idle_per_key}")
        for name, t in (("idle_timeout", idle_timeout), ("wait_timeout", wait_timeout)):
            if t is not None and not t > 0:
                raise ConfigError(f"{name} must be > 0 seconds (or None), got {t}")
        self.max_total = max_total
        self.max_per_key = max_per_key
        self.max_idle_per_key = max_idle_per_key
        self.idle_timeout = idle_timeout
        self.wait = wait
        self.wait_timeout = wait_timeout
        self._is_alive: Callable[[C], bool] = is_alive or _default_is_alive
        self._close: Callable[[C], Awaitable[None]] = close or close_duck
        self._clock = clock
        self._check_on_release = check_on_release
        self._idle: dict[K, list[_Entry[K, C]]] = {}  # per key, most recently used last
        # all idle, oldest first: a plain dict keeps insertion order, and an entry taken out
        # and put back goes to the end (cheaper per lease than an OrderedDict)
        self._lru: dict[_Entry[K, C], None] = {}
        self._busy: dict[K, int] = {}  # leased + connecting, per key
        self._connecting: dict[K, int] = {}
        self._open = 0
        self._waiters: deque[_Waiter[K, C]] = deque()
        self._closed = False
        self._background: set[asyncio.Task[None]] = set()

    # --- public API ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def acquire(
        self, key: K, create: Callable[[], Awaitable[C]]
    ) -> AsyncIterator[PoolLease[K, C]]:
        """Lease a connection for *key* for the duration of an ``async with`` block.

        The connection is released on exit; if the block raises (or is cancelled) it is marked
        broken first, since its state is unknown.
        """
        lease = await self.checkout(key, create)
        try:
            yield lease
        except BaseException:
            lease.mark_broken()
            raise
        finally:
            await lease.release()

    async def checkout(self, key: K, create: Callable[[], Awaitable[C]]) -> PoolLease[K, C]:
        """Lease a connection for *key*: an idle one, or a new one from ``create()``.

        The caller must :meth:`PoolLease.release` it (prefer :meth:`acquire`). Errors from
        *create* propagate unchanged.
        """
        if self._closed:
            raise ShutdownError("the connection pool is closed")
        doomed: list[C] = []
        self._expire(doomed)
        got = self._try_take(key, doomed)
        if got is None:
            if not self.wait:
                await self._close_all(doomed)
                raise OverloadedError(
                    f"connection pool limit reached for {key!r}", limit=self._blocking_limit(key)
                )
            got = await self._wait_for(key, doomed)
        elif doomed:
            try:
                await self._close_all(doomed)
            except BaseException:
                self._give_back(key, got)
                raise
        if type(got) is _Entry:
            return PoolLease(self, got, reused=True)
        return await self._create(key, create)

    def checkout_idle(self, key: K) -> PoolLease[K, C] | None:
        """Lease an idle connection for *key* now, or ``None`` (then use :meth:`checkout`).

        Never waits and never creates: the fast path for a pool that usually has one.
        Connections found dead or expired on the way are closed in the background.
        """
        if self._closed:
            return None
        doomed: list[C] | None = None  # a list once something is to be closed
        lru = self._lru
        timeout = self.idle_timeout
        # _expire only when the oldest idle entry is due (its first test, inline)
        if lru and timeout is not None and next(iter(lru)).idle_since <= self._clock() - timeout:
            doomed = []
            self._expire(doomed)
        stack = self._idle.get(key)
        if not stack:
            if doomed:
                self._close_later(doomed)
            return None
        # the most recently used one, as _take_idle does (inline: the path of every request)
        entry = stack.pop()
        del self._lru[entry]
        if not stack:
            del self._idle[key]
        try:  # _alive(), inline
            alive = bool(self._is_alive(entry.conn))
        except Exception:
            alive = False
        if alive:
            busy = self._busy
            busy[key] = busy.get(key, 0) + 1
            entry.uses += 1
        else:
            self._open -= 1
            if doomed is None:
                doomed = []
            doomed.append(entry.conn)
            got = self._take_idle(key, doomed)
            if got is None:
                self._close_later(doomed)
                return None
            entry = got
        if doomed:
            self._close_later(doomed)
        return PoolLease(self, entry, reused=True)

    async def evict_expired(self) -> int:
        """Close idle connections older than *idle_timeout*; return how many were closed."""
        doomed: list[C] = []
        self._expire(doomed)
        await self._close_all(doomed)
        return len(doomed)

    def stats(self, key: K | None = None) -> PoolStats:
        """Counts for the whole pool, or for one *key*."""
        if key is None:
            idle = len(self._lru)
            connecting = sum(self._connecting.values())
            busy = sum(self._busy.values())
            return PoolStats(self._open, idle, busy - connecting, connecting, len(self._waiters))
        idle = len(self._idle.get(key, ()))
        connecting = self._connecting.get(key, 0)
        busy = self._busy.get(key, 0)
        waiting = sum(1 for w in self._waiters if w.key == key)
        return PoolStats(idle + busy, idle, busy - connecting, connecting, waiting)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    async def close(self) -> None:
        """Close every idle connection, fail waiting checkouts, refuse new ones.

        Leased connections stay with their holders and are closed when released.
        """
        self._closed = True
        while self._waiters:
            w = self._waiters.popleft()
            if not w.fut.done():
                w.fut.set_exception(ShutdownError("the connection pool was closed"))
        doomed = [e.conn for e in self._lru]
        self._open -= len(doomed)
        self._lru.clear()
        self._idle.clear()
        await self._close_all(doomed)
        if self._background:
            await asyncio.wait(list(self._background))

    def __repr__(self) -> str:
        s = self.stats()
        return f"ConnectionPool(open={s.open}, idle={s.idle}, leased={s.leased})"

    # --- internals: every method below runs without awaiting, so state stays consistent -------

    def _blocking_limit(self, key: K) -> int | None:
        if self.max_per_key is not None and self._busy.get(key, 0) >= self.max_per_key:
            return self.max_per_key
        return self.max_total

    def _expire(self, doomed: list[C], now: float | None = None) -> None:
        if self.idle_timeout is None:
            return
        cutoff = (self._clock() if now is None else now) - self.idle_timeout
        while self._lru:
            entry = next(iter(self._lru))
            if entry.idle_since > cutoff:
                break
            self._drop_idle(entry)
            doomed.append(entry.conn)

    def _drop_idle(self, entry: _Entry[K, C]) -> None:
        """Remove an idle entry from the pool entirely (the caller closes its connection)."""
        del self._lru[entry]
        stack = self._idle[entry.key]
        stack.remove(entry)
        if not stack:
            del self._idle[entry.key]
        self._open -= 1

    def _take_idle(self, key: K, doomed: list[C]) -> _Entry[K, C] | None:
        stack = self._idle.get(key)
        while stack:
            entry = stack[-1]
            self._drop_idle(entry)
            if self._alive(entry.conn):
                self._open += 1
                self._busy[key] = self._busy.get(key, 0) + 1
                entry.uses += 1
                return entry
            doomed.append(entry.conn)
            stack = self._idle.get(key)
        return None

    def _alive(self, conn: C) -> bool:
        try:
            return bool(self._is_alive(conn))
        except Exception:
            return False

    def _reserve(self, key: K, doomed: list[C]) -> bool:
        """Count a new connection for *key* if the limits allow (evicting an idle one if needed)."""
        if self.max_per_key is not None and self._busy.get(key, 0) >= self.max_per_key:
            return False
        if self.max_total is not None and self._open >= self.max_total:
            if not self._lru:
                return False
            victim = next(iter(self._lru))
            self._drop_idle(victim)
            doomed.append(victim.conn)
        self._open += 1
        self._busy[key] = self._busy.get(key, 0) + 1
        self._connecting[key] = self._connecting.get(key, 0) + 1
        return True

    def _try_take(self, key: K, doomed: list[C]) -> _Entry[K, C] | _Slot | None:
        entry = self._take_idle(key, doomed)
        if entry is not None:
            return entry
        if self._reserve(key, doomed):
            return _SLOT
        return None

    def _unbusy(self, key: K) -> None:
        n = self._busy[key] - 1
        if n:
            self._busy[key] = n
        else:
            del self._busy[key]

    def _done_connecting(self, key: K) -> None:
        n = self._connecting[key] - 1
        if n:
            self._connecting[key] = n
        else:
            del self._connecting[key]

    def _dispatch(self, doomed: list[C]) -> None:
        """Hand freed connections and slots to waiters, oldest first."""
        if not self._waiters:
            return
        for w in list(self._waiters):
            if w.fut.done():
                self._waiters.remove(w)
                continue
            got = self._try_take(w.key, doomed)
            if got is not None:
                self._waiters.remove(w)
                w.fut.set_result(got)

    async def _wait_for(self, key: K, doomed: list[C]) -> _Entry[K, C] | _Slot:
        fut: asyncio.Future[_Entry[K, C] | _Slot] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(key, fut)
        self._waiters.append(waiter)
        try:
            await self._close_all(doomed)
            async with asyncio.timeout(self.wait_timeout):
                return await fut
        except BaseException as exc:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self._give_back(key, fut.result())  # granted just as we gave up
            if isinstance(exc, TimeoutError) and self.wait_timeout is not None:
                raise PyramaTimeoutError(
                    f"no pooled connection for {key!r} within {self.wait_timeout:g}s",
                    seconds=self.wait_timeout,
                ) from exc
            raise

    def _give_back(self, key: K, got: _Entry[K, C] | _Slot) -> None:
        """Return what a checkout obtained but will not use (it was cancelled or timed out)."""
        doomed: list[C] = []
        self._unbusy(key)
        self._open -= 1
        if isinstance(got, _Entry):
            self._to_idle(got, doomed)
        else:
            self._done_connecting(key)
            self._dispatch(doomed)
        self._close_later(doomed)

    def _close_later(self, conns: list[C]) -> None:
        """Close *conns* in a background task (for paths that cannot await)."""
        if conns:
            task = asyncio.get_running_loop().create_task(self._close_all(conns))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _create(self, key: K, create: Callable[[], Awaitable[C]]) -> PoolLease[K, C]:
        try:
            conn = await create()
        except BaseException:
            self._give_back(key, _SLOT)
            raise
        self._done_connecting(key)
        entry: _Entry[K, C] = _Entry(key, conn, uses=1)
        if self._closed:
            self._unbusy(key)
            self._open -= 1
            await self._close_all([conn])
            raise ShutdownError("the connection pool was closed while connecting")
        return PoolLease(self, entry, reused=False)

    def _to_idle(self, entry: _Entry[K, C], doomed: list[C], now: float | None = None) -> None:
        """Put a no-longer-leased live entry into the idle set, then serve waiters.

        *now* is the clock's reading if the caller just took one.
        """
        if self._closed:
            doomed.append(entry.conn)
            return
        entry.idle_since = self._clock() if now is None else now
        key = entry.key
        idle = self._idle
        stack = idle.get(key)
        if stack is None:
            stack = idle[key] = [entry]
        else:
            stack.append(entry)
        self._lru[entry] = None
        self._open += 1
        if self._waiters:
            self._dispatch(doomed)
            stack = idle.get(key)
        limit = self.max_idle_per_key
        if limit is None:
            return
        while stack and len(stack) > limit:
            oldest = stack[0]
            self._drop_idle(oldest)
            doomed.append(oldest.conn)
            stack = idle.get(key)

    def _forget(self, entry: _Entry[K, C]) -> None:
        self._unbusy(entry.key)
        self._open -= 1
        doomed: list[C] = []
        self._dispatch(doomed)
        self._close_later(doomed)

    def _release_now(self, entry: _Entry[K, C], *, broken: bool) -> list[C]:
        """Take back a leased entry; return the connections the caller must close."""
        doomed: list[C] = []
        key = entry.key
        busy = self._busy
        n = busy[key] - 1  # _unbusy(), inline
        if n:
            busy[key] = n
        else:
            del busy[key]
        self._open -= 1
        if broken or self._closed or (self._check_on_release and not self._alive(entry.conn)):
            doomed.append(entry.conn)
            self._dispatch(doomed)
        else:
            now = self._clock()  # one reading for the expiry and the entry's idle time
            lru = self._lru
            timeout = self.idle_timeout
            # _expire only when the oldest idle entry is due (its first test, inline)
            if lru and timeout is not None and next(iter(lru)).idle_since <= now - timeout:
                self._expire(doomed, now)
            self._to_idle(entry, doomed, now)
        return doomed

    async def _close_all(self, conns: list[C]) -> None:
        for conn in conns:
            with contextlib.suppress(Exception):
                await self._close(conn)
