"""The ``web_json`` benchmark workload still runs end to end (tiny duration; no speed asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from itsupport import REPO

from pyrama_testing import require_peer


def test_web_json_workload_smoke(tmp_path: Path) -> None:
    require_peer("wrk")
    out = tmp_path / "web_json.md"
    proc = subprocess.run(
        [
            sys.executable, "-m", "benchmarks", "web_json", "--seconds", "1", "--repeat", "2",
            "--connections", "8", "--out", str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = out.read_text()
    assert "Load: wrk -t2 -c8 -d1s (3 requests in turn)." in report
    assert "| server | / starlette-uvicorn-h11 | / aiohttp |" in report
    for ours in ("pyrama", "pyrama-h11"):
        ratio = r"\*\*\d[\d.]*x\*\*"
        assert re.search(rf"\| {ours} \| {ratio} \| {ratio} \|\n", report), ours
        assert re.search(rf"- {ours} >= 1\.2x starlette-uvicorn-h11: \*\*(met|NOT met)\*\*", report)
    assert report.count("| pyrama | **") == 2  # requests/s ratios and CPU ratios
    assert "| metric | pyrama | pyrama-h11 | starlette-uvicorn-h11 | aiohttp |" in report
    assert re.search(r"\| requests/s \| [\d,]+ \| [\d,]+ \| [\d,]+ \| [\d,]+ \|", report)
    # every request of every round got its 2xx (the 422 probe happens before the load)
    assert "Failed requests (non-2xx answers, socket errors; all rounds): none." in report
    assert re.search(r"- rps / aiohttp: [\d,.]+, [\d,.]+\n", report)
