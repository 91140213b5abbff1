"""The ``http`` benchmark workload still runs end to end (tiny sizes; no speed is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from itsupport import REPO

from pyrama_testing import require_peer


def test_http_workload_smoke(tmp_path: Path) -> None:
    for peer in ("wrk", "h2load", "nginx"):
        require_peer(peer)
    out = tmp_path / "http.md"
    proc = subprocess.run(
        [
            sys.executable, "-m", "benchmarks", "http", "--seconds", "1", "--repeat", "2",
            "--connections", "8", "--h2-clients", "2", "--profile", "--out", str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = out.read_text()
    header = (
        "| run | pyrama / uvicorn-h11 | pyrama / uvicorn-httptools | pyrama / hypercorn "
        "| pyrama / nginx |"
    )
    assert header in report
    assert re.search(r"\| h1: wrk -t2 -c8 -d1s \| \*\*\d[\d.]*x\*\* \| \*\*\d", report)
    assert re.search(
        r"\| h2 \(h2c, prior knowledge\): h2load -c2 -m10 -D 1 \| - \| - \| \*\*\d", report
    )
    assert re.search(r"\| h2 over TLS: h2load -c2 -m10 -D 1 \| - \| - \| \*\*\d", report)
    assert "CPU efficiency" in report
    for target in ("h1: pyrama >= 1.5x uvicorn-h11", "h1: pyrama >= 2x uvicorn-httptools",
                   "h1: pyrama-h11 >= 1.3x uvicorn-h11", "h2c: pyrama >= 3x hypercorn",
                   "h2: pyrama >= 3x hypercorn"):  # fmt: skip
        assert re.search(re.escape(target) + r": \*\*(met|NOT met)\*\*", report)
    assert (
        "| run | pyrama | pyrama-h11 | uvicorn-h11 | uvicorn-httptools | hypercorn | nginx |"
        in report
    )
    assert re.search(r"\| h1 with the h11 codec \(pyrama-h11 / peer\) \| \*\*\d", report)
    assert re.search(r"- rps_h1 / pyrama-h11: [\d,.]+, [\d,.]+\n", report)
    # every request of every run got its 2xx
    assert "Failed requests (non-2xx answers, socket or stream errors; all rounds): none." in report
    # two samples per server and run
    assert re.search(r"- rps_h1 / uvicorn-httptools: [\d,.]+, [\d,.]+\n", report)
    assert re.search(r"- rps_h2 / nginx: [\d,.]+, [\d,.]+\n", report)
    # the profile of each run, by component
    assert report.count("| component | own s | share |") == 3
    assert "| h2 + hpack + hyperframe |" in report
