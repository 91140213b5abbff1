"""Instructions per request: pyrama and its peers under callgrind (noise-free, user space only).

CPU time on a shared 2-core host moves by +-30% between identical runs; the number of
instructions a server executes per request does not. This workload runs each contender under
``valgrind --tool=callgrind``, drives a fixed amount of load through it twice (N1, then N2
requests or tunnels, on the same number of connections) and dumps the counters after each
(``callgrind_control -d PID``). The marginal cost, ``(I2 - I1) / (N2 - N1)``, leaves out
start-up, warm-up and per-connection costs of the load tool's keep-alive connections.

Rows:

* ``h1``: hello world over HTTP/1.1 keep-alive (``h2load --h1``): pyrama (httptools and h11
  codecs), uvicorn (httptools and h11, uvloop), nginx.
* ``forward``: absolute-form ``GET`` through the proxy to an nginx origin (a Python client on
  keep-alive connections; every message parsed by the proxy): pyrama ``serve proxy``, squid.
* ``connect``: whole CONNECT tunnels (set up, 16 bytes there and back, closed; ``tunnelbench
  rate``) to an echo origin: pyrama ``serve proxy``, squid.

Only user-space instructions are counted (callgrind does not see the kernel), and an
instruction of CPython's interpreter loop does not take the time of one of nginx's: read the
counts next to the CPU-time workloads (``http``, ``proxy``), not instead of them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as _dt
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks import http, proxy
from benchmarks._harness import BenchError, Proc, find_tool, free_port, start, wait_port
from benchmarks._tools import connrate_command
from benchmarks.tls import Certs, make_certs

ROWS = {
    "h1": ("pyrama", "pyrama-h11", "uvicorn-httptools", "uvicorn-h11", "nginx"),
    "forward": ("pyrama", "squid"),
    "connect": ("pyrama", "squid"),
}
_SUMMARY = re.compile(r"^(?:summary|totals): (\d+)", re.MULTILINE)
_START_TIMEOUT = 300.0  # CPython under callgrind imports slowly


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the ``instructions`` workload."""
    p.add_argument("--rows", default="h1,forward,connect", help="rows to run (h1,forward,connect)")
    p.add_argument("--only", help="contenders to run (default: every one of each row)")
    p.add_argument("--requests", default="1600,4800", help="N1,N2 requests (h1, forward)")
    p.add_argument("--tunnels", default="200,600", help="N1,N2 tunnels (connect)")
    p.add_argument("--connections", type=int, default=16, help="load connections/threads (16)")


@dataclass
class Result:
    """One contender's marginal count on one row."""

    row: str
    name: str
    per_request: float
    counts: tuple[int, int]


def callgrind_total(path: Path) -> int:
    """The total instruction count of one callgrind output file."""
    m = _SUMMARY.search(path.read_text(errors="replace"))
    if m is None:
        raise BenchError(f"no instruction total in {path}")
    return int(m.group(1))


def marginal(first: int, second: int, n1: int, n2: int) -> float:
    """Instructions per unit between two dumps taken after *n1* and *n2* more units."""
    if n2 <= n1:
        raise ValueError("the second load must be the larger one")
    return (second - first) / (n2 - n1)


class Counted:
    """A process running under callgrind whose counters can be dumped on demand."""

    def __init__(self, name: str, argv: list[str], work: Path, *, user: str | None = None) -> None:
        self.out = work / f"callgrind.{name}.out"
        grind = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={self.out}", *argv,
        ]  # fmt: skip
        if user is not None:  # squid will not run as root; callgrind writes as that user
            grind = ["runuser", "-u", user, "--", *grind]
        self.user = user
        self.proc: Proc = start(f"callgrind-{name}", grind, work)
        self._dumps = 0
        # vgdb finds the process by a file name that holds the user's login name
        self._env = None if user is None else {**os.environ, "LOGNAME": user, "USER": user}

    def pid(self) -> int:
        """The pid of the valgrind process itself (under ``runuser`` it is a child)."""
        found = subprocess.run(
            ["pgrep", "-f", "--", f"--callgrind-out-file={self.out}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        for pid in found:
            try:
                first = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if first.rsplit(b"/", 1)[-1].startswith(b"valgrind"):
                return int(pid)
        raise BenchError(f"no valgrind process writes {self.out}:\n{self.proc.output()[-1500:]}")

    def dump(self) -> int:
        """Dump the counters since the last dump; return their instruction total."""
        self.proc.check_alive()
        self._dumps += 1
        out = subprocess.run(
            ["callgrind_control", "-d", str(self.pid())],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=self._env,
        )
        path = Path(f"{self.out}.{self._dumps}")
        deadline = time.monotonic() + 60
        while not (path.exists() and _SUMMARY.search(path.read_text(errors="replace"))):
            if time.monotonic() > deadline:
                raise BenchError(f"callgrind dump {path} never came:\n{out.stdout}{out.stderr}")
            time.sleep(0.2)
        return callgrind_total(path)

    def stop(self) -> None:
        """End the process and wait for callgrind's final file."""
        try:
            pid = self.pid()
        except BenchError:
            pid = None
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
            if pid == self.proc.pid:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.popen.wait(60)
            else:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and _running(pid):
                    time.sleep(0.2)
        self.proc.stop(timeout=60)


def _running(pid: int) -> bool:
    """Whether *pid* exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _h2load(port: int, n: int, conns: int) -> None:
    tool = find_tool("h2load")
    assert tool is not None
    out = subprocess.run(
        [tool, "--h1", "-n", str(n), "-c", str(conns), f"http://127.0.0.1:{port}/"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if f"{n} succeeded" not in out.stdout:
        raise BenchError(f"h2load against 127.0.0.1:{port} failed:\n{out.stdout[-1500:]}")


async def _forward_client(port: int, origin: int, n: int, conns: int) -> int:
    head = (f"GET http://127.0.0.1:{origin}/ HTTP/1.1\r\nHost: 127.0.0.1:{origin}\r\n\r\n").encode()

    async def one(count: int) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        done = 0
        try:
            for _ in range(count):
                writer.write(head)
                got = await reader.readuntil(b"\r\n\r\n")
                if not got.startswith(b"HTTP/1.1 200"):
                    raise BenchError(f"the proxy answered {got[:60]!r}")
                length = 0
                for line in got.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                done += 1
        finally:
            writer.close()
        return done

    per, extra = divmod(n, conns)
    counts = await asyncio.gather(*(one(per + (i < extra)) for i in range(conns)))
    return sum(counts)


def _forward(port: int, origin: int, n: int, conns: int) -> None:
    done = asyncio.run(asyncio.wait_for(_forward_client(port, origin, n, conns), 900))
    if done != n:
        raise BenchError(f"{done} of {n} forwarded requests answered")


def _tunnels(tool: str, port: int, origin: int, n: int, conns: int) -> None:
    out = subprocess.run(
        [tool, "rate", str(port), "http", str(origin), str(n), str(conns), "16"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if out.returncode != 0 or '"errors": 0,' not in out.stdout:
        raise BenchError(f"tunnelbench through 127.0.0.1:{port} failed:\n{out.stdout}{out.stderr}")


def _measure(
    row: str,
    name: str,
    make: Callable[[str], Counted],
    port: int,
    load: Callable[[int], None],
    n: tuple[int, int],
) -> Result:
    counted = make("")
    if counted.user is None:
        # one process: dump after the warm-up, after N1 and after N2
        try:
            wait_port(counted.proc, port, timeout=_START_TIMEOUT)
            load(max(1, n[0] // 4))  # warm-up: imports, caches, pools, the first connections
            counted.dump()
            load(n[0])
            first = counted.dump()
            load(n[1])
            second = counted.dump()
        finally:
            counted.stop()
        return Result(row, name, marginal(first, second, n[0], n[1]), (n[0], n[1]))
    # another user's process (vgdb cannot reach it from here): one run per load, each
    # with the same start-up and warm-up, counted whole when the process exits
    totals: list[int] = []
    for k, count in enumerate(n):
        if k:
            counted = make(f"-{count}")
        try:
            wait_port(counted.proc, port, timeout=_START_TIMEOUT)
            load(max(1, n[0] // 4))
            load(count)
        finally:
            counted.stop()
        totals.append(callgrind_total(counted.out))
    return Result(row, name, marginal(totals[0], totals[1], n[0], n[1]), (n[0], n[1]))


def _pair(text: str, what: str) -> tuple[int, int]:
    parts = [int(x) for x in text.split(",")]
    if len(parts) != 2 or not 0 < parts[0] < parts[1]:
        raise SystemExit(f"--{what} wants N1,N2 with 0 < N1 < N2")
    return parts[0], parts[1]


def run(args: argparse.Namespace, work: Path) -> str:
    """Measure every selected contender and return the report."""
    for tool in ("valgrind", "callgrind_control"):
        if find_tool(tool) is None:
            raise BenchError(f"`{tool}` is needed (apt install valgrind)")
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    for r in rows:
        if r not in ROWS:
            raise SystemExit(f"unknown row {r!r} ({', '.join(ROWS)})")
    only = None if args.only is None else {x.strip() for x in args.only.split(",")}
    requests = _pair(args.requests, "requests")
    tunnels = _pair(args.tunnels, "tunnels")
    conns: int = args.connections
    results: list[Result] = []
    shared = _Shared(work)
    try:
        for row in rows:
            for name in ROWS[row]:
                if only is not None and name not in only:
                    continue
                results.append(_one(row, name, shared, requests, tunnels, conns))
    finally:
        shared.stop()
    return report(results, args)


class _Shared:
    """What every contender of one run uses, made once: origins, certificates, load tools."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self._procs: list[Proc] = []
        self._ports: dict[str, int] = {}
        self._certs: Certs | None = None
        self._tunnelbench: str | None = None

    def certs(self) -> Certs:
        if self._certs is None:
            self._certs = make_certs(self.work)
        return self._certs

    def tunnelbench(self) -> str:
        if self._tunnelbench is None:
            self._tunnelbench = proxy.build_tunnelbench(self.work)
        return self._tunnelbench

    def nginx_origin(self) -> int:
        if "nginx" not in self._ports:
            nginx = find_tool("nginx")
            if nginx is None:
                raise BenchError("`nginx` is needed as the forward row's origin")
            proc, self._ports["nginx"] = proxy.start_nginx_origin(nginx, self.work)
            self._procs.append(proc)
        return self._ports["nginx"]

    def echo_origin(self) -> int:
        if "echo" not in self._ports:
            argv, _label = connrate_command(self.work)
            port = free_port()
            proc = start("echo-origin", [*argv, "sink", str(port)], self.work)
            self._procs.append(proc)
            wait_port(proc, port)
            self._ports["echo"] = port
        return self._ports["echo"]

    def stop(self) -> None:
        for proc in self._procs:
            proc.stop()


def _one(
    row: str,
    name: str,
    shared: _Shared,
    requests: tuple[int, int],
    tunnels: tuple[int, int],
    conns: int,
) -> Result:
    work = shared.work
    port = free_port()
    user: str | None = None
    if row == "h1":
        argv, _ = http.server_argv(name, shared.certs(), work, port, free_port())
        return _measure(
            row,
            name,
            lambda tag: Counted(f"{row}-{name}{tag}", argv, work),
            port,
            lambda n: _h2load(port, n, conns),
            requests,
        )
    if name == "squid":
        # squid refuses to run as root: run it (and callgrind) as its own user
        squid_work = work / f"squid-{row}"
        squid_work.mkdir(mode=0o777, exist_ok=True)
        os.chmod(squid_work, 0o777)  # the umask may have cut the mode
        user = "proxy" if os.geteuid() == 0 else None
        if user is not None:
            os.chmod(work, 0o711)  # let squid's user reach its own directory
        opts = argparse.Namespace()
        argv = proxy.proxy_argv(name, "http", port, squid_work, opts, {})
        squid_argv = argv

        def make(tag: str) -> Counted:
            return Counted(f"{row}-{name}{tag}", squid_argv, squid_work, user=user)

    else:
        opts = argparse.Namespace(pyrama_http_cmd=proxy.DEFAULT_PYRAMA_HTTP)
        argv = proxy.proxy_argv(name, "http", port, work, opts, {})

        def make(tag: str) -> Counted:
            return Counted(f"{row}-{name}{tag}", argv, work)

    if row == "forward":
        origin = shared.nginx_origin()
        return _measure(row, name, make, port, lambda n: _forward(port, origin, n, conns), requests)
    tool = shared.tunnelbench()
    echo = shared.echo_origin()
    return _measure(row, name, make, port, lambda n: _tunnels(tool, port, echo, n, conns), tunnels)


def _k(x: float) -> str:
    return f"{x / 1000:,.1f}k"


_TITLES = {
    "h1": "HTTP/1.1 hello world, per request (h2load --h1, keep-alive)",
    "forward": "plain forward proxying, per request (absolute-form GET, keep-alive, nginx origin)",
    "connect": "CONNECT tunnels, per tunnel (set up, 16 bytes echoed, closed)",
}


def report(results: list[Result], args: argparse.Namespace) -> str:
    """The markdown report: instructions per unit, and peer / pyrama ratios."""
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    argv = " ".join(sys.argv[1:]) or "instructions"
    lines = [
        "# Benchmark: `instructions` (user-space instructions per request, callgrind)",
        "",
        f"Generated {now} by `python -m benchmarks {argv}`. Each contender runs under "
        "`valgrind --tool=callgrind`; after a warm-up the harness sends N1 and then N2 "
        "requests (or tunnels) on the same number of connections and dumps the counters after "
        "each. The figure is the marginal cost `(I2 - I1) / (N2 - N1)`. Instruction counts do "
        "not move with the machine's load, so they show regressions the CPU-time workloads "
        "hide in noise. They leave out the kernel, and an instruction of the CPython "
        "interpreter takes longer than one of nginx's or squid's: read them beside the "
        "`http` and `proxy` reports.",
        "",
        "## Ratios (peer instructions / pyrama instructions; higher is better for pyrama)",
        "",
    ]
    by_row: dict[str, list[Result]] = {}
    for r in results:
        by_row.setdefault(r.row, []).append(r)
    for row, rs in by_row.items():
        base = next((r for r in rs if r.name == "pyrama"), None)
        lines += [f"### {_TITLES[row]}", "", "| contender | instructions | peer / pyrama |"]
        lines.append("|---|---|---|")
        for r in rs:
            ratio = "-"
            if base is not None and r is not base:
                ratio = f"**{r.per_request / base.per_request:.2f}x**"
            lines.append(f"| {r.name} | {_k(r.per_request)} | {ratio} |")
        n1, n2 = rs[0].counts
        unit = "tunnels" if row == "connect" else "requests"
        lines += ["", f"N1 = {n1:,}, N2 = {n2:,} {unit}.", ""]
    lines += [
        "## Reproduce",
        "",
        "```",
        f"python -m benchmarks {argv}",
        "```",
        "",
        f"valgrind: {_version(['valgrind', '--version'])}; python {sys.version.split()[0]}; "
        f"{args.connections} load connections.",
        "",
    ]
    return "\n".join(lines)


def _version(argv: list[str]) -> str:
    tool = shutil.which(argv[0])
    if tool is None:
        return "missing"
    out = subprocess.run([tool, *argv[1:]], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).strip().splitlines()[0]
