"""Stream services and the per-connection layer shared by the TCP modes of ``pyrama serve``."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Final

from pyrama.net import SocketInfo, Stream
from pyrama_core import Service
from pyrama_core.errors import OverloadedError, PyramaError
from pyrama_core.telemetry import get_logger

__all__ = [
    "REFUSE_LINGER",
    "REFUSE_MAX_BYTES",
    "ConnectionLayer",
    "ConnectionService",
    "debug_enabled",
    "discard_stream",
    "echo_stream",
    "peer_of",
    "refuse",
]

_log = get_logger("pyrama.cli")
_std_log = logging.getLogger("pyrama.cli")

REFUSE_LINGER: Final[float] = 2.0
"""Seconds a refused connection gets to finish sending before it is closed."""
REFUSE_MAX_BYTES: Final[int] = 1 << 20
"""Bytes a refused connection may still send (they are read and dropped) before closing."""

_CHUNK = 256 * 1024


async def echo_stream(stream: Stream) -> None:
    """Write back every byte read; on EOF, half-close so the peer sees EOF too (RFC 862)."""
    read, write, drain = stream.read, stream.write, stream.drain
    while data := await read(_CHUNK):
        write(data)
        await drain()
    if stream.can_write_eof() and not stream.is_closing():
        stream.write_eof()


async def discard_stream(stream: Stream) -> None:
    """Read and drop every byte until the peer's EOF (RFC 863); never write."""
    read = stream.read
    while await read(_CHUNK):
        pass


async def refuse(
    stream: Stream, *, linger: float = REFUSE_LINGER, max_bytes: int = REFUSE_MAX_BYTES
) -> None:
    """Turn a connection away cleanly: half-close, drop what it still sends, then return.

    Closing a socket with unread input makes the kernel send a reset, which clients report
    as an error. So the refusal sends EOF first and reads (and drops) the peer's remaining
    bytes until its EOF, at most *max_bytes* bytes or *linger* seconds; the caller closes.
    """
    if stream.can_write_eof() and not stream.is_closing():
        stream.write_eof()
    got = 0
    try:
        async with asyncio.timeout(linger):
            while got < max_bytes:
                data = await stream.read(min(_CHUNK, max_bytes - got))
                if not data:
                    return
                got += len(data)
    except (TimeoutError, OSError, PyramaError):
        return


def debug_enabled() -> bool:
    """Whether ``-v`` debug lines are logged (checked per connection, cheaply).

    The ``pyrama`` command logs through the standard library (``setup_logging``), so the
    ``pyrama.cli`` logger's level decides; asking it costs a cached dictionary look-up, while
    a structlog ``debug()`` call that is then filtered out runs its processor chain.
    """
    return _std_log.isEnabledFor(logging.DEBUG)


def peer_of(stream: Stream) -> str | None:
    """The peer address of *stream* as text (``127.0.0.1:5555``), if it is a socket stream."""
    info = stream.extensions.get(SocketInfo)
    if info is None:
        return None
    peer = info.peer
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = peer[0], peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peer)


class ConnectionService:
    """Serves one connection with *inner*, logging it and ending it cleanly.

    * An :class:`~pyrama_core.errors.OverloadedError` (the ``--concurrent`` limit refused
      the connection) is answered with :func:`refuse`: the client sees a clean close.
    * Errors of the connection itself (the peer reset it, an upstream could not be reached
      and the inner service let that through) are logged and end only this connection.
    * With debug logging (``-v``) every connection is logged when it opens and closes.
    """

    __slots__ = ("inner", "service")

    def __init__(self, inner: Service[Stream, Any], service: str) -> None:
        self.inner = inner
        self.service = service

    async def serve(self, stream: Stream, /) -> None:
        """Serve *stream* with the inner service, handling refusals and connection errors."""
        if not debug_enabled():
            # the common case: no per-connection bookkeeping for log lines nobody sees
            try:
                await self.inner.serve(stream)
            except OverloadedError as exc:
                self._refused(stream, exc)
                await refuse(stream)
            except (OSError, PyramaError) as exc:
                self._failed(stream, exc)
            return
        peer = peer_of(stream)
        started = time.monotonic()
        _log.debug("connection opened", service=self.service, peer=peer)
        outcome = "closed"
        try:
            await self.inner.serve(stream)
        except OverloadedError as exc:
            outcome = "refused"
            self._refused(stream, exc)
            await refuse(stream)
        except (OSError, PyramaError) as exc:
            outcome = "failed"
            self._failed(stream, exc)
        finally:
            _log.debug(
                f"connection {outcome}",
                service=self.service,
                peer=peer,
                seconds=round(time.monotonic() - started, 3),
            )

    def _refused(self, stream: Stream, exc: OverloadedError) -> None:
        _log.info("connection refused", service=self.service, peer=peer_of(stream), reason=str(exc))

    def _failed(self, stream: Stream, exc: BaseException) -> None:
        _log.info(
            "connection failed",
            service=self.service,
            peer=peer_of(stream),
            error=f"{type(exc).__name__}: {exc}",
        )


class ConnectionLayer:
    """The layer that makes a :class:`ConnectionService` (outermost in every TCP stack)."""

    __slots__ = ("service",)

    def __init__(self, service: str) -> None:
        self.service = service

    def layer(self, inner: Service[Stream, Any], /) -> ConnectionService:
        """Wrap *inner*."""
        return ConnectionService(inner, self.service)
