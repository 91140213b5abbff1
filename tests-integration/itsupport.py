"""Helpers for the integration suite (imported by conftest.py and the tests).

:class:`Running` is a subprocess started by the ``spawn`` fixture; :class:`Peers` drives the
third-party clients (socat, nc, curl); :class:`Poll` polls with hang guards.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pyrama_testing import require_peer

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

# A line that says "listen..." and names a loopback address: 127.0.0.1:PORT or [::1]:PORT.
LISTENING = r"(?i)listen.*?(?P<host>127\.0\.0\.1|\[::1\]):(?P<port>\d+)"

# Generous hang guards, never timing assertions.
START_TIMEOUT = 30.0
PEER_TIMEOUT = 20.0


class Running:
    """A subprocess started by :func:`spawn`, with its merged stdout+stderr collected."""

    def __init__(
        self, argv: Sequence[str], env: dict[str, str] | None, cwd: Path | None = None
    ) -> None:
        self.argv = list(argv)
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd or REPO,
            text=True,
            bufsize=1,
        )
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()
        self.host = ""
        self.port = 0

    def _collect(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self._lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def pid(self) -> int:
        """Process id."""
        return self.proc.pid

    def output(self) -> str:
        """Everything the process printed so far."""
        with self._cond:
            return "\n".join(self._lines)

    def wait_for(
        self, pattern: str, timeout: float = START_TIMEOUT, *, start: int = 0
    ) -> re.Match[str]:
        """Wait until an output line (from index *start*) matches *pattern*; return the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            i = start
            while True:
                while i < len(self._lines):
                    m = rx.search(self._lines[i])
                    if m is not None:
                        return m
                    i += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"{self.argv!r} never printed /{pattern}/ "
                        f"(exit code {self.proc.poll()}); output:\n" + "\n".join(self._lines)
                    )
                self._cond.wait(min(remaining, 0.2))

    def line_count(self) -> int:
        """How many output lines have been collected (a start index for :meth:`wait_for`)."""
        with self._cond:
            return len(self._lines)

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) parsed from the listening line."""
        return self.host.strip("[]"), self.port

    def signal(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Send *sig* to the process."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = START_TIMEOUT) -> int:
        """Wait for the process to exit and return its exit code."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.argv!r} did not exit within {timeout}s; output:\n{self.output()}"
            ) from None
        self._reader.join(5)
        return rc

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers (teardown)."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(5)


class Spawn(Protocol):
    """The ``spawn`` fixture: start *argv* and wait for its *ready* line."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        ready: str | None = LISTENING,
        timeout: float = START_TIMEOUT,
        cwd: Path | None = None,
    ) -> Running: ...


class Peers:
    """Third-party clients driven as subprocesses, each with a hang guard."""

    def run(
        self, argv: Sequence[str], data: bytes = b"", timeout: float = PEER_TIMEOUT
    ) -> subprocess.CompletedProcess[bytes]:
        """Run *argv* to completion with *data* on stdin; fail the test if it hangs."""
        try:
            return subprocess.run(
                list(argv), input=data, capture_output=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"{argv!r} hung for {timeout}s: {exc.stderr!r}") from None

    def exchange(
        self, argv: Sequence[str], data: bytes, expect: int, timeout: float = PEER_TIMEOUT
    ) -> bytes:
        """Start *argv*, write *data* to its stdin (kept open), read *expect* stdout bytes.

        For peers that would otherwise linger (a UDP client waiting for more datagrams, a
        server that does not close): the process is stopped once the bytes are in.
        """
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.stdin is not None
        assert proc.stdout is not None
        got = bytearray()
        try:
            proc.stdin.write(data)
            proc.stdin.flush()
            deadline = time.monotonic() + timeout
            fd = proc.stdout.fileno()
            while len(got) < expect:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                ready, _, _ = select.select([fd], [], [], remaining)
                if not ready:
                    break
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                got += chunk
        finally:
            proc.kill()
            proc.wait(10)
            stderr = proc.stderr.read() if proc.stderr else b""
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        assert len(got) >= expect, f"{argv!r} got {bytes(got)!r}, wanted {expect} bytes; {stderr!r}"
        return bytes(got)

    # -- TCP ---------------------------------------------------------------------------------

    def socat_tcp(self, port: int, data: bytes, host: str = "127.0.0.1") -> bytes:
        """Send *data* with socat, half-close, return everything the server sent back."""
        socat = require_peer("socat")
        out = self.run([socat, "-t", "10", "-", f"TCP:{host}:{port}"], data)
        assert out.returncode == 0, out.stderr.decode(errors="replace")
        return out.stdout

    def nc_tcp(self, port: int, data: bytes, host: str = "127.0.0.1") -> bytes:
        """Send *data* with OpenBSD nc (``-N``: shut down writing at stdin EOF), return reply."""
        nc = require_peer("nc")
        out = self.run([nc, "-N", "-w", "10", host, str(port)], data)
        assert out.returncode == 0, out.stderr.decode(errors="replace")
        return out.stdout

    # -- UDP ---------------------------------------------------------------------------------

    def socat_udp(self, port: int, data: bytes, expect: int) -> bytes:
        """Send *data* as one UDP datagram with socat and read *expect* reply bytes."""
        socat = require_peer("socat")
        return self.exchange([socat, "-", f"UDP:127.0.0.1:{port}"], data, expect)

    def nc_udp(self, port: int, data: bytes, expect: int) -> bytes:
        """Send *data* as one UDP datagram with nc and read *expect* reply bytes."""
        nc = require_peer("nc")
        return self.exchange([nc, "-u", "127.0.0.1", str(port)], data, expect)

    # -- HTTP --------------------------------------------------------------------------------

    def curl(self, url: str, *extra: str) -> bytes:
        """GET *url* with curl (``--fail``), return the body."""
        curl = require_peer("curl")
        out = self.run([curl, "-sS", "--fail", "--max-time", "30", *extra, url], timeout=60)
        assert out.returncode == 0, out.stderr.decode(errors="replace")
        return out.stdout

    # -- TLS ---------------------------------------------------------------------------------

    def s_client(
        self, port: int, *flags: str, data: bytes = b"", until: bytes = b"", timeout: float = 20
    ) -> str:
        """Run ``openssl s_client -connect 127.0.0.1:PORT *flags``, send *data*, return output.

        stdout and stderr come back together (the session summary, ``ALPN protocol: ...``,
        ``Verify return code: ...`` and what the server sent). Without *until* the client
        ends at stdin EOF; with it, it stays connected until both *until* and the session
        summary show up in its output (or *timeout*), then is stopped.
        """
        openssl = require_peer("openssl")
        argv = [openssl, "s_client", "-connect", f"127.0.0.1:{port}", *flags]
        if not until:
            out = self.run(argv, data, timeout=timeout)
            return (out.stdout + out.stderr).decode(errors="replace")
        proc = subprocess.Popen(
            [*argv, "-ign_eof"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert proc.stdin is not None
        assert proc.stdout is not None
        got = bytearray()
        try:
            proc.stdin.write(data)
            proc.stdin.flush()
            deadline = time.monotonic() + timeout
            fd = proc.stdout.fileno()
            while until not in got or b"Verify return" not in got:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                ready, _, _ = select.select([fd], [], [], remaining)
                if not ready:
                    break
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                got += chunk
        finally:
            proc.kill()
            proc.wait(10)
            for stream in (proc.stdin, proc.stdout):
                with contextlib.suppress(OSError):
                    stream.close()
        return got.decode(errors="replace")


class Poll:
    """Polling helpers with hang guards (never timing assertions)."""

    @staticmethod
    def connect_refused(port: int, host: str = "127.0.0.1") -> bool:
        """Whether a TCP connect to host:port is refused right now."""
        try:
            with socket.create_connection((host, port), timeout=2):
                return False
        except (ConnectionRefusedError, ConnectionResetError):
            # a reset: the connect raced the listener's close and was dropped from its backlog
            return True

    @staticmethod
    def until(cond: Callable[[], bool], timeout: float = START_TIMEOUT, what: str = "") -> None:
        """Poll *cond* until it is true; fail naming *what* after *timeout* seconds."""
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or cond!r}")
            time.sleep(0.05)

    @staticmethod
    def tcp_listening(port: int, host: str = "127.0.0.1", timeout: float = START_TIMEOUT) -> None:
        """Wait until something accepts TCP connections on host:port (for third-party sinks)."""

        def up() -> bool:
            try:
                with socket.create_connection((host, port), timeout=2):
                    return True
            except OSError:
                return False

        Poll.until(up, timeout, what=f"a TCP listener on {host}:{port}")


@dataclass(frozen=True)
class Pki:
    """PEM files of a test CA, a server certificate and a client certificate (see make_pki)."""

    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path

    @property
    def server_flags(self) -> list[str]:
        """``--cert`` / ``--key`` for a ``pyrama serve`` TLS command."""
        return ["--cert", str(self.cert), "--key", str(self.key)]


def make_pki(
    directory: Path, names: Sequence[str] = ("localhost", "127.0.0.1"), *, ca_name: str = "it CA"
) -> Pki:
    """Write a CA, a server certificate for *names* and a client certificate into *directory*."""
    from pyrama_tls import CertificateAuthority, save_certified_key

    directory.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority.generate(ca_name)
    pki = Pki(
        ca=directory / "ca.pem",
        cert=directory / "server.pem",
        key=directory / "server-key.pem",
        client_cert=directory / "client.pem",
        client_key=directory / "client-key.pem",
    )
    pki.ca.write_bytes(ca.cert_pem())
    save_certified_key(ca.issue_leaf(list(names)), pki.cert, pki.key)
    client = ca.issue_leaf(["client.it.test"], server_auth=False, client_auth=True)
    save_certified_key(client, pki.client_cert, pki.client_key)
    return pki
