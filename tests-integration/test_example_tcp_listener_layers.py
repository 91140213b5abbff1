"""examples/tcp_listener_layers.py: echo behind trace-err, concurrency limit, timeout, bytes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Callable

from itsupport import Peers, Poll, Spawn


def test_echo_and_byte_counts(
    spawn: Spawn, example: Callable[[str], list[str]], tcp_port: int, peers: Peers
) -> None:
    r = spawn(example("tcp_listener_layers"), env={"PORT": str(tcp_port)})
    assert r.address == ("127.0.0.1", tcp_port)
    payload = os.urandom(3 << 20)
    mark = r.line_count()
    assert peers.socat_tcp(tcp_port, payload) == payload
    n = len(payload)
    r.wait_for(rf"connection done.*read={n}\b.*written={n}\b", start=mark)

    assert peers.nc_tcp(tcp_port, b"hello\n") == b"hello\n"
    r.wait_for(r"connection done.*read=6\b.*written=6\b", start=mark)

    r.signal(signal.SIGTERM)
    assert r.wait_exit() == 0


def test_concurrency_limit_refuses_and_logs_overloaded(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers
) -> None:
    r = spawn(example("tcp_listener_layers"), env={"PORT": "0", "MAX_CONNS": "1"})
    with socket.create_connection(("127.0.0.1", r.port), timeout=20) as held:
        held.sendall(b"a")
        assert held.recv(1) == b"a"
        mark = r.line_count()
        assert peers.nc_tcp(r.port, b"extra\n") == b""
        r.wait_for(r"connection failed.*OverloadedError", start=mark)
        held.sendall(b"b")
        assert held.recv(1) == b"b"
    Poll.until(lambda: peers.nc_tcp(r.port, b"c") == b"c", what="the slot to free up")


def test_timeout_ends_a_long_connection(spawn: Spawn, example: Callable[[str], list[str]]) -> None:
    r = spawn(example("tcp_listener_layers"), env={"PORT": "0", "TIMEOUT": "0.5"})
    with socket.create_connection(("127.0.0.1", r.port), timeout=20) as s:
        s.sendall(b"abc")
        assert s.recv(3) == b"abc"
        # idle: the timeout layer cancels the echo and the connection is closed
        with contextlib.suppress(ConnectionResetError):
            assert s.recv(10) == b""
    r.wait_for(r"connection failed.*Timeout")
    r.wait_for(r"connection done.*read=3\b.*written=3\b")
