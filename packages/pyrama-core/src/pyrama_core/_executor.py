"""Executor: spawns tasks, optionally tied to a graceful shutdown guard."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from pyrama_core._graceful import ShutdownGuard

__all__ = ["Executor"]

T = TypeVar("T")


class Executor:
    """Spawns tasks for services that need background work (a relay direction, a pool reaper).

    ``Executor()`` spawns plain tasks (it keeps a reference so they are not garbage
    collected mid-flight); ``Executor.graceful(guard)`` ties every task to *guard*, so
    graceful shutdown waits for them and cancels them at its deadline.
    """

    __slots__ = ("_guard", "_tasks")

    def __init__(self, guard: ShutdownGuard | None = None) -> None:
        """Create an executor; with *guard*, every spawned task is tied to it."""
        self._guard = guard
        self._tasks: set[asyncio.Task[Any]] = set()

    @classmethod
    def graceful(cls, guard: ShutdownGuard) -> Executor:
        """An executor whose tasks hold a clone of *guard* while they run."""
        return cls(guard)

    @property
    def guard(self) -> ShutdownGuard | None:
        """The guard spawned tasks are tied to, if any."""
        return self._guard

    def spawn_task(
        self, coro: Coroutine[Any, Any, T], *, name: str | None = None
    ) -> asyncio.Task[T]:
        """Run *coro* as a task (tied to the guard when this executor is graceful)."""
        if self._guard is not None:
            return self._guard.spawn_task(coro, name=name)
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __repr__(self) -> str:
        return f"Executor(graceful={self._guard is not None})"
