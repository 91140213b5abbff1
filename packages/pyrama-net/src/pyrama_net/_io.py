"""Exact reads over Streams: ``read_exact``, ``read_until`` and the ``BufferedStream`` they need.

A :class:`~pyrama_net.Stream` hands out whatever arrived, so a protocol reader that asks for
"the next line" either reads one byte at a time or reads too much. Reading too much loses
bytes unless they can be put back: :class:`BufferedStream` is a Stream wrapper with a small
internal buffer, :meth:`~BufferedStream.peek` and :meth:`~BufferedStream.unread`, so that
:func:`read_until` can read in large chunks and give back what follows the separator. After
the handshake the ``BufferedStream`` itself is passed on as the stream: nothing is lost, and it
stays detachable (the unread buffer is handed over as leftover).
"""

from __future__ import annotations

import socket
from typing import Any

from pyrama_core.errors import LimitError
from pyrama_net._detach import detach_inner
from pyrama_net._stream import Stream
from pyrama_net._wrapper import StreamWrapper
from pyrama_net.errors import UnexpectedEofError

__all__ = ["BufferedStream", "read_exact", "read_until"]

_CHUNK = 65536


class BufferedStream(StreamWrapper):
    """A :class:`~pyrama_net.Stream` that serves bytes from its own buffer before the inner stream.

    The buffer starts with *prefix* and grows through :meth:`peek`, :meth:`fill` and
    :meth:`unread`. :meth:`read` drains the buffer first and then passes straight through to the
    inner stream (no extra copy once the buffer is empty). Writes, EOF and closing go to the
    inner stream unchanged, and :attr:`extensions` is the inner stream's own map (shared, not
    forked).

    :meth:`detach_socket` works when the inner stream is detachable: bytes still buffered here
    are prepended to the inner stream's leftover, so a zero-copy relay delivers them first.
    Like every Stream, a ``BufferedStream`` supports one reader at a time.
    """

    __slots__ = ("_buf", "_eof")

    def __init__(self, inner: Stream, prefix: bytes | bytearray | memoryview = b"") -> None:
        super().__init__(inner)
        self._buf = bytearray(prefix)
        self._eof = False

    # reading ---------------------------------------------------------------------------------
    def buffered(self) -> int:
        """How many bytes are buffered here (not counting the inner stream's own buffer)."""
        return len(self._buf)

    async def fill(self, max_bytes: int = _CHUNK) -> int:
        """Read once from the inner stream into the buffer; return how many bytes (0 at EOF)."""
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        if self._eof:
            return 0
        data = await self._inner.read(max_bytes)
        if not data:
            self._eof = True
            return 0
        self._buf += data
        return len(data)

    async def peek(self, n: int) -> bytes:
        """Return the next *n* bytes without consuming them (fewer only if EOF comes first)."""
        if n < 0:
            raise ValueError("n must not be negative")
        while len(self._buf) < n:
            if not await self.fill(n - len(self._buf)):
                break
        return bytes(self._buf[:n])

    def unread(self, data: bytes | bytearray | memoryview) -> None:
        """Put *data* back in front of the stream: the next reads return it first."""
        if data:
            self._buf[:0] = data

    def take(self, n: int) -> bytes:
        """Consume and return up to *n* already-buffered bytes (never reads the inner stream)."""
        if n < 0:
            raise ValueError("n must not be negative")
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def at_eof(self) -> bool:
        """Whether the inner stream reported EOF and the buffer is empty."""
        return self._eof and not self._buf

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        """Return buffered bytes first (up to *max_bytes*), then read the inner stream."""
        buf = self._buf
        if buf:
            if len(buf) <= max_bytes:
                data = bytes(buf)
                buf.clear()
            else:
                data = bytes(buf[:max_bytes])
                del buf[:max_bytes]
            return data
        if self._eof:
            return b""
        data = await self._inner.read(max_bytes)
        if not data:
            self._eof = True
        return data

    async def close(self) -> None:
        """Close the inner stream and drop the buffer."""
        self._buf.clear()
        await self._inner.close()

    def is_closed(self) -> bool:
        """Whether the inner stream says it is closed (``False`` when it cannot tell).

        Asks the inner stream's ``is_closed()``: true once a socket stream's transport has
        let go of the socket (closed, or detached for a relay), so :meth:`close` would not
        wait for anything.
        """
        fn: Any = getattr(self._inner, "is_closed", None)
        return callable(fn) and fn() is True

    async def detach_socket(self) -> tuple[socket.socket, bytes] | None:
        """Detach the inner stream's socket; the buffer here is prepended to its leftover.

        Returns ``None`` when the inner stream is not detachable or refuses.
        """
        res = await detach_inner(self._inner)
        if res is None:
            return None
        sock, leftover = res
        prefix = bytes(self._buf)
        self._buf.clear()
        return sock, prefix + leftover if prefix else leftover

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._inner!r}, buffered={len(self._buf)})"


async def read_exact(stream: Stream, n: int) -> bytes:
    """Read exactly *n* bytes from *stream*.

    Never over-consumes (each read asks for at most the bytes still missing), so it works on
    any Stream. Raises :class:`~pyrama_net.errors.UnexpectedEofError` (with ``expected`` and
    ``got``) when EOF comes first; the bytes read until then are lost unless *stream* is a
    :class:`BufferedStream`, in which case they are put back.
    """
    if n < 0:
        raise ValueError("n must not be negative")
    if isinstance(stream, BufferedStream):
        data = await stream.peek(n)
        if len(data) < n:
            raise UnexpectedEofError(
                f"stream ended after {len(data)} of {n} expected bytes", expected=n, got=len(data)
            )
        stream.take(n)
        return data
    if n == 0:
        return b""
    first = await stream.read(n)
    if len(first) == n:
        return first
    out = bytearray(first)
    while first and len(out) < n:
        first = await stream.read(n - len(out))
        out += first
    if len(out) < n:
        raise UnexpectedEofError(
            f"stream ended after {len(out)} of {n} expected bytes", expected=n, got=len(out)
        )
    return bytes(out)


async def read_until(stream: BufferedStream, separator: bytes, limit: int) -> bytes:
    """Read up to and including the first *separator*; return those bytes.

    *limit* bounds the result, separator included: if no separator ends within the first
    *limit* bytes, :class:`~pyrama_core.errors.LimitError` is raised. If EOF comes first,
    :class:`~pyrama_net.errors.UnexpectedEofError` is raised. In both failure cases nothing is
    consumed: the bytes read so far stay in *stream*'s buffer. The buffer never holds more
    than *limit* bytes because of this call, and bytes after the separator stay buffered for
    the next read.
    """
    if not separator:
        raise ValueError("separator must not be empty")
    if limit < len(separator):
        raise ValueError("limit must be at least the separator's length")
    sep_len = len(separator)
    start = 0
    buf = stream._buf
    while True:
        # bytearray.find with an end bound only reports matches lying wholly before *limit*
        idx = buf.find(separator, start, limit)
        if idx >= 0:
            return stream.take(idx + sep_len)
        have = len(buf)
        if have >= limit:
            raise LimitError(f"no {separator!r} within {limit} bytes", limit=limit)
        start = max(0, have - sep_len + 1)
        if not await stream.fill(limit - have):
            raise UnexpectedEofError(
                f"stream ended after {have} bytes without {separator!r}", got=have
            )
