"""``pyrama serve echo`` in its default HTTP mode, run as a real process over loopback.

Raw sockets check the exact bytes (header case and order, limits and their status codes);
httpx (an independent HTTP/1.1 + HTTP/2 stack) checks h2c and HTTPS with ALPN.
"""

from __future__ import annotations

import argparse
import base64
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cli_support import HANG_GUARD, Server, serving

from pyrama.cli import _http as cli_http
from pyrama.cli import build_parser

# -- raw HTTP/1.1 helpers (shared with the other test_cli_http* modules) ----------------------


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)


class RawResponse:
    """One parsed HTTP/1.1 response: status, raw header pairs and body."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self) -> Any:
        return json.loads(self.body)


def read_response(sock: socket.socket, *, head_only: bool = False) -> RawResponse:
    """Read one response (Content-Length framed, or until EOF) from *sock*."""
    buf = bytearray()
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a complete head: {bytes(buf)!r}")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = [(k, v.strip()) for k, _, v in (ln.partition(":") for ln in lines[1:])]
    resp = RawResponse(status, headers, b"")
    if head_only:
        return resp
    length = resp.header("content-length")
    body = bytearray(rest)
    if length is None:
        while chunk := sock.recv(65536):
            body += chunk
    else:
        while len(body) < int(length):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    resp.body = bytes(body)
    return resp


def exchange(port: int, raw: bytes) -> RawResponse:
    """Send *raw* on a new connection and read one response."""
    with connect(port) as s:
        s.sendall(raw)
        return read_response(s)


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the peer closed *sock* (EOF or reset), reading whatever else it sent."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


def still_serves(port: int) -> None:
    """A normal request on a new connection gets a normal answer."""
    resp = exchange(port, b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert resp.status == 200
    assert resp.json()["path"] == "/ok"


# -- servers --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def echo() -> Iterator[Server]:
    with serving("echo", "--bind", "127.0.0.1:0") as server:
        yield server


@pytest.fixture(scope="module")
def secure_echo() -> Iterator[Server]:
    with serving("echo", "--secure", "--bind", "127.0.0.1:0") as server:
        yield server


@pytest.fixture(scope="module")
def tight_echo() -> Iterator[Server]:
    with serving(
        "echo",
        "--bind", "127.0.0.1:0",
        "--max-header-bytes", "2k",
        "--max-headers", "20",
        "--max-body-bytes", "1k",
        "--header-timeout", "0.5",
    ) as server:  # fmt: skip
        yield server


# -- the JSON -------------------------------------------------------------------------------


def test_listening_line_says_http_and_its_limits(echo: Server) -> None:
    listening = next(e for e in echo.events if e.get("event") == "listening")
    assert listening["mode"] == "http"
    assert listening["http"] == "auto"
    assert listening["max_header_bytes"] == 64 * 1024
    assert listening["max_body_bytes"] == 16 * 1024 * 1024
    assert listening["header_timeout"] == 30.0


def test_headers_come_back_in_order_with_their_case(echo: Server) -> None:
    resp = exchange(
        echo.port,
        b"GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example.test\r\nX-MiXeD: 1\r\naaa: 2\r\n"
        b"ZZZ: 3\r\naaa: again\r\nConnection: close\r\n\r\n",
    )
    assert resp.status == 200
    assert resp.header("content-type") == "application/json"
    doc = resp.json()
    assert doc["method"] == "GET"
    assert doc["uri"] == "/a/b?x=1&y=2"
    assert doc["path"] == "/a/b"
    assert doc["query"] == "x=1&y=2"
    assert doc["version"] == "HTTP/1.1"
    assert doc["headers"] == [
        ["Host", "example.test"],
        ["X-MiXeD", "1"],
        ["aaa", "2"],
        ["ZZZ", "3"],
        ["aaa", "again"],
        ["Connection", "close"],
    ]
    host, _, port = doc["peer"].rpartition(":")
    assert host == "127.0.0.1"
    assert int(port) > 0
    assert doc["ja4h_r"] == "ge11nn060000_Host,X-MiXeD,aaa,ZZZ,aaa,Connection_"
    assert doc["ja4h"].startswith("ge11nn060000_")
    assert "tls" not in doc
    assert "h2" not in doc


def test_utf8_body_is_text_and_binary_body_is_base64(echo: Server) -> None:
    text = "héllo wörld".encode()
    resp = exchange(
        echo.port,
        b"POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
        % len(text)
        + text,
    )
    doc = resp.json()
    assert (doc["body"], doc["body_encoding"]) == ("héllo wörld", "utf-8")
    binary = bytes(range(256))
    resp = exchange(
        echo.port,
        b"PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 256\r\nConnection: close\r\n\r\n" + binary,
    )
    doc = resp.json()
    assert doc["method"] == "PUT"
    assert doc["body_encoding"] == "base64"
    assert base64.b64decode(doc["body"]) == binary


def test_chunked_body_and_keep_alive(echo: Server) -> None:
    with connect(echo.port) as s:
        s.sendall(
            b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        first = read_response(s)
        s.sendall(b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n")
        second = read_response(s)
    assert first.json()["body"] == "hello world"
    assert second.json()["path"] == "/second"


def test_head_gets_the_head_without_a_body(echo: Server) -> None:
    with connect(echo.port) as s:
        s.sendall(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n")
        resp = read_response(s, head_only=True)
        assert resp.status == 200
        assert int(resp.header("content-length") or 0) > 0
        # the next response follows at once: no body bytes were sent for the HEAD
        s.sendall(b"GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        after = read_response(s)
    assert after.json()["path"] == "/after"


def test_h2c_prior_knowledge_with_httpx(echo: Server) -> None:
    with httpx.Client(http1=False, http2=True, timeout=HANG_GUARD) as client:
        resp = client.post(
            f"http://127.0.0.1:{echo.port}/h2?q=1",
            headers=[("x-first", "1"), ("x-second", "2")],
            content=b"data",
        )
    assert resp.http_version == "HTTP/2"
    doc = resp.json()
    assert doc["version"] == "HTTP/2"
    assert doc["method"] == "POST"
    assert doc["path"] == "/h2"
    assert doc["body"] == "data"
    names = [name for name, _ in doc["headers"]]
    assert names.index("x-first") < names.index("x-second")
    h2 = doc["h2"]
    assert h2["pseudo_header_order"][0] == ":method"
    assert sorted(h2["pseudo_header_order"]) == [":authority", ":method", ":path", ":scheme"]
    settings, window, priorities, pseudo = h2["akamai"].split("|")
    assert all(
        k.isdigit() and v.isdigit() for k, _, v in (e.partition(":") for e in settings.split(";"))
    )
    assert window.isdigit()
    assert priorities == "0"  # httpx sends no PRIORITY frames
    assert pseudo.count(",") == 3
    assert len(h2["akamai_hash"]) == 32


@pytest.mark.parametrize("http2", [False, True])
def test_secure_reports_tls_facts_and_fingerprints(secure_echo: Server, http2: bool) -> None:
    with httpx.Client(http2=http2, verify=False, timeout=HANG_GUARD) as client:
        resp = client.get(f"https://localhost:{secure_echo.port}/tls")
    doc = resp.json()
    tls = doc["tls"]
    assert tls["alpn"] == ("h2" if http2 else "http/1.1")
    assert doc["version"] == ("HTTP/2" if http2 else "HTTP/1.1")
    assert tls["sni"] == "localhost"
    assert tls["version"] in ("TLSv1.2", "TLSv1.3")
    assert tls["cipher"]
    assert len(tls["ja3"]) == 32
    assert tls["ja3_string"].startswith(("771,", "772,"))
    assert tls["ja4"].startswith("t1")
    assert tls["ja4"][3] == "d"  # an SNI with a domain name
    assert tls["ja4_r"].split("_")[0] == tls["ja4"].split("_")[0]
    assert len(tls["peetprint"]) == 32
    assert "|" in tls["peetprint_string"]
    assert ("h2" in doc) is http2


def test_secure_listening_line(secure_echo: Server) -> None:
    listening = next(e for e in secure_echo.events if e.get("event") == "listening")
    assert listening["secure"] is True
    assert listening["alpn"] == "h2,http/1.1"
    assert listening["certificate"].startswith("self-signed")


# -- limits ---------------------------------------------------------------------------------


def test_oversized_head_is_431_and_the_server_goes_on(tight_echo: Server) -> None:
    big = b"X-Big: " + b"a" * 4096 + b"\r\n"
    with connect(tight_echo.port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
        assert read_response(s, head_only=True).status == 431
    still_serves(tight_echo.port)


def test_too_many_headers_is_431(tight_echo: Server) -> None:
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(30))
    with connect(tight_echo.port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        assert read_response(s, head_only=True).status == 431
    still_serves(tight_echo.port)


def test_body_over_the_limit_is_413(tight_echo: Server) -> None:
    body = b"z" * 2048
    with connect(tight_echo.port) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n" + body)
        assert read_response(s, head_only=True).status == 413
    ok = exchange(
        tight_echo.port,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\nConnection: close\r\n\r\n"
        + b"y" * 1024,
    )
    assert ok.json()["body"] == "y" * 1024  # exactly at the limit is fine


def test_chunked_body_over_the_limit_is_413(tight_echo: Server) -> None:
    with connect(tight_echo.port) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            s.sendall(b"200\r\n" + b"q" * 512 + b"\r\n")
        s.sendall(b"0\r\n\r\n")
        assert read_response(s, head_only=True).status == 413
    still_serves(tight_echo.port)


def test_slow_head_gets_408_and_is_closed(tight_echo: Server) -> None:
    with connect(tight_echo.port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        resp = read_response(s, head_only=True)  # no more bytes: the header timeout fires
        assert resp.status == 408
        assert closed_by_peer(s)
    still_serves(tight_echo.port)


# -- flags ----------------------------------------------------------------------------------


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", "echo", *argv])


def test_help_defaults_match_the_server() -> None:
    from pyrama_http import DEFAULT_MAX_BODY_SIZE
    from pyrama_http_core import (
        DEFAULT_HEADER_READ_TIMEOUT,
        DEFAULT_KEEP_ALIVE_TIMEOUT,
        DEFAULT_MAX_HEADER_SIZE,
        DEFAULT_MAX_HEADERS,
    )

    assert cli_http.DEFAULT_HEADER_READ_TIMEOUT == DEFAULT_HEADER_READ_TIMEOUT
    assert cli_http.DEFAULT_KEEP_ALIVE_TIMEOUT == DEFAULT_KEEP_ALIVE_TIMEOUT
    assert cli_http.DEFAULT_MAX_HEADER_SIZE == DEFAULT_MAX_HEADER_SIZE
    assert cli_http.DEFAULT_MAX_HEADERS == DEFAULT_MAX_HEADERS
    assert cli_http.DEFAULT_MAX_BODY_SIZE == DEFAULT_MAX_BODY_SIZE


def test_http_is_the_default_mode_with_default_limits() -> None:
    args = _parse()
    assert args.mode == "http"
    limits = cli_http.http_limits(args)
    assert limits.max_body_size == 16 * 1024 * 1024
    assert limits.max_header_size == 64 * 1024
    assert limits.header_read_timeout == 30.0


def test_limit_flags_become_http_limits() -> None:
    args = _parse(
        "--header-timeout", "2.5", "--idle-timeout", "7", "--max-header-bytes", "16k",
        "--max-headers", "12", "--max-body-bytes", "1M",
    )  # fmt: skip
    limits = cli_http.http_limits(args)
    assert limits.header_read_timeout == 2.5
    assert limits.keep_alive_timeout == 7.0
    assert limits.max_header_size == 16 * 1024
    assert limits.max_headers == 12
    assert limits.max_body_size == 1 << 20


@pytest.mark.parametrize(
    "flags",
    [
        ["--max-header-bytes", "0"],
        ["--max-header-bytes", "lots"],
        ["--max-headers", "0"],
        ["--max-body-bytes", "-1"],
        ["--header-timeout", "0"],
        ["--http-versions", "h3"],
    ],
)
def test_bad_http_flags_are_usage_errors(flags: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        _parse(*flags)
    assert info.value.code == 2


def test_zero_body_limit_is_allowed() -> None:
    assert cli_http.http_limits(_parse("--max-body-bytes", "0")).max_body_size == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "tcp", "--secure"], "--secure: only with --mode http"),
        (["--mode", "udp", "--max-body-bytes", "1k"], "--max-body-bytes: only with --mode http"),
        (["--mode", "tls", "--header-timeout", "1"], "--header-timeout: only with --mode http"),
        (["--alpn", "h2"], "--alpn: only with --secure"),
        (["--cert", "x.pem"], "--cert: only with --secure"),
        (["--secure", "--cert", "/nonexistent/cert.pem"], "/nonexistent/cert.pem"),
    ],
)
def test_flag_mistakes_fail_at_start(args: list[str], message: str) -> None:
    server = Server("echo", "--bind", "127.0.0.1:0", *args)
    try:
        assert server.wait_exit() == 1
        event = server.wait_event(lambda e: e.get("event") == "cannot listen")
        assert message in event["error"]
    finally:
        server.stop()


def test_http_versions_h2_only_refuses_http1() -> None:
    with serving("echo", "--bind", "127.0.0.1:0", "--http-versions", "h2") as server:
        with httpx.Client(http1=False, http2=True, timeout=HANG_GUARD) as client:
            assert client.get(f"http://127.0.0.1:{server.port}/").json()["version"] == "HTTP/2"
        with connect(server.port) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            try:
                while chunk := s.recv(65536):
                    data += chunk
            except ConnectionResetError:
                pass
        assert not data.startswith(b"HTTP/1.1 200")
