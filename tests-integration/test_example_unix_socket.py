"""examples/unix_socket.py: Unix socket server (credentials greeting + echo) and client."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

from itsupport import Peers, Spawn

from pyrama_testing import require_peer

READY = r"listening.*path=(?P<path>\S+)"


def test_server_with_socat_nc_python_and_its_own_client(
    spawn: Spawn, example: Callable[[str], list[str]], tmp_path: Path, peers: Peers
) -> None:
    path = tmp_path / "ex.sock"
    r = spawn([*example("unix_socket"), "serve", str(path)], ready=READY)
    assert stat.S_ISSOCK(path.stat().st_mode)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    uid = os.getuid()
    socat = require_peer("socat")
    out = peers.run([socat, "-t", "10", "-", f"UNIX-CONNECT:{path}"], b"via socat\n")
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(rb"hello pid=\d+ uid=%d\nvia socat\n" % uid, out.stdout), out.stdout

    nc = require_peer("nc")
    out = peers.run([nc, "-N", "-U", str(path)], b"via nc\n")
    assert out.stdout.endswith(b"\nvia nc\n"), out.stdout

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(20)
        s.connect(str(path))
        s.sendall(b"via python")
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data == f"hello pid={os.getpid()} uid={uid}\nvia python".encode()

    mine = subprocess.run(
        [*example("unix_socket"), "client", str(path), "from the example client"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert mine.returncode == 0, mine.stderr
    lines = mine.stdout.splitlines()
    assert re.fullmatch(rf"hello pid=\d+ uid={uid}", lines[0])
    assert lines[1] == "echo: from the example client"

    r.signal(signal.SIGTERM)
    assert r.wait_exit() == 0
    assert not path.exists()  # the listener removed its socket file
    assert "removed=True" in r.output()


def test_stale_socket_file_is_replaced(
    spawn: Spawn, example: Callable[[str], list[str]], tmp_path: Path, peers: Peers
) -> None:
    path = tmp_path / "stale.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # leaves a socket file nobody listens on
    spawn([*example("unix_socket"), "serve"], env={"SOCKET_PATH": str(path)}, ready=READY)
    nc = require_peer("nc")
    out = peers.run([nc, "-N", "-U", str(path)], b"ok\n")
    assert out.stdout.endswith(b"\nok\n")
