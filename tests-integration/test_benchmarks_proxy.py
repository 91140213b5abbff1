"""The ``proxy`` benchmark workload still runs end to end (tiny sizes; no speed is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from itsupport import REPO

from pyrama_testing import require_peer


def test_proxy_workload_smoke(tmp_path: Path) -> None:
    for peer in ("squid", "danted", "cc"):
        require_peer(peer)
    out = tmp_path / "proxy.md"
    proc = subprocess.run(
        [
            sys.executable, "-m", "benchmarks", "proxy", "--only", "pyrama,squid,dante",
            "--bytes", "4M", "--connections", "20", "--concurrency", "2", "--repeat", "1",
            "--out", str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = out.read_text()
    assert report.startswith("# Benchmark: `proxy` (CONNECT and SOCKS5 tunnels)\n")
    assert "| metric | pyrama / squid |" in report
    assert "| metric | pyrama / dante |" in report
    assert re.search(r"\| bulk throughput \(4 MiB download\) \| \*\*\d", report)
    assert re.search(r"\| new tunnels per second \(20 tunnels\) \| \*\*\d", report)
    assert "| metric | direct | pyrama | squid |" in report
    assert "| metric | direct | pyrama | dante |" in report
    assert re.search(r"- SOCKS5 bulk throughput >= 0\.8x dante: \*\*(met|NOT met)\*\*", report)
    # every tunnel worked, one sample per contender, protocol and metric
    for row in re.findall(r"\| failed tunnels \(total, all rounds\) \| (.+) \|", report):
        assert set(row.split(" | ")) == {"0"}
    for who, proto in (
        ("pyrama", "http"),
        ("squid", "http"),
        ("pyrama", "socks5"),
        ("dante", "socks5"),
    ):
        assert re.search(rf"- {proto}:bulk / {who}: [\d.]+\n", report)
        assert re.search(rf"- {proto}:rate / {who}: [\d.]+\n", report)
