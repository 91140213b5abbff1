"""``pyrama serve echo --mode tls``, ``serve stunnel exit|entry`` and ``probe tls``, run as real
processes and driven over loopback by Python's ``ssl`` module (an independent TLS stack)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_support import HANG_GUARD, Server, serving
from test_cli_serve_tcp import recv_all, recv_exact

from pyrama.cli import main
from pyrama_core.telemetry._logging import _teardown_logging
from pyrama_testing import free_port
from pyrama_tls import CertificateAuthority, save_certified_key, spki_sha256_of


@dataclass(frozen=True)
class Pki:
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate, as files."""

    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority.generate("cli test CA")
    (d / "ca.pem").write_bytes(ca.cert_pem())
    server = ca.issue_leaf(["localhost", "127.0.0.1"])
    save_certified_key(server, d / "server.pem", d / "server-key.pem")
    client = ca.issue_leaf(["client.test"], server_auth=False, client_auth=True)
    save_certified_key(client, d / "client.pem", d / "client-key.pem")
    (d / "other-ca.pem").write_bytes(CertificateAuthority.generate("someone else").cert_pem())
    return Pki(
        ca=d / "ca.pem",
        cert=d / "server.pem",
        key=d / "server-key.pem",
        client_cert=d / "client.pem",
        client_key=d / "client-key.pem",
        other_ca=d / "other-ca.pem",
    )


def tls_client(
    port: int,
    *,
    cafile: Path | None = None,
    server_name: str = "localhost",
    alpn: list[str] | None = None,
    cert: tuple[Path, Path] | None = None,
) -> ssl.SSLSocket:
    """A verified (or, without *cafile*, unverified) stdlib TLS connection to our server."""
    if cafile is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=str(cafile))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if cert is not None:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    raw = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
    try:
        return ctx.wrap_socket(raw, server_hostname=server_name)
    except BaseException:
        raw.close()
        raise


def tls_recv_all(s: ssl.SSLSocket) -> bytes:
    """Read until the server's close_notify or EOF (a reset or alert counts as the end)."""
    buf = bytearray()
    try:
        while chunk := s.recv(65536):
            buf += chunk
    except (ConnectionResetError, ssl.SSLError):
        pass
    return bytes(buf)


def listening(server: Server) -> dict[str, Any]:
    return server.wait_event(lambda e: str(e.get("event", "")).startswith("listening"))


@dataclass(frozen=True)
class Ran:
    """Exit code and output of an in-process ``pyrama`` run."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def pyrama(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., Ran]]:
    """Run ``pyrama <args>`` in this process (no interpreter start-up per call)."""

    def run(*args: str) -> Ran:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    try:
        yield run
    finally:
        _teardown_logging()


class _Echo(threading.Thread):
    """A plain threaded TCP echo server (half-close aware) to forward to."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(65536):
                conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)


@pytest.fixture
def plain_echo() -> Iterator[int]:
    echo = _Echo()
    echo.start()
    try:
        yield echo.port
    finally:
        echo.sock.close()


# -- serve echo --mode tls -------------------------------------------------------------------


def test_echo_tls_self_signed_echoes_and_logs_its_pin() -> None:
    with serving("echo", "--mode", "tls", "--bind", "127.0.0.1:0", "-v") as server:
        event = listening(server)
        assert event["mode"] == "tls"
        assert event["certificate"] == "self-signed for localhost, 127.0.0.1, ::1"
        with tls_client(server.port) as s:
            # the certificate served is the one whose pin was logged
            der = s.getpeercert(binary_form=True)
            assert der is not None
            from cryptography import x509

            pin = spki_sha256_of(x509.load_der_x509_certificate(der))
            import base64

            assert event["spki_sha256"] == "sha256//" + base64.b64encode(pin).decode()
            payload = os.urandom(1 << 20)
            s.sendall(payload)
            assert recv_exact(s, len(payload)) == payload
            s.unwrap()  # our close_notify ...
        accepted = server.wait_event(lambda e: e.get("event") == "tls accepted")
        assert accepted["sni"] == "localhost"
        assert accepted["alpn"] is None
        # ... is answered with the server's, and the connection ends cleanly
        server.wait_event(lambda e: e.get("event") == "connection closed")


def test_echo_tls_with_certificate_files_alpn_and_verification(pki: Pki) -> None:
    with serving(
        "echo",
        "--mode",
        "tls",
        "--bind",
        "127.0.0.1:0",
        "--cert",
        str(pki.cert),
        "--key",
        str(pki.key),
        "--alpn",
        "h2,http/1.1",
        "-v",
    ) as server:
        assert listening(server)["alpn"] == "h2,http/1.1"
        with tls_client(server.port, cafile=pki.ca, alpn=["http/1.1", "h2"]) as s:
            assert s.selected_alpn_protocol() == "h2"  # the server's preference wins
            s.sendall(b"verified")
            assert recv_exact(s, 8) == b"verified"
        with tls_client(server.port, cafile=pki.ca, alpn=["http/1.1"]) as s:
            assert s.selected_alpn_protocol() == "http/1.1"
        # a client without ALPN is still served
        with tls_client(server.port, cafile=pki.ca, server_name="127.0.0.1") as s:
            assert s.selected_alpn_protocol() is None
            s.sendall(b"ip")
            assert recv_exact(s, 2) == b"ip"


def test_echo_tls_survives_plain_text_garbage_and_a_stalled_handshake() -> None:
    with serving(
        "echo", "--mode", "tls", "--bind", "127.0.0.1:0", "--handshake-timeout", "0.5"
    ) as server:
        # plain HTTP sent to the TLS port: closed, logged
        with socket.create_connection(("127.0.0.1", server.port), timeout=HANG_GUARD) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"HTTP" not in recv_all(s)
        failed = server.wait_event(lambda e: e.get("event") == "connection failed")
        assert "TlsHandshakeError" in failed["error"]
        # a client that stalls inside its ClientHello: closed at the handshake deadline
        with socket.create_connection(("127.0.0.1", server.port), timeout=HANG_GUARD) as stall:
            stall.sendall(bytes.fromhex("16030100c8010000c40303"))  # a ClientHello's start
            # meanwhile another client is served
            with tls_client(server.port) as s:
                s.sendall(b"alive")
                assert recv_exact(s, 5) == b"alive"
            assert recv_all(stall) == b""
        server.wait_event(lambda e: e.get("reason") == "timeout")
        # garbage
        with socket.create_connection(("127.0.0.1", server.port), timeout=HANG_GUARD) as s:
            s.sendall(os.urandom(3000))
            recv_all(s)
        with tls_client(server.port) as s:
            s.sendall(b"still serving")
            assert recv_exact(s, 13) == b"still serving"
        assert server.proc.poll() is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "tcp", "--alpn", "h2"], "--alpn: only with --mode tls"),
        (["--mode", "udp", "--cert", "x.pem"], "--cert: only with --mode tls"),
        (["--mode", "tls", "--key", "k.pem"], "--key needs --cert"),
        (["--mode", "tls", "--cert", "/nonexistent/cert.pem"], "/nonexistent/cert.pem"),
    ],
)
def test_echo_tls_flag_mistakes_fail_at_start(
    args: list[str], message: str, pyrama: Callable[..., Ran]
) -> None:
    out = pyrama("serve", "echo", "--bind", "127.0.0.1:0", *args, "--log-format", "json")
    assert out.returncode == 1
    events = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    [event] = [e for e in events if e.get("event") == "cannot listen"]
    assert message in event["error"]


def test_bad_alpn_value_is_a_usage_error(pyrama: Callable[..., Ran]) -> None:
    out = pyrama("serve", "echo", "--mode", "tls", "--alpn", "h2,,x")
    assert out.returncode == 2
    assert "comma-separated list" in out.stderr


# -- serve stunnel exit / entry --------------------------------------------------------------


def test_stunnel_exit_terminates_tls_and_forwards(pki: Pki, plain_echo: int) -> None:
    with serving(
        "stunnel",
        "exit",
        "--bind",
        "127.0.0.1:0",
        "--forward",
        f"127.0.0.1:{plain_echo}",
        "--cert",
        str(pki.cert),
        "--key",
        str(pki.key),
    ) as exit_:
        event = listening(exit_)
        assert event["service"] == "stunnel exit"
        assert event["forward"] == f"127.0.0.1:{plain_echo}"
        with tls_client(exit_.port, cafile=pki.ca) as s:
            payload = os.urandom(4 << 20)
            s.sendall(payload)
            assert recv_exact(s, len(payload)) == payload


def test_stunnel_exit_to_a_dead_target_closes_the_client(pki: Pki) -> None:
    dead = free_port()
    with serving(
        "stunnel", "exit", "--bind", "127.0.0.1:0", "--forward", f"127.0.0.1:{dead}"
    ) as exit_:
        with tls_client(exit_.port) as s:
            assert tls_recv_all(s) == b""
        exit_.wait_event(lambda e: e.get("event") == "target unreachable")


def test_stunnel_entry_to_exit_with_mutual_tls(pki: Pki, plain_echo: int) -> None:
    with serving(
        "stunnel",
        "exit",
        "--bind",
        "127.0.0.1:0",
        "--forward",
        f"127.0.0.1:{plain_echo}",
        "--cert",
        str(pki.cert),
        "--key",
        str(pki.key),
        "--client-ca",
        str(pki.ca),
        "-v",
    ) as exit_:
        assert listening(exit_)["client_ca"] == str(pki.ca)
        # a client without a certificate is refused ...
        with tls_client(exit_.port, cafile=pki.ca) as s:
            s.sendall(b"no cert")
            # TLS 1.3: the refusal (an alert) arrives after the client's side of the handshake
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                s.recv(10)
        exit_.wait_event(lambda e: e.get("event") == "tls handshake failed")
        with serving(
            "stunnel",
            "entry",
            "--bind",
            "127.0.0.1:0",
            "--connect",
            f"127.0.0.1:{exit_.port}",
            "--ca",
            str(pki.ca),
            "--server-name",
            "localhost",
            "--client-cert",
            str(pki.client_cert),
            "--client-key",
            str(pki.client_key),
        ) as entry:
            event = listening(entry)
            assert event["client_cert"] == "CN=client.test"
            assert event["verify"] == str(pki.ca)
            # ... the entry presents one: plain TCP in, mutual TLS between the ends
            with socket.create_connection(("127.0.0.1", entry.port), timeout=HANG_GUARD) as s:
                payload = os.urandom(2 << 20)
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                assert recv_all(s) == payload
        accepted = exit_.wait_event(lambda e: e.get("event") == "tls accepted")
        assert accepted["client_cert"] == "CN=client.test"
        assert accepted["sni"] == "localhost"


def test_stunnel_entry_refuses_an_untrusted_or_unpinned_server(pki: Pki, plain_echo: int) -> None:
    with serving(
        "stunnel",
        "exit",
        "--bind",
        "127.0.0.1:0",
        "--forward",
        f"127.0.0.1:{plain_echo}",
        "--cert",
        str(pki.cert),
        "--key",
        str(pki.key),
    ) as exit_:
        target = f"127.0.0.1:{exit_.port}"
        with serving(
            "stunnel",
            "entry",
            "--bind",
            "127.0.0.1:0",
            "--connect",
            target,
            "--ca",
            str(pki.other_ca),
        ) as entry:
            with socket.create_connection(("127.0.0.1", entry.port), timeout=HANG_GUARD) as s:
                s.sendall(b"secret")
                assert recv_all(s) == b""
            failed = entry.wait_event(
                lambda e: e.get("event") == "tls handshake with target failed"
            )
            assert "certificate" in failed["error"]
        wrong_pin = "sha256//" + "A" * 43 + "="
        with serving(
            "stunnel", "entry", "--bind", "127.0.0.1:0", "--connect", target,
            "--insecure", "--pin", wrong_pin,
        ) as entry:  # fmt: skip
            with socket.create_connection(("127.0.0.1", entry.port), timeout=HANG_GUARD) as s:
                s.sendall(b"secret")
                assert recv_all(s) == b""
            failed = entry.wait_event(
                lambda e: e.get("event") == "tls handshake with target failed"
            )
            assert "pin" in failed["error"]


# -- probe tls (in this process, against a real server process) ---------------------------


def probe_tls(pyrama: Callable[..., Ran], *args: str) -> Ran:
    return pyrama("probe", "tls", *args)


def test_probe_reports_the_handshake_and_chain(pki: Pki, pyrama: Callable[..., Ran]) -> None:
    with serving(
        "echo",
        "--mode",
        "tls",
        "--bind",
        "127.0.0.1:0",
        "--cert",
        str(pki.cert),
        "--key",
        str(pki.key),
        "--alpn",
        "h2",
    ) as server:
        target = f"127.0.0.1:{server.port}"
        out = probe_tls(
            pyrama,
            target,
            "--ca",
            str(pki.ca),
            "--server-name",
            "localhost",
            "--alpn",
            "h2",
            "--json",
        )
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        assert report["ok"] is True
        assert report["version"] in ("TLSv1.3", "TLSv1.2")
        assert report["alpn"] == "h2"
        assert report["server_name"] == "localhost"
        assert report["verified"] is True
        assert report["trust"] == str(pki.ca)
        [leaf] = report["certificates"]
        assert leaf["subject"] == "CN=localhost"
        assert leaf["issuer"] == "CN=cli test CA"
        assert leaf["sans"] == ["DNS:localhost", "IP:127.0.0.1"]
        assert 360 <= leaf["days_left"] <= 365
        assert leaf["expired"] is False
        assert leaf["spki_sha256"] == listening(server)["spki_sha256"]

        text = probe_tls(pyrama, target, "--ca", str(pki.ca))
        assert text.returncode == 0, text.stderr
        assert "sni          none sent" in text.stdout  # an IP target sends no SNI
        assert f"verified     yes: chain trusted ({pki.ca})" in text.stdout
        assert "[0] subject      CN=localhost" in text.stdout
        assert "days left" in text.stdout

        # the system trust store does not know our CA: refused, exit 3
        refused = probe_tls(pyrama, target, "--server-name", "localhost")
        assert refused.returncode == 3
        assert "certificate refused" in refused.stderr
        assert "--insecure" in refused.stderr  # the hint
        # a name the certificate does not cover
        wrong = probe_tls(
            pyrama, target, "--ca", str(pki.ca), "--server-name", "example.com", "--json"
        )
        assert wrong.returncode == 3
        assert json.loads(wrong.stdout)["error"] == "verify"
        # --insecure shows the chain anyway; a matching pin passes, another does not
        insecure = probe_tls(pyrama, target, "--insecure", "--pin", leaf["spki_sha256"], "--json")
        assert insecure.returncode == 0, insecure.stderr
        assert json.loads(insecure.stdout)["verified"] is False
        assert json.loads(insecure.stdout)["pinned"] is True
        bad_pin = probe_tls(pyrama, target, "--insecure", "--pin", "00" * 32, "--json")
        assert bad_pin.returncode == 3
        assert json.loads(bad_pin.stdout)["error"] == "pin"


def test_probe_unreachable_and_non_tls_servers_exit_1(
    plain_echo: int, pyrama: Callable[..., Ran]
) -> None:
    dead = probe_tls(pyrama, f"127.0.0.1:{free_port()}", "--json")
    assert dead.returncode == 1
    assert json.loads(dead.stdout)["error"] == "connect"
    assert "cannot connect" in dead.stderr
    # a plain TCP echo answers the ClientHello with the ClientHello: not TLS
    plain = probe_tls(pyrama, f"127.0.0.1:{plain_echo}", "--insecure")
    assert plain.returncode == 1
    assert "handshake" in plain.stderr.lower()


@pytest.mark.parametrize(
    "args",
    [
        ["http://example.com/"],
        ["127.0.0.1:99999"],
        ["127.0.0.1", "--handshake-timeout", "0"],
        ["127.0.0.1", "--alpn", ""],
    ],
)
def test_probe_usage_errors_exit_2(args: list[str], pyrama: Callable[..., Ran]) -> None:
    assert probe_tls(pyrama, *args).returncode == 2


def test_probe_flag_mistakes_exit_2(pki: Pki, pyrama: Callable[..., Ran]) -> None:
    out = probe_tls(pyrama, "127.0.0.1:1", "--client-key", str(pki.client_key), "--json")
    assert out.returncode == 2
    assert "--client-key needs --client-cert" in json.loads(out.stdout)["message"]
    out = probe_tls(pyrama, "127.0.0.1:1", "--ca", "/nonexistent/ca.pem")
    assert out.returncode == 2
    assert "/nonexistent/ca.pem" in out.stderr


# -- stunnel exit: what failures leave in the log ----------------------------------------


def _local_name(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"{host}:{port}"


def _of(peer: str, event: str) -> Any:
    def match(e: dict[str, Any]) -> bool:
        got = e.get("peer")
        if isinstance(got, list):  # pyrama-tls logs the address as it is: (host, port)
            got = f"{got[0]}:{got[1]}"
        return e.get("event") == event and got == peer

    return match


def test_a_failed_handshake_is_logged_once(plain_echo: int) -> None:
    with serving(
        "stunnel", "exit", "--bind", "127.0.0.1:0", "--forward", f"127.0.0.1:{plain_echo}", "-v"
    ) as exit_:
        with socket.create_connection(("127.0.0.1", exit_.port), timeout=HANG_GUARD) as s:
            peer = _local_name(s)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"HTTP" not in recv_all(s)
        failed = exit_.wait_event(_of(peer, "tls handshake failed"))
        assert failed["reason"]
        # the connection then ends without a second report of the same failure
        exit_.wait_event(_of(peer, "connection closed"))
        assert not [e for e in exit_.events if e.get("event") == "connection failed"]


def test_a_client_reset_mid_tunnel_is_not_a_failure(pki: Pki, plain_echo: int) -> None:
    with serving(
        "stunnel",
        "exit",
        "--bind",
        "127.0.0.1:0",
        "--forward",
        f"127.0.0.1:{plain_echo}",
        "--cert",
        str(pki.cert),
        "--key",
        str(pki.key),
        "-v",
    ) as exit_:
        s = tls_client(exit_.port, cafile=pki.ca)
        peer = _local_name(s)
        payload = os.urandom(10_000)
        s.sendall(payload)
        assert recv_exact(s, len(payload)) == payload
        # close with a reset (SO_LINGER 0), no close_notify
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        reset = exit_.wait_event(_of(peer, "tunnel reset"))
        assert reset["side"] == "client"
        closed = exit_.wait_event(_of(peer, "connection closed"))
        assert closed["level"] == "debug"
        assert not [e for e in exit_.events if e.get("event") == "connection failed"]
        # and the tunnel keeps serving
        with tls_client(exit_.port, cafile=pki.ca) as again:
            again.sendall(b"still here")
            assert recv_exact(again, 10) == b"still here"


def test_stunnel_keeps_freed_memory_unless_the_environment_tunes_malloc() -> None:
    from pyrama.cli._stunnel import keep_freed_memory

    assert keep_freed_memory({"MALLOC_TRIM_THRESHOLD_": "131072"}) is False
    assert keep_freed_memory({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}) is False
    import ctypes
    import sys

    glibc = sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")
    assert keep_freed_memory({}) is glibc
