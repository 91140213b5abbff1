"""ConnectionPool.checkout_idle and PoolLease.release_nowait: the no-await fast paths."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pyrama_net import ConnectionPool, PoolStats


@dataclass(eq=False)
class Conn:
    name: str
    closed: bool = False

    def is_closing(self) -> bool:
        return self.closed

    async def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def make(name: str) -> Conn:
    return Conn(name)


async def test_checkout_idle_leases_an_idle_connection_or_gives_none() -> None:
    pool: ConnectionPool[str, Conn] = ConnectionPool()
    assert pool.checkout_idle("a") is None
    lease = await pool.checkout("a", lambda: make("a1"))
    first = lease.conn
    lease.release_nowait()
    lease.release_nowait()  # idempotent
    assert pool.stats() == PoolStats(open=1, idle=1, leased=0, connecting=0, waiting=0)
    again = pool.checkout_idle("a")
    assert again is not None
    assert again.conn is first
    assert again.reused
    assert pool.checkout_idle("a") is None  # the only one is leased
    assert pool.checkout_idle("b") is None
    again.release_nowait()
    assert pool.stats().idle == 1


async def test_broken_and_dead_connections_are_closed_in_the_background() -> None:
    pool: ConnectionPool[str, Conn] = ConnectionPool()
    lease = await pool.checkout("a", lambda: make("a1"))
    conn = lease.conn
    lease.mark_broken()
    lease.release_nowait()
    await settle()
    assert conn.closed
    assert pool.stats() == PoolStats(open=0, idle=0, leased=0, connecting=0, waiting=0)

    lease = await pool.checkout("a", lambda: make("a2"))
    dead = lease.conn
    await lease.release()
    dead.closed = True  # the peer went away while it was idle
    assert pool.checkout_idle("a") is None
    assert pool.stats().open == 0


async def test_expired_connections_are_not_handed_out() -> None:
    clock = Clock()
    pool: ConnectionPool[str, Conn] = ConnectionPool(idle_timeout=5.0, clock=clock)
    lease = await pool.checkout("a", lambda: make("a1"))
    conn = lease.conn
    lease.release_nowait()
    clock.now += 10
    assert pool.checkout_idle("a") is None
    await settle()
    assert conn.closed
    assert pool.stats().open == 0


async def test_release_nowait_respects_the_idle_limit_and_a_closed_pool() -> None:
    pool: ConnectionPool[str, Conn] = ConnectionPool(max_idle_per_key=1)
    one = await pool.checkout("a", lambda: make("a1"))
    two = await pool.checkout("a", lambda: make("a2"))
    one.release_nowait()
    two.release_nowait()
    await settle()
    assert one.conn.closed  # the older idle one made room
    assert pool.stats().idle == 1
    await pool.close()
    assert pool.checkout_idle("a") is None


async def test_a_dead_most_recent_connection_gives_way_to_the_next_idle_one() -> None:
    pool: ConnectionPool[str, Conn] = ConnectionPool()
    older = await pool.checkout("a", lambda: make("a1"))
    newer = await pool.checkout("a", lambda: make("a2"))
    older.release_nowait()
    newer.release_nowait()
    newer.conn.closed = True
    got = pool.checkout_idle("a")
    assert got is not None
    assert got.conn is older.conn
    assert pool.stats() == PoolStats(open=1, idle=0, leased=1, connecting=0, waiting=0)
    got.release_nowait()


async def test_without_the_release_check_a_dead_connection_is_found_at_checkout() -> None:
    checked: list[str] = []

    def is_alive(conn: Conn) -> bool:
        checked.append(conn.name)
        return not conn.closed

    pool: ConnectionPool[str, Conn] = ConnectionPool(is_alive=is_alive, check_on_release=False)
    lease = await pool.checkout("a", lambda: make("a1"))
    conn = lease.conn
    conn.closed = True  # dies while leased; the owner gives it back as fine
    lease.release_nowait()
    assert checked == []  # not asked on release
    assert pool.stats().idle == 1
    assert pool.checkout_idle("a") is None  # asked at checkout: dropped
    assert checked == ["a1"]
    assert pool.stats().open == 0
    # a broken lease is closed on release all the same
    lease = await pool.checkout("a", lambda: make("a2"))
    lease.mark_broken()
    lease.release_nowait()
    await settle()
    assert lease.conn.closed
    assert pool.stats().open == 0


async def test_by_default_release_checks_the_connection() -> None:
    pool: ConnectionPool[str, Conn] = ConnectionPool()
    lease = await pool.checkout("a", lambda: make("a1"))
    lease.conn.closed = True
    lease.release_nowait()
    assert pool.stats().idle == 0
    assert pool.stats().open == 0


async def test_the_least_recently_used_idle_connection_makes_room() -> None:
    pool: ConnectionPool[str, Conn] = ConnectionPool(max_total=2)
    a = await pool.checkout("a", lambda: make("a1"))
    b = await pool.checkout("b", lambda: make("b1"))
    a.release_nowait()
    b.release_nowait()
    again = pool.checkout_idle("a")  # a is used again: b is now the oldest idle one
    assert again is not None
    again.release_nowait()
    c = await pool.checkout("c", lambda: make("c1"))
    await settle()
    assert b.conn.closed
    assert not a.conn.closed
    c.release_nowait()
    assert pool.stats() == PoolStats(open=2, idle=2, leased=0, connecting=0, waiting=0)
