"""Errors of the ASGI bridge."""

from __future__ import annotations

from pyrama_core.errors import PyramaError

__all__ = ["AsgiDisconnectError", "AsgiError", "AsgiLifespanError", "AsgiProtocolError"]


class AsgiError(PyramaError):
    """Root of the ASGI bridge's errors."""


class AsgiProtocolError(AsgiError):
    """An application (or server) broke the ASGI message protocol (wrong order or fields)."""


class AsgiDisconnectError(AsgiError, OSError):
    """``send`` was called after the client went away (an ``OSError``, as ASGI 2.4 asks)."""


class AsgiLifespanError(AsgiError):
    """The application's lifespan startup or shutdown failed (``lifespan.*.failed``).

    :attr:`phase` is ``"startup"`` or ``"shutdown"``; the message is the application's.
    """

    def __init__(self, message: str, *, phase: str) -> None:
        super().__init__(message)
        self.phase = phase
