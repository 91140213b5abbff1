"""examples/https_connect_proxy.py: curl through the HTTPS proxy (TLS to the proxy itself)."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

from itsupport import Peers, Spawn, make_pki

from pyrama_testing import require_peer


def test_curl_through_the_https_proxy(
    spawn: Spawn,
    example: Callable[[str], list[str]],
    pyrama_cli: list[str],
    tmp_path: Path,
    peers: Peers,
) -> None:
    pki = make_pki(tmp_path / "pki")
    origin = spawn([*pyrama_cli, "serve", "echo", "--bind", "127.0.0.1:0"])
    secure = spawn(
        [*pyrama_cli, "serve", "echo", "--secure", *pki.server_flags, "--bind", "127.0.0.1:0"]
    )
    cert_out = tmp_path / "proxy-cert.pem"
    proxy = spawn(example("https_connect_proxy"), env={"PORT": "0", "CERT_OUT": str(cert_out)})
    assert f"cert={cert_out}" in proxy.output()
    user = ["--proxy-user", "john:secret"]

    # the proxy's certificate verified with --proxy-cacert; a plain http origin behind it
    body = peers.curl(
        f"http://127.0.0.1:{origin.port}/over-tls", "--proxy", f"https://127.0.0.1:{proxy.port}",
        "--proxy-cacert", str(cert_out), *user, "-H", "Connection: X-Gone", "-H", "X-Gone: 1",
    )  # fmt: skip
    seen = json.loads(body)
    assert seen["uri"] == "/over-tls"
    assert "x-gone" not in {n.lower() for n, _ in seen["headers"]}
    proxy.wait_for(r"proxy request.*method=GET.*tls=TLSv1\.[23]")

    # --proxy-insecure, and a CONNECT tunnel to a TLS origin: TLS inside TLS
    body = peers.curl(
        f"https://127.0.0.1:{secure.port}/tunnel", "--proxy", f"https://127.0.0.1:{proxy.port}",
        "--proxy-insecure", *user, "--cacert", str(pki.ca),
    )  # fmt: skip
    assert json.loads(body)["path"] == "/tunnel"
    proxy.wait_for(rf"proxy request.*method=CONNECT.*target=127.0.0.1:{secure.port}")

    # an untrusted proxy certificate fails the handshake; wrong credentials get 407
    curl = require_peer("curl")
    out = peers.run(
        [curl, "-sS", "--max-time", "20", "--proxy", f"https://127.0.0.1:{proxy.port}", *user,
         f"http://127.0.0.1:{origin.port}/"]
    )  # fmt: skip
    assert out.returncode != 0
    out = peers.run(
        [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", "--proxy",
         f"https://127.0.0.1:{proxy.port}", "--proxy-insecure", "--proxy-user", "john:nope",
         f"http://127.0.0.1:{origin.port}/"]
    )  # fmt: skip
    assert out.stdout == b"407"

    proxy.signal(signal.SIGTERM)
    assert proxy.wait_exit() == 0
    assert "stopped" in proxy.output()
