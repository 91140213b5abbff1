"""Errors raised by pyrama-proxy."""

from __future__ import annotations

from pyrama_core.errors import PyramaError

__all__ = [
    "ProxyDBLoadError",
    "ProxyError",
    "ProxyNotFoundError",
    "UsernameLabelError",
]


class ProxyError(PyramaError):
    """Root of pyrama-proxy's errors."""


class ProxyNotFoundError(ProxyError, LookupError):
    """No proxy in the database matches the filter (and predicate) asked for."""


class ProxyDBLoadError(ProxyError, ValueError):
    """A proxy list (CSV) could not be loaded; :attr:`line` names the offending line (1-based)."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line


class UsernameLabelError(ProxyError, ValueError):
    """A username carries a label that is unknown, incomplete or has an invalid value.

    :attr:`label` is the label at fault (``None`` when the whole username is at fault).
    """

    def __init__(self, message: str, *, label: str | None = None) -> None:
        super().__init__(message)
        self.label = label
