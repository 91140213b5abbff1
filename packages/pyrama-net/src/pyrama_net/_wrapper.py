"""StreamWrapper: the base of Stream wrappers that change only a few methods."""

from __future__ import annotations

from typing import Any

from pyrama_core import Extensions
from pyrama_net._stream import Stream

__all__ = ["StreamWrapper", "nbytes"]


def nbytes(data: bytes | bytearray | memoryview) -> int:
    """The size of *data* in bytes (a memoryview's ``len`` counts items, not bytes)."""
    return data.nbytes if isinstance(data, memoryview) else len(data)


class StreamWrapper:
    """A :class:`~pyrama_net.Stream` that forwards every call to an inner stream.

    Subclass it and override what the wrapper changes. :attr:`extensions` is the inner
    stream's map (shared). ``abort()`` is forwarded when the inner stream has one. It does not
    offer ``detach_socket``: a wrapper that can let its socket go (it does not transform bytes)
    defines ``detach_socket`` itself, usually by forwarding it.
    """

    __slots__ = ("_inner",)

    def __init__(self, inner: Stream) -> None:
        self._inner = inner

    @property
    def inner(self) -> Stream:
        """The wrapped stream."""
        return self._inner

    @property
    def extensions(self) -> Extensions:
        """The inner stream's extensions (the same object)."""
        return self._inner.extensions

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        """Read from the inner stream."""
        return await self._inner.read(max_bytes)

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        """Queue *data* on the inner stream."""
        self._inner.write(data)

    async def drain(self) -> None:
        """Wait for the inner stream's write queue."""
        await self._inner.drain()

    def can_write_eof(self) -> bool:
        """Whether the inner stream can half-close."""
        return self._inner.can_write_eof()

    def write_eof(self) -> None:
        """Half-close the inner stream."""
        self._inner.write_eof()

    def is_closing(self) -> bool:
        """Whether the inner stream is closed or closing."""
        return self._inner.is_closing()

    async def close(self) -> None:
        """Close the inner stream."""
        await self._inner.close()

    def abort(self) -> None:
        """Abort the inner stream (drop queued writes) if it has ``abort()``; else do nothing."""
        fn: Any = getattr(self._inner, "abort", None)
        if callable(fn):
            fn()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._inner!r})"
