"""Bytes tracker: count what a stream reads and writes, including over a zero-copy relay."""

from __future__ import annotations

import socket
from typing import Generic, TypeVar

from pyrama_core import Service
from pyrama_net._detach import detach_inner
from pyrama_net._stream import Stream
from pyrama_net._wrapper import StreamWrapper, nbytes

__all__ = ["BytesCount", "BytesTrackerLayer", "BytesTrackerService", "BytesTrackerStream"]

T = TypeVar("T")


class BytesCount:
    """Live byte counts of a :class:`BytesTrackerStream`, found in its extensions.

    :attr:`read` counts bytes returned by ``read()``, :attr:`written` bytes handed to
    ``write()``. When the stream's socket is detached by :func:`~pyrama_net.bridge`, the bridge
    keeps both counts up to date for the bytes it moves with ``os.splice``, leftover included.
    The handle stays valid after the stream is closed.
    """

    __slots__ = ("read", "written")

    def __init__(self) -> None:
        self.read = 0
        self.written = 0

    def _add_detached(self, received: int, sent: int) -> None:
        self.read += received
        self.written += sent

    def __repr__(self) -> str:
        return f"BytesCount(read={self.read}, written={self.written})"


class BytesTrackerStream(StreamWrapper):
    """A Stream that counts bytes into a :class:`BytesCount` inserted into its extensions.

    The extensions are the inner stream's (shared), so whoever holds the inner stream can read
    the counts after the service is done. It stays detachable: :meth:`detach_socket` forwards to
    the inner stream and asks the detaching relay to report what it moves (see
    :func:`~pyrama_net.observe_detached_io`).
    """

    __slots__ = ("_count",)

    def __init__(self, inner: Stream, count: BytesCount | None = None) -> None:
        super().__init__(inner)
        self._count = BytesCount() if count is None else count
        inner.extensions.insert(self._count)

    @property
    def count(self) -> BytesCount:
        """The counts of this stream."""
        return self._count

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        """Read from the inner stream and count the bytes."""
        data = await self._inner.read(max_bytes)
        self._count.read += len(data)
        return data

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        """Write to the inner stream and count the bytes."""
        self._inner.write(data)
        self._count.written += nbytes(data)

    async def detach_socket(self) -> tuple[socket.socket, bytes] | None:
        """Forward to the inner stream; bytes moved over the socket keep being counted."""
        return await detach_inner(self._inner, self._count._add_detached)


class BytesTrackerService(Generic[T]):
    """The service made by :class:`BytesTrackerLayer`: wraps each stream, then calls *inner*."""

    __slots__ = ("inner",)

    def __init__(self, inner: Service[Stream, T]) -> None:
        self.inner = inner

    async def serve(self, stream: Stream, /) -> T:
        """Serve *stream* wrapped in a :class:`BytesTrackerStream`."""
        return await self.inner.serve(BytesTrackerStream(stream))


class BytesTrackerLayer:
    """Layer that counts the bytes of every stream (a :class:`BytesCount` in its extensions)."""

    __slots__ = ()

    def layer(self, inner: Service[Stream, T], /) -> BytesTrackerService[T]:
        """Wrap *inner*."""
        return BytesTrackerService(inner)

    def __repr__(self) -> str:
        return "BytesTrackerLayer()"
