"""UnixConnector: a connector service that opens Unix socket streams to one path."""

from __future__ import annotations

import asyncio
import os
from typing import TypeVar

from pyrama_core.errors import ConfigError
from pyrama_net import EstablishedConnection
from pyrama_net.errors import ConnectError
from pyrama_tcp.unix._stream import UnixPath, UnixStream

__all__ = ["UnixConnector"]

T = TypeVar("T")


class UnixConnector:
    """Opens a :class:`~pyrama_tcp.unix.UnixStream` to a fixed socket path.

    It is a ``Connector[T, UnixStream]`` for any target type: :meth:`serve` connects to the
    path whatever the target says, and returns an :class:`~pyrama_net.EstablishedConnection`
    carrying the target through, so it can stand wherever a connector is expected (a reverse
    proxy to a local backend, a forwarder). Failures raise
    :class:`~pyrama_net.errors.ConnectError`.
    """

    __slots__ = ("_path", "_timeout")

    def __init__(self, path: UnixPath, *, timeout: float | None = None) -> None:
        """Connect to *path*; *timeout* (seconds) bounds each connection attempt."""
        if timeout is not None and not timeout > 0:
            raise ConfigError(f"timeout must be > 0 seconds or None, got {timeout!r}")
        self._path: str | bytes = path if isinstance(path, bytes) else os.fspath(path)
        if not self._path:
            raise ConfigError("a Unix socket path must not be empty")
        self._timeout = timeout

    @property
    def path(self) -> str | bytes:
        """The socket path connections go to."""
        return self._path

    async def connect(self) -> UnixStream:
        """Open a new stream to the socket path."""
        try:
            async with asyncio.timeout(self._timeout):
                return await UnixStream.connect(self._path)
        except TimeoutError as exc:
            raise ConnectError(
                f"connecting to Unix socket {self._path!r} timed out after {self._timeout}s"
            ) from exc

    async def serve(self, target: T, /) -> EstablishedConnection[T, UnixStream]:
        """Open a new stream to the socket path; *target* is passed through, not used."""
        stream = await self.connect()
        return EstablishedConnection(conn=stream, target=target, extensions=stream.extensions)

    def __repr__(self) -> str:
        return f"UnixConnector(path={self._path!r})"
