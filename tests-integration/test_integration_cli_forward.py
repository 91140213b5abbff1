"""`pyrama serve forward`: curl through it to an HTTP server, socat through it over TCP/UDP."""

from __future__ import annotations

import hashlib
import os
import socket
import sys
from pathlib import Path

import pytest
from itsupport import LISTENING, Peers, Poll, Running, Spawn

from pyrama_testing import free_port, require_peer


@pytest.fixture
def http_root(tmp_path: Path) -> Path:
    """A directory with a small text file and a large random file."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "hello.txt").write_bytes(b"hello through pyrama\n")
    (root / "big.bin").write_bytes(os.urandom(24 << 20))
    return root


@pytest.fixture
def http_server(spawn: Spawn, http_root: Path) -> Running:
    """``python -m http.server`` on 127.0.0.1 serving *http_root*."""
    port = free_port()
    return spawn(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        ready=r"Serving HTTP on 127\.0\.0\.1 port (?P<port>\d+)",
        env={"PYTHONUNBUFFERED": "1"},
        cwd=http_root,
    )


def forward(spawn: Spawn, cli: list[str], to: str, *extra: str) -> Running:
    """Start ``pyrama serve forward --to <to>`` on a free loopback port."""
    return spawn([*cli, "serve", "forward", "--bind", "127.0.0.1:0", "--to", to, *extra])


def test_curl_small_and_large_file_through_forward(
    spawn: Spawn, pyrama_cli: list[str], http_server: Running, http_root: Path, peers: Peers
) -> None:
    fwd = forward(spawn, pyrama_cli, f"127.0.0.1:{http_server.port}")
    base = f"http://127.0.0.1:{fwd.port}"
    assert peers.curl(f"{base}/hello.txt") == b"hello through pyrama\n"
    body = peers.curl(f"{base}/big.bin")
    assert len(body) == 24 << 20
    assert (
        hashlib.sha256(body).digest()
        == hashlib.sha256((http_root / "big.bin").read_bytes()).digest()
    )


def test_curl_parallel_downloads_through_forward(
    spawn: Spawn,
    pyrama_cli: list[str],
    http_server: Running,
    http_root: Path,
    peers: Peers,
    tmp_path: Path,
) -> None:
    fwd = forward(spawn, pyrama_cli, f"127.0.0.1:{http_server.port}")
    url = f"http://127.0.0.1:{fwd.port}/big.bin"
    outs = [tmp_path / f"dl{i}.bin" for i in range(4)]
    args: list[str] = ["--parallel", "--parallel-max", "4"]
    for out in outs:
        args += ["-o", str(out)]
    peers.curl(url, *args, *([url] * (len(outs) - 1)))
    want = (http_root / "big.bin").read_bytes()
    for out in outs:
        assert out.read_bytes() == want


def test_socat_bidirectional_bulk_through_forward(
    spawn: Spawn, pyrama_cli: list[str], peers: Peers
) -> None:
    socat = require_peer("socat")
    sink_port = free_port()
    # a third-party echo sink: socat PIPE, one child per connection
    spawn(
        [socat, f"TCP-LISTEN:{sink_port},bind=127.0.0.1,fork,reuseaddr", "PIPE"],
        ready=None,
    )
    fwd = forward(spawn, pyrama_cli, f"127.0.0.1:{sink_port}")
    Poll.tcp_listening(sink_port)
    payload = os.urandom(16 << 20)
    assert peers.socat_tcp(fwd.port, payload) == payload


def test_forward_to_a_closed_port_closes_the_client_and_keeps_serving(
    spawn: Spawn, pyrama_cli: list[str], peers: Peers
) -> None:
    dead = free_port()  # nothing listens here
    fwd = forward(spawn, pyrama_cli, f"127.0.0.1:{dead}")
    assert peers.nc_tcp(fwd.port, b"anyone?\n") == b""
    assert peers.nc_tcp(fwd.port, b"still?\n") == b""
    assert fwd.proc.poll() is None


def test_forward_udp_with_socat_client_and_socat_upstream(
    spawn: Spawn, pyrama_cli: list[str], peers: Peers
) -> None:
    socat = require_peer("socat")
    upstream = free_port(socket.SOCK_DGRAM)
    spawn(
        [socat, f"UDP-RECVFROM:{upstream},bind=127.0.0.1,fork", "PIPE"],
        ready=None,
    )
    fwd = spawn(
        [
            *pyrama_cli,
            "serve",
            "forward",
            "--mode",
            "udp",
            "--bind",
            "127.0.0.1:0",
            "--to",
            f"127.0.0.1:{upstream}",
        ],
        ready=LISTENING,
    )
    assert peers.socat_udp(fwd.port, b"udp via pyrama\n", 15) == b"udp via pyrama\n"
    # a second client gets its own flow, and its own answer
    assert peers.nc_udp(fwd.port, b"second\n", 7) == b"second\n"
