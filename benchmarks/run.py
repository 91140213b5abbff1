"""Run a benchmark workload against pyrama and its peers in one go and write a report.

Usage (from the repository root)::

    python -m benchmarks forward                # 1 GiB bulk + 2000 connections, 3 rounds
    python -m benchmarks forward --repeat 5 --bytes 2G
    python -m benchmarks proxy --only pyrama,squid,dante   # CONNECT + SOCKS5 tunnels
    python benchmarks/run.py forward --only pyrama,haproxy

The report (markdown: ratios first, absolute figures for context) is written to
``benchmarks/results/<workload>.md`` unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    # replace (not prepend) the script's own directory: benchmarks/http.py must not shadow
    # the standard library's http package
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from benchmarks import budget, forward, http, instructions, memory, proxy, tls, web_json
from benchmarks._harness import BenchError

RESULTS = Path(__file__).resolve().parent / "results"

WORKLOADS = {
    "budget": budget,
    "forward": forward,
    "http": http,
    "instructions": instructions,
    "memory": memory,
    "proxy": proxy,
    "tls": tls,
    "web_json": web_json,
}


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per workload."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="workload", required=True)
    for name, mod in WORKLOADS.items():
        p = sub.add_parser(name, help=(mod.__doc__ or "").split("\n")[0])
        p.add_argument("--out", type=Path, help=f"report path (default results/{name}.md)")
        p.add_argument("--keep", action="store_true", help="keep the scratch dir (logs)")
        mod.add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    mod = WORKLOADS[args.workload]
    out: Path = args.out or RESULTS / f"{args.workload}.md"
    work = Path(tempfile.mkdtemp(prefix=f"pyrama-bench-{args.workload}-"))
    try:
        report = mod.run(args, work)
    except BenchError as exc:
        print(f"benchmark failed: {exc}\n(logs in {work})", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    print(report)
    print(f"report written to {out}")
    if args.keep:
        print(f"scratch dir kept: {work}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
