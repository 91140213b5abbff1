"""The ``memory`` benchmark workload still runs end to end (tiny sizes; no figure is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from itsupport import REPO


def test_memory_workload_smoke(tmp_path: Path) -> None:
    out = tmp_path / "memory.md"
    proc = subprocess.run(
        [
            sys.executable, "-m", "benchmarks", "memory", "--connections", "200", "--repeat", "1",
            "--settle", "0.5", "--only", "pyrama,hypercorn,uvicorn-httptools", "--out", str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = out.read_text()
    assert "| pyrama / hypercorn | pyrama / uvicorn-httptools |" in report
    assert re.search(r"\| \*\*-?\d[\d.]*x\*\* \| \*\*-?\d[\d.]*x\*\* \|", report)
    assert re.search(
        r"Target: pyrama <= 0.5x hypercorn's memory per connection: \*\*(met|NOT met)\*\*", report
    )
    assert re.search(r"- pyrama: -?\d+\.\d\n- hypercorn: -?\d+\.\d\n", report)
