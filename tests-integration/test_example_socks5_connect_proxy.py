"""examples/socks5_connect_proxy.py: curl through it with --socks5 / --socks5-hostname."""

from __future__ import annotations

import hashlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from itsupport import Peers, Running, Spawn

from pyrama_testing import free_port, require_peer


@pytest.fixture
def origin(spawn: Spawn, tmp_path: Path) -> tuple[Running, int, bytes]:
    """A plain HTTP origin on 127.0.0.1 serving index.txt and a 4 MiB big.bin."""
    (tmp_path / "index.txt").write_bytes(b"via socks5\n")
    big = os.urandom(4 << 20)
    (tmp_path / "big.bin").write_bytes(big)
    port = free_port()
    proc = spawn(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        ready=r"Serving HTTP",
        cwd=tmp_path,
    )
    return proc, port, big


def curl_fails(peers: Peers, *args: str) -> tuple[int, str]:
    curl = require_peer("curl")
    out = peers.run([curl, "-sS", "--max-time", "20", *args], timeout=60)
    return out.returncode, out.stderr.decode(errors="replace")


def test_curl_socks5_and_socks5_hostname_without_auth(
    spawn: Spawn,
    example: Callable[[str], list[str]],
    peers: Peers,
    origin: tuple[Running, int, bytes],
) -> None:
    _, port, big = origin
    proxy = spawn(example("socks5_connect_proxy"), env={"PORT": "0"})
    assert "auth=none" in proxy.output()
    at = f"127.0.0.1:{proxy.port}"
    # curl resolves (socks5) / the proxy resolves "localhost" (socks5h)
    assert peers.curl(f"http://127.0.0.1:{port}/index.txt", "--socks5", at) == b"via socks5\n"
    got = peers.curl(f"http://localhost:{port}/index.txt", "--socks5-hostname", at)
    assert got == b"via socks5\n"
    body = peers.curl(f"http://127.0.0.1:{port}/big.bin", "--socks5", at)
    assert hashlib.sha256(body).digest() == hashlib.sha256(big).digest()

    # a closed port is answered with reply 0x05 (connection refused), which curl reports
    dead = free_port()
    code, err = curl_fails(peers, "--socks5", at, f"http://127.0.0.1:{dead}/")
    assert code == 97, err
    assert "(5)" in err
    proxy.wait_for(r"socks5 connect failed.*CONNECTION_REFUSED")

    proxy.signal(signal.SIGTERM)
    assert proxy.wait_exit() == 0


def test_curl_with_proxy_user_and_wrong_credentials(
    spawn: Spawn,
    example: Callable[[str], list[str]],
    peers: Peers,
    origin: tuple[Running, int, bytes],
) -> None:
    http, port, _ = origin
    proxy = spawn(example("socks5_connect_proxy"), env={"PORT": "0", "AUTH": "john:s3cret"})
    at = f"127.0.0.1:{proxy.port}"
    url = f"http://localhost:{port}/index.txt"
    got = peers.curl(url, "--socks5-hostname", at, "--proxy-user", "john:s3cret")
    assert got == b"via socks5\n"
    got = peers.curl(
        f"http://127.0.0.1:{port}/index.txt", "--socks5", at, "--proxy-user", "john:s3cret"
    )
    assert got == b"via socks5\n"
    assert http.output().count("GET /index.txt") == 2

    code, err = curl_fails(peers, "--socks5-hostname", at, "--proxy-user", "john:nope", url)
    assert code == 97, err
    assert "rejected by the SOCKS5 server (1 1)" in err  # RFC 1929 version 1, status 1
    code, err = curl_fails(peers, "--socks5-hostname", at, url)  # no credentials at all
    assert code == 97, err
    assert "no authentication method was acceptable" in err.lower(), err
    # nothing was forwarded for the refused clients
    assert http.output().count("GET /index.txt") == 2
    assert proxy.proc.poll() is None
