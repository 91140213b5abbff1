"""A TCP echo server wrapped in core layers: errors, a concurrency limit, a timeout, byte counts.

Shows how :func:`~pyrama_core.layers` stacks layers around a stream service, first =
outermost. A connection passes through them top to bottom::

    ConsumeErrLayer         errors end here (logged at debug), so the listener closes cleanly
    TraceErrLayer           logs every error from below (an OverloadedError, a timeout, ...)
    ConcurrencyLimitLayer   at most MAX_CONNS connections at once; extra ones are refused
    ReportLayer             (this file) logs the byte counts once the connection is done
    TimeoutLayer            a connection may live at most TIMEOUT seconds
    BytesTrackerLayer       counts bytes read and written (a BytesCount in the extensions)
    echo                    the service: sends back every byte it reads

The limit sits outside the timeout so that a refused connection never starts a timer, and
the report sits outside the timeout so it still runs when the timeout fires.

Run it::

    python examples/tcp_listener_layers.py                     # 127.0.0.1:62002
    PORT=0 MAX_CONNS=1 TIMEOUT=3 python examples/tcp_listener_layers.py

It logs ``listening address=127.0.0.1:62002 max_conns=2 timeout=10.0``. Then::

    echo hello | nc -N 127.0.0.1 62002     # prints hello; the server logs read=6 written=6

Open more than MAX_CONNS connections to see ``OverloadedError`` logged and the extra ones
closed; keep one open longer than TIMEOUT to see the timeout. Ctrl-C stops it gracefully.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from pyrama_core import Service, Shutdown, layers, service_fn
from pyrama_core.layer import (
    ConcurrencyLimitLayer,
    ConsumeErrLayer,
    TimeoutLayer,
    TraceErrLayer,
)
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_net import BytesCount, BytesTrackerLayer, Stream
from pyrama_tcp import TcpListener

DEFAULT_PORT = 62002

log = get_logger("tcp_listener_layers")


async def echo(stream: Stream) -> None:
    """Send back every byte read, until the peer stops sending."""
    while data := await stream.read():
        stream.write(data)
        await stream.drain()


class ReportService:
    """Serves the inner service, then logs the stream's :class:`~pyrama_net.BytesCount`."""

    def __init__(self, inner: Service[Stream, None]) -> None:
        self.inner = inner

    async def serve(self, stream: Stream) -> None:
        """Serve *stream* and log what it moved, however the inner service ended."""
        try:
            await self.inner.serve(stream)
        finally:
            count = stream.extensions.get(BytesCount)
            if count is not None:
                log.info("connection done", read=count.read, written=count.written)


class ReportLayer:
    """A home-made layer: any object with ``layer(inner) -> service`` is one."""

    def layer(self, inner: Service[Stream, None]) -> ReportService:
        """Wrap *inner* in a :class:`ReportService`."""
        return ReportService(inner)


def build_service(max_conns: int, timeout: float) -> Any:
    """The layered echo service (first layer = outermost)."""
    return layers(
        ConsumeErrLayer(),
        TraceErrLayer("warning", event="connection failed"),
        ConcurrencyLimitLayer(max_conns, "reject"),
        ReportLayer(),
        TimeoutLayer(timeout),
        BytesTrackerLayer(),
    ).into(service_fn(echo))


async def main(port: int, max_conns: int, conn_timeout: float) -> None:
    """Bind 127.0.0.1:*port* and serve the layered echo until SIGINT/SIGTERM."""
    listener = await TcpListener.bind(("127.0.0.1", port))
    log.info(
        "listening", address=str(listener.local_addr), max_conns=max_conns, timeout=conn_timeout
    )
    shutdown = Shutdown.with_signals(deadline=5.0)
    await listener.serve_graceful(build_service(max_conns, conn_timeout), shutdown)
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    asyncio.run(
        main(
            int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT)),
            int(os.environ.get("MAX_CONNS", 2)),
            float(os.environ.get("TIMEOUT", 10.0)),
        )
    )
