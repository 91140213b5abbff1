"""Hello-world requests/s: pyrama HttpServer vs uvicorn (h11, httptools) and hypercorn.

Every server runs as a single process with uvloop, on 127.0.0.1, answering
``Hello, World!`` (text/plain). HTTP/1.1 is loaded with ``wrk -t2 -c64``, h2c (prior
knowledge) with ``h2load -c10 -m10 -n9000``. Servers are measured in alternating rounds and the
report gives each peer's requests/s and the median of the per-round ratios pyrama / peer.

Run from the repository root::

    .venv/bin/python packages/pyrama-http/scripts/bench_hello.py --seconds 10 --rounds 3

Needs ``wrk`` and ``h2load`` (nghttp2-client) on PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

H2_REQUESTS = 9000
"""Requests per h2load run: 900 per connection. hypercorn ends an HTTP/2 connection after
about 1000 streams and h2load does not reconnect (the rest would count as failed and the
stall would drag the rate down), so every run stays below that."""

ASGI = textwrap.dedent(
    """
    async def app(scope, receive, send):
        if scope["type"] != "http":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"Hello, World!"})
    """
)


def serve_pyrama(port: int, versions: str) -> None:
    """The pyrama server process (uvloop)."""
    import uvloop

    from pyrama_core import service_fn
    from pyrama_http import HttpServer, HttpVersions
    from pyrama_http_types import Response

    async def hello(req: object) -> Response:
        return Response.text("Hello, World!", content_type="text/plain")

    async def main() -> None:
        await HttpServer(HttpVersions(versions)).listen(f"127.0.0.1:{port}", service_fn(hello))

    uvloop.run(main())


def free_port() -> int:
    """An unused loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    """Wait until *proc* listens on *port*."""
    for _ in range(400):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


def server_argv(name: str, port: int, appdir: str) -> list[str]:
    """The command line that starts server *name* on *port*."""
    py = sys.executable
    if name.startswith("pyrama"):
        versions = {"pyrama": "auto", "pyrama-http1": "http1"}[name]
        return [py, __file__, "--serve-pyrama", str(port), versions]
    if name.startswith("uvicorn"):
        impl = name.split("-")[1]
        return [
            py, "-m", "uvicorn", "hello_app:app", "--port", str(port), "--host", "127.0.0.1",
            "--http", impl, "--loop", "uvloop", "--no-access-log", "--log-level", "warning",
            "--app-dir", appdir,
        ]  # fmt: skip
    if name == "hypercorn":
        return [
            py, "-m", "hypercorn", "hello_app:app", "--bind", f"127.0.0.1:{port}",
            "--worker-class", "uvloop", "--log-level", "warning",
        ]  # fmt: skip
    raise ValueError(name)


def load(tool: str, port: int, seconds: int) -> tuple[float, int]:
    """Run *tool* against *port*; return (requests/s, failed requests).

    wrk runs for *seconds*; h2load runs :data:`H2_REQUESTS` requests (a fixed count: in
    duration mode it counts the requests still in flight at the end as failed), or a tenth of
    that when *seconds* is 1 (the warm-up).
    """
    url = f"http://127.0.0.1:{port}/"
    if tool == "wrk":
        argv = ["wrk", "-t2", "-c64", f"-d{seconds}s", url]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        socket_errors = re.search(r"Socket errors: (.*)", out)
        failed = int(errors.group(1)) if errors else 0
        if socket_errors:
            failed += sum(int(x) for x in re.findall(r"\d+", socket_errors.group(1)))
    else:
        count = H2_REQUESTS if seconds > 1 else H2_REQUESTS // 10
        argv = ["h2load", "-c10", "-m10", "-n", str(count), url]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
        f = re.search(r"(\d+) failed", out)
        failed = int(f.group(1)) if f else 0
    if m is None:
        raise RuntimeError(f"cannot parse {tool} output:\n{out}")
    return float(m.group(1)), failed


def measure(name: str, tool: str, seconds: int, appdir: str) -> tuple[float, int]:
    """Start server *name*, warm it up, load it, stop it; return requests/s."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=appdir + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        server_argv(name, port, appdir),
        cwd=appdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc)
        load(tool, port, 1)  # warm up
        return load(tool, port, seconds)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    """Measure every server with both tools and print markdown tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tools", default="wrk,h2load", help="which loads to run (comma list)")
    ap.add_argument("--serve-pyrama", nargs=2, metavar=("PORT", "VERSIONS"))
    args = ap.parse_args()
    if args.serve_pyrama:
        serve_pyrama(int(args.serve_pyrama[0]), args.serve_pyrama[1])
        return
    for tool in ("wrk", "h2load"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed")
    appdir = tempfile.mkdtemp(prefix="pyrama-bench-")
    Path(appdir, "hello_app.py").write_text(ASGI)
    plans = {
        "wrk": ["pyrama", "pyrama-http1", "uvicorn-h11", "uvicorn-httptools", "hypercorn"],
        "h2load": ["pyrama", "hypercorn"],
    }
    for tool, names in plans.items():
        if tool not in args.tools.split(","):
            continue
        results: dict[str, list[float]] = {n: [] for n in names}
        failures: dict[str, int] = dict.fromkeys(names, 0)
        for _ in range(args.rounds):
            for name in names:
                rps, failed = measure(name, tool, args.seconds, appdir)
                results[name].append(rps)
                failures[name] += failed
        if tool == "wrk":
            what = f"HTTP/1.1, wrk -t2 -c64 -d{args.seconds}s"
        else:
            what = f"h2c, h2load -c10 -m10 -n{H2_REQUESTS}"
        load_avg = os.getloadavg()[0]
        print(f"\n## {what}, {args.rounds} rounds (load {load_avg:.2f})")
        print("| server | req/s (median) | pyrama / server (median of rounds) | failed |")
        print("|---|---:|---:|---:|")
        base = results["pyrama"]
        for name in names:
            ratio = statistics.median(b / r for b, r in zip(base, results[name], strict=True))
            rps = statistics.median(results[name])
            print(f"| {name} | {rps:,.0f} | {ratio:.2f} | {failures[name]} |")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
