"""Structured logging setup: structlog plus the stdlib logging bridge."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import Processor

from pyrama_core._util import level_number
from pyrama_core.errors import ConfigError

__all__ = ["LogFormat", "debug_enabled", "get_logger", "setup_logging"]

LogFormat = Literal["console", "json"]
"""``console``: human-friendly lines; ``json``: one JSON object per line."""

_handler: logging.Handler | None = None


_ENCODERS: dict[object, json.JSONEncoder] = {}
_MAX_ENCODERS = 8


def _json_dumps(obj: Any, **kw: Any) -> str:
    """``json.dumps`` for structlog's ``JSONRenderer``, reusing one encoder per ``default``.

    ``json.dumps(obj, default=f)`` builds a new ``JSONEncoder`` on every call; the encoder
    holds no state between calls, so the same one gives the same text.
    """
    if kw.keys() <= {"default"}:
        default = kw.get("default")
        encoder = _ENCODERS.get(default)
        if encoder is None:
            encoder = json.JSONEncoder(default=default)
            if len(_ENCODERS) < _MAX_ENCODERS:
                _ENCODERS[default] = encoder
        return encoder.encode(obj)
    return json.dumps(obj, **kw)


class _Formatter(structlog.stdlib.ProcessorFormatter):
    """structlog's ``ProcessorFormatter`` without its record copy on the common path.

    ``ProcessorFormatter.format`` copies every record (``logging.makeLogRecord``) before it
    changes the copy's message and exception fields. A record from a structlog logger that
    carries no exception or stack information needs none of those changes: its event dict
    is copied (as structlog does), run through the final processors, and the rendered line
    is returned directly, which is exactly what the default ``%(message)s`` format makes of
    it. Foreign records, and records with exception or stack information, take structlog's
    own path.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render *record* (see the class docs)."""
        msg = record.msg
        logger = record.__dict__.get("_logger")
        if (
            type(msg) is dict
            and logger is not None
            and self.logger is None
            and not record.exc_info
            and not record.exc_text
            and not record.stack_info
            and self._style._fmt == "%(message)s"
        ):
            meth_name: str = record.__dict__.get("_name", "")
            ed: Any = msg.copy()
            ed["_record"] = record
            ed["_from_structlog"] = True
            for proc in self.processors:
                ed = proc(logger, meth_name, ed)
            if isinstance(ed, str):
                return ed
            # a chain not ending in a renderer: let structlog warn and format as it does
        return super().format(record)


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
        renderer = structlog.processors.JSONRenderer(serializer=_json_dumps)
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
    handler.setFormatter(_Formatter(foreign_pre_chain=shared, processors=final))
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


def debug_enabled(name: str) -> bool:
    """Whether a debug event of the logger named *name* may be emitted (``False``: surely not).

    Under a structlog configuration that filters by the standard library's levels (the one
    :func:`setup_logging` installs) this asks that logger, about 0.5 us in all, where a
    filtered-out ``get_logger(name).debug(...)`` call still costs a few microseconds (the
    event is built, then dropped). Under any other configuration structlog decides, so this
    says ``True``. Hot paths (a line per tunnel or per request) check it first.
    """
    if structlog.stdlib.filter_by_level not in structlog.get_config()["processors"]:
        return True
    logger = _STD_LOGGERS.get(name)
    if logger is None:  # logging.getLogger takes the module lock: once per name
        logger = logging.getLogger(name)
        if len(_STD_LOGGERS) < _STD_LOGGERS_MAX:
            _STD_LOGGERS[name] = logger
    return logger.isEnabledFor(logging.DEBUG)


# debug_enabled's standard-library loggers by name (a logger lives as long as the process
# anyway; the bound only stops a caller inventing names from growing the dict)
_STD_LOGGERS: dict[str, logging.Logger] = {}
_STD_LOGGERS_MAX = 1024
