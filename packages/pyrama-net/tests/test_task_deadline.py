"""TaskDeadline: a timer-wheel deadline that cancels the running task (asyncio.timeout's job)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from pyrama_core.errors import ConfigError
from pyrama_net import TaskDeadline


async def test_deadline_that_passes_cancels_the_task_and_reports_a_timeout() -> None:
    deadline = TaskDeadline(0.05)
    task = asyncio.current_task()
    assert task is not None
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(10)
    assert deadline.expired
    assert deadline.finish() is True
    assert task.cancelling() == 0  # the cancellation was taken back
    assert deadline.finish() is True  # idempotent
    await asyncio.sleep(0)  # the task goes on normally


async def test_deadline_on_a_given_loop_cancels_the_running_task() -> None:
    from pyrama_net import open_socket_stream

    a, b = socket.socketpair()
    stream = await open_socket_stream(a)
    try:
        assert stream.loop is asyncio.get_running_loop()
        deadline = TaskDeadline(0.05, stream.loop)
        with pytest.raises(asyncio.CancelledError):
            await stream.read()  # b never writes
        assert deadline.finish() is True
    finally:
        await stream.close()
        b.close()


async def test_deadline_that_does_not_pass_leaves_nothing_behind() -> None:
    deadline = TaskDeadline(5.0)
    await asyncio.sleep(0.01)
    assert deadline.finish() is False
    assert not deadline.expired
    await asyncio.sleep(0.01)


async def test_finished_deadline_never_fires() -> None:
    deadline = TaskDeadline(0.01)
    assert deadline.finish() is False
    await asyncio.sleep(0.3)  # past the deadline and its tick
    assert not deadline.expired


async def test_outside_cancellation_is_not_a_timeout() -> None:
    started = asyncio.Event()

    async def body() -> bool:
        deadline = TaskDeadline(10.0)
        try:
            started.set()
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return deadline.finish()
        return True

    task = asyncio.get_running_loop().create_task(body())
    await started.wait()
    task.cancel()
    assert await task is False


async def test_outside_cancellation_after_expiry_stays_a_cancellation() -> None:
    """Both fired: the task was cancelled from outside too, so finish() says no timeout."""
    seen: list[bool] = []

    async def body() -> None:
        deadline = TaskDeadline(0.02)
        me = asyncio.current_task()
        assert me is not None
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            me.cancel()  # an outside cancellation arriving at the same time
            seen.append(deadline.finish())
            raise

    task = asyncio.get_running_loop().create_task(body())
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [False]


def test_needs_a_running_task() -> None:
    with pytest.raises(RuntimeError):
        TaskDeadline(1.0)


async def test_infinite_deadline_never_fires() -> None:
    deadline = TaskDeadline(float("inf"))
    await asyncio.sleep(0.01)
    assert deadline.finish() is False


@pytest.mark.parametrize("seconds", [0, -1.0, float("nan")])
async def test_seconds_must_be_finite_and_positive(seconds: float) -> None:
    with pytest.raises(ConfigError):
        TaskDeadline(seconds)


async def test_the_task_lookup_agrees_with_asyncio() -> None:
    from pyrama_core import current_task_of as _current_task

    loop = asyncio.get_running_loop()
    assert _current_task(loop) is asyncio.current_task()

    async def inner() -> bool:
        return _current_task(loop) is asyncio.current_task()

    assert await asyncio.create_task(inner())
    other = asyncio.new_event_loop()
    try:
        assert _current_task(other) is None  # a loop running no task
    finally:
        other.close()
