"""The benchmark harness still runs end to end (tiny sizes; nothing about speed is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from itsupport import REPO

from pyrama_testing import require_peer


def test_forward_workload_smoke(tmp_path: Path) -> None:
    # no C compiler needed: the harness falls back to its Python load tool
    for peer in ("iperf3", "haproxy", "socat"):
        require_peer(peer)
    out = tmp_path / "forward.md"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "forward",
            "--bytes",
            "4M",
            "--connections",
            "50",
            "--concurrency",
            "4",
            "--repeat",
            "2",
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = out.read_text()
    assert "| bulk throughput (4 MiB via iperf3) | **" in report
    assert re.search(r"\| connection rate \(50 short connections\) \| \*\*\d", report)
    assert "| metric | direct | pyrama | haproxy | socat |" in report
    # every connection of every round made it through every forwarder
    assert "| failed connections (total, all rounds) | 0 | 0 | 0 | 0 |" in report
    assert re.search(
        r"Target: pyrama bulk throughput >= 0\.8x haproxy: \*\*(met|NOT met)\*\*", report
    )
    # two samples per contender and metric
    assert re.search(r"- throughput / pyrama: [\d.]+, [\d.]+\n", report)
