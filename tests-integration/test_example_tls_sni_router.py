"""examples/tls_sni_router.py: connections reach different TLS backends by SNI, untouched."""

from __future__ import annotations

import re
import signal
import socket
from collections.abc import Callable
from pathlib import Path

from itsupport import Peers, Spawn, make_pki

from pyrama_testing import free_port, require_peer


def test_routes_to_openssl_backends_by_name(
    spawn: Spawn, example: Callable[[str], list[str]], tmp_path: Path, peers: Peers
) -> None:
    openssl = require_peer("openssl")
    ports = {}
    for name in ("a.test", "b.example.test"):
        pki = make_pki(tmp_path / name, [name], ca_name=f"CA of {name}")
        ports[name] = free_port()
        spawn(
            [openssl, "s_server", "-accept", f"127.0.0.1:{ports[name]}", "-cert", str(pki.cert),
             "-key", str(pki.key), "-www"],
            ready=r"ACCEPT",
        )  # fmt: skip
    router = spawn(
        [*example("tls_sni_router"), "0", f"a.test=127.0.0.1:{ports['a.test']}",
         f"*.example.test=127.0.0.1:{ports['b.example.test']}"]
    )  # fmt: skip
    assert "demo_backends=False" in router.output()

    # each client sees its backend's own certificate: the router did not terminate TLS
    text = peers.s_client(router.port, "-servername", "a.test", data=b"")
    assert re.search(r"subject=CN ?= ?a\.test", text), text
    assert re.search(r"issuer=CN ?= ?CA of a\.test", text), text
    text = peers.s_client(router.port, "-servername", "b.example.test", data=b"")
    assert re.search(r"subject=CN ?= ?b\.example\.test", text), text
    router.wait_for(r"routed.*pattern='?\*\.example\.test.*sni=b\.example\.test")
    # a whole HTTP exchange through the router with curl
    page = peers.curl(
        f"https://a.test:{router.port}/", "-k", "--resolve", f"a.test:{router.port}:127.0.0.1"
    )
    assert b"s_server" in page

    # no route, no SNI, not TLS: closed and logged, the router goes on
    assert "subject=" not in peers.s_client(router.port, "-servername", "c.test", data=b"")
    router.wait_for(r"no route.*sni=c\.test")
    assert "subject=" not in peers.s_client(router.port, "-noservername", data=b"")
    router.wait_for(r"no route.*sni=None")
    with socket.create_connection(("127.0.0.1", router.port), timeout=20) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert s.recv(100) == b""
    router.wait_for(r"not tls")
    text = peers.s_client(router.port, "-servername", "a.test", data=b"")
    assert re.search(r"subject=CN ?= ?a\.test", text), text

    router.signal(signal.SIGTERM)
    assert router.wait_exit() == 0


def test_demo_backends(spawn: Spawn, example: Callable[[str], list[str]], peers: Peers) -> None:
    router = spawn(example("tls_sni_router"), env={"PORT": "0", "ROUTES": ""})
    assert "demo_backends=True" in router.output()
    for name, body in (("a.localhost", b"backend a\n"), ("b.localhost", b"backend b\n")):
        got = peers.curl(
            f"https://{name}:{router.port}/", "-k", "--resolve", f"{name}:{router.port}:127.0.0.1"
        )
        assert got == body
