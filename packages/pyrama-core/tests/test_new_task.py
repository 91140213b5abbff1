"""new_task: a named task per connection, made directly or through the loop's task factory."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest
import uvloop

from pyrama_core import Shutdown, new_task


async def _answer() -> int:
    return 42


@pytest.mark.parametrize("factory", [asyncio.new_event_loop, uvloop.new_event_loop])
def test_new_task_is_named_and_runs(factory: Any) -> None:
    async def main() -> None:
        task = new_task(asyncio.get_running_loop(), _answer(), "conn")
        assert task.get_name() == "conn"
        assert await task == 42

    with asyncio.Runner(loop_factory=factory) as r:
        r.run(main())


async def test_new_task_goes_through_a_task_factory() -> None:
    loop = asyncio.get_running_loop()
    made: list[str] = []

    def task_factory(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kw: Any
    ) -> asyncio.Task[Any]:
        made.append("x")
        return asyncio.Task(coro, loop=loop, **kw)

    loop.set_task_factory(task_factory)  # type: ignore[arg-type]
    try:
        task = new_task(loop, _answer(), "conn")
        assert await task == 42
    finally:
        loop.set_task_factory(None)
    assert made == ["x"]
    assert task.get_name() == "conn"


async def test_a_guarded_task_holds_the_shutdown_until_done() -> None:
    shutdown = Shutdown(deadline=5)
    guard = shutdown.guard()
    gate = asyncio.Event()

    async def work() -> None:
        await gate.wait()

    task = guard.spawn_task(work(), name="w")
    guard.release()
    assert shutdown.in_flight == 1
    assert task.get_name() == "w"
    shutdown.trigger()
    gate.set()
    result = await shutdown.wait_complete()
    assert result.finished == 1
    assert shutdown.in_flight == 0
