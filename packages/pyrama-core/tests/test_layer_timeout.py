from __future__ import annotations

import asyncio

import pytest

from pyrama_core import layers, service_fn
from pyrama_core.errors import ConfigError, PyramaError, PyramaTimeoutError
from pyrama_core.layer import TimeoutLayer, TimeoutService


async def inc(x: int) -> int:
    await asyncio.sleep(0)
    return x + 1


async def test_fast_call_passes_through() -> None:
    svc = TimeoutLayer(30).layer(service_fn(inc))
    assert isinstance(svc, TimeoutService)
    assert await svc.serve(1) == 2


async def test_slow_call_is_cancelled_and_raises_pyrama_timeout() -> None:
    cancelled = asyncio.Event()

    async def slow(_: object) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    svc = TimeoutLayer(0.01).layer(service_fn(slow))
    with pytest.raises(PyramaTimeoutError) as info:
        await svc.serve(None)
    assert info.value.seconds == 0.01
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, PyramaError)
    assert isinstance(info.value.__cause__, TimeoutError)
    assert cancelled.is_set()


async def test_inner_timeout_error_is_not_rewritten() -> None:
    async def own_timeout(_: object) -> None:
        raise TimeoutError("inner")

    svc = TimeoutLayer(30).layer(service_fn(own_timeout))
    with pytest.raises(TimeoutError, match="inner") as info:
        await svc.serve(None)
    assert not isinstance(info.value, PyramaTimeoutError)


async def test_outer_cancellation_is_not_a_timeout() -> None:
    started = asyncio.Event()

    async def slow(_: object) -> None:
        started.set()
        await asyncio.Event().wait()

    svc = layers(TimeoutLayer(30)).into(service_fn(slow))
    task = asyncio.ensure_future(svc.serve(None))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("bad", [0, -1, float("nan")])
def test_invalid_timeout(bad: float) -> None:
    with pytest.raises(ConfigError):
        TimeoutLayer(bad)


async def test_timeout_leaves_the_task_uncancelled_and_the_loop_without_timers() -> None:
    async def slow(_: object) -> None:
        await asyncio.sleep(30)

    task = asyncio.current_task()
    assert task is not None
    svc = TimeoutLayer(0.01).layer(service_fn(slow))
    for _ in range(3):
        with pytest.raises(PyramaTimeoutError):
            await svc.serve(None)
        assert task.cancelling() == 0
    # fast calls cancel their timer: nothing is left scheduled to cancel us later
    fast = TimeoutLayer(0.02).layer(service_fn(inc))
    for i in range(50):
        assert await fast.serve(i) == i + 1
    await asyncio.sleep(0.05)
    assert task.cancelling() == 0


async def test_inner_swallowing_the_cancellation_returns_normally() -> None:
    async def stubborn(_: object) -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return "swallowed"
        return "slept"

    task = asyncio.current_task()
    assert task is not None
    assert await TimeoutLayer(0.01).layer(service_fn(stubborn)).serve(None) == "swallowed"
    assert task.cancelling() == 0


async def test_inner_turning_the_cancellation_into_timeout_error_is_ours() -> None:
    async def converts(_: object) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError as exc:
            raise TimeoutError("converted") from exc

    with pytest.raises(PyramaTimeoutError) as info:
        await TimeoutLayer(0.01).layer(service_fn(converts)).serve(None)
    assert isinstance(info.value.__cause__, TimeoutError)


async def test_nested_deadlines_the_shorter_one_wins_and_the_outer_passes_it_on() -> None:
    async def slow(_: object) -> None:
        await asyncio.sleep(30)

    inner = TimeoutLayer(0.01).layer(service_fn(slow))
    outer = TimeoutLayer(30).layer(inner)
    with pytest.raises(PyramaTimeoutError) as info:
        await outer.serve(None)
    assert info.value.seconds == 0.01


async def test_outer_cancellation_during_an_expired_deadline_stays_a_cancellation() -> None:
    started = asyncio.Event()

    async def slow(_: object) -> None:
        started.set()
        await asyncio.sleep(30)

    svc = TimeoutLayer(0.05).layer(service_fn(slow))
    task = asyncio.ensure_future(svc.serve(None))
    await started.wait()
    task.cancel()  # an outer cancel arrives before the deadline; both must not make a timeout
    with pytest.raises(asyncio.CancelledError):
        await task


def test_serve_outside_a_task_is_an_error() -> None:
    svc = TimeoutLayer(1).layer(service_fn(inc))
    coro = svc.serve(1)
    with pytest.raises(RuntimeError):
        coro.send(None)
    coro.close()


# -- shared deadline timers ------------------------------------------------------------------


async def test_concurrent_calls_share_bucket_timers_and_leave_nothing_behind() -> None:
    from pyrama_core import timer_wheel

    loop = asyncio.get_running_loop()
    gate = asyncio.Event()

    async def wait(_: object) -> str:
        await gate.wait()
        return "done"

    svc = TimeoutLayer(30).layer(service_fn(wait))
    tasks = [asyncio.ensure_future(svc.serve(None)) for _ in range(200)]
    await asyncio.sleep(0)
    buckets = timer_wheel(loop)._buckets
    live = [b for b in buckets.values() if b]
    assert 1 <= len(live) <= 2  # 200 deadlines, one or two ticks (never one timer each)
    assert sum(len(b) for b in live) == 200
    gate.set()
    assert await asyncio.gather(*tasks) == ["done"] * 200
    assert all(not b for b in buckets.values())


async def test_a_deadline_never_fires_early() -> None:
    loop = asyncio.get_running_loop()

    async def slow(_: object) -> None:
        await asyncio.sleep(30)

    for seconds in (0.02, 0.05):
        t0 = loop.time()
        with pytest.raises(PyramaTimeoutError):
            await TimeoutLayer(seconds).layer(service_fn(slow)).serve(None)
        assert loop.time() - t0 >= seconds - 0.001


def test_one_service_on_successive_event_loops() -> None:
    async def slow(_: object) -> None:
        await asyncio.sleep(30)

    svc = TimeoutLayer(0.01).layer(service_fn(slow))
    fast = TimeoutLayer(5).layer(service_fn(inc))
    for _ in range(3):

        async def main() -> None:
            with pytest.raises(PyramaTimeoutError):
                await svc.serve(None)
            assert await fast.serve(1) == 2

        asyncio.run(main())
