from __future__ import annotations

import asyncio
import os
import signal

import pytest

from pyrama_core import (
    Executor,
    Shutdown,
    ShutdownGuard,
    ShutdownResult,
    WeakShutdownGuard,
)
from pyrama_core.errors import ConfigError


async def test_trigger_fires_guard_cancelled_and_event() -> None:
    shutdown = Shutdown()
    guard = shutdown.guard()
    waiter = asyncio.ensure_future(guard.cancelled())
    await asyncio.sleep(0)
    assert not waiter.done()
    assert not guard.is_cancelled()
    assert not shutdown.triggered.is_set()
    shutdown.trigger("test")
    await asyncio.wait_for(waiter, 5)
    await asyncio.wait_for(shutdown.triggered, 5)  # the event itself is awaitable
    assert guard.is_cancelled()
    assert shutdown.reason == "test"
    shutdown.trigger("again")  # idempotent, first reason kept
    assert shutdown.reason == "test"
    guard.release()


async def test_clean_finish_before_deadline() -> None:
    shutdown = Shutdown()
    guard = shutdown.guard()

    async def worker() -> str:
        await guard.cancelled()
        await asyncio.sleep(0)
        return "done"

    tasks = [guard.spawn_task(worker()) for _ in range(3)]
    guard.release()
    shutdown.trigger()
    result = await asyncio.wait_for(shutdown.wait_complete(deadline=30), 10)
    assert result == ShutdownResult(
        finished=3, cancelled=0, abandoned=0, elapsed=result.elapsed, forced=False
    )
    assert result.clean
    assert [t.result() for t in tasks] == ["done"] * 3
    assert shutdown.in_flight == 0


async def test_deadline_cancels_remaining_work() -> None:
    shutdown = Shutdown()
    guard = shutdown.guard()
    never = asyncio.Event()
    reached_finally = []

    async def stuck() -> None:
        try:
            await never.wait()
        finally:
            reached_finally.append(True)

    async def quick() -> None:
        await guard.cancelled()

    stuck_task = guard.spawn_task(stuck())
    quick_task = guard.spawn_task(quick())
    guard.release()
    result = await asyncio.wait_for(shutdown.shutdown(deadline=0.05), 10)
    assert result.finished == 1
    assert result.cancelled == 1
    assert result.abandoned == 0
    assert not result.clean
    assert stuck_task.cancelled()
    assert quick_task.done()
    assert not quick_task.cancelled()
    assert reached_finally == [True]
    assert shutdown.in_flight == 0


async def test_default_deadline_is_bounded_and_constructor_deadline_used() -> None:
    assert Shutdown()._deadline == 30.0
    shutdown = Shutdown(deadline=0.01)
    guard = shutdown.guard()
    task = guard.spawn_task(asyncio.Event().wait())
    guard.release()
    shutdown.trigger()
    result = await asyncio.wait_for(shutdown.wait_complete(), 10)
    assert result.cancelled == 1
    assert task.cancelled()


async def test_deadline_counts_from_the_trigger() -> None:
    shutdown = Shutdown()
    guard = shutdown.guard()
    task = guard.spawn_task(asyncio.Event().wait())
    guard.release()
    shutdown.trigger()
    shutdown._triggered_at -= 100  # pretend the trigger fired long ago
    result = await asyncio.wait_for(shutdown.wait_complete(deadline=50), 10)
    assert result.cancelled == 1
    assert result.elapsed >= 100
    assert task.cancelled()


async def test_work_finished_between_trigger_and_wait_is_counted() -> None:
    shutdown = Shutdown()
    guard = shutdown.guard()
    guard.spawn_task(guard.cancelled())
    guard.release()
    shutdown.trigger()
    for _ in range(5):
        await asyncio.sleep(0)
    assert shutdown.in_flight == 0
    result = await shutdown.wait_complete()
    assert result.finished == 1
    assert result.clean


async def test_guard_not_tied_to_a_task_is_reported_abandoned() -> None:
    shutdown = Shutdown()
    held = shutdown.guard()
    result = await asyncio.wait_for(shutdown.shutdown(deadline=0), 10)
    assert result.abandoned == 1
    assert result.cancelled == 0
    held.release()
    assert shutdown.in_flight == 0


async def test_wait_complete_waits_for_trigger() -> None:
    shutdown = Shutdown()
    waiter = asyncio.ensure_future(shutdown.wait_complete())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()
    shutdown.trigger()
    result = await asyncio.wait_for(waiter, 10)
    assert result.clean
    assert result.finished == 0


async def test_nested_guards_and_tasks() -> None:
    shutdown = Shutdown()
    root = shutdown.guard()
    order: list[str] = []

    async def child(guard: ShutdownGuard) -> None:
        await guard.cancelled()
        await asyncio.sleep(0)
        order.append("child")

    async def parent(guard: ShutdownGuard) -> None:
        with guard.clone() as inner:
            inner.spawn_task(child(inner))
            await inner.cancelled()
        order.append("parent")

    root.spawn_task(parent(root))
    assert shutdown.in_flight >= 2
    root.release()
    await asyncio.sleep(0)
    result = await asyncio.wait_for(shutdown.shutdown(deadline=30), 10)
    assert result.clean
    assert result.finished == 2
    assert sorted(order) == ["child", "parent"]
    assert shutdown.in_flight == 0


async def test_context_managers_release() -> None:
    shutdown = Shutdown()
    with shutdown.guard() as g:
        assert shutdown.in_flight == 1
    assert g.released
    assert shutdown.in_flight == 0
    async with shutdown.guard() as g2:
        assert shutdown.in_flight == 1
    assert g2.released
    assert shutdown.in_flight == 0
    g2.release()  # idempotent
    assert shutdown.in_flight == 0


async def test_released_guard_is_still_a_handle() -> None:
    shutdown = Shutdown()
    g = shutdown.guard()
    g.release()
    clone = g.clone()
    assert shutdown.in_flight == 1
    clone.release()
    task = g.spawn_task(asyncio.sleep(0, result=1))
    assert shutdown.in_flight == 1
    assert await task == 1
    await asyncio.sleep(0)
    assert shutdown.in_flight == 0
    with pytest.raises(TypeError):
        ShutdownGuard()


async def test_spawn_task_fn_gives_the_task_its_own_guard() -> None:
    shutdown = Shutdown()
    root = shutdown.guard()
    seen: list[ShutdownGuard] = []

    async def work(guard: ShutdownGuard) -> str:
        seen.append(guard)
        await guard.cancelled()
        return "ok"

    task = root.spawn_task_fn(work, name="w")
    root.release()
    await asyncio.sleep(0)
    assert seen[0] is not root
    assert not seen[0].released
    result = await asyncio.wait_for(shutdown.shutdown(deadline=30), 10)
    assert result.finished == 1
    assert result.clean
    assert task.result() == "ok"
    assert seen[0].released


def test_spawn_outside_a_loop_closes_the_coroutine() -> None:
    shutdown = Shutdown()
    g = shutdown.guard()
    coro = asyncio.sleep(0)
    with pytest.raises(RuntimeError):
        g.spawn_task(coro)
    assert coro.cr_frame is None  # type: ignore[attr-defined]  # closed, so no "never awaited" warning
    with pytest.raises(RuntimeError):
        g.spawn_task_fn(lambda _g: asyncio.sleep(0))
    g.release()
    assert shutdown.in_flight == 0


async def test_dropped_guard_does_not_hold_shutdown() -> None:
    shutdown = Shutdown()
    shutdown.guard()  # dropped immediately, never released
    assert shutdown.in_flight == 0


async def test_weak_guard_sees_trigger_without_holding() -> None:
    shutdown = Shutdown()
    strong = shutdown.guard()
    weak = strong.downgrade()
    assert isinstance(weak, WeakShutdownGuard)
    strong.release()
    assert shutdown.in_flight == 0
    shutdown.trigger()
    await asyncio.wait_for(weak.cancelled(), 5)
    assert weak.is_cancelled()
    again = weak.upgrade()
    assert shutdown.in_flight == 1
    again.release()


async def test_force_skips_the_deadline() -> None:
    shutdown = Shutdown()
    guard = shutdown.guard()
    task = guard.spawn_task(asyncio.Event().wait())
    guard.release()
    waiter = asyncio.ensure_future(shutdown.shutdown(deadline=None))
    await asyncio.sleep(0)
    shutdown.force()
    result = await asyncio.wait_for(waiter, 10)
    assert result.forced
    assert result.cancelled == 1
    assert task.cancelled()


async def test_executor_plain_and_graceful() -> None:
    plain = Executor()
    assert plain.guard is None
    t = plain.spawn_task(asyncio.sleep(0, result=5))
    assert await t == 5

    shutdown = Shutdown()
    guard = shutdown.guard()
    ex = Executor.graceful(guard)
    assert ex.guard is guard
    task = ex.spawn_task(asyncio.Event().wait(), name="stuck")
    assert task.get_name() == "stuck"
    guard.release()
    assert shutdown.in_flight == 1  # the task holds its own clone
    result = await asyncio.wait_for(shutdown.shutdown(deadline=0), 10)
    assert result.cancelled == 1
    assert task.cancelled()


async def test_invalid_deadlines() -> None:
    with pytest.raises(ConfigError):
        Shutdown(deadline=-1)
    with pytest.raises(ConfigError):
        Shutdown(deadline=float("nan"))
    shutdown = Shutdown()
    shutdown.trigger()
    with pytest.raises(ConfigError):
        await shutdown.wait_complete(deadline=-0.5)


def test_with_signals_needs_a_running_loop() -> None:
    with pytest.raises(ConfigError):
        Shutdown.with_signals()


async def test_sigterm_triggers_and_second_signal_forces() -> None:
    before = signal.getsignal(signal.SIGTERM)
    shutdown = Shutdown.with_signals((signal.SIGTERM,), deadline=None)
    try:
        guard = shutdown.guard()
        task = guard.spawn_task(asyncio.Event().wait())
        guard.release()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(shutdown.triggered.wait(), 10)
        assert shutdown.reason == "signal SIGTERM"
        waiter = asyncio.ensure_future(shutdown.wait_complete())
        await asyncio.sleep(0)
        assert not waiter.done()
        os.kill(os.getpid(), signal.SIGTERM)  # second signal: stop waiting
        result = await asyncio.wait_for(waiter, 10)
        assert result.forced
        assert result.cancelled == 1
        assert task.cancelled()
    finally:
        shutdown.remove_signal_handlers()
    # wait_complete removed the handler and restored the previous one
    assert signal.getsignal(signal.SIGTERM) == before


async def test_sigint_handler_path() -> None:
    before = signal.getsignal(signal.SIGINT)
    shutdown = Shutdown.with_signals()
    try:
        os.kill(os.getpid(), signal.SIGINT)
        result = await asyncio.wait_for(shutdown.wait_complete(), 10)
        assert shutdown.reason == "signal SIGINT"
        assert result.clean
    finally:
        shutdown.remove_signal_handlers()
    assert signal.getsignal(signal.SIGINT) == before
