"""TLS interop with real peers: openssl s_client, curl, openssl s_server and nginx.

* their clients against our servers (``pyrama serve echo --mode tls``, ``serve stunnel exit``
  in front of ``python -m http.server``): ALPN, SNI, verification, mutual TLS;
* our clients (``pyrama probe tls``, ``serve stunnel entry``) against their servers;
* TLS inside TLS through our entry -> exit tunnel;
* bad input on our TLS port (plain HTTP, garbage, a stalled handshake): each ends in a clean
  close and a log line, and the server keeps serving.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from itsupport import Peers, Pki, Poll, Running, Spawn, make_pki

from pyrama_testing import free_port, require_peer


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def origin(spawn: Spawn, tmp_path: Path) -> int:
    """A plain HTTP/1.1 origin (python -m http.server) serving index.txt and a 4 MiB file."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.txt").write_bytes(b"hello from the origin\n")
    (www / "big.bin").write_bytes(os.urandom(4 << 20))
    port = free_port()
    spawn(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-p", "HTTP/1.1"],
        ready=r"Serving HTTP",
        cwd=www,
    )
    return port


def curl_run(*args: str) -> subprocess.CompletedProcess[bytes]:
    curl = require_peer("curl")
    return subprocess.run(
        [curl, "-sS", "--max-time", "20", *args], capture_output=True, timeout=60, check=False
    )


def probe(cli: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli, "probe", "tls", *args], capture_output=True, text=True, timeout=60, check=False
    )


# -- their clients, our servers -----------------------------------------------------------------


def test_curl_and_s_client_through_stunnel_exit(
    spawn: Spawn, pyrama_cli: list[str], pki: Pki, origin: int, peers: Peers
) -> None:
    exit_ = spawn(
        [
            *pyrama_cli, "serve", "stunnel", "exit", "--bind", "127.0.0.1:0",
            "--forward", f"127.0.0.1:{origin}", *pki.server_flags,
            "--alpn", "http/1.1", "--handshake-timeout", "1", "-v",
        ]
    )  # fmt: skip
    port = exit_.port
    resolve = f"localhost:{port}:127.0.0.1"
    url = f"https://localhost:{port}"
    # curl verifies our chain and name (SNI localhost), ALPN picks http/1.1
    out = curl_run(
        "--cacert", str(pki.ca), "--resolve", resolve, "-w", "|%{http_version}", f"{url}/index.txt"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"hello from the origin\n|1.1"
    exit_.wait_for(r"tls accepted.*alpn=http/1\.1.*sni=localhost")
    # HTTP/1.1 forced, and no ALPN at all: still served
    big = peers.curl(f"{url}/big.bin", "--cacert", str(pki.ca), "--resolve", resolve, "--http1.1")
    assert len(big) == 4 << 20
    assert (
        peers.curl(f"{url}/index.txt", "--cacert", str(pki.ca), "--resolve", resolve, "--no-alpn")
        == b"hello from the origin\n"
    )
    # the IP address is in the certificate too: no SNI then
    assert (
        peers.curl(f"https://127.0.0.1:{port}/index.txt", "--cacert", str(pki.ca))
        == b"hello from the origin\n"
    )
    # a name the certificate does not cover fails verification on the client
    wrong = curl_run(
        "--cacert",
        str(pki.ca),
        "--resolve",
        f"other.test:{port}:127.0.0.1",
        f"https://other.test:{port}/",
    )
    assert wrong.returncode == 60, wrong.stderr  # peer certificate cannot be authenticated

    # openssl s_client: verification OK, ALPN and a raw HTTP exchange
    text = peers.s_client(
        port, "-servername", "localhost", "-CAfile", str(pki.ca), "-alpn", "h2,http/1.1",
        data=b"GET /index.txt HTTP/1.0\r\n\r\n", until=b"hello from the origin",
    )  # fmt: skip
    assert "Verify return code: 0 (ok)" in text
    assert "ALPN protocol: http/1.1" in text
    assert "hello from the origin" in text

    # bad input: plain HTTP to the TLS port, garbage, a handshake that stalls
    plain = curl_run(f"http://127.0.0.1:{port}/index.txt")
    assert plain.returncode != 0
    assert b"hello" not in plain.stdout
    exit_.wait_for(r"tls handshake failed")
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(os.urandom(2048))
        drain(s)
    start = exit_.line_count()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as stalled:
        stalled.sendall(bytes.fromhex("160301"))  # three bytes of a record header, then nothing
        # others are served meanwhile
        assert (
            peers.curl(f"{url}/index.txt", "--cacert", str(pki.ca), "--resolve", resolve)
            == b"hello from the origin\n"
        )
        assert drain(stalled) == b""  # closed at the 1 s handshake deadline
    exit_.wait_for(r"tls handshake failed.*reason=timeout", start=start)
    assert exit_.proc.poll() is None
    assert (
        peers.curl(f"{url}/index.txt", "--cacert", str(pki.ca), "--resolve", resolve)
        == b"hello from the origin\n"
    )


def drain(s: socket.socket) -> bytes:
    """Read until EOF (a reset counts as EOF)."""
    got = bytearray()
    try:
        while chunk := s.recv(65536):
            got += chunk
    except ConnectionResetError:
        pass
    return bytes(got)


def test_s_client_against_echo_tls_alpn_and_sni(
    spawn: Spawn, pyrama_cli: list[str], pki: Pki, peers: Peers
) -> None:
    echo = spawn(
        [*pyrama_cli, "serve", "echo", "--mode", "tls", "--bind", "127.0.0.1:0",
         *pki.server_flags, "--alpn", "h2,http/1.1", "-v"]
    )  # fmt: skip
    text = peers.s_client(
        echo.port, "-servername", "localhost", "-CAfile", str(pki.ca), "-alpn", "http/1.1,h2",
        "-verify_return_error", data=b"echo me, openssl\n", until=b"echo me, openssl",
    )  # fmt: skip
    assert "Verify return code: 0 (ok)" in text
    assert "ALPN protocol: h2" in text  # our preference order wins
    assert "echo me, openssl" in text
    echo.wait_for(r"tls accepted.*alpn=h2.*sni=localhost")
    # TLS 1.2 only, and no ALPN offered
    text = peers.s_client(
        echo.port, "-servername", "localhost", "-CAfile", str(pki.ca), "-tls1_2",
        data=b"twelve\n", until=b"twelve",
    )  # fmt: skip
    assert "Protocol  : TLSv1.2" in text
    assert "No ALPN negotiated" in text
    assert "twelve" in text


def test_mutual_tls_with_curl_accepted_and_refused(
    spawn: Spawn, pyrama_cli: list[str], pki: Pki, origin: int, peers: Peers
) -> None:
    exit_ = spawn(
        [*pyrama_cli, "serve", "stunnel", "exit", "--bind", "127.0.0.1:0",
         "--forward", f"127.0.0.1:{origin}", *pki.server_flags, "--client-ca", str(pki.ca)]
    )  # fmt: skip
    url = f"https://localhost:{exit_.port}/index.txt"
    resolve = f"localhost:{exit_.port}:127.0.0.1"
    with_cert = peers.curl(
        url, "--cacert", str(pki.ca), "--resolve", resolve,
        "--cert", str(pki.client_cert), "--key", str(pki.client_key),
    )  # fmt: skip
    assert with_cert == b"hello from the origin\n"
    without = curl_run("--cacert", str(pki.ca), "--resolve", resolve, url)
    assert without.returncode != 0
    assert b"hello" not in without.stdout
    exit_.wait_for(r"tls handshake failed.*certificate")
    assert exit_.proc.poll() is None


# -- our clients, their servers -----------------------------------------------------------------


def test_probe_and_entry_against_openssl_s_server(
    spawn: Spawn, pyrama_cli: list[str], pki: Pki, peers: Peers
) -> None:
    openssl = require_peer("openssl")
    port = free_port()
    spawn(
        [openssl, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(pki.cert),
         "-key", str(pki.key), "-alpn", "h2,http/1.1", "-www"],
        ready=r"ACCEPT",
    )  # fmt: skip
    out = probe(
        pyrama_cli, f"localhost:{port}", "--ca", str(pki.ca), "--alpn", "http/1.1,h2", "--json"
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["alpn"] in ("h2", "http/1.1")
    assert report["server_name"] == "localhost"
    assert report["certificates"][0]["subject"] == "CN=localhost"
    assert report["certificates"][0]["issuer"] == "CN=it CA"
    # untrusted without --ca: exit 3 with a clear message
    refused = probe(pyrama_cli, f"localhost:{port}")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "certificate refused" in refused.stderr

    entry = spawn(
        [*pyrama_cli, "serve", "stunnel", "entry", "--bind", "127.0.0.1:0",
         "--connect", f"127.0.0.1:{port}", "--ca", str(pki.ca), "--server-name", "localhost"]
    )  # fmt: skip
    page = peers.curl(f"http://127.0.0.1:{entry.port}/")
    assert b"s_server" in page  # -www answers GET with its status page, over our TLS
    assert b"TLSv1.3" in page


NGINX_CONF = """\
worker_processes 1;
master_process off;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            return 200 "hello from nginx sni=$ssl_server_name $ssl_protocol $server_protocol\\n";
        }}
    }}
}}
"""


def start_nginx(spawn: Spawn, tmp: Path, pki: Pki) -> int:
    nginx = require_peer("nginx")
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, cert=pki.cert, key=pki.key))
    spawn([nginx, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")], ready=None)
    Poll.tcp_listening(port)
    return port


def test_probe_and_entry_against_nginx(
    spawn: Spawn, pyrama_cli: list[str], pki: Pki, tmp_path: Path, peers: Peers
) -> None:
    port = start_nginx(spawn, tmp_path, pki)
    out = probe(
        pyrama_cli, f"localhost:{port}", "--ca", str(pki.ca), "--alpn", "h2,http/1.1", "--json"
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["alpn"] == "h2"
    assert report["version"] == "TLSv1.3"
    assert report["certificates"][0]["sans"] == ["DNS:localhost", "IP:127.0.0.1"]
    text = probe(pyrama_cli, f"127.0.0.1:{port}", "--ca", str(pki.ca))
    assert text.returncode == 0, text.stderr
    assert "alpn         none" in text.stdout

    # a plain HTTP/1.1 client through our entry: TLS to nginx with SNI localhost
    entry = spawn(
        [*pyrama_cli, "serve", "stunnel", "entry", "--bind", "127.0.0.1:0",
         "--connect", f"127.0.0.1:{port}", "--ca", str(pki.ca), "--server-name", "localhost",
         "--alpn", "http/1.1"]
    )  # fmt: skip
    body = peers.curl(f"http://127.0.0.1:{entry.port}/")
    assert body == b"hello from nginx sni=localhost TLSv1.3 HTTP/1.1\n"


# -- TLS inside TLS -----------------------------------------------------------------------------


def test_tls_inside_tls_through_entry_and_exit(
    spawn: Spawn, pyrama_cli: list[str], tmp_path: Path
) -> None:
    inner = make_pki(tmp_path / "inner", ["localhost"], ca_name="inner CA")
    outer = make_pki(tmp_path / "outer", ["tunnel.test"], ca_name="outer CA")
    echo = spawn(
        [*pyrama_cli, "serve", "echo", "--mode", "tls", "--bind", "127.0.0.1:0",
         *inner.server_flags]
    )  # fmt: skip
    exit_ = spawn(
        [*pyrama_cli, "serve", "stunnel", "exit", "--bind", "127.0.0.1:0",
         "--forward", f"127.0.0.1:{echo.port}", *outer.server_flags,
         "--client-ca", str(outer.ca), "-v"]
    )  # fmt: skip
    entry = spawn(
        [*pyrama_cli, "serve", "stunnel", "entry", "--bind", "127.0.0.1:0",
         "--connect", f"127.0.0.1:{exit_.port}", "--ca", str(outer.ca),
         "--server-name", "tunnel.test", "--client-cert", str(outer.client_cert),
         "--client-key", str(outer.client_key)]
    )  # fmt: skip
    # our client, through the tunnel, sees the echo server's certificate (not the tunnel's)
    out = probe(
        pyrama_cli,
        f"127.0.0.1:{entry.port}",
        "--ca",
        str(inner.ca),
        "--server-name",
        "localhost",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["certificates"][0]["issuer"] == "CN=inner CA"
    # Python's ssl client speaks TLS to the echo server, inside the entry->exit TLS
    ctx = ssl.create_default_context(cafile=str(inner.ca))
    with (
        socket.create_connection(("127.0.0.1", entry.port), timeout=20) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as s,
    ):
        payload = os.urandom(1 << 20)
        s.sendall(payload)
        got = bytearray()
        while len(got) < len(payload):
            chunk = s.recv(65536)
            assert chunk
            got += chunk
        assert bytes(got) == payload
    exit_.wait_for(r"tls accepted.*client_cert='?CN=client\.it\.test.*sni=tunnel\.test")
    for r in (echo, exit_, entry):
        assert r.proc.poll() is None


def test_entry_refuses_a_server_it_cannot_verify(
    spawn: Spawn, pyrama_cli: list[str], pki: Pki, tmp_path: Path
) -> None:
    port = start_nginx(spawn, tmp_path, pki)
    entry: Running = spawn(
        [*pyrama_cli, "serve", "stunnel", "entry", "--bind", "127.0.0.1:0",
         "--connect", f"localhost:{port}"]
    )  # fmt: skip
    with socket.create_connection(("127.0.0.1", entry.port), timeout=20) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert drain(s) == b""  # the system trust store does not know the test CA
    entry.wait_for(r"tls handshake with target failed.*certificate")
