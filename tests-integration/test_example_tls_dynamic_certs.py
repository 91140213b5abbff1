"""examples/tls_dynamic_certs.py: curl and openssl s_client get a certificate per SNI."""

from __future__ import annotations

import re
import signal
from collections.abc import Callable
from pathlib import Path

from itsupport import Peers, Spawn


def test_a_certificate_per_name_from_one_ca(
    spawn: Spawn, example: Callable[[str], list[str]], tmp_path: Path, peers: Peers
) -> None:
    ca_dir = tmp_path / "ca"
    server = spawn(example("tls_dynamic_certs"), env={"PORT": "0", "CA_DIR": str(ca_dir)})
    ca = ca_dir / "ca-cert.pem"
    assert f"ca={ca}" in server.output()
    port = server.port

    def get(name: str) -> bytes:
        return peers.curl(
            f"https://{name}:{port}/", "--cacert", str(ca), "--resolve", f"{name}:{port}:127.0.0.1"
        )

    assert get("shop.test") == (
        b"hello, shop.test (certificate CN=shop.test, issued by CN=pyrama example CA)\n"
    )
    assert get("api.example.test").startswith(b"hello, api.example.test (certificate CN=api.")
    assert get("shop.test").startswith(b"hello, shop.test")
    # two names minted, the second request for shop.test came from the cache
    m = server.wait_for(r"served.*issued=2.*sni=shop\.test")
    assert "issued=2" in m.string

    # openssl sees the minted leaf and the CA as its issuer
    text = peers.s_client(port, "-servername", "other.test", "-CAfile", str(ca), data=b"")
    assert re.search(r"subject=CN ?= ?other\.test", text), text
    assert re.search(r"issuer=CN ?= ?pyrama example CA", text), text
    assert "Verify return code: 0 (ok)" in text

    # a garbage name is never signed; no SNI at all is refused too
    bad = peers.s_client(port, "-servername", "bad_name!", data=b"")
    assert "subject=" not in bad
    server.wait_for(r"tls handshake failed.*bad_name!")
    nosni = peers.s_client(port, "-noservername", data=b"")
    assert "subject=" not in nosni
    server.wait_for(r"tls handshake failed.*no SNI")

    # the CA persists: a restart with the same CA_DIR loads it, old trust still works
    server.signal(signal.SIGTERM)
    assert server.wait_exit() == 0
    again = spawn(example("tls_dynamic_certs"), env={"PORT": "0", "CA_DIR": str(ca_dir)})
    port = again.port
    assert get("shop.test").startswith(b"hello, shop.test")
