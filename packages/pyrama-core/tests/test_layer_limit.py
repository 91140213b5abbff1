from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core import Service, layers, service_fn
from pyrama_core.errors import ConfigError, LimitError, OverloadedError, RateLimitedError
from pyrama_core.layer import (
    NOOP_PERMIT,
    ConcurrencyLimitLayer,
    ConcurrentPolicy,
    LimitLayer,
    LimitService,
    Permit,
    Policy,
    RateLimitPolicy,
)

T = TypeVar("T")


async def ident(x: int) -> int:
    await asyncio.sleep(0)
    return x


class Gate:
    """A service whose calls block until released one by one."""

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0
        self.entered = asyncio.Queue[int]()
        self.release: asyncio.Queue[None] = asyncio.Queue()

    async def serve(self, n: int) -> int:
        self.active += 1
        self.peak = max(self.peak, self.active)
        await self.entered.put(n)
        try:
            await self.release.get()
            return n
        finally:
            self.active -= 1


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_concurrency_limit_waits_in_order_and_never_exceeds_max() -> None:
    gate = Gate()
    layer = ConcurrencyLimitLayer(2)
    svc = layer.layer(gate)
    assert isinstance(svc, LimitService)
    tasks = [asyncio.ensure_future(svc.serve(i)) for i in range(5)]
    await settle()
    assert gate.active == 2
    assert layer.policy.in_flight == 2
    assert layer.policy.waiting == 3
    order = [await gate.entered.get(), await gate.entered.get()]
    for _ in range(5):
        gate.release.put_nowait(None)
        await settle()
    results = await asyncio.gather(*tasks)
    while not gate.entered.empty():
        order.append(gate.entered.get_nowait())
    assert results == [0, 1, 2, 3, 4]
    assert order == [0, 1, 2, 3, 4]  # first come, first served
    assert gate.peak == 2
    assert layer.policy.in_flight == 0
    assert layer.policy.waiting == 0


async def test_concurrency_limit_reject_policy() -> None:
    gate = Gate()
    svc = ConcurrencyLimitLayer(1, policy="reject").layer(gate)
    first = asyncio.ensure_future(svc.serve(1))
    await gate.entered.get()
    with pytest.raises(OverloadedError) as info:
        await svc.serve(2)
    assert info.value.limit == 1
    assert isinstance(info.value, LimitError)
    gate.release.put_nowait(None)
    assert await first == 1
    gate.release.put_nowait(None)
    assert await svc.serve(3) == 3  # room again


async def test_bounded_wait_times_out_with_overloaded() -> None:
    gate = Gate()
    policy = ConcurrentPolicy(1, max_wait=0.01)
    svc = LimitLayer(policy).layer(gate)
    first = asyncio.ensure_future(svc.serve(1))
    await gate.entered.get()
    with pytest.raises(OverloadedError, match="within"):
        await svc.serve(2)
    assert policy.waiting == 0
    assert policy.in_flight == 1
    gate.release.put_nowait(None)
    assert await first == 1
    assert policy.in_flight == 0


async def test_cancelled_waiter_leaves_the_queue_and_slot_is_passed_on() -> None:
    gate = Gate()
    policy = ConcurrentPolicy(1)
    svc = LimitLayer(policy).layer(gate)
    first = asyncio.ensure_future(svc.serve(1))
    await gate.entered.get()
    second = asyncio.ensure_future(svc.serve(2))
    third = asyncio.ensure_future(svc.serve(3))
    await settle()
    assert policy.waiting == 2
    second.cancel()
    await settle()
    assert policy.waiting == 1
    gate.release.put_nowait(None)
    assert await first == 1
    assert await gate.entered.get() == 3
    gate.release.put_nowait(None)
    assert await third == 3
    assert policy.in_flight == 0


async def test_slot_handed_to_a_waiter_cancelled_before_it_runs_is_passed_on() -> None:
    policy = ConcurrentPolicy(1)
    held = await policy.acquire(None)
    second = asyncio.ensure_future(policy.acquire(None))
    third = asyncio.ensure_future(policy.acquire(None))
    await settle()
    held.release()  # hands the slot to `second` ...
    second.cancel()  # ... which is cancelled before it gets to run
    await settle()
    assert second.cancelled()
    permit = await asyncio.wait_for(third, 5)
    assert policy.in_flight == 1
    permit.release()
    permit.release()  # idempotent
    assert policy.in_flight == 0


async def test_layer_shares_its_policy_between_services() -> None:
    gate_a, gate_b = Gate(), Gate()
    layer = ConcurrencyLimitLayer(1, policy="reject")
    a, b = layer.layer(gate_a), layer.layer(gate_b)
    task = asyncio.ensure_future(a.serve(1))
    await gate_a.entered.get()
    with pytest.raises(OverloadedError):
        await b.serve(2)
    gate_a.release.put_nowait(None)
    await task


async def test_permit_released_when_inner_raises() -> None:
    async def boom(_: int) -> int:
        raise ValueError("x")

    policy = ConcurrentPolicy(1, on_limit="reject")
    svc = LimitLayer(policy).layer(service_fn(boom))
    for _ in range(3):
        with pytest.raises(ValueError, match="x"):
            await svc.serve(1)
    assert policy.in_flight == 0


async def test_custom_policy_sees_the_input() -> None:
    class EvenOnly:
        def __init__(self) -> None:
            self.released = 0

        async def acquire(self, n: int, /) -> Permit:
            if n % 2:
                raise OverloadedError("odd", limit=None)
            outer = self

            class P:
                def release(self) -> None:
                    outer.released += 1

            return P()

    policy = EvenOnly()
    assert isinstance(policy, Policy)
    svc: Service[int, int] = layers(LimitLayer(policy)).into(service_fn(ident))
    assert await svc.serve(2) == 2
    with pytest.raises(OverloadedError):
        await svc.serve(3)
    assert policy.released == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max": 0},
        {"max": -1},
        {"max": 1.5},
        {"max": 1, "on_limit": "drop"},
        {"max": 1, "max_wait": -1},
    ],
)
def test_invalid_concurrency_config(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        ConcurrentPolicy(**kwargs)  # type: ignore[arg-type]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_rate_limit_burst_then_reject_with_retry_after() -> None:
    clock = FakeClock()
    policy = RateLimitPolicy(10, 1.0, burst=3, clock=clock)
    for _ in range(3):
        assert await policy.acquire(None) is NOOP_PERMIT
    with pytest.raises(RateLimitedError) as info:
        await policy.acquire(None)
    assert info.value.retry_after == pytest.approx(0.1)
    assert info.value.limit == 10
    clock.now += 0.05
    with pytest.raises(RateLimitedError) as info:
        await policy.acquire(None)
    assert info.value.retry_after == pytest.approx(0.05)
    clock.now += 0.05
    await policy.acquire(None)  # one token refilled
    assert policy.tokens == pytest.approx(0.0, abs=1e-6)


async def test_rate_limit_refills_up_to_burst_only() -> None:
    clock = FakeClock()
    policy = RateLimitPolicy(2, 1.0, burst=2, clock=clock)
    await policy.acquire(None)
    await policy.acquire(None)
    clock.now += 3600  # an hour idle refills only up to the burst
    assert policy.tokens == pytest.approx(2.0)
    await policy.acquire(None)
    await policy.acquire(None)
    with pytest.raises(RateLimitedError):
        await policy.acquire(None)


async def test_rate_limit_default_burst_and_period() -> None:
    clock = FakeClock()
    policy = RateLimitPolicy(5, 60.0, clock=clock)  # 5 per minute
    for _ in range(5):
        await policy.acquire(None)
    with pytest.raises(RateLimitedError) as info:
        await policy.acquire(None)
    assert info.value.retry_after == pytest.approx(12.0)


async def test_rate_limit_wait_mode_sleeps_for_reserved_tokens() -> None:
    clock = FakeClock()
    policy = RateLimitPolicy(4, 1.0, burst=1, on_limit="wait", clock=clock, sleep=clock.sleep)
    await policy.acquire(None)
    await policy.acquire(None)
    await policy.acquire(None)
    assert clock.slept == [pytest.approx(0.25), pytest.approx(0.25)]


async def test_rate_limit_concurrent_waiters_queue_behind_each_other() -> None:
    clock = FakeClock()
    gate = asyncio.Event()
    slept: list[float] = []

    async def held_sleep(seconds: float) -> None:
        slept.append(seconds)
        await gate.wait()

    policy = RateLimitPolicy(10, 1.0, burst=1, on_limit="wait", clock=clock, sleep=held_sleep)
    await policy.acquire(None)
    waiters = [asyncio.ensure_future(policy.acquire(None)) for _ in range(3)]
    await settle()
    assert slept == [pytest.approx(0.1), pytest.approx(0.2), pytest.approx(0.3)]
    gate.set()
    await asyncio.gather(*waiters)


async def test_rate_limit_wait_beyond_max_wait_rejects() -> None:
    clock = FakeClock()
    policy = RateLimitPolicy(
        1, 10.0, burst=1, on_limit="wait", max_wait=5.0, clock=clock, sleep=clock.sleep
    )
    await policy.acquire(None)
    with pytest.raises(RateLimitedError) as info:
        await policy.acquire(None)
    assert info.value.retry_after == pytest.approx(10.0)
    assert clock.slept == []


async def test_rate_limit_cancelled_waiter_gives_its_reservation_back() -> None:
    clock = FakeClock()
    never = asyncio.Event()

    async def stuck_sleep(seconds: float) -> None:
        await never.wait()

    policy = RateLimitPolicy(1, 1.0, burst=1, on_limit="wait", clock=clock, sleep=stuck_sleep)
    await policy.acquire(None)
    waiter = asyncio.ensure_future(policy.acquire(None))
    await settle()
    assert policy.tokens == pytest.approx(-1.0, abs=1e-6)
    waiter.cancel()
    await settle()
    assert policy.tokens == pytest.approx(0.0, abs=1e-6)


async def test_rate_limit_layer_end_to_end() -> None:
    clock = FakeClock()
    svc = LimitLayer(RateLimitPolicy(1, 1.0, clock=clock)).layer(service_fn(ident))
    assert await svc.serve(1) == 1
    with pytest.raises(RateLimitedError):
        await svc.serve(2)
    clock.now += 1
    assert await svc.serve(3) == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 0},
        {"rate": float("inf")},
        {"rate": 1, "period": 0},
        {"rate": 1, "burst": 0},
        {"rate": 1, "on_limit": "later"},
        {"rate": 1, "max_wait": -0.1},
    ],
)
def test_invalid_rate_config(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        RateLimitPolicy(**kwargs)  # type: ignore[arg-type]


@given(
    per_second=st.floats(min_value=0.001, max_value=1e5),
    period=st.floats(min_value=0.001, max_value=3600),
    burst=st.integers(min_value=1, max_value=50),
    start=st.floats(min_value=0, max_value=1e8),
)
def test_waiting_retry_after_is_always_enough(
    per_second: float, period: float, burst: int, start: float
) -> None:
    # realistic domain: up to 100k calls per second on a monotonic clock up to ~3 years
    rate = per_second * period

    clock = FakeClock()
    clock.now = start
    policy = RateLimitPolicy(rate, period, burst=burst, clock=clock)
    for _ in range(burst):
        run_now(policy.acquire(None))
    with pytest.raises(RateLimitedError) as info:
        run_now(policy.acquire(None))
    retry_after = info.value.retry_after
    assert retry_after is not None
    assert retry_after > 0
    clock.now += retry_after
    run_now(policy.acquire(None))


def run_now(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that must complete without suspending (no event loop needed)."""
    try:
        coro.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coro.close()
    raise AssertionError("coroutine suspended")
