"""``pyrama serve forward`` over TCP, run as a real process, with an upstream on loopback."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import socketserver
import sys
import threading
from collections.abc import Iterator

import pytest
from cli_support import HANG_GUARD, serving
from test_cli_serve_tcp import connect, recv_all, recv_exact

from pyrama_testing import free_port, silent_port


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)
        self.request.shutdown(socket.SHUT_WR)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def upstream() -> Iterator[int]:
    """A threaded TCP echo server on loopback (half-close aware)."""
    server = _Server(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_forward_relays_bulk_both_ways(upstream: int) -> None:
    with serving("forward", "--bind", "127.0.0.1:0", "--to", f"127.0.0.1:{upstream}") as fwd:
        listening = fwd.wait_event(lambda e: e.get("event", "").startswith("listening"))
        assert listening["target"] == f"127.0.0.1:{upstream}"
        payload = os.urandom(8 << 20)
        with connect(fwd.port) as s:
            done = threading.Event()
            got: list[bytes] = []

            def reader() -> None:
                got.append(recv_all(s))
                done.set()

            threading.Thread(target=reader, daemon=True).start()
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)  # half-close travels through the proxy
            assert done.wait(HANG_GUARD)
        assert hashlib.sha256(got[0]).digest() == hashlib.sha256(payload).digest()


def test_forward_to_nothing_closes_client_cleanly_and_keeps_serving() -> None:
    dead = free_port()
    with serving("forward", "--bind", "127.0.0.1:0", "--to", f"127.0.0.1:{dead}") as fwd:
        for _ in range(2):
            with connect(fwd.port) as s:
                s.sendall(b"anyone?")
                s.shutdown(socket.SHUT_WR)
                assert s.recv(100) == b""  # FIN, not a reset
        fwd.wait_event(lambda e: e.get("event") == "target unreachable")
        assert fwd.proc.poll() is None


def test_forward_graceful_shutdown_lets_relay_finish(upstream: int) -> None:
    with serving(
        "forward", "--bind", "127.0.0.1:0", "--to", f"127.0.0.1:{upstream}", "--graceful", "30"
    ) as fwd:
        with connect(fwd.port) as s:
            s.sendall(b"before")
            assert recv_exact(s, 6) == b"before"
            fwd.signal(signal.SIGINT)
            fwd.wait_event(lambda e: e.get("event") == "shutting down")
            s.sendall(b"during")
            assert recv_exact(s, 6) == b"during"
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s) == b""
        assert fwd.wait_exit() == 0


def test_forward_requires_a_valid_target() -> None:
    with serving("forward", "--bind", "127.0.0.1:0", "--to", "nowhere", wait=False) as fwd:
        assert fwd.wait_exit() == 2
        assert "invalid --to" in fwd.output()


def test_forward_connect_timeout_gives_up_on_a_silent_target() -> None:
    # a listener whose accept queue is full: further SYNs are dropped, so connects hang
    with (
        silent_port() as port,
        serving(
            "forward",
            "--bind",
            "127.0.0.1:0",
            "--to",
            f"127.0.0.1:{port}",
            "--connect-timeout",
            "0.3",
        ) as fwd,
    ):
        with connect(fwd.port) as s:
            s.sendall(b"hello?")
            s.shutdown(socket.SHUT_WR)
            assert s.recv(100) == b""  # closed once the connect timed out
        event = fwd.wait_event(lambda e: e.get("event") == "target unreachable")
        assert "time" in event["error"].lower()


def test_forward_connect_timeout_must_be_positive() -> None:
    with serving(
        "forward", "--to", "127.0.0.1:1", "--connect-timeout", "0", "--bind", ":0", wait=False
    ) as fwd:
        assert fwd.wait_exit() == 2
        assert "--connect-timeout" in fwd.output()


def test_verbose_logs_each_connection(upstream: int) -> None:
    with serving("forward", "-v", "--bind", "127.0.0.1:0", "--to", f"127.0.0.1:{upstream}") as fwd:
        with connect(fwd.port) as s:
            s.sendall(b"x")
            assert recv_exact(s, 1) == b"x"
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s) == b""
        opened = fwd.wait_event(lambda e: e.get("event") == "connection opened")
        assert opened["peer"].startswith("127.0.0.1:")
        forwarded = fwd.wait_event(lambda e: e.get("event") == "forwarded")
        assert forwarded["up"] == 1
        assert forwarded["down"] == 1
        if sys.platform == "linux":
            assert forwarded["zero_copy"] is True  # both ends are plain sockets: splice(2)
        fwd.wait_event(lambda e: e.get("event") == "connection closed")


def test_without_verbose_no_line_is_logged_per_connection(upstream: int) -> None:
    with serving("forward", "--bind", "127.0.0.1:0", "--to", f"127.0.0.1:{upstream}") as fwd:
        for _ in range(3):
            with connect(fwd.port) as s:
                s.sendall(b"x")
                assert recv_exact(s, 1) == b"x"
                s.shutdown(socket.SHUT_WR)
                assert recv_all(s) == b""
        fwd.signal(signal.SIGINT)
        assert fwd.wait_exit() == 0
        events = [e.get("event") for e in fwd.events]
    assert "listening" in events
    assert "stopped" in events
    per_connection = {"connection opened", "connection closed", "forwarded"}
    assert not per_connection & set(events)
