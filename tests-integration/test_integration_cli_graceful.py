"""Graceful shutdown of `pyrama serve` on SIGTERM / SIGINT with connections in flight."""

from __future__ import annotations

import contextlib
import os
import signal
import socket

from itsupport import Peers, Poll, Spawn

from pyrama_testing import free_port, require_peer


def test_sigterm_lets_the_in_flight_connection_finish(
    spawn: Spawn, pyrama_cli: list[str], peers: Peers
) -> None:
    r = spawn(
        [*pyrama_cli, "serve", "echo", "--mode=tcp", "--bind", ":0", "--graceful", "30"],
    )
    with socket.create_connection(("127.0.0.1", r.port), timeout=20) as s:
        s.sendall(b"before\n")
        assert s.recv(100) == b"before\n"
        r.signal(signal.SIGTERM)
        # the listener stops accepting...
        Poll.until(lambda: Poll.connect_refused(r.port), what="the listener to close")
        assert r.proc.poll() is None  # ...but the process waits for our connection
        s.sendall(b"during shutdown\n")
        assert s.recv(100) == b"during shutdown\n"
        s.shutdown(socket.SHUT_WR)
        assert s.recv(100) == b""  # the echo sees EOF and closes its side
    assert r.wait_exit() == 0


def test_sigterm_deadline_cancels_a_lingering_connection(
    spawn: Spawn, pyrama_cli: list[str]
) -> None:
    r = spawn(
        [*pyrama_cli, "serve", "echo", "--mode=tcp", "--bind", ":0", "--graceful", "0.5"],
    )
    with socket.create_connection(("127.0.0.1", r.port), timeout=20) as s:
        s.sendall(b"x")
        assert s.recv(10) == b"x"
        r.signal(signal.SIGTERM)
        # we never close: after the deadline the server cancels the connection and exits
        assert r.wait_exit() == 0
        with contextlib.suppress(ConnectionResetError):
            assert s.recv(10) == b""


def test_second_sigint_skips_the_drain(spawn: Spawn, pyrama_cli: list[str]) -> None:
    r = spawn(
        [*pyrama_cli, "serve", "echo", "--mode=tcp", "--bind", ":0", "--graceful", "600"],
    )
    with socket.create_connection(("127.0.0.1", r.port), timeout=20) as s:
        s.sendall(b"x")
        assert s.recv(10) == b"x"
        r.signal(signal.SIGINT)
        Poll.until(lambda: Poll.connect_refused(r.port), what="the listener to close")
        r.signal(signal.SIGINT)  # a 600 s drain would outlive the hang guard below
        assert r.wait_exit(timeout=30) in (0, 130)


def test_sigterm_with_nothing_in_flight_exits_cleanly(
    spawn: Spawn, pyrama_cli: list[str], peers: Peers
) -> None:
    r = spawn([*pyrama_cli, "serve", "discard", "--mode", "udp", "--bind", "127.0.0.1:0"])
    r.signal(signal.SIGTERM)
    assert r.wait_exit() == 0


def test_sigterm_lets_an_in_flight_forwarded_relay_finish(
    spawn: Spawn, pyrama_cli: list[str]
) -> None:
    socat = require_peer("socat")
    sink = free_port()
    spawn([socat, f"TCP-LISTEN:{sink},bind=127.0.0.1,fork,reuseaddr", "PIPE"], ready=None)
    Poll.tcp_listening(sink)
    fwd = spawn(
        [
            *pyrama_cli,
            "serve",
            "forward",
            "--bind",
            "127.0.0.1:0",
            "--to",
            f"127.0.0.1:{sink}",
            "--graceful",
            "30",
        ]
    )
    chunk = os.urandom(1 << 20)
    with socket.create_connection(("127.0.0.1", fwd.port), timeout=20) as s:
        s.sendall(chunk)
        assert _recv_exactly(s, len(chunk)) == chunk
        fwd.signal(signal.SIGTERM)
        Poll.until(lambda: Poll.connect_refused(fwd.port), what="the forwarder to stop accepting")
        # the relay keeps working both ways while the forwarder drains
        for _ in range(4):
            s.sendall(chunk)
            assert _recv_exactly(s, len(chunk)) == chunk
        s.shutdown(socket.SHUT_WR)
        assert s.recv(10) == b""
    assert fwd.wait_exit() == 0


def _recv_exactly(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        part = s.recv(n - len(buf))
        assert part, f"EOF after {len(buf)} of {n} bytes"
        buf += part
    return bytes(buf)
