"""examples/tls_termination.py: curl and openssl s_client through the TLS termination proxy."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from itsupport import Peers, Spawn

from pyrama_testing import free_port, require_peer


def test_curl_and_s_client_through_the_terminator(
    spawn: Spawn, example: Callable[[str], list[str]], tmp_path: Path, peers: Peers
) -> None:
    (tmp_path / "index.txt").write_bytes(b"plain origin, TLS in front\n")
    big = os.urandom(8 << 20)
    (tmp_path / "big.bin").write_bytes(big)
    http_port = free_port()
    spawn(
        [sys.executable, "-m", "http.server", str(http_port), "--bind", "127.0.0.1"],
        ready=r"Serving HTTP",
        cwd=tmp_path,
    )
    cert_out = tmp_path / "cert.pem"
    proxy = spawn(
        example("tls_termination"),
        env={"PORT": "0", "TARGET": f"127.0.0.1:{http_port}", "CERT_OUT": str(cert_out)},
    )
    assert f"cert={cert_out}" in proxy.output()
    url = f"https://localhost:{proxy.port}"
    trust = ["--cacert", str(cert_out), "--resolve", f"localhost:{proxy.port}:127.0.0.1"]
    assert peers.curl(f"{url}/index.txt", *trust) == b"plain origin, TLS in front\n"
    body = peers.curl(f"{url}/big.bin", *trust, "--http1.1")
    assert hashlib.sha256(body).digest() == hashlib.sha256(big).digest()
    line = proxy.wait_for(r"terminated.*down=\d{7,}").string
    assert "alpn=http/1.1" in line
    assert "sni=localhost" in line
    assert "version=TLSv1.3" in line

    # openssl s_client: the self-signed certificate verifies as its own trust anchor
    text = peers.s_client(
        proxy.port, "-servername", "localhost", "-CAfile", str(cert_out), "-alpn", "h2,http/1.1",
        data=b"GET /index.txt HTTP/1.0\r\n\r\n", until=b"TLS in front",
    )  # fmt: skip
    assert "Verify return code: 0 (ok)" in text
    assert "ALPN protocol: http/1.1" in text  # h2 offered first, but only http/1.1 is ours
    # the logged pin is the certificate's
    pin = re.search(r"spki_sha256='?(sha256//[A-Za-z0-9+/=]+)", proxy.output())
    assert pin is not None
    assert peers.curl(f"{url}/index.txt", *trust, "--pinnedpubkey", pin.group(1)) != b""

    # plain HTTP on the TLS port: closed and logged, the proxy goes on
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"plain origin" not in s.recv(65536)
    proxy.wait_for(r"tls handshake failed")
    assert peers.curl(f"{url}/index.txt", *trust) == b"plain origin, TLS in front\n"

    proxy.signal(signal.SIGTERM)
    assert proxy.wait_exit() == 0
    assert "stopped" in proxy.output()


def test_dead_target_is_logged(
    spawn: Spawn, example: Callable[[str], list[str]], tmp_path: Path, peers: Peers
) -> None:
    dead = free_port()
    proxy = spawn([*example("tls_termination"), "0", f"127.0.0.1:{dead}"])
    cert = re.search(r"cert=(\S+)", proxy.output())
    assert cert is not None
    out = peers.run(
        [require_peer("curl"), "-sS", "--max-time", "20", "--cacert", cert.group(1), "--resolve",
         f"localhost:{proxy.port}:127.0.0.1", f"https://localhost:{proxy.port}/"]
    )  # fmt: skip
    assert out.returncode != 0
    proxy.wait_for(r"target unreachable")
    assert proxy.proc.poll() is None
