"""The ``budget`` benchmark workload runs end to end (tiny N; no speed asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from itsupport import REPO


def test_budget_workload_smoke(tmp_path: Path) -> None:
    out = tmp_path / "budget.md"
    proc = subprocess.run(
        [
            sys.executable, "-m", "benchmarks", "budget", "--requests", "20", "--repeat", "2",
            "--out", str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = out.read_text()
    assert report.startswith("# Benchmark: `budget`")
    num = r"\d+\.\d"
    # the bare server: both codecs, three arrival modes each
    for codec in ("httptools", "h11"):
        for mode in ("sequential", "pipelined", "unique heads", "1 req/conn"):
            row = rf"\| {codec} {mode} \| \*\*{num}\*\* \| {num}\.\.{num} \|\n"
            assert re.search(row, report), (codec, mode)
    # one row per layer, each with an added cost, its spread and the total
    layer_rows = re.findall(
        rf"^\| ([^|]+) \| \*\*[+-]{num}\*\* \| [+-]{num}\.\.[+-]{num} \| {num} \|$",
        report,
        re.M,
    )
    names = " / ".join(layer_rows)
    for name in (
        "TraceLayer", "HttpTimeoutLayer", "CompressionLayer (5-byte", "CorsLayer", "RequestIdLayer",
        "SetResponseHeaderLayer", "NormalizePathLayer", "ForwardedLayer", "RequiredHeaderLayer",
        "HttpLimitLayer", "RequestBodyLimitLayer", "ErrorToResponseLayer", "OpenTelemetryLayer",
        "core TimeoutLayer", "core ConcurrencyLimitLayer", "web Router", "CompressionLayer (4 KiB",
    ):  # fmt: skip
        assert name in names, name
    assert len(layer_rows) == 17
    # every sample line has one figure per round
    assert re.search(rf"- h11 pipelined: {num}, {num}\n", report)
