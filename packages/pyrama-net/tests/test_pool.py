"""ConnectionPool: reuse, health checks, every limit, waiting, cancellation, close."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from pyrama_core.errors import ConfigError, OverloadedError, PyramaTimeoutError, ShutdownError
from pyrama_net import ConnectionPool, PoolLease, PoolStats

GUARD = 10.0


@dataclass(eq=False)
class FakeConn:
    name: str
    closed: bool = False

    def is_closing(self) -> bool:
        return self.closed

    async def close(self) -> None:
        self.closed = True


class Factory:
    def __init__(self) -> None:
        self.made: list[FakeConn] = []

    def __call__(self, key: str) -> Callable[[], Awaitable[FakeConn]]:
        async def create() -> FakeConn:
            conn = FakeConn(f"{key}#{sum(1 for c in self.made if c.name.startswith(key + '#'))}")
            self.made.append(conn)
            return conn

        return create


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pool(**kw: object) -> ConnectionPool[str, FakeConn]:
    return ConnectionPool(**kw)  # type: ignore[arg-type]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# --- reuse ------------------------------------------------------------------------------------


async def test_released_connection_is_reused() -> None:
    p, make = pool(), Factory()
    async with p.acquire("a", make("a")) as lease:
        first = lease.conn
        assert not lease.reused
        assert lease.key == "a"
        assert p.stats() == PoolStats(open=1, idle=0, leased=1, connecting=0, waiting=0)
    assert p.stats() == PoolStats(open=1, idle=1, leased=0, connecting=0, waiting=0)
    async with p.acquire("a", make("a")) as lease:
        assert lease.conn is first
        assert lease.reused
    assert len(make.made) == 1


async def test_keys_do_not_share_connections() -> None:
    p, make = pool(), Factory()
    async with p.acquire("a", make("a")):
        pass
    async with p.acquire("b", make("b")) as lease:
        assert lease.conn.name == "b#0"
    assert p.stats("a").idle == 1
    assert p.stats("b").idle == 1


async def test_concurrent_leases_get_distinct_connections() -> None:
    p, make = pool(), Factory()
    l1 = await p.checkout("a", make("a"))
    l2 = await p.checkout("a", make("a"))
    assert l1.conn is not l2.conn
    await l1.release()
    await l2.release()
    await l2.release()  # idempotent
    assert p.stats("a").idle == 2


async def test_most_recently_used_idle_connection_first() -> None:
    p, make = pool(), Factory()
    l1 = await p.checkout("a", make("a"))
    l2 = await p.checkout("a", make("a"))
    await l1.release()
    await l2.release()
    async with p.acquire("a", make("a")) as lease:
        assert lease.conn is l2.conn


async def test_error_in_block_closes_instead_of_reusing() -> None:
    p, make = pool(), Factory()
    with pytest.raises(ValueError, match="boom"):
        async with p.acquire("a", make("a")):
            raise ValueError("boom")
    assert make.made[0].closed
    assert p.stats() == PoolStats(0, 0, 0, 0, 0)


async def test_mark_broken_closes_on_release() -> None:
    p, make = pool(), Factory()
    async with p.acquire("a", make("a")) as lease:
        lease.mark_broken()
    assert make.made[0].closed
    assert p.stats().open == 0


async def test_detach_takes_connection_out_of_the_pool() -> None:
    p, make = pool(max_total=1), Factory()
    lease = await p.checkout("a", make("a"))
    waiter = asyncio.create_task(p.checkout("b", make("b")))
    await settle()
    conn = lease.detach()
    assert not conn.closed
    assert lease.released
    second = await asyncio.wait_for(waiter, GUARD)  # the freed slot went to the waiter
    assert second.conn.name == "b#0"
    await lease.release()  # no-op after detach
    with pytest.raises(RuntimeError):
        lease.detach()
    assert p.stats().open == 1


# --- health checks ------------------------------------------------------------------------------


async def test_dead_idle_connection_is_dropped_on_checkout() -> None:
    p, make = pool(), Factory()
    async with p.acquire("a", make("a")):
        pass
    make.made[0].closed = True  # the peer went away while idle
    async with p.acquire("a", make("a")) as lease:
        assert lease.conn is make.made[1]
        assert not lease.reused
    assert p.stats().open == 1


async def test_custom_is_alive_and_failing_health_checks() -> None:
    verdict = {"a#0": False}

    def is_alive(c: FakeConn) -> bool:
        if c.name == "a#1":
            raise RuntimeError("health check crashed")
        return verdict.get(c.name, True)

    p, make = pool(is_alive=is_alive), Factory()
    l0 = await p.checkout("a", make("a"))
    await l0.release()  # checked on release: not alive -> closed
    assert make.made[0].closed
    l1 = await p.checkout("a", make("a"))
    await l1.release()  # the check raised -> treated as dead
    assert make.made[1].closed
    assert p.stats().open == 0


async def test_custom_close_is_used() -> None:
    closed: list[str] = []

    async def close(c: FakeConn) -> None:
        closed.append(c.name)
        raise OSError("close failed")  # swallowed

    p, make = pool(close=close), Factory()
    async with p.acquire("a", make("a")) as lease:
        lease.mark_broken()
    assert closed == ["a#0"]


# --- limits -------------------------------------------------------------------------------------


async def test_max_idle_per_key_closes_the_oldest_extra() -> None:
    p, make = pool(max_idle_per_key=2), Factory()
    leases = [await p.checkout("a", make("a")) for _ in range(3)]
    for lease in leases:
        await lease.release()
    assert [c.closed for c in make.made] == [True, False, False]
    assert p.stats("a").idle == 2


async def test_max_idle_per_key_zero_keeps_nothing() -> None:
    p, make = pool(max_idle_per_key=0), Factory()
    async with p.acquire("a", make("a")):
        pass
    assert make.made[0].closed
    assert p.stats().open == 0


async def test_idle_timeout_with_injected_clock() -> None:
    clock = Clock()
    p, make = pool(idle_timeout=90, clock=clock), Factory()
    async with p.acquire("a", make("a")):
        pass
    clock.now += 89
    async with p.acquire("a", make("a")) as lease:
        assert lease.reused
    clock.now += 90
    async with p.acquire("a", make("a")) as lease:
        assert not lease.reused
    assert make.made[0].closed
    clock.now += 200
    assert await p.evict_expired() == 1
    assert make.made[1].closed
    assert p.stats().open == 0


async def test_idle_timeout_none_keeps_forever() -> None:
    clock = Clock()
    p, make = pool(idle_timeout=None, clock=clock), Factory()
    async with p.acquire("a", make("a")):
        pass
    clock.now += 1e9
    assert await p.evict_expired() == 0
    async with p.acquire("a", make("a")) as lease:
        assert lease.reused


async def test_max_total_evicts_least_recently_used_idle_of_any_key() -> None:
    clock = Clock()
    p, make = pool(max_total=2, clock=clock), Factory()
    async with p.acquire("a", make("a")):
        pass
    clock.now += 1
    async with p.acquire("b", make("b")):
        pass
    async with p.acquire("c", make("c")) as lease:
        assert lease.conn.name == "c#0"
        a0, b0 = make.made[0], make.made[1]
        assert a0.closed
        assert not b0.closed
        assert p.stats().open == 2


async def test_max_total_waits_when_everything_is_leased() -> None:
    p, make = pool(max_total=1), Factory()
    held = await p.checkout("a", make("a"))
    waiter = asyncio.create_task(p.checkout("b", make("b")))
    await settle()
    assert not waiter.done()
    assert p.stats().waiting == 1
    await held.release()  # a's conn goes idle and is evicted to make room for b
    lease = await asyncio.wait_for(waiter, GUARD)
    assert lease.conn.name == "b#0"
    assert make.made[0].closed
    assert p.stats() == PoolStats(open=1, idle=0, leased=1, connecting=0, waiting=0)
    await lease.release()


async def test_max_per_key_waits_and_gets_the_released_connection() -> None:
    p, make = pool(max_per_key=1), Factory()
    held = await p.checkout("a", make("a"))
    other_key = await p.checkout("b", make("b"))  # other keys are not limited by a's limit
    waiter = asyncio.create_task(p.checkout("a", make("a")))
    await settle()
    assert not waiter.done()
    assert p.stats("a").waiting == 1
    await held.release()
    lease = await asyncio.wait_for(waiter, GUARD)
    assert lease.conn is held.conn
    assert lease.reused
    await lease.release()
    await other_key.release()


async def test_waiters_are_served_first_come_first_served() -> None:
    p, make = pool(max_per_key=1), Factory()
    held = await p.checkout("a", make("a"))
    order: list[int] = []

    async def wait_turn(i: int) -> None:
        async with p.acquire("a", make("a")):
            order.append(i)

    tasks = [asyncio.create_task(wait_turn(i)) for i in range(4)]
    await settle()
    await held.release()
    await asyncio.wait_for(asyncio.gather(*tasks), GUARD)
    assert order == [0, 1, 2, 3]
    assert len(make.made) == 1


async def test_no_wait_raises_overloaded() -> None:
    p, make = pool(max_per_key=1, wait=False), Factory()
    held = await p.checkout("a", make("a"))
    with pytest.raises(OverloadedError) as info:
        await p.checkout("a", make("a"))
    assert info.value.limit == 1
    q = pool(max_total=1, wait=False)
    held_q = await q.checkout("a", make("a"))
    with pytest.raises(OverloadedError) as info2:
        await q.checkout("b", make("b"))
    assert info2.value.limit == 1
    await held.release()
    await held_q.release()


async def test_wait_timeout() -> None:
    p, make = pool(max_per_key=1, wait_timeout=0.02), Factory()
    held = await p.checkout("a", make("a"))
    with pytest.raises(PyramaTimeoutError):
        await p.checkout("a", make("a"))
    assert p.stats().waiting == 0
    await held.release()
    async with p.acquire("a", make("a")) as lease:
        assert lease.conn is held.conn


async def test_cancelled_waiter_leaves_no_trace() -> None:
    p, make = pool(max_per_key=1), Factory()
    held = await p.checkout("a", make("a"))
    waiter = asyncio.create_task(p.checkout("a", make("a")))
    await settle()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert p.stats().waiting == 0
    await held.release()
    assert p.stats() == PoolStats(open=1, idle=1, leased=0, connecting=0, waiting=0)


async def test_waiter_cancelled_after_being_granted_gives_it_back() -> None:
    p, make = pool(max_per_key=1), Factory()
    held = await p.checkout("a", make("a"))
    waiter = asyncio.create_task(p.checkout("a", make("a")))
    await settle()
    await held.release()  # hands the connection to the waiter synchronously
    waiter.cancel()  # ... which is cancelled before it could run
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert p.stats() == PoolStats(open=1, idle=1, leased=0, connecting=0, waiting=0)
    assert not held.conn.closed


async def test_granted_slot_cancelled_is_given_back() -> None:
    p, make = pool(max_total=1), Factory()
    held = await p.checkout("a", make("a"))
    held.mark_broken()
    waiter = asyncio.create_task(p.checkout("b", make("b")))
    await settle()
    await held.release()  # closes a's conn and grants b a slot
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert p.stats() == PoolStats(0, 0, 0, 0, 0)
    async with p.acquire("c", make("c")) as lease:
        assert lease.conn.name == "c#0"


async def test_create_failure_frees_the_slot_for_waiters() -> None:
    p, make = pool(max_per_key=1), Factory()
    gate = asyncio.Event()

    async def failing() -> FakeConn:
        await gate.wait()
        raise ConnectionRefusedError("nope")

    first = asyncio.create_task(p.checkout("a", failing))
    await settle()
    assert p.stats("a").connecting == 1
    second = asyncio.create_task(p.checkout("a", make("a")))
    await settle()
    assert not second.done()
    gate.set()
    with pytest.raises(ConnectionRefusedError):
        await first
    lease = await asyncio.wait_for(second, GUARD)
    assert lease.conn.name == "a#0"
    await lease.release()


async def test_cancelled_create_frees_the_slot() -> None:
    p = pool(max_total=1)

    async def hang() -> FakeConn:
        await asyncio.Event().wait()
        raise AssertionError

    task = asyncio.create_task(p.checkout("a", hang))
    await settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert p.stats() == PoolStats(0, 0, 0, 0, 0)


# --- close --------------------------------------------------------------------------------------


async def test_close_closes_idle_fails_waiters_and_refuses_checkouts() -> None:
    p, make = pool(max_per_key=1), Factory()
    async with p.acquire("idle", make("idle")):
        pass
    held = await p.checkout("a", make("a"))
    waiter = asyncio.create_task(p.checkout("a", make("a")))
    await settle()
    await p.close()
    assert p.closed
    assert make.made[0].closed
    with pytest.raises(ShutdownError):
        await waiter
    with pytest.raises(ShutdownError):
        await p.checkout("a", make("a"))
    assert not held.conn.closed
    await held.release()
    assert held.conn.closed


async def test_config_validation() -> None:
    for kw in (
        {"max_total": 0},
        {"max_per_key": 0},
        {"max_idle_per_key": -1},
        {"idle_timeout": 0},
        {"wait_timeout": -1},
    ):
        with pytest.raises(ConfigError):
            pool(**kw)


# --- limits hold under a concurrent random workload -------------------------------------------


async def test_limits_hold_under_concurrent_workload() -> None:
    rng = random.Random(8305)
    clock = Clock()
    p, make = pool(max_total=5, max_per_key=2, max_idle_per_key=1, clock=clock), Factory()
    keys = ["a", "b", "c", "d"]
    in_use: dict[str, int] = dict.fromkeys(keys, 0)

    async def worker(n: int) -> None:
        for _ in range(30):
            key = rng.choice(keys)
            async with p.acquire(key, make(key)) as lease:
                in_use[key] += 1
                assert in_use[key] <= 2
                assert not lease.conn.closed
                s = p.stats()
                assert s.open <= 5
                assert s.idle + s.leased + s.connecting == s.open
                await asyncio.sleep(0)
                if rng.random() < 0.1:
                    lease.mark_broken()
                in_use[key] -= 1
            clock.now += rng.random()

    await asyncio.wait_for(asyncio.gather(*(worker(i) for i in range(12))), GUARD)
    s = p.stats()
    assert s.leased == 0
    assert s.waiting == 0
    assert s.idle <= len(keys)
    live = [c for c in make.made if not c.closed]
    assert len(live) == s.open


def test_lease_type_is_public() -> None:
    assert PoolLease.__doc__
