"""Structured logging setup: structlog plus the stdlib logging bridge."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Literal, TextIO

import structlog
from structlog.typing import Processor

from pyrama_core._util import level_number
from pyrama_core.errors import ConfigError

__all__ = ["LogFormat", "get_logger", "setup_logging"]

LogFormat = Literal["console", "json"]
"""``console``: human-friendly lines; ``json``: one JSON object per line."""

_handler: logging.Handler | None = None


def setup_logging(
    format: LogFormat = "console",
    level: int | str = "info",
    *,
    stream: TextIO | None = None,
    colors: bool | None = None,
    processors: Sequence[Processor] = (),
) -> None:
    """Configure structlog and route stdlib ``logging`` through the same formatter.

    After this, ``get_logger(name).info("event", key=value)`` and plain
    ``logging.getLogger(name).info(...)`` (asyncio, third-party libraries) produce the same
    shape: a timestamp, the level, the logger name, the event and its key/values, in
    *format* on *stream* (standard error by default). *level* applies to the root logger.
    *colors* defaults to whether *stream* is a terminal (console format only). Extra
    *processors* run before rendering (for example to add a service name).

    Libraries should not call this; applications (and the ``pyrama`` command) do. Calling
    it again replaces the previous setup.
    """
    global _handler
    if format not in ("console", "json"):
        raise ConfigError(f"log format must be 'console' or 'json', got {format!r}")
    level_no = level_number(level)
    out = stream if stream is not None else sys.stderr

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        *processors,
    ]
    renderer: Processor
    final: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if format == "json":
        final.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        use_colors = colors if colors is not None else bool(getattr(out, "isatty", bool)())
        renderer = structlog.dev.ConsoleRenderer(colors=use_colors)
    final.append(renderer)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )

    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=final)
    )
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    root.addHandler(handler)
    root.setLevel(level_no)
    _handler = handler


def _teardown_logging() -> None:
    """Undo :func:`setup_logging` (used by tests)."""
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler = None
    structlog.reset_defaults()


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger named *name* (use the module's ``__name__``).

    It is lazy: it follows whatever :func:`setup_logging` (or the application's own
    structlog configuration) installs, even if configured after this call.
    """
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
