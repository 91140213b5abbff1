"""Workload ``proxy``: CONNECT and SOCKS5 tunnels through pyrama and five peers.

Every proxy listens on 127.0.0.1 and tunnels to the same loopback origins, driven by
``tools/tunnelbench.c`` (built on demand):

* bulk throughput: one tunnel downloads ``--bytes`` (1 GiB) from the ``tunnelbench source``
  origin (Gbit/s, and the proxy's CPU seconds per GiB);
* tunnel rate: ``--connections`` short tunnels (set up, 16 bytes echoed by the connrate sink,
  closed), ``--concurrency`` at a time (tunnels/s, and the proxy's CPU per 1000 tunnels).

Both are measured for each protocol a proxy speaks: HTTP CONNECT (pyrama, pproxy, proxy.py,
mitmproxy with ``--ignore-hosts '.*'``, squid) and SOCKS5 (pyrama, pproxy, mitmproxy, dante).
Two more rows, from the same run:

* plain forward proxying: ``wrk`` sends absolute-form ``GET http://127.0.0.1:<nginx>/``
  requests on ``--forward-connections`` keep-alive connections to each HTTP proxy that
  forwards (pyrama, pproxy, proxy.py, squid); every message is parsed by the proxy, the
  origin is nginx answering ``hello`` (requests/s, proxy CPU per 1000 requests);
* a kernel-speed bulk reference: haproxy ``mode tcp``, ``nbthread 1``, ``option
  splice-request`` / ``splice-response`` forwarding straight to the bulk origin (a tunnel
  without the handshake), and ``pyrama serve forward`` (L4) the same way; pyrama's CONNECT
  and SOCKS5 bulk and its L4 forwarder are compared with it.
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
    median,
    pyrama_executable,
    rotate,
    selected,
    start,
    wait_line,
    wait_port,
)
from benchmarks._tools import connrate_command
from benchmarks.forward import HAPROXY_L4_CFG, Samples, haproxy_l4_argv, parse_size

__all__ = ["add_arguments", "run"]

PROXIES = ("pyrama", "pproxy", "proxy.py", "mitmproxy", "squid", "dante")
PROTOCOLS = ("http", "socks5")
PYTHON_PEERS = ("pproxy", "proxy.py", "mitmproxy")
# proxies whose HTTP listener forwards absolute-form requests (the ``forward`` row)
FORWARDS = ("pyrama", "pproxy", "proxy.py", "squid")
# the L4 bulk references: haproxy (splice) and pyrama's own L4 forwarder
REFERENCES = ("haproxy", "pyrama-forward")
DEFAULT_PYRAMA_FORWARD = "{pyrama} serve forward --bind 127.0.0.1:{port} --to 127.0.0.1:{target}"
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
    p.add_argument(
        "--pyrama-forward-cmd", default=DEFAULT_PYRAMA_FORWARD, help="{pyrama} {port} {target}"
    )
    p.add_argument(
        "--forward-seconds",
        type=float,
        default=10.0,
        help="wrk duration of the forward row (10: 5-second rounds varied 0.85x-1.33x)",
    )
    p.add_argument(
        "--forward-connections",
        type=int,
        default=16,
        help="wrk keep-alive connections of the forward row (16, one wrk thread)",
    )
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-rate", action="store_true")
    p.add_argument("--skip-forward", action="store_true", help="no plain forward-proxy row")
    p.add_argument(
        "--skip-reference", action="store_true", help="no haproxy / pyrama forward L4 reference"
    )


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


NGINX_HELLO_CFG = """\
worker_processes 1;
master_process off;
daemon off;
pid {work}/nginx-origin.pid;
error_log {work}/nginx-origin-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    default_type text/plain;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "hello"; }}
    }}
}}
"""


def start_nginx_origin(nginx: str, work: Path) -> tuple[Proc, int]:
    """Start the hello-world nginx origin of the forward rows; return it and its port."""
    port = free_port()
    cfg = work / "nginx-origin.conf"
    cfg.write_text(NGINX_HELLO_CFG.format(work=work, port=port))
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / sub).mkdir(exist_ok=True)
    proc = start("nginx-origin", [nginx, "-p", str(work), "-c", str(cfg)], work)
    try:
        wait_port(proc, port)
    except BenchError:
        proc.stop()
        raise
    return proc, port


_WRK_SCRIPT = """\
wrk.method = "GET"
wrk.path = "http://127.0.0.1:{port}/"
wrk.headers["Host"] = "127.0.0.1:{port}"
"""


def proxy_argv(
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


_WRK_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_WRK_TOTAL = re.compile(r"(\d+) requests in ")
_WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_WRK_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def _forward(
    wrk: str, port: int, script: Path, seconds: float, conns: int, proc: Proc
) -> tuple[float, int, int, float]:
    """(requests/s, requests, failed requests, proxy CPU seconds) of one wrk run."""
    cpu0 = group_cpu(proc.pid)
    argv = [
        wrk, "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "-s", str(script),
        f"http://127.0.0.1:{port}/",
    ]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120, check=False)
    text = out.stdout + out.stderr
    rps = _WRK_RPS.search(text)
    total = _WRK_TOTAL.search(text)
    if out.returncode != 0 or rps is None or total is None:
        raise BenchError(f"wrk through 127.0.0.1:{port} failed:\n{text[-2000:]}")
    failures = 0
    m = _WRK_NON2XX.search(text)
    if m:
        failures += int(m.group(1))
    m = _WRK_ERRORS.search(text)
    if m:
        failures += sum(int(g) for g in m.groups())
    time.sleep(0.2)
    return float(rps.group(1)), int(total.group(1)), failures, group_cpu(proc.pid) - cpu0


def _reference_argv(
    name: str, port: int, target: int, work: Path, args: argparse.Namespace
) -> list[str]:
    """The command line of L4 reference *name* on *port*, forwarding to *target*."""
    if name == "haproxy":
        return haproxy_l4_argv(port, target, work)
    template = args.pyrama_forward_cmd
    return shlex.split(template.format(pyrama=pyrama_executable(), port=port, target=target))


def _cross_ratio(samples: Samples, key_a: str, who_a: str, key_b: str, who_b: str) -> float:
    """Median over rounds of ``key_a/who_a`` over ``key_b/who_b`` (paired by round)."""
    a = samples.values.get(key_a, {}).get(who_a, [])
    b = samples.values.get(key_b, {}).get(who_b, [])
    return median([x / y for x, y in zip(a, b, strict=False) if y > 0])


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


def _cpu_per_1000(samples: Samples, who: str) -> float:
    """Median proxy CPU milliseconds per 1000 forwarded requests (per round: CPU / requests)."""
    cpu = samples.values.get("forward:cpu", {}).get(who, [])
    done = samples.values.get("forward:requests", {}).get(who, [])
    return median([c / n * 1e6 for c, n in zip(cpu, done, strict=False) if n > 0])


def _per_request_cpu_ratio(samples: Samples, peer: str) -> float:
    """Median over rounds of (peer CPU per request) / (pyrama CPU per request)."""
    pc = samples.values.get("forward:cpu", {})
    pr = samples.values.get("forward:requests", {})
    out = []
    for cp, rp, cy, ry in zip(
        pc.get(peer, []),
        pr.get(peer, []),
        pc.get("pyrama", []),
        pr.get("pyrama", []),
        strict=False,
    ):
        if rp > 0 and ry > 0 and cy > 0:
            out.append((cp / rp) / (cy / ry))
    return median(out)


def _more_targets(
    samples: Samples, protocols: list[str], fwd_names: list[str], ref_names: list[str]
) -> list[str]:
    lines: list[str] = []
    if "http:rate" in samples.values and {"pyrama", "squid"} <= set(samples.values["http:rate"]):
        r = samples.ratio("http:rate", "pyrama", "squid")
        verdict = "met" if r >= 0.8 else "NOT met"
        lines.append(f"- HTTP CONNECT tunnel rate >= 0.8x squid: **{verdict}** ({_fmt(r)}x)")
    if {"pyrama", "squid"} <= set(fwd_names) and "forward:rps" in samples.values:
        r = samples.ratio("forward:rps", "pyrama", "squid")
        verdict = "met" if r >= 1.0 else "NOT met"
        lines.append(f"- plain forward proxying >= 1.0x squid: **{verdict}** ({_fmt(r)}x)")
    if "haproxy" in ref_names and "l4:bulk" in samples.values:
        for proto in protocols:
            key = f"{proto}:bulk"
            if "pyrama" in samples.values.get(key, {}):
                r = _cross_ratio(samples, key, "pyrama", "l4:bulk", "haproxy")
                verdict = "met" if r >= 1.0 else "NOT met"
                lines.append(
                    f"- {_LABEL[proto]} bulk >= 1.0x haproxy L4 splice: **{verdict}** ({_fmt(r)}x)"
                )
        if "pyrama-forward" in ref_names:
            r = samples.ratio("l4:bulk", "pyrama-forward", "haproxy")
            verdict = "met" if r >= 1.0 else "NOT met"
            lines.append(
                f"- `pyrama serve forward` bulk >= 1.0x haproxy L4 splice: **{verdict}** "
                f"({_fmt(r)}x)"
            )
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
    fwd_names: list[str] | None = None,
    ref_names: list[str] | None = None,
) -> str:
    fwd_names = fwd_names or []
    ref_names = ref_names or []
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
    fwd_peers = [n for n in fwd_names if n != "pyrama"]
    if "pyrama" in fwd_names and fwd_peers and "forward:rps" in samples.values:
        lines += [
            "",
            "### Plain forward proxying (absolute-form GET on keep-alive connections)",
            "",
            "| metric | " + " | ".join(f"pyrama / {p}" for p in fwd_peers) + " |",
            "|---|" + "---|" * len(fwd_peers),
            "| requests per second | "
            + " | ".join(_ratio(samples.ratio("forward:rps", "pyrama", p)) for p in fwd_peers)
            + " |",
            "| CPU efficiency per request (peer CPU / pyrama CPU, per request) | "
            + " | ".join(_ratio(_per_request_cpu_ratio(samples, p)) for p in fwd_peers)
            + " |",
        ]
    if "haproxy" in ref_names and "l4:bulk" in samples.values:
        rows: list[str] = []
        for proto in protocols:
            key = f"{proto}:bulk"
            if "pyrama" in samples.values.get(key, {}):
                r = _cross_ratio(samples, key, "pyrama", "l4:bulk", "haproxy")
                rows.append(f"| pyrama {_LABEL[proto]} bulk / haproxy L4 bulk | {_ratio(r)} |")
        if "pyrama-forward" in ref_names:
            r = samples.ratio("l4:bulk", "pyrama-forward", "haproxy")
            rows.append(f"| `pyrama serve forward` (L4) bulk / haproxy L4 bulk | {_ratio(r)} |")
        lines += [
            "",
            "### Kernel-speed reference: haproxy `mode tcp`, splice, one thread "
            f"({_size(args.bytes)} download, paired by round)",
            "",
            "| metric | ratio |",
            "|---|---|",
            *rows,
        ]
    targets = _targets(samples, names, protocols)
    targets += _more_targets(samples, protocols, fwd_names, ref_names)
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

    if "forward:rps" in samples.values:
        lines += [
            "",
            "### Plain forward proxying (nginx origin, wrk, "
            f"{args.forward_connections} keep-alive connections)",
            "",
            "| metric | " + " | ".join(fwd_names) + " |",
            "|---|" + "---|" * len(fwd_names),
            "| requests/s | "
            + " | ".join(_fmt(samples.med("forward:rps", c), 0) for c in fwd_names)
            + " |",
            "| proxy CPU, ms per 1000 requests | "
            + " | ".join(_fmt(_cpu_per_1000(samples, c), 1) for c in fwd_names)
            + " |",
            "| failed requests (total, all rounds) | "
            + " | ".join(
                str(int(sum(samples.values.get("forward:errors", {}).get(c, []))))
                for c in fwd_names
            )
            + " |",
        ]
    if "l4:bulk" in samples.values:
        lines += [
            "",
            "### L4 bulk references (straight to the bulk origin)",
            "",
            "| metric | " + " | ".join(ref_names) + " |",
            "|---|" + "---|" * len(ref_names),
            "| throughput, Gbit/s | "
            + " | ".join(_fmt(samples.med("l4:bulk", c)) for c in ref_names)
            + " |",
            "| CPU, s per GiB | "
            + " | ".join(_fmt(samples.med("l4:cpu_bulk", c) / gib, 3) for c in ref_names)
            + " |",
        ]

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
    if "forward:rps" in samples.values:
        lines += [
            f"- forward row: `wrk -t1 -c{args.forward_connections} "
            f"-d{max(1, round(args.forward_seconds))}s -s forward.lua http://127.0.0.1:<proxy>/`"
            ' against nginx `return 200 "hello"` (one worker); forward.lua:',
            "",
            "```lua",
            _WRK_SCRIPT.format(port="<nginx>").rstrip(),
            "```",
            "",
        ]
    if "pproxy" in fwd_names:
        lines.append(
            "- pproxy's forward row is not like-for-like: after the first request on a "
            "connection it relays the connection's bytes raw to that request's origin (checked: "
            "a second request on the connection for another origin reaches the first one), so "
            "it parses one message per connection, not every message"
        )
    if "haproxy" in ref_names:
        lines += [
            "- haproxy config (the L4 reference):",
            "",
            "```",
            HAPROXY_L4_CFG.format(port="<port>", target="<bulk origin>").rstrip(),
            "```",
            "",
        ]
    for name, why in missing.items():
        lines.append(f"- {name}: not measured ({why})")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------- run


def run(args: argparse.Namespace, work: Path) -> str:
    """Run the workload in *work* (a scratch directory) and return the markdown report."""
    wanted = selected(args.only, PROXIES, "proxies")
    protocols = selected(args.protocols, PROTOCOLS, "protocols")
    if not protocols:
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
                argv = proxy_argv(name, proto, port, work, args, scripts)
                if name == "mitmproxy":
                    argv += ["--set", f"confdir={work / 'mitmproxy'}"]
                proc = start(f"{name}-{proto}", argv, work, env=env)
                running.procs[(name, proto)] = proc
                wait_port(proc, port, timeout=60.0)
                running.ports[(name, proto)] = port
        # the plain forward-proxy row: an nginx origin, wrk with an absolute-form request
        fwd_names: list[str] = []
        fwd_script: Path | None = None
        wrk = find_tool("wrk")
        if not args.skip_forward and "http" in protocols:
            nginx = find_tool("nginx")
            if nginx is None or wrk is None:
                missing["forward row"] = "`nginx` and `wrk` are needed"
            else:
                ngx, nport = start_nginx_origin(nginx, work)
                origins.append(ngx)
                fwd_script = work / "forward.lua"
                fwd_script.write_text(_WRK_SCRIPT.format(port=nport))
                fwd_names = [n for n in names if n in FORWARDS and (n, "http") in running.procs]
        # the L4 bulk references, straight to the bulk origin
        refs: dict[str, tuple[Proc, int]] = {}
        if not args.skip_reference and not args.skip_throughput:
            for ref in REFERENCES:
                if ref == "haproxy" and find_tool("haproxy") is None:
                    missing["haproxy"] = "`haproxy` is not installed"
                    continue
                rport = free_port()
                rproc = start(ref, _reference_argv(ref, rport, bulk_origin, work, args), work)
                running.procs[(ref, "l4")] = rproc
                wait_port(rproc, rport, timeout=60.0)
                refs[ref] = (rproc, rport)
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
            if refs:
                for who in rotate(list(refs), r):
                    rproc, rport = refs[who]
                    gbps, cpu = _bulk(tool, who, "direct", 0, rport, args.bytes, rproc)
                    samples.add("l4:bulk", who, gbps)
                    samples.add("l4:cpu_bulk", who, cpu)
                    print(f"round {r + 1}: l4     bulk {who:9s} {gbps:7.2f} Gbit/s", flush=True)
            if fwd_script is not None and wrk is not None:
                for who in rotate(fwd_names, r):
                    fproc = running.procs[(who, "http")]
                    fport = running.ports[(who, "http")]
                    rps, done, fails, cpu = _forward(
                        wrk, fport, fwd_script, args.forward_seconds, args.forward_connections,
                        fproc,
                    )  # fmt: skip
                    samples.add("forward:rps", who, rps)
                    samples.add("forward:requests", who, done)
                    samples.add("forward:errors", who, fails)
                    samples.add("forward:cpu", who, cpu)
                    print(
                        f"round {r + 1}: forward     {who:9s} {rps:7.0f} requests/s "
                        f"({fails} failed)",
                        flush=True,
                    )
        for proc in running.procs.values():
            proc.check_alive()
    finally:
        running.stop()
        for o in origins:
            o.stop()
    return _report(
        args, names, protocols, missing, samples, argvs, versions, pyrama_loop, fwd_names,
        list(refs),
    )  # fmt: skip
