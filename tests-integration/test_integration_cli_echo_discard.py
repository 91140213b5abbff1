"""`pyrama serve echo` and `pyrama serve discard` over TCP and UDP, driven by socat and nc."""

from __future__ import annotations

import os
import socket

from itsupport import Peers, Poll, Running, Spawn


def serve(spawn: Spawn, cli: list[str], *args: str) -> Running:
    """Start ``pyrama serve <args>`` and wait for its listening line."""
    return spawn([*cli, "serve", *args])


# -- echo over TCP ------------------------------------------------------------------------


def test_echo_tcp_socat_bulk(
    spawn: Spawn, pyrama_cli: list[str], tcp_port: int, peers: Peers
) -> None:
    r = serve(spawn, pyrama_cli, "echo", "--mode", "tcp", "--bind", f"127.0.0.1:{tcp_port}")
    assert r.address == ("127.0.0.1", tcp_port)
    payload = os.urandom(4 << 20)
    assert peers.socat_tcp(tcp_port, payload) == payload


def test_echo_tcp_nc_lines(
    spawn: Spawn, pyrama_cli: list[str], tcp_port: int, peers: Peers
) -> None:
    serve(spawn, pyrama_cli, "echo", "--mode", "tcp", "--bind", f"127.0.0.1:{tcp_port}")
    lines = b"".join(f"line {i}\n".encode() for i in range(1000))
    assert peers.nc_tcp(tcp_port, lines) == lines


def test_echo_tcp_port_zero_logs_the_real_port(
    spawn: Spawn, pyrama_cli: list[str], peers: Peers
) -> None:
    r = serve(spawn, pyrama_cli, "echo", "--mode", "tcp", "--bind", "127.0.0.1:0")
    assert r.port != 0
    assert peers.socat_tcp(r.port, b"port zero\n") == b"port zero\n"


def test_echo_tcp_many_sequential_clients(
    spawn: Spawn, pyrama_cli: list[str], tcp_port: int, peers: Peers
) -> None:
    serve(spawn, pyrama_cli, "echo", "--mode", "tcp", "--bind", f"127.0.0.1:{tcp_port}")
    for i in range(20):
        msg = f"client {i}\n".encode()
        assert peers.nc_tcp(tcp_port, msg) == msg


def test_echo_tcp_concurrent_limit_refuses_the_extra_client(
    spawn: Spawn, pyrama_cli: list[str], tcp_port: int, peers: Peers
) -> None:
    serve(spawn, pyrama_cli, "echo", "--mode=tcp", "--bind", f":{tcp_port}", "--concurrent", "1")
    with socket.create_connection(("127.0.0.1", tcp_port), timeout=20) as held:
        held.sendall(b"hold\n")
        assert held.recv(100) == b"hold\n"  # this connection holds the only slot
        # a second client is closed at once, without an echo
        assert peers.nc_tcp(tcp_port, b"refused?\n") == b""
        held.sendall(b"still here\n")
        assert held.recv(100) == b"still here\n"
    # the slot frees up once the first connection is gone
    Poll.until(lambda: peers.nc_tcp(tcp_port, b"again\n") == b"again\n", what="a free slot")


def test_echo_tcp_timeout_closes_an_idle_connection(
    spawn: Spawn, pyrama_cli: list[str], tcp_port: int
) -> None:
    serve(spawn, pyrama_cli, "echo", "--mode=tcp", "--bind", f":{tcp_port}", "--timeout", "0.5")
    with socket.create_connection(("127.0.0.1", tcp_port), timeout=20) as s:
        s.sendall(b"x")
        assert s.recv(10) == b"x"
        # we send nothing more: the server's deadline ends the connection (20 s hang guard)
        rest = b""
        try:
            while chunk := s.recv(10):
                rest += chunk
        except ConnectionResetError:
            pass
        assert rest == b""


# -- echo over UDP ------------------------------------------------------------------------


def test_echo_udp_socat(spawn: Spawn, pyrama_cli: list[str], udp_port: int, peers: Peers) -> None:
    r = serve(spawn, pyrama_cli, "echo", "--mode", "udp", "--bind", f"127.0.0.1:{udp_port}")
    assert r.port == udp_port
    assert peers.socat_udp(udp_port, b"hello over udp\n", 15) == b"hello over udp\n"


def test_echo_udp_nc(spawn: Spawn, pyrama_cli: list[str], udp_port: int, peers: Peers) -> None:
    serve(spawn, pyrama_cli, "echo", "--mode", "udp", "--bind", f"127.0.0.1:{udp_port}")
    assert peers.nc_udp(udp_port, b"ping\n", 5) == b"ping\n"


def test_echo_udp_keeps_datagram_boundaries(
    spawn: Spawn, pyrama_cli: list[str], udp_port: int
) -> None:
    serve(spawn, pyrama_cli, "echo", "--mode", "udp", "--bind", f"127.0.0.1:{udp_port}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(20)
        s.connect(("127.0.0.1", udp_port))
        for n in (1, 512, 1400, 8000, 60000):
            payload = os.urandom(n)
            s.send(payload)
            assert s.recv(65535) == payload


# -- discard ------------------------------------------------------------------------------


def test_discard_tcp_swallows_everything(
    spawn: Spawn, pyrama_cli: list[str], tcp_port: int, peers: Peers
) -> None:
    r = serve(spawn, pyrama_cli, "discard", "--mode", "tcp", "--bind", f"127.0.0.1:{tcp_port}")
    assert peers.nc_tcp(tcp_port, os.urandom(8 << 20)) == b""
    assert peers.socat_tcp(tcp_port, b"more\n") == b""
    assert r.proc.poll() is None  # still serving


def test_discard_udp_never_answers(
    spawn: Spawn, pyrama_cli: list[str], udp_port: int, peers: Peers
) -> None:
    r = serve(spawn, pyrama_cli, "discard", "--mode", "udp", "--bind", f"127.0.0.1:{udp_port}")
    echo = serve(spawn, pyrama_cli, "echo", "--mode", "udp", "--bind", "127.0.0.1:0")
    # one client socket talks to both: the echo answers it, the discard server never does
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(20)
        s.bind(("127.0.0.1", 0))
        for i in range(5):
            s.sendto(f"void {i}".encode(), ("127.0.0.1", udp_port))
        s.sendto(b"marker", ("127.0.0.1", echo.port))
        # the echo's reply comes back; nothing from the discard server arrived before it
        data, addr = s.recvfrom(65535)
        assert (data, addr) == (b"marker", ("127.0.0.1", echo.port))
    assert peers.socat_udp(echo.port, b"socat\n", 6) == b"socat\n"
    assert r.proc.poll() is None
