"""Workload ``memory``: resident memory per idle keep-alive HTTP/1.1 connection.

Each server (one process, hello world, as in the ``http`` workload) is started, warmed up
with a few requests, and its resident set size (``VmRSS``) read. A client process then opens
``--connections`` keep-alive connections (10,000 by default), sends one ``GET /`` on each,
reads the whole response and keeps the connection open and idle. Once every connection has
its answer and the server has settled, its ``VmRSS`` is read again:

    memory per connection = (RSS with the idle connections - RSS before) / connections

Servers: pyrama (``HttpServer.auto()``), hypercorn and uvicorn (h11 and httptools), all on
uvloop, each told to keep idle connections for longer than the measurement. The order
rotates every round; figures are medians. The ratio that matters is pyrama's memory per
connection over each peer's (lower is better for pyrama; the target is at most 0.5 of
hypercorn's).

``python -m benchmarks.memory hold PORT N`` is the client (the harness starts it).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import os
import sys
import time
from pathlib import Path

from benchmarks._harness import (
    BenchError,
    Proc,
    free_port,
    host_facts,
    median,
    rotate,
    selected,
    start,
    wait_line,
    wait_port,
)

__all__ = ["add_arguments", "run"]

SERVERS = ("pyrama", "hypercorn", "uvicorn-h11", "uvicorn-httptools")
TARGET = ("hypercorn", 0.5)
_REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
_HYPERCORN_TOML = "keep_alive_timeout = 600\nkeep_alive_max_requests = 1000000\n"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the ``memory`` workload."""
    p.add_argument("--connections", type=int, default=10_000, help="idle connections (10000)")
    p.add_argument("--repeat", type=int, default=3, help="rounds (median)")
    p.add_argument("--settle", type=float, default=2.0, help="seconds before reading RSS (2)")
    p.add_argument(
        "--only",
        default=",".join(SERVERS),
        help="comma-separated servers to compare (default: %(default)s)",
    )


# ------------------------------------------------------------------------------ the client


async def _hold(port: int, count: int, concurrency: int = 100) -> None:
    """Open *count* connections, one request each, and keep them idle until stdin closes."""
    writers: list[asyncio.StreamWriter] = []
    sem = asyncio.Semaphore(concurrency)

    async def connect() -> asyncio.StreamWriter:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_REQUEST)
        got = b""
        while not got.endswith(b"hello"):
            chunk = await reader.read(4096)
            if not chunk:
                raise ConnectionError(f"server closed after {got!r}")
            got += chunk
        return writer

    async def one() -> None:
        async with sem:
            # a server's accept backlog can overflow while thousands of connections arrive:
            # a refused or reset set-up is retried (it is not what is being measured)
            for attempt in range(5):
                try:
                    writers.append(await connect())
                    return
                except OSError:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))

    await asyncio.gather(*(one() for _ in range(count)))
    print(f"held {len(writers)}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the harness closes our stdin
    for w in writers:
        w.close()


def _hold_main(argv: list[str]) -> int:
    port, count = int(argv[0]), int(argv[1])
    import uvloop

    uvloop.run(_hold(port, count))
    return 0


# ------------------------------------------------------------------------------ the harness


def _rss_kib(leader: int) -> int:
    """Summed ``VmRSS`` of the processes in *leader*'s group (hypercorn forks a worker)."""
    total = 0
    found = False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            pgid = int(stat.rsplit(")", 1)[1].split()[2])
            if pgid != leader:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    found = True
        except (OSError, ValueError, IndexError):
            continue
    if not found:
        raise BenchError(f"no process in group {leader}")
    return total


def _start_server(name: str, work: Path) -> tuple[Proc, int]:
    py = sys.executable
    port = free_port()
    if name == "pyrama":
        argv = [py, "-m", "benchmarks.http", "serve-pyrama", "--plain", str(port)]
    elif name == "hypercorn":
        config = work / "hypercorn-memory.toml"
        config.write_text(_HYPERCORN_TOML)
        argv = [
            py, "-m", "hypercorn", "benchmarks.http:asgi_app", "-c", str(config), "-k", "uvloop",
            "-w", "1", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
        ]  # fmt: skip
    elif name.startswith("uvicorn-"):
        argv = [
            py, "-m", "uvicorn", "benchmarks.http:asgi_app", "--host", "127.0.0.1",
            "--port", str(port), "--http", name.removeprefix("uvicorn-"), "--loop", "uvloop",
            "--workers", "1", "--no-access-log", "--log-level", "warning",
            "--timeout-keep-alive", "600", "--lifespan", "off",
        ]  # fmt: skip
    else:
        raise BenchError(f"unknown server {name!r}")
    proc = start(name, argv, work)
    if name == "pyrama":
        wait_line(proc, rf"listening 127\.0\.0\.1:{port}\b", timeout=60.0)
    else:
        wait_port(proc, port, timeout=60.0)
    return proc, port


def _measure(name: str, connections: int, settle: float, work: Path) -> float:
    """KiB of resident memory per idle connection for one server, one round."""
    import subprocess

    proc, port = _start_server(name, work)
    try:
        # warm-up: first requests load code paths and allocate caches
        warm = subprocess.run(
            [sys.executable, "-m", "benchmarks.memory", "hold", str(port), "50"],
            input=b"",
            capture_output=True,
            timeout=60,
            cwd=Path(__file__).resolve().parent.parent,
        )
        if b"held 50" not in warm.stdout:
            raise BenchError(f"{name}: warm-up failed: {warm.stderr.decode()[-500:]}")
        time.sleep(settle)
        before = _rss_kib(proc.popen.pid)
        client = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.memory", "hold", str(port), str(connections)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=Path(__file__).resolve().parent.parent,
        )
        try:
            assert client.stdout is not None
            line = client.stdout.readline().decode()
            if not line.startswith("held "):
                err = client.stderr.read().decode() if client.stderr else ""
                raise BenchError(f"{name}: client failed: {line!r} {err[-800:]}")
            time.sleep(settle)
            after = _rss_kib(proc.popen.pid)
        finally:
            if client.stdin is not None:
                client.stdin.close()
            try:
                client.wait(timeout=30)
            except subprocess.TimeoutExpired:
                client.kill()
                client.wait()
        return (after - before) / connections
    finally:
        proc.stop()


def run(args: argparse.Namespace, work: Path) -> str:
    """Run the workload and return the markdown report."""
    servers = selected(args.only, SERVERS, "servers")
    if "pyrama" not in servers:
        raise BenchError("pyrama must be one of the servers")
    samples: dict[str, list[float]] = {s: [] for s in servers}
    for rnd in range(args.repeat):
        for name in rotate(servers, rnd):
            kib = _measure(name, args.connections, args.settle, work)
            samples[name].append(kib)
            print(f"round {rnd + 1}: {name}: {kib:.1f} KiB per connection", flush=True)
    return _report(args, servers, samples)


def _ratio(ours: float, theirs: float) -> str:
    return f"**{ours / theirs:.2f}x**" if theirs > 0 else "-"


def _report(args: argparse.Namespace, servers: list[str], samples: dict[str, list[float]]) -> str:
    med = {s: median(v) for s, v in samples.items()}
    peers = [s for s in servers if s != "pyrama"]
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark: `memory` (idle keep-alive HTTP/1.1 connections)",
        "",
        f"Generated {now} by `python -m benchmarks memory --connections {args.connections} "
        f"--repeat {args.repeat}`. Each server holds {args.connections:,} idle keep-alive "
        "connections that have each served one request; memory per connection is the growth "
        "of the server's resident set size divided by the connections. Medians over "
        f"{args.repeat} rounds.",
        "",
        "## Ratios (pyrama's memory per connection / peer's; lower is better for pyrama)",
        "",
        "| " + " | ".join(f"pyrama / {p}" for p in peers) + " |",
        "|" + "---|" * len(peers),
        "| " + " | ".join(_ratio(med["pyrama"], med[p]) for p in peers) + " |",
        "",
    ]
    peer, limit = TARGET
    if peer in med and med[peer] > 0:
        ratio = med["pyrama"] / med[peer]
        verdict = "met" if ratio <= limit else "NOT met"
        lines += [f"Target: pyrama <= {limit}x {peer}'s memory per connection: **{verdict}** "
                  f"({ratio:.2f}x)", ""]  # fmt: skip
    lines += [
        "## KiB of resident memory per idle connection (medians)",
        "",
        "| " + " | ".join(servers) + " |",
        "|" + "---|" * len(servers),
        "| " + " | ".join(f"{med[s]:.1f}" for s in servers) + " |",
        "",
        "## Every sample (KiB per connection)",
        "",
    ]
    lines += [f"- {s}: " + ", ".join(f"{v:.1f}" for v in samples[s]) for s in servers]
    lines += ["", "## Setup", ""]
    lines += [f"- {k}: {v}" for k, v in host_facts({})]
    lines += [
        "- pyrama: `python -m benchmarks.http serve-pyrama` (HttpServer.auto(), idle keep-alive "
        "timeout 60 s)",
        "- hypercorn: `keep_alive_timeout = 600`; uvicorn: `--timeout-keep-alive 600`",
        f"- client: `python -m benchmarks.memory hold PORT N` (asyncio + uvloop), pid {os.getpid()}"
        " runs the harness",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "hold":
        raise SystemExit(_hold_main(sys.argv[2:]))
    raise SystemExit("usage: python -m benchmarks.memory hold PORT N")
