"""TimeoutLayer: bound how long the inner service may take."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from pyrama_core._service import Service
from pyrama_core.errors import ConfigError, PyramaTimeoutError

__all__ = ["TimeoutLayer", "TimeoutService"]

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741


class _Deadline:
    """A timer's target: cancels *task* and remembers that it did."""

    __slots__ = ("expired", "task")

    def __init__(self, task: asyncio.Task[object]) -> None:
        self.task = task
        self.expired = False

    def fire(self) -> None:
        self.expired = True
        self.task.cancel()


def _task() -> asyncio.Task[object]:
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("TimeoutService.serve must run inside an asyncio task")
    return task


class TimeoutService(Generic[I, O]):
    """Cancels the inner service after *seconds* and raises :class:`PyramaTimeoutError`.

    The deadline is one loop timer (``loop.call_at``) per call, cancelled when the call
    ends; it behaves as ``asyncio.timeout`` (the cancellation it causes is taken back with
    ``Task.uncancel``, an outer cancellation is not a timeout, the inner service's own
    ``TimeoutError`` passes through) without the context manager's objects and calls.
    """

    __slots__ = ("_message", "_seconds", "inner")

    def __init__(self, inner: Service[I, O], seconds: float) -> None:
        """Wrap *inner* with a deadline of *seconds* per call."""
        self.inner = inner
        self._seconds = seconds
        self._message = f"service did not complete within {seconds} s"

    async def serve(self, input: I, /) -> O:
        """Serve *input* through the inner service, or time out."""
        loop = asyncio.get_running_loop()
        task = _task()
        deadline = _Deadline(task)
        cancelling = task.cancelling()
        handle = loop.call_at(loop.time() + self._seconds, deadline.fire)
        try:
            return await self.inner.serve(input)
        except asyncio.CancelledError as exc:
            if deadline.expired:
                deadline.expired = False  # taken back here, not again below
                if task.uncancel() <= cancelling:
                    cause = TimeoutError()
                    cause.__cause__ = exc
                    raise PyramaTimeoutError(self._message, seconds=self._seconds) from cause
            raise
        except TimeoutError as exc:
            if deadline.expired:  # cancelled by us, the inner service made it a TimeoutError
                raise PyramaTimeoutError(self._message, seconds=self._seconds) from exc
            raise  # the inner service's own TimeoutError, not ours
        finally:
            handle.cancel()
            if deadline.expired:  # fired, but the inner service did not end cancelled
                task.uncancel()


class TimeoutLayer:
    """A layer giving every call of the inner service at most *seconds* to complete.

    A call that runs out of time is cancelled and :class:`~pyrama_core.errors.PyramaTimeoutError`
    (also a builtin ``TimeoutError``) is raised, with the original cancellation as cause.
    """

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        """Configure the timeout; *seconds* must be > 0."""
        if not seconds > 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {seconds!r}")
        self.seconds = float(seconds)

    def layer(self, inner: Service[I, O], /) -> TimeoutService[I, O]:
        """Wrap *inner*."""
        return TimeoutService(inner, self.seconds)

    def __repr__(self) -> str:
        return f"TimeoutLayer({self.seconds})"
