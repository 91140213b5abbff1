"""An in-memory Stream for hermetic protocol tests."""

from __future__ import annotations

import asyncio

from pyrama_core import Extensions

__all__ = ["MockStream", "mock_stream_pair"]


class MockStream:
    """One end of an in-memory duplex byte pipe implementing ``pyrama_net.Stream``.

    Writes to one end are read from its peer. ``write_eof`` delivers EOF to the peer;
    ``close`` delivers EOF and marks both directions closed.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._eof = False
        self._closing = False
        self._event = asyncio.Event()
        self.peer: MockStream | None = None
        self._extensions = Extensions()
        self.written: list[bytes] = []

    @property
    def extensions(self) -> Extensions:
        """Facts about this stream."""
        return self._extensions

    def feed(self, data: bytes) -> None:
        """Make *data* readable on this end."""
        self._buf += data
        self._event.set()

    def feed_eof(self) -> None:
        """Make this end read EOF once its buffer is empty."""
        self._eof = True
        self._event.set()

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        """Return up to *max_bytes* bytes, or ``b""`` at EOF."""
        while not self._buf:
            if self._eof:
                return b""
            self._event.clear()
            await self._event.wait()
        data = bytes(self._buf[:max_bytes])
        del self._buf[:max_bytes]
        return data

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        """Send *data* to the peer."""
        if self._closing:
            raise ConnectionResetError("write on a closed MockStream")
        b = bytes(data)
        self.written.append(b)
        if self.peer is not None:
            self.peer.feed(b)

    async def drain(self) -> None:
        """Nothing to wait for in memory."""
        await asyncio.sleep(0)

    def can_write_eof(self) -> bool:
        """Half-close is supported."""
        return True

    def write_eof(self) -> None:
        """Deliver EOF to the peer."""
        if self.peer is not None:
            self.peer.feed_eof()

    def is_closing(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closing

    async def close(self) -> None:
        """Close: the peer reads EOF."""
        if not self._closing:
            self._closing = True
            self.write_eof()
            self.feed_eof()


def mock_stream_pair() -> tuple[MockStream, MockStream]:
    """Two connected in-memory streams."""
    a, b = MockStream(), MockStream()
    a.peer, b.peer = b, a
    return a, b
