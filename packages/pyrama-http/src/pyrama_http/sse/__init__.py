"""Server-sent events over pyrama-http: the :class:`Sse` response and the client-side reader.

``Sse(events, keep_alive=KeepAlive(15))`` turns an async iterator of
:class:`~pyrama_http_types.SseEvent` (or Datastar events, or plain strings) into a streaming
``text/event-stream`` response (``into_response()``). :func:`read_sse_events` iterates the
events of a response body on the client side. The event model, encoder and parser live in
:mod:`pyrama_http_types` (``SseEvent``, ``SseParser``).
"""

from pyrama_http.sse._sse import (
    DEFAULT_KEEP_ALIVE_INTERVAL,
    IntoSseEvent,
    KeepAlive,
    Sse,
    SseEventLike,
    read_sse_events,
)
from pyrama_http_types import SseEvent, SseParser

__all__ = [
    "DEFAULT_KEEP_ALIVE_INTERVAL",
    "IntoSseEvent",
    "KeepAlive",
    "Sse",
    "SseEvent",
    "SseEventLike",
    "SseParser",
    "read_sse_events",
]
