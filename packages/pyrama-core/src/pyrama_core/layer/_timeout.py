"""TimeoutLayer: bound how long the inner service may take."""

from __future__ import annotations

import asyncio
from typing import Final, Generic, TypeVar

from pyrama_core._service import Service
from pyrama_core._timer_wheel import TimerWheel, timer_wheel
from pyrama_core.errors import ConfigError, PyramaTimeoutError

__all__ = ["TimeoutLayer", "TimeoutService"]

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741


_TICKS_PER_TIMEOUT: Final = 64
"""A deadline is rounded up to a tick of its timeout / this (so at most ~1.6 % late)..."""
_MAX_TICK: Final = 0.25
"""...and to at most this many seconds."""


class _Deadline:
    """One call's deadline: cancels *task* when its wheel bucket fires, remembers that it did."""

    __slots__ = ("_wheel_key", "expired", "task")

    def __init__(self, task: asyncio.Task[object]) -> None:
        self.task = task
        self.expired = False
        self._wheel_key: tuple[float, int] | None = None

    def _on_timer(self) -> None:
        self.expired = True
        self.task.cancel()


def _task() -> asyncio.Task[object]:
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("TimeoutService.serve must run inside an asyncio task")
    return task


class TimeoutService(Generic[I, O]):
    """Cancels the inner service after *seconds* and raises :class:`PyramaTimeoutError`.

    Deadlines share loop timers: each is rounded up to a tick of *seconds* / 64 (at most
    0.25 s), so a call times out at most that much after *seconds*, never before; a call
    that ends in time only leaves its tick's bucket. Otherwise it behaves as
    ``asyncio.timeout`` (the cancellation it causes is taken back with ``Task.uncancel``,
    an outer cancellation is not a timeout, the inner service's own ``TimeoutError``
    passes through) without the context manager's objects and calls.
    """

    __slots__ = ("_message", "_seconds", "_tick", "_wheel", "inner")

    def __init__(self, inner: Service[I, O], seconds: float) -> None:
        """Wrap *inner* with a deadline of *seconds* per call."""
        self.inner = inner
        self._seconds = seconds
        self._tick = min(seconds / _TICKS_PER_TIMEOUT, _MAX_TICK)
        self._wheel: TimerWheel | None = None  # the wheel of the loop last served on
        self._message = f"service did not complete within {seconds} s"

    async def serve(self, input: I, /) -> O:
        """Serve *input* through the inner service, or time out."""
        loop = asyncio.get_running_loop()
        task = _task()
        deadline = _Deadline(task)
        cancelling = task.cancelling()
        wheel = self._wheel
        if wheel is None or wheel.loop is not loop:
            wheel = self._wheel = timer_wheel(loop)
        wheel.schedule(deadline, loop.time() + self._seconds, self._tick)
        try:
            return await self.inner.serve(input)
        except asyncio.CancelledError as exc:
            if deadline.expired:
                deadline.expired = False  # taken back here, not again below
                if task.uncancel() <= cancelling:
                    cause = TimeoutError()
                    cause.__cause__ = exc
                    raise PyramaTimeoutError(
                        self._message, seconds=self._seconds, source=self
                    ) from cause
            raise
        except TimeoutError as exc:
            if deadline.expired:  # cancelled by us, the inner service made it a TimeoutError
                raise PyramaTimeoutError(self._message, seconds=self._seconds, source=self) from exc
            raise  # the inner service's own TimeoutError, not ours
        finally:
            wheel.cancel(deadline)
            if deadline.expired:  # fired, but the inner service did not end cancelled
                task.uncancel()


class TimeoutLayer:
    """A layer giving every call of the inner service at most *seconds* to complete.

    A call that runs out of time is cancelled and :class:`~pyrama_core.errors.PyramaTimeoutError`
    (also a builtin ``TimeoutError``) is raised, with the original cancellation as cause.
    Deadlines share timers, so a call may run up to *seconds* / 64 (at most 0.25 s) past
    *seconds* before it is cancelled; never less than *seconds*.
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
