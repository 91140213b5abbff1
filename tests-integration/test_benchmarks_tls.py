"""The ``tls`` benchmark workload still runs end to end (tiny sizes; no speed is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from itsupport import REPO

from pyrama_testing import require_peer


def test_tls_workload_smoke(tmp_path: Path) -> None:
    for peer in ("openssl", "haproxy", "stunnel4"):
        require_peer(peer)
    out = tmp_path / "tls.md"
    proc = subprocess.run(
        [
            sys.executable, "-m", "benchmarks", "tls", "--bytes", "4M", "--seconds", "1",
            "--clients", "1", "--repeat", "1", "--out", str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = out.read_text()
    assert "| metric | pyrama / haproxy | pyrama / stunnel |" in report
    assert re.search(r"\| full handshakes/s \(openssl s_time -new, 1 clients\) \| \*\*\d", report)
    assert re.search(r"\| bulk throughput \(4 MiB over one connection\) \| \*\*\d", report)
    assert "| metric | pyrama | haproxy | stunnel |" in report
    # every terminator negotiated the same protocol for the bulk transfer
    negotiated = re.search(r"\| negotiated \(bulk\) \| (.+) \|", report)
    assert negotiated is not None
    assert len(set(negotiated.group(1).split(" | "))) == 1
    # one sample per contender and metric (one round)
    for who in ("pyrama", "haproxy", "stunnel"):
        assert re.search(rf"- handshakes / {who}: [\d.]+\n", report)
        assert re.search(rf"- throughput / {who}: [\d.]+\n", report)
