"""``pyrama serve ip``: the client's address over HTTP (text or JSON) and over TCP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from cli_support import HANG_GUARD, Server, serving
from test_cli_http_echo import connect, exchange

from pyrama.cli._serve_ip import wants_json
from pyrama_http_types import Request


@pytest.fixture(scope="module")
def ip_server() -> Iterator[Server]:
    with serving("ip", "--bind", "127.0.0.1:0") as server:
        yield server


def test_text_answer_is_the_client_ip(ip_server: Server) -> None:
    resp = exchange(ip_server.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert resp.status == 200
    assert (
        resp.header(
            "content-type",
        )
        == "text/plain; charset=utf-8"
    )
    assert resp.body == b"127.0.0.1\n"


def test_accept_json_gets_json(ip_server: Server) -> None:
    resp = exchange(
        ip_server.port,
        b"GET /anything HTTP/1.1\r\nHost: x\r\nAccept: text/html;q=0.5, application/json\r\n"
        b"Connection: close\r\n\r\n",
    )
    doc = resp.json()
    assert doc["ip"] == "127.0.0.1"
    assert isinstance(doc["port"], int)


def test_h2c_client_gets_its_ip(ip_server: Server) -> None:
    with httpx.Client(http1=False, http2=True, timeout=HANG_GUARD) as client:
        resp = client.get(f"http://127.0.0.1:{ip_server.port}/")
    assert resp.http_version == "HTTP/2"
    assert resp.text == "127.0.0.1\n"


def test_json_flag_always_answers_json() -> None:
    with serving("ip", "--json", "--bind", "127.0.0.1:0") as server:
        resp = exchange(server.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert resp.header("content-type") == "application/json"
    assert resp.json()["ip"] == "127.0.0.1"


def test_secure_ip_over_https() -> None:
    with (
        serving("ip", "--secure", "--bind", "127.0.0.1:0") as server,
        httpx.Client(http2=True, verify=False, timeout=HANG_GUARD) as client,
    ):
        resp = client.get(f"https://127.0.0.1:{server.port}/")
    assert resp.http_version == "HTTP/2"
    assert resp.text == "127.0.0.1\n"


def test_tcp_mode_writes_the_ip_and_closes() -> None:
    with (
        serving("ip", "--mode", "tcp", "--bind", "127.0.0.1:0") as server,
        connect(server.port) as s,
    ):
        data = b""
        while chunk := s.recv(100):
            data += chunk
    assert data == b"127.0.0.1\n"


def test_ipv6_loopback() -> None:
    with (
        serving("ip", "--bind", "[::1]:0") as server,
        httpx.Client(timeout=HANG_GUARD) as client,
    ):
        resp = client.get(f"http://[::1]:{server.port}/", headers={"Accept": "application/json"})
    assert resp.json()["ip"] == "::1"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, False),
        ("application/json", True),
        ("text/plain, application/json", False),
        ("application/json;q=0.9, text/plain;q=0.1", True),
        ("text/plain;q=0.2, application/json;q=0.8", True),
        ("application/json;q=0", False),
        ("*/*", False),
        ("application/json; charset=utf-8", True),
        ("not a valid ;;; accept", False),
    ],
)
def test_wants_json(accept: str | None, expected: bool) -> None:
    req = Request("GET", "/", headers=[] if accept is None else [("Accept", accept)])
    assert wants_json(req) is expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "tcp", "--json"], "--json: only with --mode http"),
        (["--mode", "tcp", "--secure"], "--secure: only with --mode http"),
        (["--mode", "tcp", "--cert", "c.pem"], "--cert: only with --mode tls"),
    ],
)
def test_tcp_mode_refuses_http_flags(args: list[str], message: str) -> None:
    server = Server("ip", "--bind", "127.0.0.1:0", *args)
    try:
        assert server.wait_exit() == 1
        event = server.wait_event(lambda e: e.get("event") == "cannot listen")
        assert message in event["error"]
    finally:
        server.stop()
