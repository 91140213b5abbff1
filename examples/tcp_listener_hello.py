"""A TCP listener that greets every connection with one line and closes it.

The smallest pyrama server: a :class:`~pyrama_tcp.TcpListener` serving a service made with
:func:`~pyrama_core.service_fn`. The service gets the connection's
:class:`~pyrama_tcp.TcpStream`; when it returns, the listener closes the connection.

Run it::

    python examples/tcp_listener_hello.py          # listens on 127.0.0.1:62001
    python examples/tcp_listener_hello.py 0        # or PORT=0: any free port

It logs ``listening address=127.0.0.1:62001``. Then, from another terminal::

    nc 127.0.0.1 62001 </dev/null

prints ``hello from pyrama, 127.0.0.1:<your port>``. Ctrl-C (or SIGTERM) stops accepting,
lets connections in flight finish (up to 5 s) and exits.
"""

from __future__ import annotations

import asyncio
import os
import sys

from pyrama_core import Shutdown, service_fn
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_tcp import TcpListener, TcpStream

DEFAULT_PORT = 62001

log = get_logger("tcp_listener_hello")


async def hello(stream: TcpStream) -> None:
    """Write one greeting line naming the peer; the listener closes the connection after."""
    stream.write(f"hello from pyrama, {stream.peer_addr}\n".encode())
    await stream.drain()


async def main(port: int) -> None:
    """Bind 127.0.0.1:*port* and serve :func:`hello` until SIGINT/SIGTERM."""
    listener = await TcpListener.bind(("127.0.0.1", port))
    log.info("listening", address=str(listener.local_addr))
    shutdown = Shutdown.with_signals(deadline=5.0)
    result = await listener.serve_graceful(service_fn(hello), shutdown)
    log.info("stopped", finished=result.finished, cancelled=result.cancelled)


def port_from_args(default: int) -> int:
    """The port from the first argument, else the ``PORT`` variable, else *default*."""
    return int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", default))


if __name__ == "__main__":
    setup_logging()
    asyncio.run(main(port_from_args(DEFAULT_PORT)))
