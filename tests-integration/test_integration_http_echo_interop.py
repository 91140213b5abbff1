"""`pyrama serve echo` (HTTP mode) against real HTTP clients over loopback.

curl (HTTP/1.1, HTTP/2 over TLS with ALPN, h2c with prior knowledge), nghttp (h2c and TLS),
h2load (2000 requests over 4 connections, 10 streams each, all 2xx), httpx (HTTP/1.1 and
HTTP/2 over TLS), and raw sockets for the exact header case and order, end to end.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from itsupport import PEER_TIMEOUT, Peers, Pki, Running, Spawn, make_pki

from pyrama_testing import require_peer


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def echo(spawn: Spawn, pyrama_cli: list[str]) -> Running:
    return spawn([*pyrama_cli, "serve", "echo", "--bind", "127.0.0.1:0"])


@pytest.fixture
def secure_echo(spawn: Spawn, pyrama_cli: list[str], pki: Pki) -> Running:
    return spawn(
        [*pyrama_cli, "serve", "echo", "--secure", "--bind", "127.0.0.1:0", *pki.server_flags]
    )


Curl = Callable[..., dict[str, Any]]


@pytest.fixture
def curl_json(peers: Peers) -> Curl:
    """``curl_json(url, *flags)`` -> the echoed JSON (curl must succeed)."""

    def run(url: str, *flags: str) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(peers.curl(url, *flags))
        return doc

    return run


# -- curl -----------------------------------------------------------------------------------


def test_curl_http11(echo: Running, curl_json: Curl) -> None:
    doc = curl_json(
        f"http://127.0.0.1:{echo.port}/path?q=1",
        "--http1.1", "-H", "X-MiXeD: 1", "-H", "aaa: 2", "-d", "hello",
    )  # fmt: skip
    assert doc["version"] == "HTTP/1.1"
    assert doc["method"] == "POST"
    assert doc["uri"] == "/path?q=1"
    assert doc["body"] == "hello"
    names = [n for n, _ in doc["headers"]]
    assert names[:3] == ["Host", "User-Agent", "Accept"]
    assert names.index("X-MiXeD") < names.index("aaa")
    assert doc["peer"].startswith("127.0.0.1:")


def test_curl_h2c_prior_knowledge(echo: Running, curl_json: Curl) -> None:
    doc = curl_json(f"http://127.0.0.1:{echo.port}/h2c", "--http2-prior-knowledge")
    assert doc["version"] == "HTTP/2"
    assert doc["h2"]["pseudo_header_order"] == [":method", ":path", ":scheme", ":authority"]
    assert doc["h2"]["akamai"].endswith("|m,p,s,a")
    assert ["user-agent", doc["headers"][0][1]] == doc["headers"][0]


def test_curl_h2_over_tls_verified(secure_echo: Running, curl_json: Curl, pki: Pki) -> None:
    doc = curl_json(f"https://localhost:{secure_echo.port}/tls", "--http2", "--cacert", str(pki.ca))
    assert doc["version"] == "HTTP/2"
    tls = doc["tls"]
    assert (tls["alpn"], tls["sni"]) == ("h2", "localhost")
    assert tls["ja4"].startswith("t13d")
    assert len(tls["ja3"]) == 32
    assert doc["h2"]["akamai_hash"]


def test_curl_http11_over_tls_insecure(
    spawn: Spawn, pyrama_cli: list[str], curl_json: Curl
) -> None:
    r = spawn([*pyrama_cli, "serve", "echo", "--secure", "--bind", "127.0.0.1:0"])
    doc = curl_json(f"https://127.0.0.1:{r.port}/", "-k", "--http1.1")
    assert doc["version"] == "HTTP/1.1"
    assert doc["tls"]["alpn"] == "http/1.1"
    assert doc["tls"]["sni"] is None  # curl sends no SNI for an IP address
    assert doc["tls"]["ja4"][3] == "i"


# -- nghttp and h2load ----------------------------------------------------------------------


def _nghttp(peers: Peers, url: str) -> str:
    nghttp = require_peer("nghttp")
    out = peers.run([nghttp, "-nv", url], timeout=PEER_TIMEOUT)
    text = (out.stdout + out.stderr).decode(errors="replace")
    assert out.returncode == 0, text
    return text


def test_nghttp_h2c(echo: Running, peers: Peers) -> None:
    text = _nghttp(peers, f"http://127.0.0.1:{echo.port}/nghttp")
    assert "recv SETTINGS frame" in text
    assert re.search(r"recv \(stream_id=\d+\) :status: 200", text)
    assert "recv DATA frame" in text
    assert "send GOAWAY frame" in text  # nghttp says goodbye, having had its answer


def test_nghttp_tls(secure_echo: Running, peers: Peers) -> None:
    text = _nghttp(peers, f"https://127.0.0.1:{secure_echo.port}/nghttp")
    assert "The negotiated protocol: h2" in text
    assert re.search(r"recv \(stream_id=\d+\) :status: 200", text)


def _h2load(peers: Peers, url: str) -> str:
    h2load = require_peer("h2load")
    out = peers.run([h2load, "-n", "2000", "-c", "4", "-m", "10", url], timeout=300)
    text = (out.stdout + out.stderr).decode(errors="replace")
    assert out.returncode == 0, text
    return text


def test_h2load_h2c_all_2xx(echo: Running, peers: Peers) -> None:
    text = _h2load(peers, f"http://127.0.0.1:{echo.port}/load")
    assert "requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed" in text
    assert "status codes: 2000 2xx, 0 3xx, 0 4xx, 0 5xx" in text


def test_h2load_tls_all_2xx(secure_echo: Running, peers: Peers) -> None:
    text = _h2load(peers, f"https://127.0.0.1:{secure_echo.port}/load")
    assert "Application protocol: h2" in text
    assert "status codes: 2000 2xx, 0 3xx, 0 4xx, 0 5xx" in text


# -- httpx ----------------------------------------------------------------------------------


@pytest.mark.parametrize("http2", [False, True])
def test_httpx_over_tls(secure_echo: Running, pki: Pki, http2: bool) -> None:
    trust = ssl.create_default_context(cafile=str(pki.ca))
    with httpx.Client(http2=http2, verify=trust, timeout=PEER_TIMEOUT) as client:
        responses = [
            client.post(f"https://localhost:{secure_echo.port}/x/{i}", content=b"b" * i)
            for i in range(5)
        ]
    for i, resp in enumerate(responses):
        assert resp.status_code == 200
        doc = resp.json()
        assert doc["path"] == f"/x/{i}"
        assert doc["body"] == "b" * i
        assert doc["version"] == ("HTTP/2" if http2 else "HTTP/1.1")
        assert doc["tls"]["alpn"] == ("h2" if http2 else "http/1.1")
    # one connection for all five requests
    assert len({resp.json()["peer"] for resp in responses}) == 1


def test_httpx_h1_plain_keep_alive(echo: Running) -> None:
    with httpx.Client(timeout=PEER_TIMEOUT) as client:
        peers_seen = {
            client.get(f"http://127.0.0.1:{echo.port}/{i}").json()["peer"] for i in range(5)
        }
    assert len(peers_seen) == 1


# -- header case and order, end to end ------------------------------------------------------


def test_header_case_and_order_with_raw_sockets(echo: Running) -> None:
    request = (
        b"GET /case HTTP/1.1\r\nHost: 127.0.0.1\r\nX-MiXeD: 1\r\naaa: 2\r\nZZZ: 3\r\n"
        b"Connection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", echo.port), timeout=PEER_TIMEOUT) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    doc = json.loads(body)
    assert doc["headers"] == [
        ["Host", "127.0.0.1"],
        ["X-MiXeD", "1"],
        ["aaa", "2"],
        ["ZZZ", "3"],
        ["Connection", "close"],
    ]


def test_our_client_sends_header_case_and_order(
    echo: Running, pyrama_cli: list[str], peers: Peers
) -> None:
    out = peers.run(
        [*pyrama_cli, f"http://127.0.0.1:{echo.port}/ours",
         "-H", "X-MiXeD: 1", "-H", "aaa: 2", "-H", "ZZZ: 3"]
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["headers"][3:] == [["X-MiXeD", "1"], ["aaa", "2"], ["ZZZ", "3"]]


def test_serve_ip_with_curl(spawn: Spawn, pyrama_cli: list[str], peers: Peers) -> None:
    r = spawn([*pyrama_cli, "serve", "ip", "--bind", "127.0.0.1:0"])
    url = f"http://127.0.0.1:{r.port}/"
    assert peers.curl(url) == b"127.0.0.1\n"
    assert peers.curl(url, "--http2-prior-knowledge") == b"127.0.0.1\n"
    doc = json.loads(peers.curl(url, "-H", "Accept: application/json"))
    assert doc["ip"] == "127.0.0.1"
