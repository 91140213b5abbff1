"""Helpers shared by the HTTP layers (private)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TypeAlias

from pyrama_core import Service
from pyrama_http_types import Body, HeaderMap, Request, Response

__all__ = ["HttpService", "ObservedBody", "plain_response"]

HttpService: TypeAlias = Service[Request, Response]
"""A ``Service[Request, Response]``: what every HTTP layer wraps and returns."""


def plain_response(
    status: int, text: str = "", headers: list[tuple[str, str]] | None = None
) -> Response:
    """A short ``text/plain`` response with *status* (an empty body when *text* is empty)."""
    resp = Response.text(text, status) if text else Response(status)
    for name, value in headers or ():
        resp.headers.add(name, value)
    return resp


class _Observer:
    """Async iterator that streams *body* and reports each chunk and the end."""

    __slots__ = ("_body", "_done", "_it", "_on_chunk", "_on_end")

    def __init__(
        self,
        body: Body,
        on_chunk: Callable[[bytes], None] | None,
        on_end: Callable[[BaseException | None], None],
    ) -> None:
        self._body = body
        self._it: AsyncIterator[bytes] | None = None
        self._on_chunk = on_chunk
        self._on_end = on_end
        self._done = False

    def __aiter__(self) -> _Observer:
        return self

    def _end(self, exc: BaseException | None) -> None:
        if not self._done:
            self._done = True
            self._on_end(exc)

    async def __anext__(self) -> bytes:
        it = self._it
        if it is None:
            it = self._it = aiter(self._body)
        try:
            chunk = await anext(it)
        except StopAsyncIteration:
            self._end(None)
            raise
        except BaseException as exc:
            self._end(exc)
            raise
        if self._on_chunk is not None:
            self._on_chunk(chunk)
        return chunk

    async def aclose(self) -> None:
        """The reader stopped early: close the wrapped body and report it."""
        if self._done:
            return
        try:
            await self._body.aclose()
        finally:
            self._end(ConnectionAbortedError("body closed before its end"))


def ObservedBody(
    body: Body,
    *,
    on_chunk: Callable[[bytes], None] | None = None,
    on_end: Callable[[BaseException | None], None],
) -> Body:
    """A body streaming *body* that calls *on_chunk* per chunk and *on_end* once at its end.

    *on_end* gets ``None`` after the last chunk, or the error that ended the stream (an
    early close by the reader is reported as ``ConnectionAbortedError``). The size hint
    and trailers of *body* are kept.
    """

    def trailers() -> HeaderMap | None:
        return body.trailers

    return Body.from_iter(
        _Observer(body, on_chunk, on_end), size_hint=body.size_hint, trailers=trailers
    )
