"""Zero-copy socket-to-socket copying with ``os.splice`` (Linux), driven by the event loop.

Bytes go socket -> pipe -> socket inside the kernel and never reach Python. All descriptors
are non-blocking; when the kernel has nothing to give (or no room to take) the copier waits
with ``loop.add_reader``/``add_writer`` on the socket's descriptor, which works on asyncio's
default loop and on uvloop alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
from collections.abc import Callable

from pyrama_net.errors import StreamError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows, where splice does not exist either
    fcntl = None  # type: ignore[assignment]

__all__ = ["SPLICE_AVAILABLE", "SpliceError", "send_all", "shutdown_write", "splice_copy"]

SPLICE_AVAILABLE: bool = hasattr(os, "splice") and hasattr(os, "pipe2")
"""Whether ``os.splice`` exists on this platform (Linux with Python 3.10 or newer)."""

_PIPE_SIZE = 1024 * 1024  # asked for; the kernel may cap it (fs.pipe-max-size), then default
_SETPIPE_SZ: int | None = getattr(fcntl, "F_SETPIPE_SZ", None)
_GETPIPE_SZ: int | None = getattr(fcntl, "F_GETPIPE_SZ", None)
_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)


class SpliceError(StreamError):
    """A splice copy failed on one end: :attr:`source` says whether it was the reading end.

    The ``OSError`` is :attr:`exc` (and ``__cause__``).
    """

    def __init__(self, exc: OSError, *, source: bool) -> None:
        super().__init__(str(exc))
        self.exc = exc
        self.source = source


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def _readable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    fut = loop.create_future()
    loop.add_reader(fd, _wake, fut)
    try:
        await fut
    finally:
        loop.remove_reader(fd)


async def _writable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    fut = loop.create_future()
    loop.add_writer(fd, _wake, fut)
    try:
        await fut
    finally:
        loop.remove_writer(fd)


async def send_all(
    sock: socket.socket, data: bytes | bytearray | memoryview, on_sent: Callable[[int], None]
) -> None:
    """Write all of *data* to the non-blocking *sock*, waiting for room with ``add_writer``.

    *on_sent* is called with each chunk's size. ``OSError`` propagates.
    """
    loop = asyncio.get_running_loop()
    view = memoryview(data).cast("B")
    fd = sock.fileno()
    while view:
        try:
            n = sock.send(view)
        except (BlockingIOError, InterruptedError):
            await _writable(loop, fd)
            continue
        view = view[n:]
        on_sent(n)


def _make_pipe() -> tuple[int, int]:
    """A non-blocking pipe, enlarged to ``_PIPE_SIZE`` when the kernel allows it."""
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    if _SETPIPE_SZ is not None:
        # above fs.pipe-max-size an unprivileged process gets EPERM: keep the default size
        with contextlib.suppress(OSError):
            fcntl.fcntl(w, _SETPIPE_SZ, _PIPE_SIZE)
    return r, w


def _pipe_capacity(fd: int) -> int:
    if _GETPIPE_SZ is None:
        return 65536
    try:
        return int(fcntl.fcntl(fd, _GETPIPE_SZ))
    except OSError:
        return 65536


async def splice_copy(
    src: socket.socket,
    dst: socket.socket,
    on_bytes: Callable[[int], None],
) -> None:
    """Copy from *src* to *dst* through a pipe until *src* reaches EOF.

    Returns at EOF (without shutting *dst* down: the caller decides how to half-close).
    *on_bytes* is called with the size of every chunk written to *dst*. An ``OSError`` on
    either end raises :class:`SpliceError` saying which end failed. The pipe is always closed.
    """
    loop = asyncio.get_running_loop()
    splice = os.splice
    sfd, dfd = src.fileno(), dst.fileno()
    pr, pw = _make_pipe()
    try:
        chunk = _pipe_capacity(pw)
        while True:
            try:
                n = splice(sfd, pw, chunk, flags=_FLAGS)
            except (BlockingIOError, InterruptedError):
                await _readable(loop, sfd)
                continue
            except OSError as exc:
                raise SpliceError(exc, source=True) from exc
            if n == 0:
                return
            while n:
                try:
                    m = splice(pr, dfd, n, flags=_FLAGS)
                except (BlockingIOError, InterruptedError):
                    await _writable(loop, dfd)
                    continue
                except OSError as exc:
                    raise SpliceError(exc, source=False) from exc
                n -= m
                on_bytes(m)
    finally:
        os.close(pr)
        os.close(pw)


def shutdown_write(sock: socket.socket) -> None:
    """Half-close *sock* (``SHUT_WR``); a peer that is already gone is not an error here."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError as exc:
        if exc.errno not in (errno.ENOTCONN, errno.EPIPE, errno.ECONNRESET, errno.EBADF):
            raise
