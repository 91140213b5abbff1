"""A layer-4 TCP forwarding proxy: every connection is relayed to one target with ``bridge``.

For each accepted connection the service opens a connection to the target with a
:class:`~pyrama_tcp.TcpConnector` and hands both streams to :func:`~pyrama_net.bridge`, which
copies bytes both ways with backpressure and half-close. Both ends are plain sockets, so
the bridge moves the bytes inside the kernel with ``os.splice`` (``zero_copy=True`` in the
log line) instead of through Python.

Run it (the target defaults to 127.0.0.1:8080)::

    python -m http.server 8080 --bind 127.0.0.1 &           # something to forward to
    python examples/tcp_forward.py                           # listens on 127.0.0.1:62005
    python examples/tcp_forward.py 62005 127.0.0.1:8080      # or PORT=... TARGET=...

It logs ``listening address=127.0.0.1:62005 target=127.0.0.1:8080``. Then::

    curl http://127.0.0.1:62005/

fetches the page through the proxy, and the proxy logs one ``forwarded`` line per
connection with the bytes moved each way. If the target is down, the client's connection
is closed and ``target unreachable`` is logged. Ctrl-C (or SIGTERM) stops accepting and
gives relays in flight up to 10 s to finish.
"""

from __future__ import annotations

import asyncio
import os
import sys

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_net import Authority, bridge
from pyrama_net.errors import ConnectError
from pyrama_tcp import TcpConnector, TcpListener, TcpStream

DEFAULT_PORT = 62005
DEFAULT_TARGET = "127.0.0.1:8080"

log = get_logger("tcp_forward")


class Forward:
    """A ``Service[TcpStream, None]`` relaying each connection to *target*."""

    def __init__(self, target: Authority, connector: TcpConnector) -> None:
        self.target = target
        self.connector = connector

    async def serve(self, stream: TcpStream) -> None:
        """Connect to the target and bridge it with *stream* until both directions end."""
        try:
            upstream = (await self.connector.serve(self.target)).conn
        except ConnectError as exc:
            log.warning("target unreachable", target=str(self.target), error=str(exc))
            return  # the listener closes the client's connection
        stats = await bridge(stream, upstream)  # owns and closes both streams
        log.info(
            "forwarded",
            peer=str(stream.peer_addr),
            up=stats.a_to_b,
            down=stats.b_to_a,
            zero_copy=stats.zero_copy,
        )


async def main(port: int, target: Authority) -> None:
    """Listen on 127.0.0.1:*port* and forward every connection to *target*."""
    listener = await TcpListener.bind(("127.0.0.1", port))
    log.info("listening", address=str(listener.local_addr), target=str(target))
    service = Forward(target, TcpConnector(connect_timeout=5.0))
    await listener.serve_graceful(service, Shutdown.with_signals(deadline=10.0))
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    args = sys.argv[1:]
    asyncio.run(
        main(
            int(args[0] if args else os.environ.get("PORT", DEFAULT_PORT)),
            Authority.parse(args[1] if len(args) > 1 else os.environ.get("TARGET", DEFAULT_TARGET)),
        )
    )
