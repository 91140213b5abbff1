"""``pyrama serve echo|discard|forward --mode udp``, run as a real process over loopback."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from cli_support import HANG_GUARD, serving


def udp_client() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(HANG_GUARD)
    s.bind(("127.0.0.1", 0))
    return s


def test_udp_echo_keeps_datagram_boundaries() -> None:
    with serving("echo", "--mode", "udp", "--bind", "127.0.0.1:0") as server:
        listening = server.wait_event(lambda e: e.get("event", "").startswith("listening"))
        assert listening["mode"] == "udp"
        with udp_client() as c:
            for size in (1, 1400, 9000, 60000):
                payload = os.urandom(size)
                c.sendto(payload, ("127.0.0.1", server.port))
                data, addr = c.recvfrom(65535)
                assert data == payload
                assert addr == ("127.0.0.1", server.port)


def test_udp_discard_never_answers() -> None:
    with (
        serving("discard", "--mode", "udp", "--bind", "127.0.0.1:0") as discard,
        serving("echo", "--mode", "udp", "--bind", "127.0.0.1:0") as echo,
        udp_client() as c,
    ):
        for i in range(10):
            c.sendto(b"void %d" % i, ("127.0.0.1", discard.port))
        c.sendto(b"marker", ("127.0.0.1", echo.port))
        # the first datagram back is the echo's: the discard server sent nothing before it
        assert c.recvfrom(100) == (b"marker", ("127.0.0.1", echo.port))
        assert discard.proc.poll() is None


def test_udp_server_exits_0_on_sigterm() -> None:
    with serving("discard", "--mode", "udp", "--bind", "127.0.0.1:0") as server:
        server.signal(signal.SIGTERM)
        assert server.wait_exit() == 0


class Upstream:
    def __init__(self, port: int) -> None:
        self.port = port
        self.senders: list[tuple[str, int]] = []


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    """A UDP server answering ``b"up:" + datagram`` to whoever sent it (senders recorded)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()
    up = Upstream(sock.getsockname()[1])

    def run() -> None:
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(65535)
            except TimeoutError:
                continue
            up.senders.append(addr)
            sock.sendto(b"up:" + data, addr)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield up
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def test_udp_forward_relays_each_client_separately(upstream: Upstream) -> None:
    with (
        serving(
            "forward",
            "--mode",
            "udp",
            "--bind",
            "127.0.0.1:0",
            "--to",
            f"127.0.0.1:{upstream.port}",
        ) as server,
        udp_client() as a,
        udp_client() as b,
    ):
        a.sendto(b"from a", ("127.0.0.1", server.port))
        b.sendto(b"from b", ("127.0.0.1", server.port))
        assert a.recvfrom(100) == (b"up:from a", ("127.0.0.1", server.port))
        assert b.recvfrom(100) == (b"up:from b", ("127.0.0.1", server.port))
        a.sendto(b"again", ("127.0.0.1", server.port))
        assert a.recvfrom(100)[0] == b"up:again"


def test_udp_forward_concurrent_limits_clients(upstream: Upstream) -> None:
    with (
        serving(
            "forward",
            "--mode",
            "udp",
            "--bind",
            "127.0.0.1:0",
            "--to",
            f"127.0.0.1:{upstream.port}",
            "--concurrent",
            "1",
        ) as server,
        udp_client() as a,
        udp_client() as b,
        udp_client() as marker,
    ):
        a.sendto(b"first", ("127.0.0.1", server.port))
        assert a.recvfrom(100)[0] == b"up:first"  # a holds the only session
        b.sendto(b"second", ("127.0.0.1", server.port))  # dropped: no session for b
        a.sendto(b"third", ("127.0.0.1", server.port))
        assert a.recvfrom(100)[0] == b"up:third"
        # b got nothing: after a marker round trip through the upstream directly, still nothing
        marker.sendto(b"m", ("127.0.0.1", upstream.port))
        assert marker.recvfrom(100)[0] == b"up:m"
        b.settimeout(0.5)
        with pytest.raises(TimeoutError):
            b.recvfrom(100)


def test_udp_forward_timeout_ends_idle_sessions(upstream: Upstream) -> None:
    with (
        serving(
            "forward",
            "--mode",
            "udp",
            "--bind",
            "127.0.0.1:0",
            "--to",
            f"127.0.0.1:{upstream.port}",
            "--timeout",
            "0.2",
        ) as server,
        udp_client() as c,
    ):
        c.sendto(b"one", ("127.0.0.1", server.port))
        assert c.recvfrom(100)[0] == b"up:one"
        first = upstream.senders[-1]
        # after a silence longer than the idle timeout the session is gone: the next
        # datagram opens a new one, with a new upstream socket (poll; no timing assertion)
        deadline = time.monotonic() + HANG_GUARD
        while upstream.senders[-1] == first:
            assert time.monotonic() < deadline, "the idle session was never closed"
            time.sleep(0.5)
            c.sendto(b"two", ("127.0.0.1", server.port))
            assert c.recvfrom(100)[0] == b"up:two"


def test_udp_port_in_use_is_a_clear_error_and_exit_1() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with serving("echo", "--mode", "udp", "--bind", f"127.0.0.1:{port}", wait=False) as server:
            assert server.wait_exit() == 1
            event = server.wait_event(lambda e: e.get("event") == "cannot listen")
            assert event["address"] == f"127.0.0.1:{port}"
            assert "in use" in event["error"].lower()
