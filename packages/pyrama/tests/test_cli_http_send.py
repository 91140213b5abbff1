"""``pyrama send URL`` / ``pyrama URL``: the curl-like client, its flags and its exit codes.

Most tests call :func:`pyrama.cli.main` in-process against servers running in a background
thread (a pyrama HttpServer with a few routes, and raw sockets that misbehave on purpose);
a few run the real ``pyrama`` process to check the ``pyrama URL`` shortcut end to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest
from cli_support import HANG_GUARD
from hypothesis import given
from hypothesis import strategies as st

from pyrama.cli import main
from pyrama.cli._http_echo import HttpEchoService
from pyrama.cli._send import (
    EXIT_CODES,
    SendError,
    build_request_headers,
    exit_code_for,
    looks_like_url,
    normalize_url,
    shortcut_argv,
)
from pyrama_core import Shutdown, service_fn
from pyrama_core.telemetry._logging import _teardown_logging
from pyrama_http import HttpServer
from pyrama_http_types import Request, Response
from pyrama_testing import silent_port
from pyrama_tls import CertifiedKey, TlsAcceptorData, self_signed_leaf

# -- servers in a background thread ----------------------------------------------------------


async def _routes(request: Request) -> Response:
    path = request.uri.path
    parts = path.strip("/").split("/")
    if parts[0] == "status":
        return Response.text(f"status {parts[1]}\n", int(parts[1]))
    if parts[0] == "redirect":
        left = int(parts[1])
        if left == 0:
            return Response.text(f"landed {request.method}\n")
        return Response.redirect(f"/redirect/{left - 1}", 302)
    if parts[0] == "see-other":
        return Response.redirect("/echo/after-303", 303)
    if parts[0] == "temporary":
        return Response.redirect("/echo/after-307", 307)
    if parts[0] == "away":  # the same server under another name: another origin
        host = (request.headers.get("host") or "").replace("127.0.0.1", "localhost")
        return Response.redirect(f"http://{host}/echo/away", 302)
    if parts[0] == "loop":
        return Response.redirect("/loop", 302)
    if parts[0] == "slow":
        await asyncio.sleep(30)
        return Response.text("late\n")
    if parts[0] == "big":
        return Response.binary(bytes(range(256)) * 4096)
    return await HttpEchoService().serve(request)


class ThreadServer:
    """A pyrama HttpServer (auto: h1 + h2) on its own event loop in a daemon thread."""

    def __init__(self, tls: TlsAcceptorData | None = None) -> None:
        self.port = 0
        self._tls = tls
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._shutdown: Shutdown | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(HANG_GUARD), "the test server did not start"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._shutdown = Shutdown(deadline=1.0)

        def bound(addr: Any) -> None:
            self.port = addr.port
            self._ready.set()

        await HttpServer.auto().listen(
            "127.0.0.1:0",
            service_fn(_routes),
            tls=self._tls,
            shutdown=self._shutdown,
            on_listening=bound,
        )

    def url(self, path: str = "/") -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        shutdown = self._shutdown
        if shutdown is not None:
            self._loop.call_soon_threadsafe(shutdown.trigger, "test over")
        self._thread.join(HANG_GUARD)


class RawServer:
    """A TCP server in a thread; *behave(conn)* decides what each connection gets."""

    def __init__(self, behave: Callable[[socket.socket], None]) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._behave = behave
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(HANG_GUARD)
            with contextlib.suppress(OSError):
                self._behave(conn)

    def close(self) -> None:
        self._sock.close()


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture(scope="module")
def cert() -> CertifiedKey:
    return self_signed_leaf(["localhost", "127.0.0.1"])


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadServer]:
    srv = ThreadServer()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def tls_server(cert: CertifiedKey) -> Iterator[ThreadServer]:
    srv = ThreadServer(TlsAcceptorData(certified_key=cert))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def ca_file(cert: CertifiedKey, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("send") / "ca.pem"
    path.write_bytes(cert.chain_pem())
    return str(path)


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    yield
    _teardown_logging()


Run = Callable[..., tuple[int, bytes, str]]


@pytest.fixture
def run(capsysbinary: pytest.CaptureFixture[bytes]) -> Run:
    """``run(*argv)`` -> (exit code, stdout bytes, stderr text) of ``pyrama *argv``."""

    def _run(*argv: str) -> tuple[int, bytes, str]:
        code = main(list(argv))
        out, err = capsysbinary.readouterr()
        return code, out, err.decode("utf-8", "replace")

    return _run


def echoed(out: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(out)
    return doc


# -- the request as sent --------------------------------------------------------------------


def test_headers_go_out_in_order_with_their_case(server: ThreadServer, run: Run) -> None:
    code, out, _ = run(
        "send", server.url("/echo"), "-H", "X-MiXeD: 1", "-H", "aaa: 2", "-H", "ZZZ: 3"
    )
    assert code == 0
    doc = echoed(out)
    assert doc["method"] == "GET"
    assert doc["version"] == "HTTP/1.1"
    assert doc["headers"] == [
        ["Host", f"127.0.0.1:{server.port}"],
        ["User-Agent", "pyrama/0.1"],
        ["Accept", "*/*"],
        ["X-MiXeD", "1"],
        ["aaa", "2"],
        ["ZZZ", "3"],
    ]


def test_url_shortcut_and_port_shorthand(server: ThreadServer, run: Run) -> None:
    code, out, _ = run(f":{server.port}/echo/short", "-H", "X-A: b")
    assert code == 0
    doc = echoed(out)
    assert doc["path"] == "/echo/short"
    assert ["X-A", "b"] in doc["headers"]
    code, out, _ = run("-X", "DELETE", server.url("/echo/flags-first"))
    assert code == 0
    assert echoed(out)["method"] == "DELETE"


def test_user_headers_replace_and_remove_the_defaults(server: ThreadServer, run: Run) -> None:
    code, out, _ = run(
        "send", server.url("/echo"), "-H", "accept: text/x", "-H", "User-Agent:", "-H", "Empty;"
    )
    assert code == 0
    assert echoed(out)["headers"][1:] == [["accept", "text/x"], ["Empty", ""]]
    code, out, _ = run("send", server.url("/echo"), "-A", "agent/1")
    assert ["User-Agent", "agent/1"] in echoed(out)["headers"]


def test_data_is_a_form_post(server: ThreadServer, run: Run, tmp_path: Path) -> None:
    code, out, _ = run("send", server.url("/echo"), "-d", "a=1", "-d", "b=2")
    doc = echoed(out)
    assert (code, doc["method"], doc["body"]) == (0, "POST", "a=1&b=2")
    assert ["Content-Type", "application/x-www-form-urlencoded"] in doc["headers"]
    form = tmp_path / "form.txt"
    form.write_bytes(b"x=1\r\n&y=2\n")
    code, out, _ = run("send", server.url("/echo"), "-d", f"@{form}")
    assert echoed(out)["body"] == "x=1&y=2"  # -d @file drops newlines, like curl
    code, out, _ = run("send", server.url("/echo"), "--data-binary", f"@{form}", "-X", "PUT")
    doc = echoed(out)
    assert (doc["method"], doc["body"]) == ("PUT", "x=1\r\n&y=2\n")
    code, out, _ = run("send", server.url("/echo"), "--data-raw", "@literal")
    assert echoed(out)["body"] == "@literal"


def test_missing_data_file_exits_26(server: ThreadServer, run: Run, tmp_path: Path) -> None:
    code, _, err = run("send", server.url("/echo"), "-d", f"@{tmp_path / 'nope'}")
    assert code == 26
    assert "(26)" in err


def test_json_sets_content_type_and_accept(server: ThreadServer, run: Run) -> None:
    code, out, _ = run("send", server.url("/echo"), "--json", '{"a": 1}')
    doc = echoed(out)
    assert (code, doc["method"], json.loads(doc["body"])) == (0, "POST", {"a": 1})
    assert ["Content-Type", "application/json"] in doc["headers"]
    assert ["Accept", "application/json"] in doc["headers"]
    code, _, err = run("send", server.url("/echo"), "--json", "{}", "-d", "x")
    assert code == 2
    assert "--json" in err


def test_basic_auth(server: ThreadServer, run: Run) -> None:
    code, out, _ = run("send", server.url("/echo"), "-u", "joe:secret")
    assert code == 0
    assert ["Authorization", "Basic am9lOnNlY3JldA=="] in echoed(out)["headers"]


# -- output ---------------------------------------------------------------------------------


def test_include_writes_the_head_first(server: ThreadServer, run: Run) -> None:
    code, out, _ = run("send", "-i", server.url("/status/201"))
    assert code == 0
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201 Created\r\n")
    assert b"Content-Type: text/plain; charset=utf-8" in head
    assert body == b"status 201\n"


def test_head_request_shows_only_the_head(server: ThreadServer, run: Run) -> None:
    code, out, _ = run("send", "-I", server.url("/echo"))
    assert code == 0
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert out.endswith(b"\r\n\r\n")


def test_output_file(server: ThreadServer, run: Run, tmp_path: Path) -> None:
    target = tmp_path / "big.bin"
    code, out, _ = run("send", server.url("/big"), "-o", str(target))
    assert (code, out) == (0, b"")
    assert target.read_bytes() == bytes(range(256)) * 4096


def test_unwritable_output_exits_23(server: ThreadServer, run: Run, tmp_path: Path) -> None:
    code, _, err = run("send", server.url("/big"), "-o", str(tmp_path / "no" / "dir" / "f"))
    assert code == 23
    assert "(23)" in err


def test_verbose_shows_heads_on_stderr(server: ThreadServer, run: Run) -> None:
    code, out, err = run("send", "-v", server.url("/echo/v"), "-H", "X-Trace: 7")
    assert code == 0
    assert echoed(out)["path"] == "/echo/v"
    lines = err.splitlines()
    assert f"* Connected to 127.0.0.1 (127.0.0.1) port {server.port}" in lines
    assert "> GET /echo/v HTTP/1.1" in lines
    assert f"> Host: 127.0.0.1:{server.port}" in lines
    assert "> X-Trace: 7" in lines
    assert "< HTTP/1.1 200 OK" in lines


# -- HTTP versions --------------------------------------------------------------------------


def test_h2c_prior_knowledge(server: ThreadServer, run: Run) -> None:
    code, out, _ = run("send", "--http2-prior-knowledge", server.url("/echo"))
    doc = echoed(out)
    assert (code, doc["version"]) == (0, "HTTP/2")
    assert doc["headers"][:2] == [["user-agent", "pyrama/0.1"], ["accept", "*/*"]]


def test_http2_flag_on_plain_http_stays_http1(server: ThreadServer, run: Run) -> None:
    code, out, _ = run("send", "--http2", server.url("/echo"))
    assert (code, echoed(out)["version"]) == (0, "HTTP/1.1")


def test_tls_alpn_picks_h2_by_default_and_http11_on_demand(
    tls_server: ThreadServer, run: Run, ca_file: str
) -> None:
    code, out, _ = run("send", "--cacert", ca_file, tls_server.url("/echo"))
    assert (code, echoed(out)["version"]) == (0, "HTTP/2")
    code, out, _ = run("send", "--cacert", ca_file, "--http1.1", tls_server.url("/echo"))
    assert (code, echoed(out)["version"]) == (0, "HTTP/1.1")
    code, out, err = run("send", "-k", "-v", "--http2", tls_server.url("/echo"))
    assert (code, echoed(out)["version"]) == (0, "HTTP/2")
    assert "* TLS: " in err
    assert "ALPN: h2" in err
    assert "> GET /echo HTTP/2" in err
    assert "< HTTP/2 200" in err


def test_untrusted_certificate_exits_60(tls_server: ThreadServer, run: Run) -> None:
    code, out, err = run("send", tls_server.url("/echo"))
    assert (code, out) == (60, b"")
    assert "(60) SSL certificate problem" in err


def test_silent_hides_errors_unless_show_error(tls_server: ThreadServer, run: Run) -> None:
    code, _, err = run("send", "-s", tls_server.url("/echo"))
    assert (code, err) == (60, "")
    code, _, err = run("send", "-sS", tls_server.url("/echo"))
    assert code == 60
    assert "(60)" in err


# -- status codes and redirects -------------------------------------------------------------


def test_fail_exits_22_without_the_body(server: ThreadServer, run: Run) -> None:
    code, out, err = run("send", "--fail", server.url("/status/404"))
    assert (code, out) == (22, b"")
    assert "The requested URL returned error: 404" in err
    code, out, _ = run("send", server.url("/status/404"))
    assert (code, out) == (0, b"status 404\n")  # without --fail a 404 is a success


def test_location_follows_redirects(server: ThreadServer, run: Run) -> None:
    code, out, _ = run("send", "-L", server.url("/redirect/3"))
    assert (code, out) == (0, b"landed GET\n")
    code, out, _ = run("send", server.url("/redirect/3"))
    assert code == 0
    assert out == b""  # a redirect without a body, not followed


def test_redirect_methods(server: ThreadServer, run: Run) -> None:
    code, out, _ = run("send", "-L", "-d", "x=1", server.url("/see-other"))
    doc = echoed(out)
    assert (code, doc["method"], doc["path"], doc["body"]) == (0, "GET", "/echo/after-303", "")
    assert all(name != "Content-Type" for name, _ in doc["headers"])  # no body, no type
    code, out, _ = run("send", "-L", "-d", "x=1", server.url("/temporary"))
    doc = echoed(out)
    assert (doc["method"], doc["path"], doc["body"]) == ("POST", "/echo/after-307", "x=1")


def test_credentials_do_not_follow_to_another_host(server: ThreadServer, run: Run) -> None:
    code, out, _ = run("send", "-L", "-u", "joe:secret", server.url("/redirect/1"))
    assert (code, out) == (0, b"landed GET\n")
    code, out, _ = run("send", "-L", "-u", "joe:secret", server.url("/away"))
    doc = echoed(out)
    assert (code, doc["path"]) == (0, "/echo/away")
    assert doc["headers"][0] == ["Host", f"localhost:{server.port}"]
    assert all(name != "Authorization" for name, _ in doc["headers"])


def test_user_content_type_wins(server: ThreadServer, run: Run) -> None:
    code, out, _ = run("send", server.url("/echo"), "-d", "<x/>", "-H", "Content-Type: text/xml")
    doc = echoed(out)
    types = [v for n, v in doc["headers"] if n.lower() == "content-type"]
    assert (code, types) == (0, ["text/xml"])


def test_too_many_redirects_exits_47(server: ThreadServer, run: Run) -> None:
    code, _, err = run("send", "-L", "--max-redirs", "3", server.url("/loop"))
    assert code == 47
    assert "Maximum (3) redirects followed" in err


def test_include_shows_every_redirect_head(server: ThreadServer, run: Run) -> None:
    code, out, _ = run("send", "-L", "-i", server.url("/redirect/1"))
    assert code == 0
    assert out.count(b"HTTP/1.1 302 Found\r\n") == 1
    assert out.endswith(b"landed GET\n")


# -- failures and their exit codes ----------------------------------------------------------


def test_connection_refused_exits_7(run: Run) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        code, _, err = run("send", f"http://127.0.0.1:{port}/")
    assert code == 7
    assert "Connection refused" in err


def test_max_time_exits_28(server: ThreadServer, run: Run) -> None:
    code, _, err = run("send", "-m", "0.3", server.url("/slow"))
    assert code == 28
    assert "(28)" in err


def test_connect_timeout_exits_28(run: Run) -> None:
    # a listener whose backlog is full never completes new handshakes
    with silent_port() as port:
        code, _, _ = run("send", "--connect-timeout", "0.3", f"http://127.0.0.1:{port}/")
    assert code == 28, code  # Linux drops the SYN for a full backlog: the connect hangs


def test_empty_reply_exits_52(run: Run) -> None:
    srv = RawServer(lambda c: (_read_head(c), None)[1])
    try:
        code, _, err = run("send", f"http://127.0.0.1:{srv.port}/")
    finally:
        srv.close()
    assert code == 52
    assert "Empty reply from server" in err


def test_garbage_reply_exits_8(run: Run) -> None:
    def behave(conn: socket.socket) -> None:
        _read_head(conn)
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n\r\n")

    srv = RawServer(behave)
    try:
        code, _, err = run("send", f"http://127.0.0.1:{srv.port}/")
    finally:
        srv.close()
    assert code == 8
    assert "Weird server reply" in err


def test_truncated_body_exits_18(run: Run) -> None:
    def behave(conn: socket.socket) -> None:
        _read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")

    srv = RawServer(behave)
    try:
        code, out, err = run("send", f"http://127.0.0.1:{srv.port}/")
    finally:
        srv.close()
    assert code == 18
    assert out == b"0123456789"  # what arrived was written before the failure
    assert "(18)" in err


def test_tls_handshake_failure_exits_35(run: Run) -> None:
    def behave(conn: socket.socket) -> None:
        conn.recv(65536)  # the ClientHello
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    srv = RawServer(behave)
    try:
        code, _, err = run("send", "-k", f"https://127.0.0.1:{srv.port}/")
    finally:
        srv.close()
    assert code == 35
    assert "TLS connect error" in err


def test_h2_stream_reset_exits_92(run: Run) -> None:
    def behave(conn: socket.socket) -> None:
        h2c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        h2c.initiate_connection()
        conn.sendall(h2c.data_to_send())
        while True:
            data = conn.recv(65536)
            if not data:
                return
            for event in h2c.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    h2c.reset_stream(event.stream_id, error_code=2)  # INTERNAL_ERROR
            conn.sendall(h2c.data_to_send())

    srv = RawServer(behave)
    try:
        code, _, err = run("send", "--http2-prior-knowledge", f"http://127.0.0.1:{srv.port}/")
    finally:
        srv.close()
    assert code == 92
    assert "(92)" in err


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/", 1),
        ("gopher://x/", 1),
        ("http://", 3),
        ("http:///path", 3),
        ("http://host:99999/", 3),
        ("http://host:port/", 3),
        ("http://a b/", 3),
        ("http://127.0.0.1:0/", 3),
    ],
)
def test_bad_urls(url: str, code: int, run: Run) -> None:
    got, out, err = run("send", url)
    assert (got, out) == (code, b"")
    assert f"({code})" in err


def test_bad_header_is_a_usage_error(server: ThreadServer, run: Run) -> None:
    code, _, err = run("send", server.url("/"), "-H", "no colon here")
    assert code == 2
    assert "bad header" in err


# -- the pieces -----------------------------------------------------------------------------


def test_every_exit_code_is_documented() -> None:
    assert {0, 1, 2, 3, 6, 7, 8, 16, 18, 22, 23, 26, 28, 35, 47, 52, 56, 60, 92} == set(EXIT_CODES)


def test_exit_code_mapping() -> None:
    from pyrama_http.errors import (
        InvalidRequestError,
        ProtocolNegotiationError,
        RequestTimeoutError,
    )
    from pyrama_http_core.errors import ConnectionClosedError, H2GoAwayError
    from pyrama_net.errors import ConnectError, DnsError
    from pyrama_tls.errors import (
        CertificateVerifyError,
        TlsHandshakeError,
        TlsHandshakeTimeoutError,
    )

    assert exit_code_for(DnsError("no such name"), target="nowhere.test:80").code == 6
    assert "nowhere.test" in str(exit_code_for(DnsError("x"), target="nowhere.test:80"))
    assert exit_code_for(ConnectError("refused")).code == 7
    assert exit_code_for(RequestTimeoutError("slow", seconds=1.0)).code == 28
    assert exit_code_for(TlsHandshakeTimeoutError("slow", role="client", seconds=1.0)).code == 28
    assert exit_code_for(TlsHandshakeError("bad", role="client")).code == 35
    assert exit_code_for(CertificateVerifyError("untrusted", role="client")).code == 60
    assert exit_code_for(InvalidRequestError("bad url")).code == 3
    assert exit_code_for(ProtocolNegotiationError("no h2")).code == 16
    assert exit_code_for(ConnectionClosedError("gone")).code == 52
    assert exit_code_for(ConnectionClosedError("gone"), transfer=True).code == 18
    goaway = H2GoAwayError("bye", error_code=0, last_stream_id=0, retryable=False)
    assert exit_code_for(goaway).code == 16
    assert exit_code_for(ConnectionResetError(104, "reset"), transfer=True).code == 56
    assert exit_code_for(RuntimeError("?")).code == 56
    err = SendError(22, "x")
    assert exit_code_for(err) is err


@pytest.mark.parametrize(
    ("arg", "url"),
    [
        ("http://a.test/x", True),
        ("https://a.test", True),
        ("httpbin.org/get", True),
        (":8080/path", True),
        ("ws://x/", True),
        ("serve", False),
        ("send", False),
        ("probe", False),
        ("extensions", False),
        ("example.com", False),
    ],
)
def test_looks_like_url(arg: str, url: bool) -> None:
    assert looks_like_url(arg) is url


def test_shortcut_argv() -> None:
    top = frozenset({"-h", "--help", "--version"})
    assert shortcut_argv(["http://x/"], top) == ["send", "http://x/"]
    assert shortcut_argv(["-v", "-k", "https://x/"], top) == ["send", "-v", "-k", "https://x/"]
    assert shortcut_argv(["-X", "PUT", ":8080/"], top) == ["send", "-X", "PUT", ":8080/"]
    assert shortcut_argv(["--help"], top) == ["--help"]
    assert shortcut_argv(["--version", "http://x/"], top) == ["--version", "http://x/"]
    assert shortcut_argv(["serve", "echo"], top) == ["serve", "echo"]
    assert shortcut_argv(["-v"], top) == ["-v"]
    assert shortcut_argv([], top) == []


def test_normalize_url() -> None:
    assert normalize_url("example.com/x") == "http://example.com/x"
    assert normalize_url(":8080/p?q=1") == "http://127.0.0.1:8080/p?q=1"
    assert normalize_url("HTTPS://h.test/") == "HTTPS://h.test/"
    assert normalize_url("http://[::1]:80/") == "http://[::1]:80/"


def test_build_request_headers_like_curl() -> None:
    assert build_request_headers([], user_agent="ua/1") == [
        ("User-Agent", "ua/1"),
        ("Accept", "*/*"),
    ]
    assert build_request_headers(
        ["X: 1", "accept: a/b", "user-agent:", "E;"],
        user_agent="ua/1",
        content_type="text/plain",
    ) == [("X", "1"), ("accept", "a/b"), ("E", ""), ("Content-Type", "text/plain")]
    with pytest.raises(SendError) as info:
        build_request_headers([": no name"], user_agent=None)
    assert info.value.code == 2


_TOKEN = st.text(
    alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    min_size=1,
    max_size=20,
)
_VALUE = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40
)


@given(st.lists(st.tuples(_TOKEN, _VALUE), max_size=12))
def test_user_header_order_and_case_survive(fields: list[tuple[str, str]]) -> None:
    headers = build_request_headers([f"{n}: {v}" for n, v in fields], user_agent="ua")
    names = {n.lower() for n, _ in fields}
    defaults = [d for d in (("User-Agent", "ua"), ("Accept", "*/*")) if d[0].lower() not in names]
    assert headers == defaults + fields


@given(st.text(max_size=60))
def test_normalize_url_accepts_or_refuses_with_a_curl_code(text: str) -> None:
    try:
        url = normalize_url(text)
    except SendError as exc:
        code = exc.code
    else:
        code = 0
        assert url.lower().startswith(("http://", "https://"))
    assert code in (0, 1, 3)


# -- the real command -----------------------------------------------------------------------


def test_pyrama_url_shortcut_as_a_process(server: ThreadServer) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pyrama", "-i", server.url("/echo/proc"), "-H", "X-P: 1"],
        capture_output=True,
        timeout=HANG_GUARD * 2,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    doc = json.loads(body)
    assert doc["path"] == "/echo/proc"
    assert ["X-P", "1"] in doc["headers"]
    assert out.stderr == b""
