"""Protocol switches: the handle a service awaits for the raw stream after ``101``/``CONNECT``."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

from pyrama_http_core.errors import UpgradeError
from pyrama_net import Stream

__all__ = ["OnUpgrade", "Upgraded"]


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
    """

    __slots__ = ("_future",)

    def __init__(self) -> None:
        self._future: asyncio.Future[Upgraded] = asyncio.get_running_loop().create_future()

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
        """Report that no switch happens (called by the connection driver)."""
        if self._future.done():
            return
        exc = UpgradeError(error) if isinstance(error, str) else error
        self._future.set_exception(exc)
        self._future.exception()  # retrieved: no "never retrieved" warning if nobody waits

    def __repr__(self) -> str:
        state = "pending" if not self._future.done() else "done"
        return f"OnUpgrade({state})"
