"""Type aliases of the ASGI 3.0 interface (kept local: no dependency on asgiref)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeAlias

__all__ = ["AsgiApp", "Message", "Receive", "Scope", "Send"]

Scope: TypeAlias = MutableMapping[str, Any]
"""An ASGI connection scope (``type``, ``asgi``, ``method``, ``path``, ...)."""

Message: TypeAlias = MutableMapping[str, Any]
"""An ASGI event message (``{"type": "http.request", "body": b"...", ...}``)."""

Receive: TypeAlias = Callable[[], Awaitable[Message]]
"""The ``receive`` callable handed to an ASGI application."""

Send: TypeAlias = Callable[[Message], Awaitable[None]]
"""The ``send`` callable handed to an ASGI application."""

AsgiApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]
"""An ASGI 3 application: ``async def app(scope, receive, send)``."""
