"""examples/tcp_forward.py: curl and socat through the bridge-based forwarder."""

from __future__ import annotations

import hashlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from itsupport import Peers, Poll, Spawn

from pyrama_testing import free_port, require_peer


def test_curl_through_the_forwarder(
    spawn: Spawn, example: Callable[[str], list[str]], tmp_path: Path, peers: Peers
) -> None:
    (tmp_path / "index.txt").write_bytes(b"forwarded by pyrama\n")
    big = os.urandom(16 << 20)
    (tmp_path / "big.bin").write_bytes(big)
    http_port = free_port()
    spawn(
        [sys.executable, "-m", "http.server", str(http_port), "--bind", "127.0.0.1"],
        ready=r"Serving HTTP",
        cwd=tmp_path,
    )
    fwd = spawn(example("tcp_forward"), env={"PORT": "0", "TARGET": f"127.0.0.1:{http_port}"})
    assert f"target=127.0.0.1:{http_port}" in fwd.output()

    base = f"http://127.0.0.1:{fwd.port}"
    assert peers.curl(f"{base}/index.txt") == b"forwarded by pyrama\n"
    body = peers.curl(f"{base}/big.bin")
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(big).hexdigest()
    # the big response (headers + 16 MiB) was counted, and moved by os.splice
    m = fwd.wait_for(r"forwarded.*down=(?P<down>\d{8,})")
    assert int(m["down"]) > len(big)
    assert "zero_copy=True" in m.string

    fwd.signal(signal.SIGTERM)
    assert fwd.wait_exit() == 0


def test_bidirectional_bulk_with_half_close(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers
) -> None:
    socat = require_peer("socat")
    sink = free_port()
    spawn([socat, f"TCP-LISTEN:{sink},bind=127.0.0.1,fork,reuseaddr", "PIPE"], ready=None)
    Poll.tcp_listening(sink)
    fwd = spawn([*example("tcp_forward"), "0", f"127.0.0.1:{sink}"])
    payload = os.urandom(12 << 20)
    # socat sends, half-closes, and still receives the whole echo through the bridge
    assert peers.socat_tcp(fwd.port, payload) == payload
    n = len(payload)
    line = fwd.wait_for(r"forwarded.*down=").string
    assert f"down={n} " in line
    assert f"up={n} " in line


def test_unreachable_target_closes_the_client(
    spawn: Spawn, example: Callable[[str], list[str]], peers: Peers
) -> None:
    dead = free_port()
    fwd = spawn(example("tcp_forward"), env={"PORT": "0", "TARGET": f"127.0.0.1:{dead}"})
    assert peers.nc_tcp(fwd.port, b"hello?\n") == b""
    fwd.wait_for(r"target unreachable")
    assert fwd.proc.poll() is None
