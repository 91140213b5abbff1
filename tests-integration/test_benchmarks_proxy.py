"""The ``proxy`` benchmark workload still runs end to end (tiny sizes; no speed is asserted):
CONNECT and SOCKS5 tunnels, the plain forward-proxy row (wrk, nginx origin) and the haproxy /
``pyrama serve forward`` L4 bulk reference."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from itsupport import REPO

from pyrama_testing import require_peer


def test_proxy_workload_smoke(tmp_path: Path) -> None:
    for peer in ("squid", "danted", "cc", "nginx", "wrk", "haproxy"):
        require_peer(peer)
    out = tmp_path / "proxy.md"
    proc = subprocess.run(
        [
            sys.executable, "-m", "benchmarks", "proxy", "--only", "pyrama,squid,dante",
            "--bytes", "4M", "--connections", "20", "--concurrency", "2", "--repeat", "1",
            "--forward-seconds", "1", "--forward-connections", "2", "--out", str(out),
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
    # the forward row: pyrama and squid forwarded absolute-form requests, none failed
    assert "### Plain forward proxying (absolute-form GET on keep-alive connections)" in report
    assert re.search(r"\| requests per second \| \*\*\d", report)
    assert "| metric | pyrama | squid |" in report
    row = re.search(r"\| failed requests \(total, all rounds\) \| (.+) \|", report)
    assert row is not None
    assert set(row.group(1).split(" | ")) == {"0"}
    assert re.search(r"- forward:rps / pyrama: [\d.]+\n", report)
    assert re.search(r"- forward:rps / squid: [\d.]+\n", report)
    assert re.search(r"- plain forward proxying >= 1\.0x squid: \*\*(met|NOT met)\*\*", report)
    # the L4 reference: haproxy and pyrama serve forward, ratios against haproxy
    assert re.search(r"\| pyrama HTTP CONNECT bulk / haproxy L4 bulk \| \*\*\d", report)
    assert re.search(r"\| pyrama SOCKS5 bulk / haproxy L4 bulk \| \*\*\d", report)
    assert re.search(r"\| `pyrama serve forward` \(L4\) bulk / haproxy L4 bulk \| \*\*\d", report)
    assert re.search(r"- l4:bulk / haproxy: [\d.]+\n", report)
    assert re.search(r"- l4:bulk / pyrama-forward: [\d.]+\n", report)
    assert "| metric | haproxy | pyrama-forward |" in report
