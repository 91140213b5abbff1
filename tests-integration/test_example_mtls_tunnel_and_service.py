"""examples/mtls_tunnel_and_service.py: curl through the tunnel entry, and straight at the
mutual-TLS service with and without a client certificate."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from itsupport import Peers, Spawn

from pyrama_testing import require_peer


def test_client_certificates_required_and_presented_by_the_entry(
    spawn: Spawn, example: Callable[[str], list[str]], tmp_path: Path, peers: Peers
) -> None:
    pki = tmp_path / "pki"
    r = spawn(
        example("mtls_tunnel_and_service"),
        env={"PORT": "0", "ENTRY_PORT": "0", "PKI_DIR": str(pki)},
        ready=r"service listening.*?address=127\.0\.0\.1:(?P<port>\d+)",
    )
    service = r.port
    entry = int(r.wait_for(r"entry listening.*?address=127\.0\.0\.1:(?P<port>\d+)")["port"])
    assert f"ca={pki / 'ca.pem'}" in r.output()

    # a plain client through the entry: mutual TLS happens between entry and service
    assert peers.curl(f"http://127.0.0.1:{entry}/") == b"hello, CN=client.example.test\n"
    r.wait_for(r"served.*client='?CN=client\.example\.test")

    url = f"https://localhost:{service}/"
    trust = ["--cacert", str(pki / "ca.pem"), "--resolve", f"localhost:{service}:127.0.0.1"]
    # curl with the client certificate: accepted
    cert = ["--cert", str(pki / "client.pem"), "--key", str(pki / "client-key.pem")]
    assert peers.curl(url, *trust, *cert) == b"hello, CN=client.example.test\n"
    # without one: refused at the handshake (curl reports the certificate_required alert)
    curl = require_peer("curl")
    out = subprocess.run(
        [curl, "-sS", "--max-time", "20", *trust, url], capture_output=True, timeout=60, check=False
    )
    assert out.returncode != 0
    assert out.stdout == b""
    r.wait_for(r"tls handshake failed.*did not return a certificate")
    # openssl s_client without a certificate is refused too; the service keeps going
    text = peers.s_client(
        service,
        "-servername",
        "localhost",
        "-CAfile",
        str(pki / "ca.pem"),
        data=b"GET / HTTP/1.0\r\n\r\n",
    )
    assert "hello" not in text
    assert peers.curl(url, *trust, *cert) == b"hello, CN=client.example.test\n"

    r.signal(signal.SIGTERM)
    assert r.wait_exit() == 0
    assert "stopped" in r.output()
