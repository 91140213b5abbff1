"""Free loopback ports for tests."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

__all__ = ["free_port", "silent_port"]


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    """Return a port on *host* that was free a moment ago (bind to port 0, read, close)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def silent_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port on *host* where connects hang: a listener whose accept queue is full.

    Linux drops further SYNs for a full backlog, so a connect to the port neither succeeds
    nor fails until the connecting side gives up (for connect-timeout tests). The listener
    and the sockets filling its queue are closed on exit.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as full:
        full.bind((host, 0))
        full.listen(0)
        port: int = full.getsockname()[1]
        fillers: list[socket.socket] = []
        try:
            for _ in range(8):  # more than the queue holds; the extra ones just hang
                f = socket.socket(family)
                f.setblocking(False)
                f.connect_ex((host, port))
                fillers.append(f)
            yield port
        finally:
            for f in fillers:
                f.close()
