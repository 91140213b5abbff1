"""Workload ``forward``: layer-4 TCP forwarding, pyrama vs haproxy vs socat.

Every forwarder listens on 127.0.0.1 and forwards to the same loopback sinks:

* bulk throughput: ``iperf3 -s`` is the sink; ``iperf3 -c 127.0.0.1 -p <fwd> -n <bytes>``
  pushes the payload through each forwarder (``--json``, receiver-side bits/s);
* connection rate: the ``connrate`` echo sink; ``connrate client`` opens N short
  connections (connect, send 16 bytes, read them back, close) through each forwarder.

Each measurement runs ``--repeat`` rounds; the order of the forwarders rotates every round
and the report shows the median. "direct" (no forwarder) is measured too, for context.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks._harness import (
    BenchError,
    Proc,
    cpu_seconds,
    find_tool,
    free_port,
    host_facts,
    median,
    pyrama_executable,
    rotate,
    selected,
    start,
    wait_line,
    wait_port,
)
from benchmarks._tools import connrate_command

__all__ = ["add_arguments", "run"]

FORWARDERS = ("pyrama", "haproxy", "socat")
DEFAULT_PYRAMA_CMD = "{pyrama} serve forward --bind 127.0.0.1:{port} --to 127.0.0.1:{target}"

_SIZE = re.compile(r"^(\d+)([KMG]?)$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``1G`` / ``512M`` / ``4096`` -> bytes (binary multiples, like iperf3)."""
    m = _SIZE.match(text.strip())
    if m is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 1G, 512M)")
    mult = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()]
    return int(m.group(1)) * mult


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the ``forward`` workload."""
    p.add_argument("--bytes", type=parse_size, default=parse_size("1G"), help="bulk size (1G)")
    p.add_argument("--connections", type=int, default=2000, help="short connections per run")
    p.add_argument("--concurrency", type=int, default=16, help="connrate client threads")
    p.add_argument("--repeat", type=int, default=5, help="rounds per measurement (median)")
    p.add_argument(
        "--only",
        default=",".join(FORWARDERS),
        help="comma-separated forwarders to compare (default: %(default)s)",
    )
    p.add_argument(
        "--pyrama-cmd",
        default=DEFAULT_PYRAMA_CMD,
        help="pyrama forwarder command template; {pyrama} {port} {target} are filled in",
    )
    p.add_argument("--python-connrate", action="store_true", help="skip the C load tool")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-connrate", action="store_true")


# ------------------------------------------------------------------------------ forwarders


def _pyrama_argv(template: str, port: int, target: int) -> list[str]:
    return shlex.split(template.format(pyrama=pyrama_executable(), port=port, target=target))


def _socat_argv(port: int, target: int) -> list[str]:
    socat = find_tool("socat")
    assert socat is not None
    # backlog raised from socat's default of 5, or bursts of SYNs get dropped and retried
    return [
        socat,
        f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr,backlog=4096",
        f"TCP:127.0.0.1:{target}",
    ]


HAPROXY_L4_CFG = """\
global
    nbthread 1
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option splice-request
    option splice-response
frontend fwd
    bind 127.0.0.1:{port}
    default_backend sink
backend sink
    server sink1 127.0.0.1:{target}
"""


def haproxy_l4_argv(port: int, target: int, work: Path) -> list[str]:
    """haproxy as the L4 reference: one thread, splice both ways, *port* to *target*."""
    haproxy = find_tool("haproxy")
    assert haproxy is not None
    cfg = work / f"haproxy-{port}.cfg"
    cfg.write_text(HAPROXY_L4_CFG.format(port=port, target=target))
    return [haproxy, "-db", "-f", str(cfg)]


@dataclass
class Forwarders:
    """Running forwarders: ``procs[(name, sink)]`` and their listen ports."""

    procs: dict[tuple[str, str], Proc] = field(default_factory=dict)
    ports: dict[tuple[str, str], int] = field(default_factory=dict)

    def start(self, name: str, sink: str, target: int, work: Path, pyrama_cmd: str) -> None:
        """Start forwarder *name* in front of the sink listening on *target*."""
        port = free_port()
        build: dict[str, Callable[[], list[str]]] = {
            "pyrama": lambda: _pyrama_argv(pyrama_cmd, port, target),
            "socat": lambda: _socat_argv(port, target),
            "haproxy": lambda: haproxy_l4_argv(port, target, work),
        }
        proc = start(f"{name}-{sink}", build[name](), work)
        self.procs[(name, sink)] = proc
        wait_port(proc, port)
        self.ports[(name, sink)] = port

    def stop(self) -> None:
        """Stop every forwarder."""
        for proc in self.procs.values():
            proc.stop()


# ---------------------------------------------------------------------------- measurements


@dataclass
class Samples:
    """Per-forwarder samples of each metric."""

    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def add(self, metric: str, who: str, value: float) -> None:
        """Record one sample."""
        self.values.setdefault(metric, {}).setdefault(who, []).append(value)

    def med(self, metric: str, who: str) -> float:
        """Median of *metric* for *who* (NaN if not measured)."""
        return median(self.values.get(metric, {}).get(who, []))

    def ratio(self, metric: str, num: str, den: str) -> float:
        """Median over rounds of ``num / den``, each pair measured in the same round.

        Pairing by round cancels most of the drift in the host's load between rounds, which
        a ratio of the two medians would not.
        """
        a = self.values.get(metric, {}).get(num, [])
        b = self.values.get(metric, {}).get(den, [])
        return median([x / y for x, y in zip(a, b, strict=False) if y > 0])


def _throughput(iperf: str, port: int, nbytes: int, fwd: Proc | None) -> tuple[float, float]:
    """(Gbit/s, forwarder CPU seconds) for one iperf3 run through 127.0.0.1:*port*."""
    cpu0 = cpu_seconds(fwd.pid) if fwd else float("nan")
    out = subprocess.run(
        [iperf, "-c", "127.0.0.1", "-p", str(port), "-n", str(nbytes), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        data = json.loads(out.stdout)
    except json.JSONDecodeError:
        raise BenchError(
            f"iperf3 printed no JSON: {out.stdout[-500:]} {out.stderr[-500:]}"
        ) from None
    if "error" in data:
        raise BenchError(f"iperf3 through port {port}: {data['error']}")
    bps = float(data["end"]["sum_received"]["bits_per_second"])
    time.sleep(0.3)  # let socat's per-connection child exit and be reaped into cutime
    cpu = cpu_seconds(fwd.pid) - cpu0 if fwd else float("nan")
    return bps / 1e9, cpu


def _connrate(
    tool: list[str], port: int, n: int, conc: int, fwd: Proc | None
) -> tuple[float, int, float]:
    """(connections/s, errors, forwarder CPU seconds) for one connrate run."""
    cpu0 = cpu_seconds(fwd.pid) if fwd else float("nan")
    out = subprocess.run(
        [*tool, "client", str(port), str(n), str(conc), "16"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if out.returncode != 0:
        raise BenchError(f"connrate client failed: {out.stderr[-1000:]}")
    data = json.loads(out.stdout)
    time.sleep(0.3)
    cpu = cpu_seconds(fwd.pid) - cpu0 if fwd else float("nan")
    return float(data["rate"]), int(data["errors"]), cpu


# ---------------------------------------------------------------------------------- report


def _display(argv: list[str]) -> str:
    """*argv* for the report: the program's base name, scratch paths shortened."""
    shown = [Path(argv[0]).name, *argv[1:]]
    return " ".join(re.sub(r"/\S*/pyrama-bench-[^/]+/", "$SCRATCH/", shlex.quote(a)) for a in shown)


def _size(n: int) -> str:
    """``1 GiB``, ``4 MiB``, ``512 KiB`` or bytes."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


def _fmt(x: float, digits: int = 2) -> str:
    return "n/a" if math.isnan(x) else f"{x:.{digits}f}"


def _ratio(r: float) -> str:
    return "n/a" if math.isnan(r) else f"**{r:.2f}x**"


def _report(
    args: argparse.Namespace,
    names: list[str],
    missing: dict[str, str],
    samples: Samples,
    tool_label: str,
    argvs: dict[str, list[str]],
    pyrama_loop: str | None,
) -> str:
    others = [n for n in names if n != "pyrama"]
    gib = args.bytes / (1 << 30)
    lines = [
        "# Benchmark: `forward` (layer-4 TCP forwarding)",
        "",
        f"Generated {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} by "
        f"`python -m benchmarks {shlex.join(sys.argv[1:]) or 'forward'}`. "
        f"Every figure is a median over {args.repeat} rounds; the order of the forwarders "
        "rotates each round, and a ratio is the median of the per-round ratios (pyrama and "
        "the peer measured seconds apart, under much the same load). Everything runs on "
        "127.0.0.1, on the "
        "same machine as the load generators, so absolute numbers say more about this host "
        "than about the forwarders: read the ratios.",
        "",
        "## Ratios (pyrama / peer; higher is better for pyrama)",
        "",
        "| metric | " + " | ".join(f"pyrama / {o}" for o in others) + " |",
        "|---|" + "---|" * len(others),
    ]
    tp = "throughput"
    cr = "connrate"
    if tp in samples.values:
        row = [_ratio(samples.ratio(tp, "pyrama", o)) for o in others]
        lines.append(
            f"| bulk throughput ({_size(args.bytes)} via iperf3) | " + " | ".join(row) + " |"
        )
        # CPU: lower is better, so peer / pyrama keeps "higher is better for pyrama"
        row = [_ratio(samples.ratio("cpu_tp", o, "pyrama")) for o in others]
        lines.append("| CPU efficiency in bulk (peer CPU / pyrama CPU) | " + " | ".join(row) + " |")
    if cr in samples.values:
        row = [_ratio(samples.ratio(cr, "pyrama", o)) for o in others]
        lines.append(
            f"| connection rate ({args.connections} short connections) | " + " | ".join(row) + " |"
        )
    if tp in samples.values and "haproxy" in names:
        r = samples.ratio(tp, "pyrama", "haproxy")
        verdict = "met" if r >= 0.8 else "NOT met"
        lines += ["", f"Target: pyrama bulk throughput >= 0.8x haproxy: **{verdict}** ({r:.2f}x)."]

    cols = ["direct", *names]
    lines += [
        "",
        "## Absolute figures (medians)",
        "",
        "| metric | " + " | ".join(cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    if tp in samples.values:
        lines.append(
            "| throughput, Gbit/s | " + " | ".join(_fmt(samples.med(tp, c)) for c in cols) + " |"
        )
        lines.append(
            "| forwarder CPU, s per GiB | "
            + " | ".join(
                "-" if c == "direct" else _fmt(samples.med("cpu_tp", c) / gib, 3) for c in cols
            )
            + " |"
        )
    if cr in samples.values:
        lines.append(
            "| connections/s | " + " | ".join(_fmt(samples.med(cr, c), 0) for c in cols) + " |"
        )
        lines.append(
            "| forwarder CPU, ms per 1000 connections | "
            + " | ".join(
                "-" if c == "direct" else _fmt(samples.med("cpu_cr", c) * 1e6 / args.connections, 0)
                for c in cols
            )
            + " |"
        )
        lines.append(
            "| failed connections (total, all rounds) | "
            + " | ".join(str(int(sum(samples.values.get("errors", {}).get(c, [])))) for c in cols)
            + " |"
        )

    lines += ["", "## Every sample", ""]
    for metric, per in samples.values.items():
        for who, vals in per.items():
            lines.append(f"- {metric} / {who}: " + ", ".join(_fmt(v, 3) for v in vals))

    lines += ["", "## Setup", ""]
    facts = dict(
        host_facts(
            {
                "iperf3": [find_tool("iperf3") or "iperf3", "--version"],
                "haproxy": [find_tool("haproxy") or "haproxy", "-v"],
                "socat": [find_tool("socat") or "socat", "-V"],
            }
        )
    )
    for k, v in facts.items():
        lines.append(f"- {k}: {v}")
    lines.append(f"- connection-rate load tool: {tool_label}, {args.concurrency} threads")
    for name, argv in argvs.items():
        lines.append(f"- {name}: `{_display(argv)}`")
    if pyrama_loop:
        lines.append(f"- pyrama event loop: {pyrama_loop}")
    if "haproxy" in argvs:
        lines += [
            "- haproxy config:",
            "",
            "```",
            HAPROXY_L4_CFG.format(port="<port>", target="<sink>").rstrip(),
            "```",
        ]
    for name, why in missing.items():
        lines.append(f"- {name}: not measured ({why})")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- run


def run(args: argparse.Namespace, work: Path) -> str:
    """Run the workload in *work* (a scratch directory) and return the markdown report."""
    wanted = selected(args.only, FORWARDERS, "forwarders")
    missing: dict[str, str] = {}
    names: list[str] = []
    for n in wanted:
        if n != "pyrama" and find_tool(n) is None:
            missing[n] = f"`{n}` is not installed"
        else:
            names.append(n)
    iperf = find_tool("iperf3")
    if iperf is None and not args.skip_throughput:
        raise BenchError("iperf3 is required for the throughput measurement")
    tool, tool_label = connrate_command(work, force_python=args.python_connrate)

    samples = Samples()
    sinks: list[Proc] = []
    fwd = Forwarders()
    try:
        targets: dict[str, int] = {}
        if not args.skip_throughput:
            assert iperf is not None
            ip = free_port()
            sink = start(
                "iperf3-sink", [iperf, "-s", "--forceflush", "-B", "127.0.0.1", "-p", str(ip)], work
            )
            sinks.append(sink)
            wait_line(sink, r"Server listening")
            targets["iperf"] = ip
        if not args.skip_connrate:
            sink = start("echo-sink", [*tool, "sink", "0"], work)
            sinks.append(sink)
            targets["echo"] = int(wait_line(sink, r"listening 127\.0\.0\.1:(\d+)").group(1))

        for name in names:
            for sink_name, target in targets.items():
                fwd.start(name, sink_name, target, work, args.pyrama_cmd)
        argvs = {name: fwd.procs[(name, next(iter(targets)))].argv for name in names}
        pyrama_loop = None
        if "pyrama" in names:
            m = re.search(r"\bloop=(\w+)", fwd.procs[("pyrama", next(iter(targets)))].output())
            pyrama_loop = m.group(1) if m else None

        order = ["direct", *names]
        for r in range(args.repeat):
            if "iperf" in targets:
                for who in rotate(order, r):
                    assert iperf is not None
                    port = targets["iperf"] if who == "direct" else fwd.ports[(who, "iperf")]
                    proc = None if who == "direct" else fwd.procs[(who, "iperf")]
                    gbps, cpu = _throughput(iperf, port, args.bytes, proc)
                    samples.add("throughput", who, gbps)
                    if proc is not None:
                        samples.add("cpu_tp", who, cpu)
                    print(f"round {r + 1}: throughput {who:8s} {gbps:7.2f} Gbit/s", flush=True)
            if "echo" in targets:
                for who in rotate(order, r):
                    port = targets["echo"] if who == "direct" else fwd.ports[(who, "echo")]
                    proc = None if who == "direct" else fwd.procs[(who, "echo")]
                    rate, errors, cpu = _connrate(
                        tool, port, args.connections, args.concurrency, proc
                    )
                    samples.add("connrate", who, rate)
                    samples.add("errors", who, errors)
                    if proc is not None:
                        samples.add("cpu_cr", who, cpu)
                    print(
                        f"round {r + 1}: connrate   {who:8s} {rate:7.0f} conn/s ({errors} errors)",
                        flush=True,
                    )
        for proc in fwd.procs.values():
            proc.check_alive()
    finally:
        fwd.stop()
        for s in sinks:
            s.stop()
    return _report(args, names, missing, samples, tool_label, argvs, pyrama_loop)
