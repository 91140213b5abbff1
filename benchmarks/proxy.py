"""Workload ``proxy``: CONNECT and SOCKS5 tunnels through pyrama and five peers.

Every proxy listens on 127.0.0.1 and tunnels to the same loopback origins, driven by
``tools/tunnelbench.c`` (built on demand):

* bulk throughput: one tunnel downloads ``--bytes`` (1 GiB) from the ``tunnelbench source``
  origin (Gbit/s, and the proxy's CPU seconds per GiB);
* tunnel rate: ``--connections`` short tunnels (set up, 16 bytes echoed by the connrate sink,
  closed), ``--concurrency`` at a time (tunnels/s, and the proxy's CPU per 1000 tunnels).

Both are measured for each protocol a proxy speaks: HTTP CONNECT (pyrama, pproxy, proxy.py,
mitmproxy with ``--ignore-hosts '.*'``, squid) and SOCKS5 (pyrama, pproxy, mitmproxy, dante).
Each measurement runs ``--repeat`` rounds with the order rotated every round; the report shows
medians and per-round ratios. The Python peers run from their own virtualenvs (pproxy breaks
under uvloop, and none of them belongs in the workspace), made with ``uv`` under
``--cache-dir`` the first time they are needed.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks._harness import (
    BenchError,
    Proc,
    find_tool,
    free_port,
    host_facts,
    pyrama_executable,
    rotate,
    start,
    wait_line,
    wait_port,
)
from benchmarks._tools import connrate_command
from benchmarks.forward import Samples, parse_size

__all__ = ["add_arguments", "run"]

PROXIES = ("pyrama", "pproxy", "proxy.py", "mitmproxy", "squid", "dante")
PROTOCOLS = ("http", "socks5")
PYTHON_PEERS = ("pproxy", "proxy.py", "mitmproxy")
SPEAKS: dict[str, tuple[str, ...]] = {
    "pyrama": ("http", "socks5"),
    "pproxy": ("http", "socks5"),
    "proxy.py": ("http",),
    "mitmproxy": ("http", "socks5"),
    "squid": ("http",),
    "dante": ("socks5",),
}
# package to install into each Python peer's own venv, and its console script
VENVS: dict[str, tuple[str, str]] = {
    "pproxy": ("pproxy", "pproxy"),
    "proxy.py": ("proxy.py", "proxy"),
    "mitmproxy": ("mitmproxy", "mitmdump"),
}
DEFAULT_PYRAMA_HTTP = "{pyrama} serve proxy 127.0.0.1:{port}"
DEFAULT_PYRAMA_SOCKS5 = "{pyrama} serve proxy 127.0.0.1:{port} --socks5"
_SOURCE = Path(__file__).resolve().parent / "tools" / "tunnelbench.c"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the ``proxy`` workload."""
    p.add_argument("--bytes", type=parse_size, default=parse_size("1G"), help="bulk size (1G)")
    p.add_argument("--connections", type=int, default=2000, help="short tunnels per run")
    p.add_argument("--concurrency", type=int, default=16, help="tunnel-rate client threads")
    p.add_argument("--repeat", type=int, default=3, help="rounds per measurement (median)")
    p.add_argument(
        "--only",
        default=",".join(PROXIES),
        help="comma-separated proxies to compare (default: %(default)s)",
    )
    p.add_argument(
        "--protocols",
        default=",".join(PROTOCOLS),
        help="comma-separated tunnel protocols (default: %(default)s)",
    )
    p.add_argument("--pyrama-http-cmd", default=DEFAULT_PYRAMA_HTTP, help="{pyrama} {port}")
    p.add_argument("--pyrama-socks5-cmd", default=DEFAULT_PYRAMA_SOCKS5, help="{pyrama} {port}")
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pyrama-bench",
        help="where the Python peers' virtualenvs live (default: %(default)s)",
    )
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-rate", action="store_true")


# --------------------------------------------------------------------------------- tools


def build_tunnelbench(work: Path) -> str:
    """Compile ``tools/tunnelbench.c`` into *work*; return the binary's path."""
    cc = find_tool("cc") or find_tool("gcc") or find_tool("clang")
    if cc is None:
        raise BenchError("a C compiler (cc) is needed to build the tunnelbench load tool")
    out = work / "tunnelbench"
    proc = subprocess.run(
        [cc, "-O2", "-pthread", "-o", str(out), str(_SOURCE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"building {_SOURCE.name} failed:\n{proc.stderr}")
    return str(out)


def ensure_venv(name: str, cache: Path) -> tuple[Path, str]:
    """The console script of Python peer *name* in its own venv (made with uv if missing).

    Returns (script path, installed version). The venv lives in ``cache/<name>``; a marker
    file records a finished install so a half-made venv is rebuilt.
    """
    package, script = VENVS[name]
    uv = find_tool("uv")
    venv = cache / name.replace(".", "_")
    marker = venv / ".pyrama-bench-installed"
    if not marker.exists():
        if uv is None:
            raise BenchError(f"uv is needed to create the {name} virtualenv")
        venv.parent.mkdir(parents=True, exist_ok=True)
        for argv in (
            [uv, "venv", "-q", "--clear", "--python", "3.11", str(venv)],
            [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), package],
        ):
            proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
            if proc.returncode != 0:
                raise BenchError(f"{shlex.join(argv)} failed:\n{proc.stderr[-2000:]}")
        marker.write_text(package + "\n")
    version = "?"
    if uv is not None:
        proc = subprocess.run(
            [uv, "pip", "freeze", "--python", str(venv / "bin" / "python")],
            capture_output=True,
            text=True,
            check=False,
        )
        for line in proc.stdout.splitlines():
            if line.lower().startswith(package.lower() + "=="):
                version = line.split("==", 1)[1]
    return venv / "bin" / script, version


# ------------------------------------------------------------------------------- proxies

_SQUID_CFG = """\
http_port 127.0.0.1:{port}
http_access allow all
cache deny all
cache_mem 0 MB
access_log none
cache_log /dev/null
pid_filename {work}/squid-{port}.pid
coredump_dir {work}
pinger_enable off
shutdown_lifetime 1 seconds
workers 1
"""

_DANTE_CFG = """\
logoutput: {work}/dante-{port}.log
internal: 127.0.0.1 port = {port}
external: 127.0.0.1
clientmethod: none
socksmethod: none
{users}client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}
socks pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}
"""


def _argv(
    name: str, proto: str, port: int, work: Path, args: argparse.Namespace, scripts: dict[str, Path]
) -> list[str]:
    """The command line that runs proxy *name* for *proto* on 127.0.0.1:*port*."""
    if name == "pyrama":
        template = args.pyrama_http_cmd if proto == "http" else args.pyrama_socks5_cmd
        return shlex.split(template.format(pyrama=pyrama_executable(), port=port))
    if name == "pproxy":
        return [str(scripts[name]), "-l", f"{proto}://127.0.0.1:{port}"]
    if name == "proxy.py":
        # one acceptor and one worker: every contender gets one process (dante excepted)
        return [
            str(scripts[name]),
            "--hostname", "127.0.0.1", "--port", str(port),
            "--num-acceptors", "1", "--num-workers", "1", "--log-level", "WARNING",
        ]  # fmt: skip
    if name == "mitmproxy":
        argv = [str(scripts[name]), "-q", "--listen-host", "127.0.0.1", "-p", str(port)]
        argv += ["--ignore-hosts", ".*"]
        if proto == "socks5":
            argv += ["--mode", "socks5"]
        return argv
    if name == "squid":
        squid = find_tool("squid")
        assert squid is not None
        cfg = work / f"squid-{port}.conf"
        cfg.write_text(_SQUID_CFG.format(port=port, work=work))
        return [squid, "-N", "-f", str(cfg)]
    if name == "dante":
        danted = find_tool("danted") or find_tool("sockd")
        assert danted is not None
        users = "user.privileged: root\nuser.unprivileged: nobody\n" if os.geteuid() == 0 else ""
        cfg = work / f"dante-{port}.conf"
        cfg.write_text(_DANTE_CFG.format(port=port, work=work, users=users))
        return [danted, "-f", str(cfg), "-p", str(work / f"dante-{port}.pid")]
    raise BenchError(f"unknown proxy {name!r}")


def _available(name: str) -> str | None:
    """Why proxy *name* cannot run here (``None`` if it can)."""
    if name == "squid" and find_tool("squid") is None:
        return "`squid` is not installed"
    if name == "dante" and find_tool("danted") is None and find_tool("sockd") is None:
        return "`danted` is not installed"
    if name in VENVS and find_tool("uv") is None:
        return "`uv` is not installed (needed for its virtualenv)"
    return None


@dataclass
class Running:
    """Running proxies: ``procs[(name, proto)]`` and their listen ports."""

    procs: dict[tuple[str, str], Proc] = field(default_factory=dict)
    ports: dict[tuple[str, str], int] = field(default_factory=dict)

    def stop(self) -> None:
        """Stop every proxy."""
        for proc in self.procs.values():
            proc.stop()


# --------------------------------------------------------------------------- measurements


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system, with reaped children) of every process in group *pgid*.

    Each proxy runs in its own session, so this covers dante's per-client children and
    proxy.py's workers, alive or exited but not yet reaped, not just the leader.
    """
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        # fields[2] is the process group; utime, stime, cutime, cstime are fields[11:15]
        if int(fields[2]) == pgid:
            total += sum(int(fields[i]) for i in (11, 12, 13, 14)) / tick
    return total


def _bulk(
    tool: str, who: str, proto: str, port: int, origin: int, nbytes: int, proc: Proc | None
) -> tuple[float, float]:
    """(Gbit/s, proxy CPU seconds) for one download through a tunnel."""
    cpu0 = group_cpu(proc.pid) if proc else float("nan")
    mode = "direct" if proc is None else proto
    out = subprocess.run(
        [tool, "bulk", str(port), mode, str(origin), str(nbytes)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if out.returncode != 0:
        raise BenchError(f"bulk download through {who} ({proto}) failed: {out.stderr[-1000:]}")
    data = json.loads(out.stdout)
    time.sleep(0.2)
    cpu = group_cpu(proc.pid) - cpu0 if proc else float("nan")
    return float(data["gbps"]), cpu


def _rate(
    tool: str, proto: str, port: int, origin: int, n: int, conc: int, proc: Proc | None
) -> tuple[float, int, float]:
    """(tunnels/s, errors, proxy CPU seconds) for one tunnel-rate run."""
    cpu0 = group_cpu(proc.pid) if proc else float("nan")
    mode = "direct" if proc is None else proto
    out = subprocess.run(
        [tool, "rate", str(port), mode, str(origin), str(n), str(conc), "16"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if out.returncode != 0:
        raise BenchError(f"tunnel-rate client failed: {out.stderr[-1000:]}")
    data = json.loads(out.stdout)
    time.sleep(0.2)
    cpu = group_cpu(proc.pid) - cpu0 if proc else float("nan")
    return float(data["rate"]), int(data["errors"]), cpu


# -------------------------------------------------------------------------------- report

_LABEL = {"http": "HTTP CONNECT", "socks5": "SOCKS5"}


def _display(argv: list[str]) -> str:
    """*argv* for the report: the program's base name, scratch paths shortened."""
    shown = [Path(argv[0]).name, *argv[1:]]
    return " ".join(re.sub(r"/\S*/pyrama-bench-[^/]+/", "$SCRATCH/", shlex.quote(a)) for a in shown)


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


def _fmt(x: float, digits: int = 2) -> str:
    return "n/a" if math.isnan(x) else f"{x:.{digits}f}"


def _ratio(r: float) -> str:
    return "n/a" if math.isnan(r) else f"**{r:.2f}x**"


def _targets(samples: Samples, names: list[str], protocols: list[str]) -> list[str]:
    lines: list[str] = []
    for proto in protocols:
        for metric, what in (("bulk", "bulk throughput"), ("rate", "tunnel rate")):
            key = f"{proto}:{metric}"
            if key not in samples.values or "pyrama" not in samples.values[key]:
                continue
            peers = [n for n in names if n in PYTHON_PEERS and n in samples.values[key]]
            if not peers:
                continue
            best = max(peers, key=lambda n: samples.med(key, n))
            r = samples.ratio(key, "pyrama", best)
            verdict = "met" if r >= 5 else "NOT met"
            lines.append(
                f"- {_LABEL[proto]} {what} >= 5x the best Python peer ({best}): "
                f"**{verdict}** ({_fmt(r)}x)"
            )
    key = "socks5:bulk"
    if key in samples.values and {"pyrama", "dante"} <= set(samples.values[key]):
        r = samples.ratio(key, "pyrama", "dante")
        verdict = "met" if r >= 0.8 else "NOT met"
        lines.append(f"- SOCKS5 bulk throughput >= 0.8x dante: **{verdict}** ({_fmt(r)}x)")
    return lines


def _report(
    args: argparse.Namespace,
    names: list[str],
    protocols: list[str],
    missing: dict[str, str],
    samples: Samples,
    argvs: dict[str, list[str]],
    versions: dict[str, str],
    pyrama_loop: str | None,
) -> str:
    gib = args.bytes / (1 << 30)
    lines = [
        "# Benchmark: `proxy` (CONNECT and SOCKS5 tunnels)",
        "",
        f"Generated {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} by "
        f"`python -m benchmarks {shlex.join(sys.argv[1:]) or 'proxy'}`. "
        f"Every figure is a median over {args.repeat} rounds; the order of the proxies rotates "
        "each round, and a ratio is the median of the per-round ratios. Everything runs on "
        "127.0.0.1, on the same machine as the load generator and the origins, so read the "
        "ratios rather than the absolute numbers.",
        "",
        "## Ratios (pyrama / peer; higher is better for pyrama)",
    ]
    for proto in protocols:
        peers = [n for n in names if n != "pyrama" and proto in SPEAKS[n]]
        if not peers or "pyrama" not in names:
            continue
        lines += [
            "",
            f"### {_LABEL[proto]}",
            "",
            "| metric | " + " | ".join(f"pyrama / {p}" for p in peers) + " |",
            "|---|" + "---|" * len(peers),
        ]
        if f"{proto}:bulk" in samples.values:
            row = [_ratio(samples.ratio(f"{proto}:bulk", "pyrama", p)) for p in peers]
            lines.append(
                f"| bulk throughput ({_size(args.bytes)} download) | " + " | ".join(row) + " |"
            )
            row = [_ratio(samples.ratio(f"{proto}:cpu_bulk", p, "pyrama")) for p in peers]
            lines.append(
                "| CPU efficiency in bulk (peer CPU / pyrama CPU) | " + " | ".join(row) + " |"
            )
        if f"{proto}:rate" in samples.values:
            row = [_ratio(samples.ratio(f"{proto}:rate", "pyrama", p)) for p in peers]
            lines.append(
                f"| new tunnels per second ({args.connections} tunnels) | " + " | ".join(row) + " |"
            )
            row = [_ratio(samples.ratio(f"{proto}:cpu_rate", p, "pyrama")) for p in peers]
            lines.append(
                "| CPU efficiency per tunnel (peer CPU / pyrama CPU) | " + " | ".join(row) + " |"
            )
    targets = _targets(samples, names, protocols)
    if targets:
        lines += ["", "## Targets", "", *targets]

    lines += ["", "## Absolute figures (medians)"]
    for proto in protocols:
        cols = ["direct", *[n for n in names if proto in SPEAKS[n]]]
        lines += [
            "",
            f"### {_LABEL[proto]}",
            "",
            "| metric | " + " | ".join(cols) + " |",
            "|---|" + "---|" * len(cols),
        ]
        key = f"{proto}:bulk"
        if key in samples.values:
            lines.append(
                "| throughput, Gbit/s | "
                + " | ".join(_fmt(samples.med(key, c)) for c in cols)
                + " |"
            )
            lines.append(
                "| proxy CPU, s per GiB | "
                + " | ".join(
                    "-" if c == "direct" else _fmt(samples.med(f"{proto}:cpu_bulk", c) / gib, 3)
                    for c in cols
                )
                + " |"
            )
        key = f"{proto}:rate"
        if key in samples.values:
            lines.append(
                "| tunnels/s | " + " | ".join(_fmt(samples.med(key, c), 0) for c in cols) + " |"
            )
            lines.append(
                "| proxy CPU, ms per 1000 tunnels | "
                + " | ".join(
                    "-"
                    if c == "direct"
                    else _fmt(samples.med(f"{proto}:cpu_rate", c) * 1e6 / args.connections, 0)
                    for c in cols
                )
                + " |"
            )
            errs = samples.values.get(f"{proto}:errors", {})
            lines.append(
                "| failed tunnels (total, all rounds) | "
                + " | ".join(str(int(sum(errs.get(c, [])))) for c in cols)
                + " |"
            )

    lines += ["", "## Every sample", ""]
    for metric, per in samples.values.items():
        for who, vals in per.items():
            lines.append(f"- {metric} / {who}: " + ", ".join(_fmt(v, 3) for v in vals))

    lines += ["", "## Setup", ""]
    tools: dict[str, list[str]] = {}
    if "squid" in names:
        tools["squid"] = [find_tool("squid") or "squid", "-v"]
    if "dante" in names:
        tools["dante"] = [find_tool("danted") or "danted", "-v"]
    for k, v in host_facts(tools):
        lines.append(f"- {k}: {v}")
    for name, version in versions.items():
        lines.append(f"- {name}: {version} (own virtualenv, Python 3.11)")
    lines.append(
        f"- load tool: tunnelbench (C, pthreads), {args.concurrency} threads for the tunnel "
        "rate; echo origin: connrate sink; bulk origin: tunnelbench source"
    )
    lines.append(
        "- CPU is user + system time of the proxy's whole process group (its children "
        "included: dante forks per client, proxy.py runs a worker process)"
    )
    for key, argv in argvs.items():
        lines.append(f"- {key}: `{_display(argv)}`")
    if pyrama_loop:
        lines.append(f"- pyrama event loop: {pyrama_loop}")
    for name, why in missing.items():
        lines.append(f"- {name}: not measured ({why})")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------- run


def run(args: argparse.Namespace, work: Path) -> str:
    """Run the workload in *work* (a scratch directory) and return the markdown report."""
    wanted = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(wanted) - set(PROXIES)
    if unknown:
        raise BenchError(f"unknown proxies: {sorted(unknown)} (known: {', '.join(PROXIES)})")
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    if set(protocols) - set(PROTOCOLS) or not protocols:
        raise BenchError(f"--protocols takes {', '.join(PROTOCOLS)}")
    missing: dict[str, str] = {}
    names: list[str] = []
    scripts: dict[str, Path] = {}
    versions: dict[str, str] = {}
    for n in wanted:
        why = _available(n)
        if why is None and n in VENVS:
            try:
                scripts[n], versions[n] = ensure_venv(n, args.cache_dir)
            except (BenchError, OSError, subprocess.TimeoutExpired) as exc:
                why = f"its virtualenv could not be made: {str(exc)[:300]}"
        if why is not None:
            missing[n] = why
        else:
            names.append(n)
    tool = build_tunnelbench(work)
    echo_tool, _ = connrate_command(work)

    samples = Samples()
    origins: list[Proc] = []
    running = Running()
    try:
        source = start("bulk-origin", [tool, "source", "0"], work)
        origins.append(source)
        bulk_origin = int(wait_line(source, r"listening 127\.0\.0\.1:(\d+)").group(1))
        echo = start("echo-origin", [*echo_tool, "sink", "0"], work)
        origins.append(echo)
        echo_origin = int(wait_line(echo, r"listening 127\.0\.0\.1:(\d+)").group(1))

        env = dict(os.environ, MITMPROXY_CONFDIR=str(work / "mitmproxy"))
        for name in names:
            for proto in protocols:
                if proto not in SPEAKS[name]:
                    continue
                port = free_port()
                argv = _argv(name, proto, port, work, args, scripts)
                if name == "mitmproxy":
                    argv += ["--set", f"confdir={work / 'mitmproxy'}"]
                proc = start(f"{name}-{proto}", argv, work, env=env)
                running.procs[(name, proto)] = proc
                wait_port(proc, port, timeout=60.0)
                running.ports[(name, proto)] = port
        argvs = {f"{n} ({p})": proc.argv for (n, p), proc in running.procs.items()}
        pyrama_loop = None
        for (n, _p), proc in running.procs.items():
            if n == "pyrama":
                m = re.search(r"\bloop=(\w+)", proc.output())
                pyrama_loop = m.group(1) if m else None

        for r in range(args.repeat):
            for proto in protocols:
                order = ["direct", *[n for n in names if (n, proto) in running.procs]]
                for who in rotate(order, r):
                    fwd = running.procs.get((who, proto))
                    port = running.ports.get((who, proto), 0)
                    if not args.skip_throughput:
                        gbps, cpu = _bulk(tool, who, proto, port, bulk_origin, args.bytes, fwd)
                        samples.add(f"{proto}:bulk", who, gbps)
                        if fwd is not None:
                            samples.add(f"{proto}:cpu_bulk", who, cpu)
                        print(
                            f"round {r + 1}: {proto:6s} bulk {who:9s} {gbps:7.2f} Gbit/s",
                            flush=True,
                        )
                    if not args.skip_rate:
                        rate, errors, cpu = _rate(
                            tool, proto, port, echo_origin, args.connections, args.concurrency, fwd
                        )
                        samples.add(f"{proto}:rate", who, rate)
                        samples.add(f"{proto}:errors", who, errors)
                        if fwd is not None:
                            samples.add(f"{proto}:cpu_rate", who, cpu)
                        print(
                            f"round {r + 1}: {proto:6s} rate {who:9s} {rate:7.0f} tunnels/s "
                            f"({errors} errors)",
                            flush=True,
                        )
        for proc in running.procs.values():
            proc.check_alive()
    finally:
        running.stop()
        for o in origins:
            o.stop()
    return _report(args, names, protocols, missing, samples, argvs, versions, pyrama_loop)
