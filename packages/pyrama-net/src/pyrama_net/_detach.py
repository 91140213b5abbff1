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


class _Observer:
    """A registered callback, and how many leftover bytes it has seen already (``skip``)."""

    __slots__ = ("callback", "inner_leftover", "skip")

    def __init__(self, callback: DetachedIoCallback, inner_leftover: int) -> None:
        self.callback = callback
        self.inner_leftover = inner_leftover
        self.skip = 0


_observers: ContextVar[list[_Observer] | None] = ContextVar(
    "pyrama_net_detach_observers", default=None
)


def observe_detached_io(callback: DetachedIoCallback, inner_leftover: int) -> bool:
    """Ask the caller of ``detach_socket`` to report the detached socket's traffic to *callback*.

    Call it from a wrapper's ``detach_socket`` after the inner stream detached successfully.
    *inner_leftover* is the size of the leftover the inner stream returned: those bytes never
    passed through the wrapper, so they are reported as received once delivered. Bytes that
    wrappers above prepend to the leftover (a peeked prefix, say) did pass through it already
    and are not reported again. Returns whether a caller listens (``False`` when
    ``detach_socket`` was called directly).
    """
    observers = _observers.get()
    if observers is None:
        return False
    observers.append(_Observer(callback, inner_leftover))
    return True


class DetachedSocket:
    """A socket detached by :func:`detach_socket_observed`, with who wants its byte counts.

    :attr:`sock` is the detached socket (non-blocking; the detaching party closes it) and
    :attr:`leftover` the bytes received before the detach and not yet read (deliver them
    first).
    """

    __slots__ = ("_observers", "leftover", "sock")

    def __init__(self, sock: socket.socket, leftover: bytes, observers: list[_Observer]) -> None:
        self.sock = sock
        self.leftover = leftover
        self._observers = observers
        for o in observers:
            # the first bytes of the final leftover were added above this observer's wrapper
            o.skip = max(0, len(leftover) - o.inner_leftover)

    @property
    def observed(self) -> bool:
        """Whether any wrapper asked for byte counts (if not, :meth:`report` can be skipped)."""
        return bool(self._observers)

    def report(self, received: int, sent: int) -> None:
        """Tell every observer that *received* bytes were read and *sent* bytes written.

        Received bytes are counted in order, leftover first: each observer skips the part of
        the leftover that had already passed through it.
        """
        for o in self._observers:
            r = received
            if o.skip:
                k = min(o.skip, r)
                o.skip -= k
                r -= k
            if r or sent:
                o.callback(r, sent)


async def detach_socket_observed(stream: DetachableStream) -> DetachedSocket | None:
    """Call ``stream.detach_socket()`` and collect the byte observers its wrappers register.

    Returns ``None`` when the stream refuses to detach. The caller must then report every byte
    it reads from or writes to the socket (leftover counts as received once delivered) through
    :meth:`DetachedSocket.report`.
    """
    collected: list[_Observer] = []
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
        observe_detached_io(observer, len(res[1]))
    return res
