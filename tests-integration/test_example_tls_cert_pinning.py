"""examples/tls_cert_pinning.py: the demo, and pinning an openssl s_server by a pin that
openssl itself computed."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from itsupport import Peers, Spawn, make_pki

from pyrama_testing import free_port, require_peer


def test_demo_accepts_the_pinned_key_and_refuses_others(
    example: Callable[[str], list[str]], peers: Peers
) -> None:
    out = peers.run([*example("tls_cert_pinning"), "0"], timeout=60)
    text = out.stdout.decode()
    assert out.returncode == 0, text + out.stderr.decode()
    lines = text.splitlines()
    assert lines[0].startswith("server listening address=127.0.0.1:")
    pin = lines[0].split("spki_sha256=")[1]
    assert lines[1] == f"pinned to the server's key: accepted (TLSv1.3, CN=localhost, {pin})"
    assert lines[2].startswith(f"pinned to another key: refused: server key {pin} matches none")
    assert lines[3].startswith("same name, same CA, new key: refused: server key sha256//")
    assert pin not in lines[3]


def openssl_pin(cert: Path) -> str:
    """The SPKI SHA-256 pin of *cert*, computed by openssl (an independent implementation)."""
    openssl = require_peer("openssl")
    pub = subprocess.run(
        [openssl, "x509", "-in", str(cert), "-pubkey", "-noout"], capture_output=True, check=True
    ).stdout
    der = subprocess.run(
        [openssl, "pkey", "-pubin", "-outform", "DER"], input=pub, capture_output=True, check=True
    ).stdout
    digest = subprocess.run(
        [openssl, "dgst", "-sha256", "-binary"], input=der, capture_output=True, check=True
    ).stdout
    b64 = subprocess.run(
        [openssl, "base64", "-A"], input=digest, capture_output=True, check=True
    ).stdout
    return "sha256//" + b64.decode().strip()


def test_pin_an_openssl_server(
    spawn: Spawn, example: Callable[[str], list[str]], tmp_path: Path, peers: Peers
) -> None:
    openssl = require_peer("openssl")
    pki = make_pki(tmp_path)
    port = free_port()
    spawn(
        [openssl, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(pki.cert),
         "-key", str(pki.key), "-www"],
        ready=r"ACCEPT",
    )  # fmt: skip
    pin = openssl_pin(pki.cert)
    ok = peers.run([*example("tls_cert_pinning"), f"127.0.0.1:{port}", pin])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.decode().startswith("accepted (")
    assert pin in ok.stdout.decode()
    wrong = peers.run([*example("tls_cert_pinning"), f"127.0.0.1:{port}", openssl_pin(pki.ca)])
    assert wrong.returncode == 1
    assert wrong.stdout.decode().startswith(f"refused: server key {pin} matches none")
