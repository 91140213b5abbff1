"""Peek and rewind: look at the first bytes of a stream without taking them away.

Protocol sniffing (TLS or plain HTTP? a PROXY protocol header? SOCKS5 or HTTP CONNECT?) reads
the first bytes and then hands the stream on as if nothing had been read. :func:`peek` does the
reading, :func:`rewind` puts bytes already read back in front; both return a
:class:`~pyrama_net.BufferedStream` that replays those bytes and then continues with the inner
stream.

Object semantics (the same for both): if the stream passed in already is a ``BufferedStream``
(for example the result of an earlier ``peek``), it is returned itself, with its buffer
extended, instead of being wrapped again. So peeking twice never nests wrappers, and the
returned stream is the one to keep using: after ``data, s = await peek(stream, 5)`` read from
``s``, not from ``stream`` (unless they are the same object).
"""

from __future__ import annotations

import asyncio

from pyrama_net._io import BufferedStream
from pyrama_net._stream import Stream

__all__ = ["PeekStream", "peek", "rewind"]


class PeekStream(BufferedStream):
    """A :class:`~pyrama_net.BufferedStream` made by :func:`peek` or :func:`rewind`.

    ``PeekStream(inner, prefix)`` replays *prefix* and then continues with *inner*. It is a
    Stream and a DetachableStream: detaching hands the part of *prefix* not yet replayed back as
    leftover, in front of the inner stream's own leftover. Its :attr:`extensions` are the inner
    stream's.
    """

    __slots__ = ()


async def peek(
    stream: Stream,
    n: int,
    timeout: float | None = None,  # noqa: ASYNC109 - a deadline for the peek only, not the caller
) -> tuple[bytes, BufferedStream]:
    """Read the first *n* bytes of *stream* without consuming them.

    Returns ``(data, replay)``: *data* holds *n* bytes, or fewer when EOF comes first or
    *timeout* (seconds) runs out first (then it holds what arrived, possibly nothing); *replay*
    is the stream to continue with, which returns *data* again before the rest. Bytes that arrive
    while waiting are never lost, even on timeout. See the module docs for object semantics.
    """
    if n < 0:
        raise ValueError("n must not be negative")
    replay = stream if isinstance(stream, BufferedStream) else PeekStream(stream)
    if timeout is None:
        return await replay.peek(n), replay
    try:
        async with asyncio.timeout(timeout):
            await replay.peek(n)
    except TimeoutError:
        pass
    # only what is buffered already: peek() does not read when the buffer holds enough
    return await replay.peek(min(n, replay.buffered())), replay


def rewind(stream: Stream, data: bytes | bytearray | memoryview) -> BufferedStream:
    """Put *data* (bytes already read from *stream*) back in front of it.

    Returns a stream that yields *data* first and then the rest of *stream*: *stream* itself
    (with *data* prepended to its buffer) when it already is a ``BufferedStream``, otherwise a
    new :class:`PeekStream`.
    """
    if isinstance(stream, BufferedStream):
        stream.unread(data)
        return stream
    return PeekStream(stream, data)
