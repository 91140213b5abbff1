"""The ``instructions`` benchmark workload runs end to end under callgrind (tiny counts; no
figure is asserted beyond being a positive count), and its arithmetic is right."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from itsupport import REPO

from pyrama_testing import require_peer


def test_marginal_and_totals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO))  # the benchmarks package lives at the repo root
    from benchmarks._harness import BenchError
    from benchmarks.instructions import callgrind_total, marginal

    assert marginal(1_000, 5_000, 10, 30) == 200.0
    with pytest.raises(ValueError, match="larger"):
        marginal(1, 2, 30, 10)
    out = tmp_path / "callgrind.out"
    out.write_text("version: 1\ncmd: x\nevents: Ir\nsummary: 123456\ntotals: 123456\n")
    assert callgrind_total(out) == 123456
    out.write_text("version: 1\n")
    with pytest.raises(BenchError, match="no instruction total"):
        callgrind_total(out)


@pytest.mark.timeout(900)
def test_instructions_workload_smoke(tmp_path: Path) -> None:
    # h1: pyrama and nginx counted in one process each (dumps); connect: pyrama, and squid
    # (which runs as its own user) started once per load
    for peer in ("valgrind", "callgrind_control", "squid", "nginx", "h2load", "cc"):
        require_peer(peer)
    out = tmp_path / "instructions.md"
    proc = subprocess.run(
        [
            sys.executable, "-m", "benchmarks", "instructions", "--rows", "h1,connect",
            "--only", "pyrama,nginx,squid", "--requests", "64,192", "--tunnels", "16,48",
            "--connections", "4", "--out", str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = out.read_text()
    assert report.startswith("# Benchmark: `instructions`")
    rows = dict(re.findall(r"^\| (pyrama|nginx|squid) \| ([\d,.]+)k \|", report, re.MULTILINE))
    assert set(rows) == {"pyrama", "nginx", "squid"}
    # every contender of every row got a positive count, and each peer a ratio to pyrama
    counts = re.findall(r"^\| (\w+) \| ([\d,.]+)k \| (.+) \|$", report, re.MULTILINE)
    assert len(counts) == 4  # h1: pyrama, nginx; connect: pyrama, squid
    for name, value, ratio in counts:
        assert float(value.replace(",", "")) > 0
        if name == "pyrama":
            assert ratio == "-"
        else:
            assert re.fullmatch(r"\*\*\d+\.\d\dx\*\*", ratio)
