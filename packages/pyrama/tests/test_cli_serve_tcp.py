"""``pyrama serve echo|discard`` over TCP, run as a real process and driven over loopback."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest
from cli_support import HANG_GUARD, serving


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)


def recv_exact(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def recv_all(s: socket.socket) -> bytes:
    buf = bytearray()
    try:
        while chunk := s.recv(65536):
            buf += chunk
    except ConnectionResetError:
        pass
    return bytes(buf)


def wait_refused(port: int) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while time.monotonic() < deadline:
        try:
            connect(port).close()
        except (ConnectionRefusedError, ConnectionResetError):
            # refused, or reset: a connect that raced the close sat in the listener's backlog
            # and was dropped with it; either way the listener no longer accepts
            return
        time.sleep(0.02)
    pytest.fail("the listener kept accepting after shutdown began")


def test_echo_listens_on_port_zero_and_echoes_until_eof() -> None:
    with serving("echo", "--mode", "tcp", "--bind", "127.0.0.1:0") as server:
        assert server.host == "127.0.0.1"
        assert server.port != 0
        listening = server.wait_event(lambda e: e.get("event", "").startswith("listening"))
        assert listening["service"] == "echo"
        assert listening["mode"] == "tcp"
        with connect(server.port) as s:
            payload = os.urandom(1 << 20)
            s.sendall(payload)
            assert recv_exact(s, len(payload)) == payload
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s) == b""  # EOF answered with EOF


def test_tcp_is_the_default_mode() -> None:
    with serving("echo", "--mode", "tcp", "--bind", ":0") as server, connect(server.port) as s:
        s.sendall(b"default")
        assert recv_exact(s, 7) == b"default"


def test_discard_reads_everything_and_never_answers() -> None:
    with serving("discard", "--bind", "127.0.0.1:0") as server:
        with connect(server.port) as s:
            s.sendall(os.urandom(4 << 20))
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s) == b""
        assert server.proc.poll() is None


def test_concurrent_limit_refuses_extra_connections_cleanly() -> None:
    with serving("echo", "--mode", "tcp", "--bind", "127.0.0.1:0", "--concurrent", "1") as server:
        with connect(server.port) as held:
            held.sendall(b"one")
            assert recv_exact(held, 3) == b"one"
            with connect(server.port) as extra:
                extra.sendall(b"two")
                extra.shutdown(socket.SHUT_WR)
                # closed without an echo, with a FIN rather than a reset
                assert extra.recv(100) == b""
            server.wait_event(lambda e: e.get("event") == "connection refused")
            held.sendall(b"still")
            assert recv_exact(held, 5) == b"still"
        # the slot is free again once the first connection is gone
        for _ in range(200):
            with connect(server.port) as again:
                again.sendall(b"again")
                if recv_exact(again, 5) == b"again":
                    break
        else:
            pytest.fail("the slot never freed up")


def test_timeout_ends_a_connection() -> None:
    with (
        serving("echo", "--mode", "tcp", "--bind", "127.0.0.1:0", "--timeout", "0.2") as server,
        connect(server.port) as s,
    ):
        s.sendall(b"x")
        assert recv_exact(s, 1) == b"x"
        assert recv_all(s) == b""  # the server ends it; we never close


def test_sigint_drains_in_flight_connection_then_exits_0() -> None:
    with serving("echo", "--mode", "tcp", "--bind", "127.0.0.1:0", "--graceful", "30") as server:
        with connect(server.port) as s:
            s.sendall(b"before")
            assert recv_exact(s, 6) == b"before"
            server.signal(signal.SIGINT)
            server.wait_event(lambda e: e.get("event") == "shutting down")
            # no new connections (the listener closes right after the trigger)...
            wait_refused(server.port)
            # ...but ours is still served
            assert server.proc.poll() is None
            s.sendall(b"during")
            assert recv_exact(s, 6) == b"during"
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s) == b""
        assert server.wait_exit() == 0
        stopped = server.wait_event(lambda e: e.get("event") == "stopped")
        assert stopped["cancelled"] == 0


def test_sigterm_deadline_cancels_lingering_connection_and_exits_0() -> None:
    with serving("echo", "--mode", "tcp", "--bind", "127.0.0.1:0", "--graceful", "0.2") as server:
        with connect(server.port) as s:
            s.sendall(b"x")
            assert recv_exact(s, 1) == b"x"
            server.signal(signal.SIGTERM)
            assert server.wait_exit() == 0
            assert recv_all(s) == b""
        stopped = server.wait_event(lambda e: e.get("event") == "stopped")
        assert stopped["cancelled"] >= 1


def test_port_in_use_is_a_clear_error_and_exit_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with serving("echo", "--mode", "tcp", "--bind", f"127.0.0.1:{port}", wait=False) as server:
            assert server.wait_exit() == 1
            event = server.wait_event(lambda e: e.get("event") == "cannot listen")
            assert event["address"] == f"127.0.0.1:{port}"
            assert "in use" in event["error"].lower()


def test_bad_bind_address_is_a_usage_error() -> None:
    with serving("echo", "--mode", "tcp", "--bind", "example.com:80", wait=False) as server:
        assert server.wait_exit() == 2
        assert "not a domain name" in server.output()
