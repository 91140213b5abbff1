"""TraceErrLayer: log errors of the inner service, then re-raise them."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import structlog

from pyrama_core._service import Service
from pyrama_core._util import level_number

__all__ = ["TraceErrLayer", "TraceErrService"]

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741

_DEFAULT_LOGGER = "pyrama_core.layer"


class TraceErrService(Generic[I, O]):
    """Logs every ``Exception`` of the inner service at a level, then re-raises it."""

    __slots__ = ("_event", "_level", "_logger", "inner")

    def __init__(self, inner: Service[I, O], level: int, logger: Any, event: str) -> None:
        """Wrap *inner*, logging to *logger* at *level* with *event* as the message."""
        self.inner = inner
        self._level = level
        self._logger = logger
        self._event = event

    async def serve(self, input: I, /) -> O:
        """Serve *input*; log and re-raise any ``Exception``."""
        try:
            return await self.inner.serve(input)
        except Exception as exc:
            self._logger.log(
                self._level,
                self._event,
                error=str(exc),
                error_type=type(exc).__name__,
                exc_info=exc,
            )
            raise

    def __repr__(self) -> str:
        return f"TraceErrService({self.inner!r})"


class TraceErrLayer:
    """Logs errors of the inner service through structlog and re-raises them.

    *level* is a stdlib level number or name (default ``"error"``); *logger* defaults to
    ``structlog.get_logger("pyrama_core.layer")``; *event* is the log message. Each entry
    carries ``error``, ``error_type`` and the traceback.
    """

    __slots__ = ("event", "level", "logger")

    def __init__(
        self,
        level: int | str = "error",
        *,
        logger: Any = None,
        event: str = "service error",
    ) -> None:
        """Configure where and how errors are logged."""
        self.level = level_number(level)
        self.logger = logger if logger is not None else structlog.get_logger(_DEFAULT_LOGGER)
        self.event = event

    def layer(self, inner: Service[I, O], /) -> TraceErrService[I, O]:
        """Wrap *inner*."""
        return TraceErrService(inner, self.level, self.logger, self.event)

    def __repr__(self) -> str:
        return f"TraceErrLayer(level={self.level})"
