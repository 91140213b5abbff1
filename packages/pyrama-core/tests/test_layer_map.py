from __future__ import annotations

import asyncio
import functools

import pytest

from pyrama_core import layers, service_fn
from pyrama_core.errors import BoxError, PyramaError
from pyrama_core.layer import MapErrLayer, MapInputLayer, MapOutputLayer


async def echo(x: object) -> object:
    return x


async def test_map_input_sync_and_async() -> None:
    async def parse(s: str) -> int:
        return int(s)

    svc = layers(MapInputLayer(str.strip), MapInputLayer(parse)).into(service_fn(echo))
    assert await svc.serve("  42 ") == 42


async def test_map_output_sync_and_async() -> None:
    async def wrap(x: object) -> dict[str, object]:
        await asyncio.sleep(0)
        return {"v": x}

    svc = layers(MapOutputLayer(str), MapOutputLayer(wrap)).into(service_fn(echo))
    # the outer (first) layer sees the output last
    assert await svc.serve(7) == "{'v': 7}"


async def test_map_async_detection_for_partials_and_callables() -> None:
    async def add(n: int, x: int) -> int:
        return x + n

    class AsyncCallable:
        async def __call__(self, x: int) -> int:
            return x * 10

    svc = layers(MapOutputLayer(functools.partial(add, 1)), MapOutputLayer(AsyncCallable())).into(
        service_fn(echo)
    )
    assert await svc.serve(2) == 21


async def test_map_err_replaces_error_keeping_cause() -> None:
    async def boom(_: object) -> object:
        raise KeyError("k")

    svc = MapErrLayer(lambda e: BoxError(e)).layer(service_fn(boom))
    with pytest.raises(BoxError) as info:
        await svc.serve(None)
    assert isinstance(info.value.__cause__, KeyError)
    assert isinstance(info.value, PyramaError)


async def test_map_err_async_and_identity() -> None:
    async def boom(_: object) -> object:
        raise ValueError("v")

    async def to_runtime(e: Exception) -> BaseException:
        return RuntimeError(f"mapped {e}")

    svc = MapErrLayer(to_runtime).layer(service_fn(boom))
    with pytest.raises(RuntimeError, match="mapped v"):
        await svc.serve(None)

    same = MapErrLayer(lambda e: e).layer(service_fn(boom))
    with pytest.raises(ValueError, match="v") as info:
        await same.serve(None)
    assert info.value.__cause__ is None


async def test_map_err_leaves_success_and_cancellation_alone() -> None:
    calls: list[Exception] = []

    def record(e: Exception) -> BaseException:
        calls.append(e)
        return e

    ok = MapErrLayer(record).layer(service_fn(echo))
    assert await ok.serve(1) == 1

    async def cancelled(_: object) -> object:
        raise asyncio.CancelledError

    svc = MapErrLayer(record).layer(service_fn(cancelled))
    with pytest.raises(asyncio.CancelledError):
        await svc.serve(None)
    assert calls == []


def test_reprs_name_the_function() -> None:
    assert "strip" in repr(MapInputLayer(str.strip))
    assert "strip" in repr(MapInputLayer(str.strip).layer(service_fn(echo)))
    assert "str" in repr(MapOutputLayer(str))
