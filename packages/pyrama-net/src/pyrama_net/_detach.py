"""Accounting for bytes that move over a detached socket.

A stream wrapper that counts bytes (bytes tracker, transport metrics) can still let its socket
be detached for a zero-copy relay: from inside its ``detach_socket`` it calls
:func:`observe_detached_io` with a callback, and whoever is detaching through
:func:`detach_socket_observed` (such as :func:`~pyrama_net.bridge`) promises to call that
callback with the bytes it moves over the detached socket, leftover included. The hand-over
runs through a context variable, so wrappers that do not know about it (and simply forward
``detach_socket``) do not break it.

When ``detach_socket`` is called directly (not through :func:`detach_socket_observed`), nobody
listens: :func:`observe_detached_io` returns ``False`` and the wrapper's counts stop at the
detach.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from pyrama_net._stream import DetachableStream, Stream

__all__ = [
    "DetachedIoCallback",
    "DetachedSocket",
    "detach_inner",
    "detach_socket_observed",
    "observe_detached_io",
]

DetachedIoCallback = Callable[[int, int], None]
"""``callback(received, sent)``: bytes read from / written to a detached socket since last call."""

_observers: ContextVar[list[DetachedIoCallback] | None] = ContextVar(
    "pyrama_net_detach_observers", default=None
)


def observe_detached_io(callback: DetachedIoCallback) -> bool:
    """Ask the caller of ``detach_socket`` to report the detached socket's traffic to *callback*.

    Call it from a wrapper's ``detach_socket`` after the inner stream detached successfully.
    Returns whether a caller listens (``False`` when ``detach_socket`` was called directly).
    """
    observers = _observers.get()
    if observers is None:
        return False
    observers.append(callback)
    return True


@dataclass(slots=True)
class DetachedSocket:
    """A socket detached by :func:`detach_socket_observed`, with who wants its byte counts."""

    sock: socket.socket
    """The detached socket (non-blocking); the detaching party closes it."""
    leftover: bytes
    """Bytes received before the detach and not yet read: deliver them first."""
    observers: list[DetachedIoCallback] = field(default_factory=list)
    """Callbacks registered by wrappers through :func:`observe_detached_io`."""

    def report(self, received: int, sent: int) -> None:
        """Tell every observer that *received* bytes were read and *sent* bytes written."""
        for cb in self.observers:
            cb(received, sent)


async def detach_socket_observed(stream: DetachableStream) -> DetachedSocket | None:
    """Call ``stream.detach_socket()`` and collect the byte observers its wrappers register.

    Returns ``None`` when the stream refuses to detach. The caller must then report every byte
    it reads from or writes to the socket (leftover counts as received once delivered) through
    :meth:`DetachedSocket.report`.
    """
    collected: list[DetachedIoCallback] = []
    token = _observers.set(collected)
    try:
        res = await stream.detach_socket()
    finally:
        _observers.reset(token)
    if res is None:
        return None
    sock, leftover = res
    return DetachedSocket(sock, leftover, collected)


async def detach_inner(
    inner: Stream, observer: DetachedIoCallback | None = None
) -> tuple[socket.socket, bytes] | None:
    """``detach_socket`` for a wrapper: forward to *inner* (``None`` if it cannot detach).

    On success, *observer* (if given) is registered with :func:`observe_detached_io`.
    """
    detach: Any = getattr(inner, "detach_socket", None)
    if not callable(detach):
        return None
    res: tuple[socket.socket, bytes] | None = await detach()
    if res is not None and observer is not None:
        observe_detached_io(observer)
    return res
