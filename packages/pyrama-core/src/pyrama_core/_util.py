"""Helpers shared by the core layers."""

from __future__ import annotations

import inspect
import logging
from typing import Any

from pyrama_core.errors import ConfigError

__all__ = ["is_async_callable", "level_number"]


def is_async_callable(fn: Any) -> bool:
    """Whether calling *fn* returns a coroutine (async function, partial, async ``__call__``)."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - we want the async __call__ itself
    return call is not None and inspect.iscoroutinefunction(call)


def level_number(level: int | str) -> int:
    """A stdlib logging level number from a number or a name (``"warning"``)."""
    if isinstance(level, int):
        return level
    number = logging.getLevelNamesMapping().get(level.upper())
    if number is None:
        raise ConfigError(f"unknown log level {level!r}")
    return number
