"""pyrama_http.asgi: the bridge between pyrama HTTP services and ASGI 3 applications.

* :class:`AsgiService` mounts any ASGI application (Starlette, FastAPI, ...) as a pyrama
  ``Service[Request, Response]`` (serve it with :class:`~pyrama_http.HttpServer`), with
  :class:`AsgiLifespan` for its startup and shutdown.
* :func:`asgi_app` exposes any pyrama HTTP service as an ASGI application (run it under
  uvicorn or hypercorn).
"""

from pyrama_http.asgi._app import asgi_app, build_request
from pyrama_http.asgi._errors import (
    AsgiDisconnectError,
    AsgiError,
    AsgiLifespanError,
    AsgiProtocolError,
)
from pyrama_http.asgi._lifespan import AsgiLifespan
from pyrama_http.asgi._service import DEFAULT_ASGI_QUEUE_SIZE, AsgiService
from pyrama_http.asgi._types import AsgiApp, Message, Receive, Scope, Send

__all__ = [
    "DEFAULT_ASGI_QUEUE_SIZE",
    "AsgiApp",
    "AsgiDisconnectError",
    "AsgiError",
    "AsgiLifespan",
    "AsgiLifespanError",
    "AsgiProtocolError",
    "AsgiService",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "asgi_app",
    "build_request",
]
