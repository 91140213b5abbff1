"""A Unix domain socket server (greets with the peer's credentials, then echoes) and a client.

Unix sockets run on the same listener machinery as TCP: a
:class:`~pyrama_tcp.unix.UnixListener` serves a stream service, and a
:class:`~pyrama_tcp.unix.UnixConnector` opens client streams. The socket file is created
with mode 0600 and removed when the server stops.

Run the server::

    python examples/unix_socket.py serve                        # /tmp/pyrama-example.sock
    python examples/unix_socket.py serve /tmp/other.sock        # or SOCKET_PATH=...

It logs ``listening path=/tmp/pyrama-example.sock``. Every connection first receives
``hello pid=<your pid> uid=<your uid>`` (read from the kernel with ``SO_PEERCRED``), then
everything it sends comes back. Talk to it with this file's client::

    python examples/unix_socket.py client /tmp/pyrama-example.sock "some text"

which prints the greeting and ``echo: some text``; or with socat / nc::

    socat - UNIX-CONNECT:/tmp/pyrama-example.sock
    nc -U /tmp/pyrama-example.sock

Ctrl-C (or SIGTERM) stops the server gracefully and removes the socket file.
"""

from __future__ import annotations

import asyncio
import os
import sys

from pyrama_core import Shutdown, service_fn
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_tcp.unix import UnixConnector, UnixListener, UnixStream

DEFAULT_PATH = "/tmp/pyrama-example.sock"

log = get_logger("unix_socket")


async def greet_then_echo(stream: UnixStream) -> None:
    """Greet the peer by pid and uid, then echo until it stops sending."""
    cred = stream.peer_credentials()
    stream.write(f"hello pid={cred.pid} uid={cred.uid}\n".encode())
    await stream.drain()
    while data := await stream.read():
        stream.write(data)
        await stream.drain()


async def serve(path: str) -> None:
    """Listen on *path* and serve :func:`greet_then_echo` until SIGINT/SIGTERM."""
    listener = await UnixListener.bind(path)
    log.info("listening", path=path)
    shutdown = Shutdown.with_signals(deadline=5.0)
    await listener.serve_graceful(service_fn(greet_then_echo), shutdown)


async def client(path: str, message: str) -> None:
    """Connect to *path*, print the greeting, send *message* and print the echo."""
    stream = await UnixConnector(path, timeout=5.0).connect()
    try:
        greeting = b""
        while not greeting.endswith(b"\n"):
            chunk = await stream.read()
            if not chunk:
                break
            greeting += chunk
        print(greeting.decode().rstrip("\n"))
        stream.write(message.encode())
        await stream.drain()
        stream.write_eof()
        echoed = b""
        while chunk := await stream.read():
            echoed += chunk
        print(f"echo: {echoed.decode()}")
    finally:
        await stream.close()


def main(argv: list[str]) -> None:
    """``serve [PATH]`` (the default) or ``client [PATH] [MESSAGE]``."""
    command = argv[0] if argv else "serve"
    path = argv[1] if len(argv) > 1 else os.environ.get("SOCKET_PATH", DEFAULT_PATH)
    if command == "serve":
        setup_logging()
        asyncio.run(serve(path))
        log.info("stopped", removed=not os.path.exists(path))
    elif command == "client":
        asyncio.run(client(path, argv[2] if len(argv) > 2 else "hello over a Unix socket"))
    else:
        sys.exit(f"usage: {sys.argv[0]} [serve [PATH] | client [PATH] [MESSAGE]]")


if __name__ == "__main__":
    main(sys.argv[1:])
