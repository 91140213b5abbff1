"""examples/http_connect_proxy.py: curl through the proxy (auth, labels, plain, CONNECT, errors)."""

from __future__ import annotations

import json
import signal
import socket
from collections.abc import Callable
from pathlib import Path

from itsupport import Peers, Spawn, make_pki

from pyrama_net import Basic
from pyrama_testing import require_peer


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(data)
        out = b""
        while b"\r\n\r\n" not in out:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out


def test_curl_through_the_proxy(
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
    proxy = spawn(example("http_connect_proxy"), env={"PORT": "0"})
    via = ["-x", f"http://127.0.0.1:{proxy.port}", "--proxy-user", "john:secret"]

    # plain http: absolute-form forwarding; hop-by-hop fields never reach the origin
    body = peers.curl(
        f"http://127.0.0.1:{origin.port}/plain?x=1", *via,
        "-H", "X-Custom-HEADER: Kept", "-H", "Connection: X-Hop", "-H", "X-Hop: secret",
        "-H", "Keep-Alive: 300",
    )  # fmt: skip
    seen = json.loads(body)
    assert seen["uri"] == "/plain?x=1"
    names = [n for n, _ in seen["headers"]]
    assert ["X-Custom-HEADER", "Kept"] in seen["headers"]
    lowered = {n.lower() for n in names}
    assert not lowered & {"x-hop", "keep-alive", "connection", "proxy-authorization",
                          "proxy-connection"}  # fmt: skip
    assert names[0] == "Host"  # order and case as curl sent them
    proxy.wait_for(r"proxy request.*method=GET.*/plain.*user=john")

    # https: a CONNECT tunnel to our TLS origin (curl verifies it against the test CA)
    body = peers.curl(f"https://127.0.0.1:{secure.port}/tls", *via, "--cacert", str(pki.ca))
    assert json.loads(body)["path"] == "/tls"
    proxy.wait_for(rf"proxy request.*method=CONNECT.*target=127.0.0.1:{secure.port}")
    # and with -k (no verification), HTTP/1.1 inside the tunnel
    body = peers.curl(f"https://127.0.0.1:{secure.port}/k", *via, "-k", "--http1.1")
    assert json.loads(body)["version"] == "HTTP/1.1"

    # username labels reach the request as an extension (the pseudo API shows them)
    body = peers.curl(
        "http://echo.example.internal/foo/bar", "-x", f"http://127.0.0.1:{proxy.port}",
        "--proxy-user", "john-priority-high-red-blue:secret",
    )  # fmt: skip
    assert json.loads(body) == {
        "method": "GET",
        "path": "/foo/bar",
        "user": "john",
        "username_labels": ["red", "blue"],
        "user_priority": "high",
    }
    proxy.wait_for(r"proxy request.*priority=high.*user=john")

    # wrong or missing credentials, a refused label: 407 with a challenge
    curl = require_peer("curl")
    for user in (["--proxy-user", "john:wrong"], [], ["--proxy-user", "john-priority-x:secret"]):
        out = peers.run(
            [curl, "-sS", "-o", "/dev/null", "-D", "-", "--max-time", "20",
             "-x", f"http://127.0.0.1:{proxy.port}", *user, f"http://127.0.0.1:{origin.port}/"]
        )  # fmt: skip
        assert out.stdout.startswith(b"HTTP/1.1 407"), out
        assert b'Proxy-Authenticate: Basic realm="pyrama"' in out.stdout
    out = peers.run(
        [curl, "-sS", "--max-time", "20", "--proxy-user", "john:wrong", "-x",
         f"http://127.0.0.1:{proxy.port}", "-k", f"https://127.0.0.1:{secure.port}/"]
    )  # fmt: skip
    assert out.returncode != 0
    assert b"407" in out.stderr

    # malformed CONNECT targets are refused with 400 (after authentication)
    auth = Basic("john", "secret").encode_header_value()
    for target in ("127.0.0.1", "/etc/passwd", "user@127.0.0.1:443", "bad_host!:443",
                   "http://127.0.0.1:443/", "127.0.0.1:0"):  # fmt: skip
        reply = _raw(
            proxy.port,
            f"CONNECT {target} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: {auth}\r\n\r\n".encode(),
        )
        assert reply.startswith(b"HTTP/1.1 400"), (target, reply)
    # an unreachable target is 502
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    reply = _raw(
        proxy.port,
        f"CONNECT 127.0.0.1:{dead} HTTP/1.1\r\nHost: x\r\n"
        f"Proxy-Authorization: {auth}\r\n\r\n".encode(),
    )
    assert reply.startswith(b"HTTP/1.1 502"), reply

    proxy.signal(signal.SIGTERM)
    assert proxy.wait_exit() == 0
    assert "stopped" in proxy.output()
