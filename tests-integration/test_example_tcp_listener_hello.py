"""examples/tcp_listener_hello.py: every connection gets one hello line naming the peer."""

from __future__ import annotations

import re
import signal
import socket
from collections.abc import Callable

from itsupport import Peers, Spawn


def test_hello_to_nc_and_socat_then_sigterm(
    spawn: Spawn, example: Callable[[str], list[str]], tcp_port: int, peers: Peers
) -> None:
    r = spawn(example("tcp_listener_hello"), env={"PORT": str(tcp_port)})
    assert r.address == ("127.0.0.1", tcp_port)

    reply = peers.nc_tcp(tcp_port, b"")
    assert re.fullmatch(rb"hello from pyrama, 127\.0\.0\.1:\d+\n", reply), reply
    assert peers.socat_tcp(tcp_port, b"").startswith(b"hello from pyrama, 127.0.0.1:")

    # the greeting names the client's own address
    with socket.create_connection(("127.0.0.1", tcp_port), timeout=20) as s:
        local_port = s.getsockname()[1]
        data = b""
        while chunk := s.recv(100):
            data += chunk
    assert data == f"hello from pyrama, 127.0.0.1:{local_port}\n".encode()

    r.signal(signal.SIGTERM)
    assert r.wait_exit() == 0
    assert "stopped" in r.output()


def test_port_from_argv(spawn: Spawn, example: Callable[[str], list[str]], peers: Peers) -> None:
    r = spawn([*example("tcp_listener_hello"), "0"])
    assert r.port != 0
    assert peers.nc_tcp(r.port, b"").startswith(b"hello from pyrama")
