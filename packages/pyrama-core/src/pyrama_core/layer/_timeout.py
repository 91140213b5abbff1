"""TimeoutLayer: bound how long the inner service may take."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from pyrama_core._service import Service
from pyrama_core.errors import ConfigError, PyramaTimeoutError

__all__ = ["TimeoutLayer", "TimeoutService"]

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741


class TimeoutService(Generic[I, O]):
    """Cancels the inner service after *seconds* and raises :class:`PyramaTimeoutError`."""

    __slots__ = ("_message", "_seconds", "inner")

    def __init__(self, inner: Service[I, O], seconds: float) -> None:
        """Wrap *inner* with a deadline of *seconds* per call."""
        self.inner = inner
        self._seconds = seconds
        self._message = f"service did not complete within {seconds} s"

    async def serve(self, input: I, /) -> O:
        """Serve *input* through the inner service, or time out."""
        scope = asyncio.timeout(self._seconds)
        try:
            async with scope:
                return await self.inner.serve(input)
        except TimeoutError as exc:
            if scope.expired():
                raise PyramaTimeoutError(self._message, seconds=self._seconds) from exc
            raise  # the inner service's own TimeoutError, not ours

    def __repr__(self) -> str:
        return f"TimeoutService({self._seconds}, {self.inner!r})"


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
