"""ConsumeErrLayer: turn errors of the inner service into an output."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, overload

import structlog

from pyrama_core._service import Service
from pyrama_core._util import is_async_callable, level_number

__all__ = ["ConsumeErrLayer", "ConsumeErrService"]

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741
D = TypeVar("D")

_DEFAULT_LOGGER = "pyrama_core.layer"


class ConsumeErrService(Generic[I, O, D]):
    """Returns a default (or a handler's result) instead of raising the inner error."""

    __slots__ = ("_async", "_default", "_event", "_handler", "_level", "_logger", "inner")

    def __init__(
        self,
        inner: Service[I, O],
        default: D,
        handler: Callable[[Exception], Any] | None,
        is_async: bool,
        level: int | None,
        logger: Any,
        event: str,
    ) -> None:
        """Wrap *inner* (see :class:`ConsumeErrLayer` for the meaning of the rest)."""
        self.inner = inner
        self._default = default
        self._handler = handler
        self._async = is_async
        self._level = level
        self._logger = logger
        self._event = event

    async def serve(self, input: I, /) -> O | D:
        """Serve *input*; on an ``Exception`` log it and return the fallback output."""
        try:
            return await self.inner.serve(input)
        except Exception as exc:
            if self._level is not None:
                self._logger.log(
                    self._level,
                    self._event,
                    error=str(exc),
                    error_type=type(exc).__name__,
                    exc_info=exc,
                )
            handler = self._handler
            if handler is None:
                return self._default
            if self._async:
                awaited: D = await handler(exc)
                return awaited
            result: D = handler(exc)
            return result

    def __repr__(self) -> str:
        return f"ConsumeErrService({self.inner!r})"


class ConsumeErrLayer(Generic[D]):
    """Swallows every ``Exception`` of the inner service, returning a fallback output.

    Listeners put it outermost so one broken connection never kills a server. The fallback
    is *default* (``None`` unless given) or, with *handler*, ``handler(error)`` (plain or
    async). Each consumed error is logged through structlog at *level* (default
    ``"debug"``; ``None`` to stay silent). Cancellation is never consumed.
    """

    __slots__ = ("_async", "default", "event", "handler", "level", "logger")

    @overload
    def __init__(
        self: ConsumeErrLayer[None],
        *,
        level: int | str | None = "debug",
        logger: Any = None,
        event: str = "service error consumed",
    ) -> None: ...
    @overload
    def __init__(
        self,
        default: D,
        *,
        level: int | str | None = "debug",
        logger: Any = None,
        event: str = "service error consumed",
    ) -> None: ...
    @overload
    def __init__(
        self,
        *,
        handler: Callable[[Exception], Awaitable[D]],
        level: int | str | None = "debug",
        logger: Any = None,
        event: str = "service error consumed",
    ) -> None: ...
    @overload
    def __init__(
        self,
        *,
        handler: Callable[[Exception], D],
        level: int | str | None = "debug",
        logger: Any = None,
        event: str = "service error consumed",
    ) -> None: ...
    def __init__(
        self,
        default: Any = None,
        *,
        handler: Callable[[Exception], Any] | None = None,
        level: int | str | None = "debug",
        logger: Any = None,
        event: str = "service error consumed",
    ) -> None:
        """Configure the fallback output and the logging of consumed errors."""
        if handler is not None and default is not None:
            raise TypeError("give ConsumeErrLayer a default or a handler, not both")
        self.default = default
        self.handler = handler
        self._async = handler is not None and is_async_callable(handler)
        self.level = None if level is None else level_number(level)
        self.logger = logger if logger is not None else structlog.get_logger(_DEFAULT_LOGGER)
        self.event = event

    def layer(self, inner: Service[I, O], /) -> ConsumeErrService[I, O, D]:
        """Wrap *inner*."""
        return ConsumeErrService(
            inner,
            self.default,
            self.handler,
            self._async,
            self.level,
            self.logger,
            self.event,
        )

    def __repr__(self) -> str:
        return f"ConsumeErrLayer(level={self.level})"
