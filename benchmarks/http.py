"""Workload ``http``: hello-world HTTP servers, pyrama vs uvicorn vs hypercorn vs nginx.

Every server answers ``GET /`` with ``200`` and the 5-byte body ``hello`` on 127.0.0.1, one
process each (one worker), in three runs:

* ``h1``: ``wrk -t2 -c64 -d<seconds>s`` (HTTP/1.1 keep-alive) against pyrama, uvicorn (h11
  and httptools), hypercorn and nginx;
* ``h2c``: ``h2load -c10 -m10 -D <seconds>`` (HTTP/2 with prior knowledge) against pyrama,
  hypercorn and nginx;
* ``h2``: the same over TLS (ALPN ``h2``, one ECDSA P-256 certificate for all).

pyrama is :class:`~pyrama_http.HttpServer.auto` with its default HTTP/1.1 codec (httptools
when installed, else h11) on uvloop, serving ``Response.text("hello")`` from a service;
uvicorn and hypercorn serve the same ASGI app (:func:`asgi_app`) on uvloop. Each measurement
runs ``--repeat`` rounds, the order of the servers rotating every round; the report shows
medians of requests per second, the server's CPU time per request, and ratios as medians of
per-round ratios.

With ``--profile`` one more run per protocol goes against a pyrama server under cProfile,
and the report lists where its time went.

``python -m benchmarks.http serve-pyrama ...`` runs the pyrama server on its own (the harness
starts it this way).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._harness import (
    BenchError,
    Proc,
    cpu_seconds,
    find_tool,
    free_port,
    host_facts,
    rotate,
    selected,
    start,
    wait_line,
    wait_port,
)
from benchmarks.forward import Samples
from benchmarks.tls import Certs, make_certs

__all__ = ["WrkRun", "add_arguments", "asgi_app", "run", "run_wrk", "tree_cpu_seconds"]

SERVERS = ("pyrama", "pyrama-h11", "uvicorn-h11", "uvicorn-httptools", "hypercorn", "nginx")
PROTOCOLS = ("h1", "h2c", "h2")
SPEAKS: dict[str, tuple[str, ...]] = {
    "h1": SERVERS,  # pyrama-h11: the same server with the h11 codec (HTTP/1.1 only)
    "h2c": ("pyrama", "hypercorn", "nginx"),
    "h2": ("pyrama", "hypercorn", "nginx"),
}
PEERS = ("uvicorn-h11", "uvicorn-httptools", "hypercorn", "nginx")
TARGETS = (
    ("h1", "pyrama", "uvicorn-h11", 1.5),
    ("h1", "pyrama", "uvicorn-httptools", 2.0),
    ("h1", "pyrama-h11", "uvicorn-h11", 1.3),
    ("h2c", "pyrama", "hypercorn", 3.0),
    ("h2", "pyrama", "hypercorn", 3.0),
)
HELLO = b"hello"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the ``http`` workload."""
    p.add_argument("--seconds", type=float, default=10.0, help="load time per run (10)")
    p.add_argument("--repeat", type=int, default=3, help="rounds per measurement (median)")
    p.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    p.add_argument("--h2-clients", type=int, default=10, help="h2load clients (10)")
    p.add_argument("--h2-streams", type=int, default=10, help="h2load streams per client (10)")
    p.add_argument(
        "--only",
        default=",".join(SERVERS),
        help="comma-separated servers to compare (default: %(default)s)",
    )
    p.add_argument(
        "--protocols",
        default=",".join(PROTOCOLS),
        help="comma-separated runs: h1, h2c, h2 (default: %(default)s)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="after the rounds, load a cProfile'd pyrama once per protocol; report hot spots",
    )


# ------------------------------------------------------------------------------ the servers


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The hello-world ASGI app served by uvicorn and hypercorn."""
    kind = scope["type"]
    if kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if kind != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"5")],
        }
    )
    await send({"type": "http.response.body", "body": HELLO})


def serve_pyrama(
    plain: int,
    tls: int | None,
    cert: str | None,
    key: str | None,
    profile: str | None = None,
    codec: str = "default",
) -> None:
    """Serve hello-world with pyrama's HttpServer.auto() on uvloop (plain h1+h2c, TLS h2+h1).

    With *profile*, cProfile runs from a ``SIGUSR1`` (the harness sends it once its readiness
    probes are done and right before the load starts) until shutdown begins, and its stats are
    written to that path: start-up, probes and shutdown are left out.
    """
    import asyncio
    import signal

    import uvloop

    from pyrama_core import Shutdown
    from pyrama_http import HttpServer
    from pyrama_http_types import Request, Response
    from pyrama_tls import TlsAcceptorData, load_certified_key

    class Hello:
        async def serve(self, request: Request, /) -> Response:
            return Response.text("hello")

    async def main() -> None:
        if codec == "h11":
            from pyrama_http_core import H11ServerCodec, Http1Config

            server = HttpServer.auto(
                http1_config=Http1Config(
                    codec_factory=lambda cfg: H11ServerCodec(cfg.limits),
                    send_408_on_header_timeout=True,
                )
            )
        else:
            server = HttpServer.auto()
        shutdown = Shutdown(deadline=2.0)
        shutdown.install_signal_handlers()

        watcher = None
        if prof is not None:
            profiler = prof
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, profiler.enable)

            async def stop_profiling() -> None:
                await shutdown.triggered.wait()
                profiler.disable()

            watcher = asyncio.create_task(stop_profiling())

        def bound(addr: Any) -> None:
            print(f"listening {addr}", flush=True)

        runs = [server.listen(f"127.0.0.1:{plain}", Hello(), shutdown=shutdown, on_listening=bound)]
        if tls is not None and cert is not None:
            data = TlsAcceptorData(certified_key=load_certified_key(cert, key))
            runs.append(
                server.listen(
                    f"127.0.0.1:{tls}", Hello(), tls=data, shutdown=shutdown, on_listening=bound
                )
            )
        await asyncio.gather(*runs)
        if watcher is not None:
            await watcher

    import cProfile
    import time as _time

    # CPU time, not wall time: on a busy machine a wall-clock profile charges the time the
    # process waited for a CPU to whatever function it was in (mostly the send syscall)
    prof = None if profile is None else cProfile.Profile(_time.process_time)
    try:
        uvloop.run(main())
    finally:
        if prof is not None and profile is not None:
            prof.disable()
            prof.dump_stats(profile)


def _serve_pyrama_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.http serve-pyrama")
    p.add_argument("--plain", type=int, required=True)
    p.add_argument("--tls", type=int)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--profile", help="write cProfile stats here at exit")
    p.add_argument("--codec", choices=("default", "h11"), default="default")
    args = p.parse_args(argv)
    serve_pyrama(args.plain, args.tls, args.cert, args.key, args.profile, args.codec)
    return 0


_NGINX_CONF = """\
worker_processes 1;
master_process off;
daemon off;
pid {work}/nginx-http.pid;
error_log {work}/nginx-http-error.log warn;
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
        listen 127.0.0.1:{h1};
        listen 127.0.0.1:{h2c} http2;
        listen 127.0.0.1:{h2} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{ return 200 "hello"; }}
    }}
}}
"""


_HYPERCORN_TOML = "keep_alive_max_requests = 1000000\n"


@dataclass
class Server:
    """One running server process and its port per protocol."""

    name: str
    proc: Proc
    ports: dict[str, int]


def server_argv(
    name: str, certs: Certs, work: Path, plain: int, secure: int, *, profile: Path | None = None
) -> tuple[list[str], dict[str, int]]:
    """The command line of hello-world server *name* and its port per protocol.

    *plain* carries h1 (and h2c where the server speaks it), *secure* h2 over TLS.
    """
    py = sys.executable
    ports = {"h1": plain}
    argv: list[str]
    if name == "pyrama":
        argv = [
            py, "-m", "benchmarks.http", "serve-pyrama", "--plain", str(plain),
            "--tls", str(secure), "--cert", str(certs.cert), "--key", str(certs.key),
        ]  # fmt: skip
        if profile is not None:
            argv += ["--profile", str(profile)]
        ports.update(h2c=plain, h2=secure)
    elif name == "pyrama-h11":
        argv = [
            py, "-m", "benchmarks.http", "serve-pyrama", "--plain", str(plain), "--codec", "h11",
        ]  # fmt: skip
    elif name.startswith("uvicorn-"):
        argv = [
            py, "-m", "uvicorn", "benchmarks.http:asgi_app", "--host", "127.0.0.1",
            "--port", str(plain), "--http", name.removeprefix("uvicorn-"), "--loop", "uvloop",
            "--workers", "1", "--no-access-log", "--log-level", "warning",
            "--no-server-header", "--lifespan", "off",
        ]  # fmt: skip
    elif name == "hypercorn":
        # hypercorn ends a connection after 1000 requests by default (h2: GOAWAY); the load
        # tools do not reconnect, so lift the cap like nginx's keepalive_requests below
        config = work / "hypercorn.toml"
        config.write_text(_HYPERCORN_TOML)
        argv = [
            py, "-m", "hypercorn", "benchmarks.http:asgi_app", "-c", str(config),
            "-k", "uvloop", "-w", "1",
            "--bind", f"127.0.0.1:{secure}", "--insecure-bind", f"127.0.0.1:{plain}",
            "--certfile", str(certs.cert), "--keyfile", str(certs.key),
            "--log-level", "warning",
        ]  # fmt: skip
        ports.update(h2c=plain, h2=secure)
    elif name == "nginx":
        nginx = find_tool("nginx")
        assert nginx is not None
        h2c = free_port()
        conf = work / "nginx-http.conf"
        conf.write_text(
            _NGINX_CONF.format(
                work=work, h1=plain, h2c=h2c, h2=secure, cert=certs.cert, key=certs.key
            )
        )
        argv = [nginx, "-p", str(work), "-c", str(conf), "-e", str(work / "nginx-http-error.log")]
        ports.update(h2c=h2c, h2=secure)
    else:  # pragma: no cover - guarded by the --only check
        raise BenchError(f"unknown server {name!r}")
    return argv, ports


def _start_server(name: str, certs: Certs, work: Path, *, profile: Path | None = None) -> Server:
    argv, ports = server_argv(name, certs, work, free_port(), free_port(), profile=profile)
    proc = start(f"{name}{'-profiled' if profile else ''}", argv, work)
    if name.startswith("pyrama"):
        # its own "listening" lines: a bare connect to the TLS port would be a failed
        # handshake (and a log line) in the middle of a profile
        for port in set(ports.values()):
            wait_line(proc, rf"listening 127\.0\.0\.1:{port}\b", timeout=60.0)
    else:
        for port in set(ports.values()):
            wait_port(proc, port, timeout=60.0)
    return Server(name, proc, ports)


def _tool_missing(name: str) -> str | None:
    """Why *name* cannot be measured on this machine, or ``None``."""
    if name == "nginx":
        return None if find_tool("nginx") else "`nginx` is not installed"
    module = {
        "pyrama": "pyrama_http",
        "pyrama-h11": "pyrama_http",
        "uvicorn-h11": "uvicorn",
        "uvicorn-httptools": "httptools",
        "hypercorn": "hypercorn",
    }[name]
    import importlib.util

    if importlib.util.find_spec(module) is None:
        return f"the Python module `{module}` is not installed"
    return None


# ---------------------------------------------------------------------------- the load tools

_WRK_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_WRK_TOTAL = re.compile(r"(\d+) requests in ")
_WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_WRK_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_H2_RPS = re.compile(r"finished in [\d.]+m?s, ([\d.]+) req/s")
_H2_DONE = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, \d+ succeeded, (\d+) failed, "
    r"(\d+) errored"
)
_H2_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")


def _children(pid: int) -> list[int]:
    """The live child processes of *pid* (Linux ``/proc``)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            found += [int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except OSError:
            continue
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of *pid* and every live descendant (a server that forks its worker)."""
    total = cpu_seconds(pid)
    for child in _children(pid):
        total += tree_cpu_seconds(child)
    return total


@dataclass
class Result:
    """One load run: requests per second, requests done, failures, server CPU seconds.

    ``failures`` are non-2xx answers and socket/stream errors; ``cut`` (h2load only) the
    requests h2load had counted but never started when its time was up, which it reports as
    failed.
    """

    rps: float
    requests: int
    failures: int
    cpu: float
    cut: int = 0
    output: str = field(repr=False, default="")


@dataclass
class WrkRun:
    """What one ``wrk`` run measured: requests per second and done, failures, server CPU."""

    rps: float
    requests: int
    failures: int
    cpu: float
    output: str = field(repr=False, default="")


def run_wrk(args: argparse.Namespace, url: str, pid: int, *, script: Path | None = None) -> WrkRun:
    """Load *url* with wrk (``args.threads``, ``args.connections``, ``args.seconds``).

    *pid*'s process tree is the server whose CPU time is measured; non-2xx answers and
    socket errors count as failures.
    """
    wrk = find_tool("wrk")
    assert wrk is not None
    argv = [
        wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{max(1, round(args.seconds))}s",
    ]  # fmt: skip
    if script is not None:
        argv += ["-s", str(script)]
    argv.append(url)
    cpu0 = tree_cpu_seconds(pid)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=args.seconds + 120)
    cpu = tree_cpu_seconds(pid) - cpu0
    text = out.stdout + out.stderr
    rps = _WRK_RPS.search(text)
    total = _WRK_TOTAL.search(text)
    if out.returncode != 0 or rps is None or total is None:
        raise BenchError(f"wrk failed against {url}:\n{text[-2000:]}")
    failures = 0
    m = _WRK_NON2XX.search(text)
    if m:
        failures += int(m.group(1))
    m = _WRK_ERRORS.search(text)
    if m:
        failures += sum(int(g) for g in m.groups())
    return WrkRun(float(rps.group(1)), int(total.group(1)), failures, cpu, text)


def _wrk(args: argparse.Namespace, port: int, proc: Proc) -> Result:
    run = run_wrk(args, f"http://127.0.0.1:{port}/", proc.pid)
    return Result(run.rps, run.requests, run.failures, run.cpu, output=run.output)


def _h2load(args: argparse.Namespace, url: str, proc: Proc) -> Result:
    h2load = find_tool("h2load")
    assert h2load is not None
    argv = [
        h2load, "-c", str(args.h2_clients), "-m", str(args.h2_streams),
        "-D", str(max(1, round(args.seconds))), "--warm-up-time", "1", url,
    ]  # fmt: skip
    cpu0 = tree_cpu_seconds(proc.pid)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=args.seconds + 120)
    cpu = tree_cpu_seconds(proc.pid) - cpu0
    text = out.stdout + out.stderr
    rps = _H2_RPS.search(text)
    done = _H2_DONE.search(text)
    status = _H2_STATUS.search(text)
    if rps is None or done is None or status is None:
        raise BenchError(f"h2load failed against {url}:\n{text[-2000:]}")
    total, started, requests, failed, _errored = (int(g) for g in done.groups())
    _ok, _redirect, client_errors, server_errors = (int(g) for g in status.groups())
    # when its time is up h2load stops its clients; requests it had counted but never
    # started show up as "failed" (and "errored"): not the server's doing
    never_started = total - started
    failures = client_errors + server_errors + max(0, failed - never_started)
    return Result(float(rps.group(1)), requests, failures, cpu, cut=never_started, output=text)


def _measure(args: argparse.Namespace, protocol: str, server: Server) -> Result:
    port = server.ports[protocol]
    if protocol == "h1":
        return _wrk(args, port, server.proc)
    scheme = "https" if protocol == "h2" else "http"
    return _h2load(args, f"{scheme}://127.0.0.1:{port}/", server.proc)


def _check_hello(server: Server) -> None:
    """One request per protocol must get ``200 hello`` before anything is measured."""
    import httpx

    for protocol, port in server.ports.items():
        h2 = protocol != "h1"
        scheme = "https" if protocol == "h2" else "http"
        with httpx.Client(http1=not h2 or protocol == "h2", http2=h2, verify=False) as c:
            r = c.get(f"{scheme}://127.0.0.1:{port}/", timeout=30)
        want = "HTTP/2" if h2 else "HTTP/1.1"
        if r.status_code != 200 or r.content != HELLO or r.http_version != want:
            raise BenchError(
                f"{server.name} {protocol}: got {r.status_code} {r.http_version} {r.content!r}"
            )


# ---------------------------------------------------------------------------------- report


def _fmt(x: float, digits: int = 0) -> str:
    return "n/a" if math.isnan(x) else f"{x:,.{digits}f}"


def _ratio(r: float) -> str:
    return "n/a" if math.isnan(r) else f"**{r:.2f}x**"


def _load_label(args: argparse.Namespace, protocol: str) -> str:
    s = max(1, round(args.seconds))
    if protocol == "h1":
        return f"h1: wrk -t{args.threads} -c{args.connections} -d{s}s"
    tls = " over TLS" if protocol == "h2" else " (h2c, prior knowledge)"
    return f"h2{tls}: h2load -c{args.h2_clients} -m{args.h2_streams} -D {s}"


def _wrk_version() -> str:
    wrk = find_tool("wrk")
    if wrk is None:
        return "not installed"
    try:
        out = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    m = re.search(r"wrk (\S+)", out.stdout + out.stderr)
    return m.group(0) if m else "?"


def _display(argv: list[str]) -> str:
    shown = [Path(argv[0]).name, *argv[1:]]
    return " ".join(re.sub(r"/\S*/pyrama-bench-[^/]+/", "$SCRATCH/", shlex.quote(a)) for a in shown)


def _short(filename: str) -> str:
    short = re.sub(r".*/site-packages/", "", filename)
    short = re.sub(r".*/packages/[^/]+/src/", "", short)
    return re.sub(r".*/lib/python3\.\d+/", "", short)


_COMPONENTS = (
    ("socket writes (transport.write: the send syscall)", r"_socket_stream\.py write$"),
    ("pyrama-http-core (drivers, codecs)", r"^pyrama_http_core/"),
    ("pyrama-http-types (Request, Response, HeaderMap, Body)", r"^pyrama_http_types/"),
    ("pyrama-http (HttpServer)", r"^pyrama_http/"),
    ("pyrama-net / pyrama-tcp / pyrama-core (streams, listener)", r"^pyrama_(net|tcp|core)/"),
    ("pyrama-tls (TLS streams, OpenSSL calls)", r"^pyrama_tls/|OpenSSL/"),
    ("h11", r"^h11/"),
    ("h2 + hpack + hyperframe", r"^(h2|hpack|hyperframe)/"),
    ("logging (hpack's debug calls)", r"^logging/"),
    ("asyncio / uvloop", r"^asyncio/|uvloop"),
    ("the hello service", r"benchmarks/http\.py"),
)


def _profile_components(path: Path) -> list[str]:
    """Own time of a cProfile dump summed per component, as markdown table rows."""
    import pstats

    stats = pstats.Stats(str(path))
    total = stats.total_tt  # type: ignore[attr-defined]
    sums: dict[str, float] = {}
    for (filename, _line, func), entry in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{_short(filename)} {func}"
        found = next((lb for lb, pattern in _COMPONENTS if re.search(pattern, where)), None)
        label = found or "other (builtins, C calls, the rest)"
        sums[label] = sums.get(label, 0.0) + entry[2]
    rows = []
    for label, seconds in sorted(sums.items(), key=lambda kv: kv[1], reverse=True):
        share = 100 * seconds / total if total else float("nan")
        rows.append(f"| {label} | {seconds:.2f} | {share:.1f}% |")
    return rows


def _profile_summary(path: Path, limit: int = 25) -> list[str]:
    """The top functions of a cProfile dump by own time, as markdown table rows."""
    import pstats

    stats = pstats.Stats(str(path))
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    entries = stats.stats  # type: ignore[attr-defined]
    ranked = sorted(entries.items(), key=lambda kv: kv[1][2], reverse=True)[:limit]
    for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in ranked:
        where = f"{_short(filename)}:{line} {func}" if line else func
        share = 100 * tottime / total if total else float("nan")
        rows.append(f"| `{where}` | {ncalls:,} | {tottime:.2f} | {share:.1f}% | {cumtime:.2f} |")
    return rows


def _report(
    args: argparse.Namespace,
    names: list[str],
    protocols: list[str],
    missing: dict[str, str],
    samples: Samples,
    failures: dict[tuple[str, str], int],
    cut: dict[tuple[str, str], int],
    argvs: dict[str, list[str]],
    profiles: dict[str, tuple[Path, Result]],
) -> str:
    peers = [p for p in PEERS if p in names]
    lines = [
        "# Benchmark: `http` (hello-world servers)",
        "",
        f"Generated {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} by "
        f"`python -m benchmarks {shlex.join(sys.argv[1:]) or 'http'}`. Every server answers "
        "`GET /` with `200` and the body `hello`, one process (one worker) each. Every "
        f"figure is a median over {args.repeat} rounds; the order of the servers rotates "
        "each round, and a ratio is the median of the per-round ratios. The load tools run "
        "on the same machine as the servers, over 127.0.0.1: read the ratios.",
        "",
        "## Ratios (pyrama / peer, requests per second; higher is better for pyrama)",
        "",
        "| run | " + " | ".join(f"pyrama / {p}" for p in peers) + " |",
        "|---|" + "---|" * len(peers),
    ]
    for protocol in protocols:
        metric = f"rps_{protocol}"
        row = [
            _ratio(samples.ratio(metric, "pyrama", p)) if p in SPEAKS[protocol] else "-"
            for p in peers
        ]
        lines.append(f"| {_load_label(args, protocol)} | " + " | ".join(row) + " |")
    if "pyrama-h11" in names and "h1" in protocols:
        row = [_ratio(samples.ratio("rps_h1", "pyrama-h11", p)) for p in peers]
        lines.append("| h1 with the h11 codec (pyrama-h11 / peer) | " + " | ".join(row) + " |")
    lines += [
        "",
        "CPU efficiency (peer's server CPU per request / pyrama's; higher is better for pyrama; "
        "steadier than requests per second on a busy machine):",
        "",
        "| run | " + " | ".join(f"{p} / pyrama" for p in peers) + " |",
        "|---|" + "---|" * len(peers),
    ]
    for protocol in protocols:
        metric = f"cpu_{protocol}"
        row = [
            _ratio(samples.ratio(metric, p, "pyrama")) if p in SPEAKS[protocol] else "-"
            for p in peers
        ]
        lines.append(f"| {protocol} | " + " | ".join(row) + " |")
    if "pyrama-h11" in names and "h1" in protocols:
        row = [_ratio(samples.ratio("cpu_h1", p, "pyrama-h11")) for p in peers]
        lines.append("| h1, h11 codec (peer / pyrama-h11) | " + " | ".join(row) + " |")
    lines += ["", "Targets (requests per second):", ""]
    for protocol, ours, peer, want in TARGETS:
        if protocol not in protocols or peer not in names or ours not in names:
            continue
        r = samples.ratio(f"rps_{protocol}", ours, peer)
        verdict = "n/a" if math.isnan(r) else ("met" if r >= want else "NOT met")
        lines.append(
            f"- {protocol}: {ours} >= {want:g}x {peer}: **{verdict}** "
            f"({'n/a' if math.isnan(r) else f'{r:.2f}x'})"
        )

    lines += [
        "",
        "## Requests per second (medians)",
        "",
        "| run | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for protocol in protocols:
        row = [
            _fmt(samples.med(f"rps_{protocol}", n)) if n in SPEAKS[protocol] else "-" for n in names
        ]
        lines.append(f"| {protocol} | " + " | ".join(row) + " |")
    lines += [
        "",
        "## Server CPU time per request, microseconds (medians; lower is better)",
        "",
        "| run | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for protocol in protocols:
        row = [
            _fmt(samples.med(f"cpu_{protocol}", n), 1) if n in SPEAKS[protocol] else "-"
            for n in names
        ]
        lines.append(f"| {protocol} | " + " | ".join(row) + " |")
    bad = {k: v for k, v in failures.items() if v}
    lines += ["", "Failed requests (non-2xx answers, socket or stream errors; all rounds): "]
    lines[-1] += (
        "none."
        if not bad
        else ", ".join(f"{who} {protocol}: {n}" for (who, protocol), n in sorted(bad.items())) + "."
    )
    unfinished = {k: v for k, v in cut.items() if v}
    if unfinished:
        lines.append(
            "Requests h2load counted but never started when its time was up (it reports them "
            "as failed; they are not errors of the server): "
            + ", ".join(f"{w} {p}: {n}" for (w, p), n in sorted(unfinished.items()))
            + "."
        )

    if profiles:
        lines += [
            "",
            "## Where pyrama's time goes (cProfile, one extra run per protocol)",
            "",
            "cProfile slows the server down (the figures below are not comparable to the ones "
            "above); the shares show where the time goes. Own time per function, top 25.",
        ]
        for protocol, (path, res) in profiles.items():
            lines += [
                "",
                f"### {_load_label(args, protocol)} (profiled: {res.rps:,.0f} req/s, "
                f"{res.requests:,} requests)",
                "",
                "| component | own s | share |",
                "|---|---|---|",
                *_profile_components(path),
                "",
                "| function | calls | own s | share | cumulative s |",
                "|---|---|---|---|---|",
                *_profile_summary(path),
            ]

    lines += ["", "## Every sample", ""]
    for metric, per in samples.values.items():
        for who, vals in per.items():
            lines.append(f"- {metric} / {who}: " + ", ".join(_fmt(v, 1) for v in vals))

    lines += ["", "## Setup", ""]
    tools = {
        "h2load": [find_tool("h2load") or "h2load", "--version"],
        "nginx": [find_tool("nginx") or "nginx", "-v"],
    }
    for k, v in host_facts(tools):
        lines.append(f"- {k}: {v}")
    lines.append(f"- wrk: {_wrk_version()}")
    versions = []
    for mod in ("uvicorn", "hypercorn", "h11", "h2", "httptools", "uvloop"):
        try:
            from importlib.metadata import version

            versions.append(f"{mod} {version(mod)}")
        except Exception:  # pragma: no cover - only for the report
            versions.append(f"{mod} ?")
    lines.append("- Python packages: " + ", ".join(versions))
    lines.append(
        "- pyrama: `HttpServer.auto()` (HTTP/1.1 with the default codec: httptools, h2 by prior "
        'knowledge or ALPN), service `Response.text("hello")`, uvloop, one process'
    )
    lines.append(
        "- uvicorn sends its `date` header but no `server` header, like pyrama over HTTP/1.1 "
        "(pyrama's HTTP/2 sends neither); hypercorn and nginx send both"
    )
    lines.append(
        "- no server ends a keep-alive connection after N requests: nginx "
        "`keepalive_requests 1000000`, hypercorn `keep_alive_max_requests = 1000000` (both "
        "default to 1000, after which the load tools' connections would be gone); pyrama and "
        "uvicorn have no such cap"
    )
    for name, argv in argvs.items():
        lines.append(f"- {name}: `{_display(argv)}`")
    if "nginx" in argvs:
        cfg = _NGINX_CONF.format(
            work="$SCRATCH", h1="<h1>", h2c="<h2c>", h2="<h2>", cert="<cert>", key="<key>"
        )
        lines += ["- nginx config:", "", "```", cfg.rstrip(), "```"]
    for name, why in missing.items():
        lines.append(f"- {name}: not measured ({why})")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- run


def run(args: argparse.Namespace, work: Path) -> str:
    """Run the workload in *work* (a scratch directory) and return the markdown report."""
    wanted = selected(args.only, SERVERS, "servers")
    protocols = selected(args.protocols, PROTOCOLS, "protocols")
    for tool, needed in (("wrk", "h1"), ("h2load", "h2c")):
        if find_tool(tool) is None and (
            needed in protocols or (tool == "h2load" and "h2" in protocols)
        ):
            raise BenchError(f"`{tool}` is required (apt-get install -y wrk nghttp2-client)")
    missing: dict[str, str] = {}
    names: list[str] = []
    for n in wanted:
        why = _tool_missing(n)
        if why is None:
            names.append(n)
        else:
            missing[n] = why
    certs = make_certs(work)
    samples = Samples()
    failures: dict[tuple[str, str], int] = {}
    cut: dict[tuple[str, str], int] = {}
    servers: dict[str, Server] = {}
    profiles: dict[str, tuple[Path, Result]] = {}
    try:
        for name in names:
            servers[name] = _start_server(name, certs, work)
            _check_hello(servers[name])
        for r in range(args.repeat):
            for protocol in protocols:
                for who in rotate([n for n in names if n in SPEAKS[protocol]], r):
                    res = _measure(args, protocol, servers[who])
                    samples.add(f"rps_{protocol}", who, res.rps)
                    per_request = res.cpu / res.requests * 1e6 if res.requests else math.nan
                    samples.add(f"cpu_{protocol}", who, per_request)
                    failures[(who, protocol)] = failures.get((who, protocol), 0) + res.failures
                    cut[(who, protocol)] = cut.get((who, protocol), 0) + res.cut
                    print(
                        f"round {r + 1}: {protocol:3s} {who:18s} {res.rps:10,.0f} req/s "
                        f"{per_request:8.1f} us CPU/request",
                        flush=True,
                    )
        for server in servers.values():
            server.proc.check_alive()
        argvs = {name: servers[name].proc.argv for name in names}
    finally:
        for server in servers.values():
            server.proc.stop()
    if args.profile and "pyrama" in names:
        for protocol in protocols:
            path = work / f"pyrama-{protocol}.prof"
            server = _start_server("pyrama", certs, work, profile=path)
            try:
                os.kill(server.proc.pid, signal.SIGUSR1)  # start profiling: probes are done
                time.sleep(0.5)
                res = _measure(args, protocol, server)
            finally:
                server.proc.stop(timeout=30.0)
            _wait_for(lambda p=path: p.exists() and p.stat().st_size > 0, 30.0)  # type: ignore[misc]
            profiles[protocol] = (path, res)
            print(f"profiled {protocol}: {res.rps:,.0f} req/s under cProfile", flush=True)
    return _report(args, names, protocols, missing, samples, failures, cut, argvs, profiles)


def _wait_for(cond: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise BenchError("the profiled pyrama server wrote no profile")
        time.sleep(0.1)


def _main(argv: list[str]) -> int:
    """``serve-pyrama ...`` (the harness runs the pyrama server this way)."""
    if argv[:1] == ["serve-pyrama"]:
        return _serve_pyrama_main(argv[1:])
    print(
        "usage: python -m benchmarks.http serve-pyrama --plain PORT [--tls PORT ...]",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(_main(sys.argv[1:]))
