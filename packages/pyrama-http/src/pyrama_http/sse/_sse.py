"""Sse: a ``text/event-stream`` response from an async iterator of events, and the client side."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

from pyrama_http_types import (
    DEFAULT_SSE_MAX_EVENT_SIZE,
    DEFAULT_SSE_MAX_LINE_SIZE,
    SSE_CONTENT_TYPE,
    Body,
    Response,
    SseEvent,
    SseParser,
    StatusCode,
)
from pyrama_http_types.errors import SseError

__all__ = [
    "DEFAULT_KEEP_ALIVE_INTERVAL",
    "IntoSseEvent",
    "KeepAlive",
    "Sse",
    "SseEventLike",
    "read_sse_events",
]

DEFAULT_KEEP_ALIVE_INTERVAL: Final = 15.0
"""Seconds of silence after which :class:`KeepAlive` sends a comment by default."""


@runtime_checkable
class IntoSseEvent(Protocol):
    """Anything that converts itself to an :class:`~pyrama_http_types.SseEvent`.

    :class:`~pyrama_http_types.SseEvent` itself and the Datastar events
    (:class:`~pyrama_http_types.PatchElements`, ...) do.
    """

    def to_sse_event(self) -> SseEvent:
        """The event to send."""
        ...


SseEventLike = SseEvent | IntoSseEvent | str
"""What an :class:`Sse` stream may yield: an event, an event-like object, or a ``str`` (sent
as the ``data`` of a plain message event)."""


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """Send a comment after *interval* seconds without an event (proxies drop idle streams).

    *text* is the comment (empty by default: a bare ``:`` line).
    """

    interval: float = DEFAULT_KEEP_ALIVE_INTERVAL
    """Seconds of silence before a keep-alive comment."""
    text: str = ""
    """The comment text."""

    def __post_init__(self) -> None:
        if not self.interval > 0:
            raise ValueError(f"the keep-alive interval must be > 0, got {self.interval}")
        if "\n" in self.text or "\r" in self.text:
            raise SseError("a keep-alive comment must be one line")

    def encode(self) -> bytes:
        """The comment in the wire format."""
        return (f": {self.text}\n\n" if self.text else ":\n\n").encode("utf-8")


def _encode(item: object) -> bytes:
    if type(item) is SseEvent:
        return item.encode()
    if isinstance(item, str):
        return SseEvent(data=item).encode()
    convert = getattr(item, "to_sse_event", None)
    if convert is None:
        raise SseError(
            f"an Sse stream yielded {type(item).__name__}; yield SseEvent, a str or an object "
            "with to_sse_event()"
        )
    event = convert()
    if not isinstance(event, SseEvent):
        raise SseError(f"{type(item).__name__}.to_sse_event() returned {type(event).__name__}")
    return event.encode()


class _EventBytes:
    """The body stream of an :class:`Sse` response: encoded events plus keep-alives."""

    __slots__ = ("_events", "_keep_alive", "_pending")

    def __init__(self, events: AsyncIterable[Any], keep_alive: KeepAlive | None) -> None:
        self._events: AsyncIterator[Any] = aiter(events)
        self._keep_alive = keep_alive
        self._pending: asyncio.Future[Any] | None = None

    def __aiter__(self) -> _EventBytes:
        return self

    async def __anext__(self) -> bytes:
        keep_alive = self._keep_alive
        if keep_alive is None:
            return _encode(await anext(self._events))
        pending = self._pending
        if pending is None:
            pending = asyncio.ensure_future(anext(self._events))
            self._pending = pending
        done, _ = await asyncio.wait({pending}, timeout=keep_alive.interval)
        if not done:
            return keep_alive.encode()
        self._pending = None
        return _encode(pending.result())

    def __del__(self) -> None:
        # dropped without aclose (a driver that lost its connection): a read still pending
        # would keep the event iterator alive forever; cancelling it ends the iterator
        pending = self._pending
        if pending is not None and not pending.done():
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                pending.cancel()

    async def aclose(self) -> None:
        """Stop: cancel a pending read and close the event iterator."""
        pending = self._pending
        self._pending = None
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
        close = getattr(self._events, "aclose", None)
        if close is not None:
            with contextlib.suppress(RuntimeError):
                await close()


class Sse:
    """A server-sent events response: ``Sse(events, keep_alive=...)``.

    *events* is an async iterable of :data:`SseEventLike` items; each is encoded and sent as
    soon as it is yielded. *keep_alive* (a :class:`KeepAlive`, or a number of seconds) sends
    a comment whenever the stream has been silent that long. :meth:`into_response` gives
    the :class:`~pyrama_http_types.Response`: ``200``, ``Content-Type: text/event-stream``,
    ``Cache-Control: no-cache`` and ``X-Accel-Buffering: no`` (so reverse proxies do not
    buffer it). When the client goes away the server closes the body, which closes the
    iterator (an async generator sees ``GeneratorExit``).
    """

    __slots__ = ("_events", "_keep_alive")

    def __init__(
        self, events: AsyncIterable[Any], *, keep_alive: KeepAlive | float | None = None
    ) -> None:
        self._events = events
        if keep_alive is not None and not isinstance(keep_alive, KeepAlive):
            keep_alive = KeepAlive(float(keep_alive))
        self._keep_alive: KeepAlive | None = keep_alive

    @property
    def keep_alive(self) -> KeepAlive | None:
        """The keep-alive setting, if any."""
        return self._keep_alive

    def into_response(self) -> Response:
        """The streaming ``text/event-stream`` response."""
        body = Body.from_iter(_EventBytes(self._events, self._keep_alive))
        return Response(
            StatusCode.OK,
            headers=[
                ("Content-Type", SSE_CONTENT_TYPE),
                ("Cache-Control", "no-cache"),
                ("X-Accel-Buffering", "no"),
            ],
            body=body,
        )

    def __repr__(self) -> str:
        return f"Sse(keep_alive={self._keep_alive})"


class _HasBody(Protocol):
    @property
    def body(self) -> Body: ...


async def read_sse_events(
    source: Body | _HasBody | AsyncIterable[bytes],
    *,
    comments: bool = False,
    max_line_size: int = DEFAULT_SSE_MAX_LINE_SIZE,
    max_event_size: int = DEFAULT_SSE_MAX_EVENT_SIZE,
) -> AsyncIterator[SseEvent]:
    """Iterate the events of an event-stream body, as they arrive.

    *source* is a :class:`~pyrama_http_types.Body`, anything with a ``body`` attribute (a
    :class:`~pyrama_http_types.Response`, a :class:`~pyrama_http.ClientResponse`) or an
    async iterable of bytes. See :class:`~pyrama_http_types.SseParser` for *comments* and the
    limits. The body is closed when the iteration stops early.
    """
    # a Body is an async iterable too
    stream: AsyncIterable[bytes] = source if isinstance(source, AsyncIterable) else source.body
    parser = SseParser(
        comments=comments, max_line_size=max_line_size, max_event_size=max_event_size
    )
    try:
        async for chunk in stream:
            for event in parser.feed(chunk):
                yield event
        for event in parser.finish():
            yield event
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
