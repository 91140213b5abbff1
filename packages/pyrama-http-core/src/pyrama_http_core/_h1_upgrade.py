"""Protocol switches: the handle a service awaits for the raw stream after ``101``/``CONNECT``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from pyrama_http_core.errors import UpgradeError
from pyrama_net import Stream

__all__ = ["KeptStream", "OnUpgrade", "Upgraded"]


class Upgraded:
    """The connection after a protocol switch: a raw :class:`~pyrama_net.Stream`.

    :attr:`stream` replays the bytes the HTTP/1.1 codec had already received beyond the
    switching request (or response) before continuing with the connection itself, so nothing
    the peer sent early is lost. Whoever receives an ``Upgraded`` owns the stream and must
    close it. :attr:`protocol` is the ``Upgrade`` header value that was switched to, or
    ``None`` for a ``CONNECT`` tunnel.
    """

    __slots__ = ("protocol", "stream")

    def __init__(self, stream: Stream, protocol: bytes | None) -> None:
        self.stream = stream
        """The raw stream of the switched connection (buffered bytes replayed first)."""
        self.protocol = protocol
        """The protocol switched to (``Upgrade`` header value), ``None`` for ``CONNECT``."""

    def __repr__(self) -> str:
        return f"Upgraded(protocol={self.protocol!r}, stream={self.stream!r})"


class OnUpgrade:
    """A handle in a request's extensions that resolves once the connection has switched.

    The HTTP/1.1 server driver inserts one into the extensions of every request that proposes
    a switch (an ``Upgrade`` header, or the ``CONNECT`` method). The service answers ``101``
    (or ``2xx`` to ``CONNECT``) and, typically from a task it spawns, awaits the handle:
    it resolves to an :class:`Upgraded` once the response is on the wire and the driver has
    let go of the connection. If the request is answered without a switch (or the connection
    fails first), awaiting raises :class:`~pyrama_http_core.errors.UpgradeError`.

    A driver made with *runs_takers* runs the taker itself: instead of spawning a task, the
    service may :meth:`hand_over` the coroutine that awaits this handle, and the driver
    awaits it in the connection's own task once the exchange is over (switched or not; see
    :meth:`take_taker`). A task and its scheduling less per tunnel.
    """

    __slots__ = ("_future", "_runs_takers", "_taker")

    def __init__(
        self, *, runs_takers: bool = False, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        """Make a pending handle; *loop* (default: the running loop) is given by drivers."""
        if loop is None:
            loop = asyncio.get_running_loop()
        self._future: asyncio.Future[Upgraded] = loop.create_future()
        self._runs_takers = runs_takers
        self._taker: Coroutine[Any, Any, Any] | None = None

    def hand_over(self, taker: Coroutine[Any, Any, Any]) -> bool:
        """Leave *taker* (a coroutine awaiting this handle) to the connection's driver.

        Returns ``False`` (and keeps nothing) when the driver does not run takers or one was
        handed over already: the caller runs *taker* itself then, in a task. When ``True``
        the driver awaits it after the response, also when no switch happened (awaiting
        the handle then raises, as for any taker), so its clean-up runs.
        """
        if not self._runs_takers or self._taker is not None:
            return False
        self._taker = taker
        return True

    def take_taker(self) -> Coroutine[Any, Any, Any] | None:
        """For the driver: the coroutine handed over (once; ``None`` when there is none).

        The driver must await it (not just drop it): it owns resources of its own, such
        as a tunnel's upstream connection, that only its own clean-up closes.
        """
        taker, self._taker = self._taker, None
        return taker

    def __await__(self) -> Generator[Any, None, Upgraded]:
        return self._future.__await__()

    async def wait(self) -> Upgraded:
        """Wait for the switch; same as ``await handle``."""
        return await self._future

    def done(self) -> bool:
        """Whether the switch happened or failed."""
        return self._future.done()

    def resolve(self, upgraded: Upgraded) -> None:
        """Hand over the switched connection (called by the connection driver)."""
        if not self._future.done():
            self._future.set_result(upgraded)

    def fail(self, error: BaseException | str) -> None:
        """Report that no switch happens (called by the connection driver).

        A taker handed over (see :meth:`hand_over`) is then run in a task of its own: it
        awaits this handle, gets the error and cleans up (a driver runs only the takers of
        switches that happened).
        """
        if self._future.done():
            return
        exc = UpgradeError(error) if isinstance(error, str) else error
        self._future.set_exception(exc)
        self._future.exception()  # retrieved: no "never retrieved" warning if nobody waits
        taker = self._taker
        if taker is not None:
            self._taker = None
            run_taker_in_task(taker, self._future.get_loop())

    def __repr__(self) -> str:
        state = "pending" if not self._future.done() else "done"
        return f"OnUpgrade({state})"


# the tasks running takers their driver did not run (referenced until they end)
_taker_tasks: set[asyncio.Task[Any]] = set()


def run_taker_in_task(taker: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop) -> None:
    """Run a handed-over *taker* in a task of its own (kept referenced until it ends)."""
    task = loop.create_task(taker)
    _taker_tasks.add(task)
    task.add_done_callback(_taker_tasks.discard)


def _release(released: asyncio.Future[None]) -> None:
    if not released.done():
        released.set_result(None)


def _detacher(inner: Any, released: asyncio.Future[None]) -> Callable[[], Any]:
    async def detach_socket() -> Any:
        got = await inner.detach_socket()
        if got is not None:  # the socket has a new owner: the server's part is over
            _release(released)
        return got

    return detach_socket


def _aborter(inner: Any, released: asyncio.Future[None]) -> Callable[[], None]:
    def abort() -> None:
        try:
            inner.abort()
        finally:
            _release(released)

    return abort


class KeptStream:
    """The stream of a switched HTTP/1.1 connection: tells the driver when its taker is done.

    Reads and writes go straight to the wrapped stream's bound methods (no extra call per
    operation); ``close()``, ``abort()`` and a successful ``detach_socket()`` release the
    connection. Anything else is looked up on the wrapped stream.
    """

    __slots__ = (
        "_inner",
        "_released",
        "can_write_eof",
        "drain",
        "is_closing",
        "read",
        "write",
        "write_eof",
    )

    # made on first use (see __getattr__): most takers never ask for them
    detach_socket: Callable[[], Any] | None
    abort: Callable[[], None] | None

    def __init__(self, inner: Stream, released: asyncio.Future[None]) -> None:
        self._inner = inner
        self._released = released
        self.read = inner.read
        self.write = inner.write
        self.drain = inner.drain
        self.can_write_eof = inner.can_write_eof
        self.write_eof = inner.write_eof
        self.is_closing = inner.is_closing

    @property
    def extensions(self) -> Any:
        """The wrapped stream's extensions."""
        return self._inner.extensions

    @property
    def socket_stream(self) -> Any:
        """The wrapped stream's :attr:`~pyrama_net.SocketStream.socket_stream`, for relays.

        Reads and writes pass through unchanged, so a relay may drive the socket stream
        underneath directly (and close this stream when done). A property rather than the
        ``__getattr__`` fallback, which would first raise (and format) an AttributeError.
        """
        return self._inner.socket_stream  # type: ignore[attr-defined]

    async def close(self) -> None:
        """Close the wrapped stream and release the connection."""
        try:
            await self._inner.close()
        finally:
            _release(self._released)

    def is_closed(self) -> bool:
        """Whether the connection is released and the wrapped stream closed (or detached)."""
        inner_closed: Any = getattr(self._inner, "is_closed", None)
        return self._released.done() and callable(inner_closed) and inner_closed() is True

    def __getattr__(self, name: str) -> Any:
        # detach_socket and abort release the connection too: closures over the wrapped
        # stream (not bound methods of this object, which would make a reference cycle once
        # kept), or None when the wrapped stream has no such method
        if name == "detach_socket":
            inner = self._inner
            if not callable(getattr(inner, "detach_socket", None)):
                return None
            return _detacher(inner, self._released)
        if name == "abort":
            inner = self._inner
            if not callable(getattr(inner, "abort", None)):
                return None
            return _aborter(inner, self._released)
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return f"KeptStream({self._inner!r})"
