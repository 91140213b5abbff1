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
