"""The Stream interface: the one byte-stream shape every transport and wrapper implements."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from pyrama_core import Extensions

__all__ = ["DetachableStream", "PushStream", "Stream"]


@runtime_checkable
class Stream(Protocol):
    """A bidirectional byte stream: TCP, Unix, TLS, a tunnel, a peeked stream, ...

    Contract:

    * :meth:`read` returns between 1 and *max_bytes* bytes, waiting until some arrive, and
      ``b""`` once the peer has finished sending (EOF). Errors raise ``OSError`` subclasses
      (``ConnectionResetError`` ...) or :class:`pyrama_net.errors.StreamError`.
    * :meth:`write` never blocks: it queues the bytes; :meth:`drain` waits until the queue is
      below the stream's high-water mark (backpressure). Callers that write in a loop must
      ``await drain()``.
    * :meth:`write_eof` half-closes the sending side when :meth:`can_write_eof` is true.
    * :meth:`close` closes both directions and waits until the transport is gone; it is
      idempotent.
    * :attr:`extensions` carries facts about the stream (peer address, TLS facts, ...).
    """

    @property
    def extensions(self) -> Extensions:
        """Facts about this stream, for layers and services above it."""
        ...

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        """Return up to *max_bytes* bytes (at least one), or ``b""`` at EOF."""
        ...

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        """Queue *data* for sending."""
        ...

    async def drain(self) -> None:
        """Wait until the write queue is below the high-water mark."""
        ...

    def can_write_eof(self) -> bool:
        """Whether :meth:`write_eof` (half-close) is supported."""
        ...

    def write_eof(self) -> None:
        """Half-close: no more writes; the peer reads EOF after what was queued."""
        ...

    def is_closing(self) -> bool:
        """Whether the stream is closed or closing."""
        ...

    async def close(self) -> None:
        """Close both directions and release the transport (idempotent)."""
        ...


@runtime_checkable
class DetachableStream(Stream, Protocol):
    """A stream over a plain OS socket that can hand its socket over for zero-copy relaying."""

    async def detach_socket(self) -> tuple[socket.socket, bytes] | None:
        """Stop reading and return ``(socket, leftover)`` for direct kernel I/O.

        ``leftover`` holds bytes already received but not yet read by the user; the caller
        must deliver them first. Everything written so far has been flushed to the kernel when
        this returns. Returns ``None`` when the stream cannot be detached (for example when a
        transform sits above the socket or it is already closing). After a successful detach
        the stream must not be read from or written to; closing it closes the socket.
        """
        ...


@runtime_checkable
class PushStream(Stream, Protocol):
    """A stream that can call a receiver with each chunk as it arrives, instead of buffering it.

    For drivers that parse bytes in place (an HTTP/1.1 connection answering a request without
    waking a task): :meth:`set_receiver` installs a callback that the transport calls with
    every chunk received; ``b""`` tells that the peer finished sending or the connection was
    lost (:meth:`read` then reports which). While a receiver is set, nothing is buffered for
    :meth:`read`; ``set_receiver(None)`` goes back to buffering.
    """

    def set_receiver(self, receiver: Callable[[bytes], None] | None, /) -> None:
        """Install (or, with ``None``, remove) the receiver of incoming chunks.

        Raises ``RuntimeError`` when installing while bytes are buffered, or after the end of
        the stream was seen: read those first (see ``buffered()`` and ``at_eof()``).
        """
        ...

    def buffered(self) -> int:
        """How many received bytes wait in the stream's buffer."""
        ...

    def at_eof(self) -> bool:
        """Whether the stream is used up (EOF or the connection lost, and nothing buffered)."""
        ...

    def write_paused(self) -> bool:
        """Whether the write queue is above its high-water mark (``drain()`` would wait)."""
        ...
