"""examples/https_web_service_with_hsts.py: curl is redirected to HTTPS, sees HSTS, decodes."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

from itsupport import Peers, Spawn

from pyrama_testing import require_peer


def test_redirect_hsts_and_compression(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers, tmp_path: Path
) -> None:
    cert = tmp_path / "cert.pem"
    r = spawn(
        example("https_web_service_with_hsts"),
        env={"PORT": "0", "HTTPS_PORT": "0", "CERT_OUT": str(cert)},
        ready=r"http listening.*127\.0\.0\.1:(?P<port>\d+)",
    )
    http_port = r.port
    https_port = int(r.wait_for(r"http listening.*redirect_to=(\d+)").group(1))
    curl = require_peer("curl")
    resolve = [
        "--resolve", f"localhost:{http_port}:127.0.0.1",
        "--resolve", f"localhost:{https_port}:127.0.0.1",
    ]  # fmt: skip

    # the plain listener redirects, keeping host and path
    out = peers.run(
        [curl, "-si", "--max-time", "30", *resolve, f"http://localhost:{http_port}/api/time?x=1"]
    )
    head = out.stdout.decode()
    assert head.startswith("HTTP/1.1 301")
    assert f"location: https://localhost:{https_port}/api/time?x=1" in head.lower()
    post = peers.run(
        [curl, "-si", "-X", "POST", "--max-time", "30", f"http://127.0.0.1:{http_port}/form"]
    )
    assert post.stdout.startswith(b"HTTP/1.1 308")

    # curl -L follows to HTTPS and gets the page with HSTS
    out = peers.run(
        [curl, "-sSL", "-i", "--max-time", "30", "--cacert", str(cert), *resolve,
         f"http://localhost:{http_port}/api/time"]
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert "strict-transport-security: max-age=31536000; includesubdomains" in text.lower()
    assert '"unix":' in text

    # curl --compressed: Content-Encoding on the wire (-v), a decoded body
    out = peers.run(
        [curl, "-sS", "-v", "--compressed", "--http1.1", "--max-time", "30", "--cacert", str(cert),
         *resolve, f"https://localhost:{https_port}/"]
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    verbose = out.stderr.decode().lower()
    assert "< content-encoding: " in verbose
    assert "< vary: accept-encoding" in verbose
    assert out.stdout.startswith(b"<!doctype html>")
    assert b"Hello over HTTPS" in out.stdout
    # and over HTTP/2
    out = peers.run(
        [curl, "-sS", "-v", "--compressed", "--http2", "--max-time", "30", "--cacert", str(cert),
         *resolve, f"https://localhost:{https_port}/"]
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "< content-encoding: " in out.stderr.decode().lower()
    assert b"Hello over HTTPS" in out.stdout
    r.signal(signal.SIGTERM)
    assert r.wait_exit() == 0
