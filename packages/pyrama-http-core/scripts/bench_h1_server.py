"""Measure the HTTP/1.1 server driver against uvicorn (h11) on a hello-world service.

A script, not a test. Run: ``.venv/bin/python packages/pyrama-http-core/scripts/bench_h1_server.py``
(options: ``--duration 10 --connections 64 --rounds 3``).

Two measurements:

1. ``wrk -t2 -c64`` (if installed) against each server over loopback, single process, uvloop:
   pyrama's ``serve_http1`` (h11 codec) and ``uvicorn --http h11`` (with and without its
   ``date``/``server`` headers; pyrama's driver adds neither). Without wrk, httpx clients in a
   separate process are used instead (much slower clients: the numbers then measure httpx).
2. The in-process paths, no sockets and no kernel, in microseconds per request: N keep-alive
   requests read one per ``read`` by ``Http1ServerConnection`` from an in-memory stream;
   the same requests fed one by one to uvicorn's ``H11Protocol`` over a fake transport; and h11
   alone (parse one request + encode one response with h11's own state machine). Less noisy
   than (1) on a shared machine, since no load generator competes for the CPU.

The machine this runs on is shared and small: run rounds and compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any

HELLO = b"Hello, world!"


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- servers (run in child processes) -------------------------------------------------------------


def serve_pyrama(port: int) -> None:
    """Serve the hello-world service with pyrama's HTTP/1.1 driver on uvloop."""
    import uvloop

    from pyrama_core import service_fn
    from pyrama_http_core import serve_http1
    from pyrama_http_types import Request, Response
    from pyrama_net import SocketStreamProtocol

    async def hello(req: Request) -> Response:
        return Response(200, headers=[("content-type", "text/plain")], body=HELLO)

    svc = service_fn(hello)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()

        def on_connect(stream: Any) -> None:
            t = loop.create_task(serve_http1(stream, svc))
            tasks.add(t)
            t.add_done_callback(tasks.discard)

        server = await loop.create_server(
            lambda: SocketStreamProtocol(loop, on_connect=on_connect), "127.0.0.1", port
        )
        async with server:
            await server.serve_forever()

    uvloop.run(main())


async def asgi_hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The same hello-world as an ASGI app."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")],
        }
    )
    await send({"type": "http.response.body", "body": HELLO})


def serve_uvicorn(port: int, extra_headers: bool) -> None:
    """Serve the ASGI hello-world with uvicorn (h11, uvloop, one process)."""
    import uvicorn

    uvicorn.run(
        asgi_hello,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="h11",
        log_level="warning",
        access_log=False,
        server_header=extra_headers,
        date_header=extra_headers,
        lifespan="off",
    )


# -- load generation ----------------------------------------------------------------------------


def wait_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something listens on *port*."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not come up")


def run_wrk(port: int, duration: int, connections: int) -> float:
    """Requests per second reported by wrk."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", f"http://127.0.0.1:{port}/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    if m is None:
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    if "Non-2xx" in out or "Socket errors" in out:
        print("  wrk reported errors:", out.strip().splitlines()[-3:], file=sys.stderr)
    return float(m.group(1))


def run_httpx(port: int, duration: int, connections: int) -> float:
    """Requests per second of httpx clients in a child process (when wrk is missing)."""
    code = f"""
import asyncio, time, httpx
async def worker(client, stop, counts):
    while time.monotonic() < stop:
        r = await client.get("http://127.0.0.1:{port}/")
        assert r.status_code == 200
        counts[0] += 1
async def main():
    limits = httpx.Limits(max_connections={connections}, max_keepalive_connections={connections})
    async with httpx.AsyncClient(limits=limits) as client:
        counts = [0]
        start = time.monotonic(); stop = start + {duration}
        await asyncio.gather(*(worker(client, stop, counts) for _ in range({connections})))
        print(counts[0] / (time.monotonic() - start))
asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def measure(kind: str, duration: int, connections: int) -> float:
    """Start server *kind* in a child process and load it; return requests per second."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_port(port)
        if shutil.which("wrk"):
            run_wrk(port, 1, connections)  # warm-up
            return run_wrk(port, duration, connections)
        return run_httpx(port, duration, min(connections, 16))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- in-process driver path ------------------------------------------------------------------


class _MemStream:
    """A minimal in-memory Stream: reads come from a prepared buffer, writes are counted."""

    def __init__(self, data: bytes, piece: int) -> None:
        from pyrama_core import Extensions

        self._data = memoryview(data)
        self._piece = piece  # at most this many bytes per read (one request, like wrk sends)
        self._pos = 0
        self.written = 0
        self._extensions = Extensions()

    @property
    def extensions(self) -> Any:
        return self._extensions

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        pos = self._pos
        chunk = bytes(self._data[pos : pos + min(max_bytes, self._piece)])
        await asyncio.sleep(0)  # a real read waits for the loop at least once
        self._pos = pos + len(chunk)
        return chunk

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        self.written += len(data)

    async def drain(self) -> None:
        return None

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        return None

    def is_closing(self) -> bool:
        return False

    async def close(self) -> None:
        return None


def driver_path_us(n: int) -> float:
    """Microseconds per request of the driver over an in-memory stream (best of 5)."""
    import uvloop

    from pyrama_core import service_fn
    from pyrama_http_core import Http1ServerConnection
    from pyrama_http_types import Request, Response

    async def hello(req: Request) -> Response:
        return Response(200, headers=[("content-type", "text/plain")], body=HELLO)

    svc = service_fn(hello)
    req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"

    async def main() -> float:
        best = float("inf")
        for _ in range(5):
            stream = _MemStream(req * n, len(req))
            t0 = time.perf_counter()
            await Http1ServerConnection(stream, svc).run()
            best = min(best, (time.perf_counter() - t0) / n * 1e6)
        return best

    return uvloop.run(main())


class _FakeTransport:
    """Just enough of an asyncio transport for uvicorn's H11Protocol; counts response ends."""

    def __init__(self) -> None:
        self.responses = 0
        self.waiter: asyncio.Future[None] | None = None
        self._closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8080)}.get(
            name, default
        )

    def write(self, data: bytes) -> None:
        if data.endswith(HELLO):
            self.responses += 1
            w = self.waiter
            if w is not None and not w.done():
                w.set_result(None)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None


def uvicorn_path_us(n: int) -> float:
    """Microseconds per request of uvicorn's H11Protocol fed in-process (best of 5).

    Requests are fed one at a time (uvicorn runs each in a task and pauses parsing until the
    response is done), without date/server headers, like :func:`driver_path_us`.
    """
    import uvloop
    from uvicorn.config import Config
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.server import ServerState

    req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"

    async def main() -> float:
        loop = asyncio.get_running_loop()
        config = Config(
            app=asgi_hello,
            http="h11",
            lifespan="off",
            access_log=False,
            server_header=False,
            date_header=False,
            log_level="warning",
        )
        config.load()
        best = float("inf")
        for _ in range(5):
            proto = H11Protocol(config=config, server_state=ServerState(), app_state={}, _loop=loop)
            transport = _FakeTransport()
            proto.connection_made(transport)  # type: ignore[arg-type]
            t0 = time.perf_counter()
            for i in range(n):
                transport.waiter = loop.create_future()
                proto.data_received(req)
                if transport.responses <= i:
                    await transport.waiter
            best = min(best, (time.perf_counter() - t0) / n * 1e6)
            proto.connection_lost(None)
        return best

    return uvloop.run(main())


def h11_floor_us(n: int) -> float:
    """Microseconds per request of h11 alone: parse + encode with its state machine."""
    import h11

    req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"
    best = float("inf")
    for _ in range(5):
        conn = h11.Connection(h11.SERVER)
        t0 = time.perf_counter()
        for _ in range(n):
            conn.receive_data(req)
            conn.next_event()
            conn.next_event()
            conn.send(
                h11.Response(
                    status_code=200,
                    headers=[(b"content-type", b"text/plain"), (b"content-length", b"13")],
                )
            )
            conn.send(h11.Data(data=HELLO))
            conn.send(h11.EndOfMessage())
            conn.start_next_cycle()
        best = min(best, (time.perf_counter() - t0) / n * 1e6)
    return best


def main() -> None:
    """Run both measurements and print a report."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--serve", choices=["pyrama", "uvicorn", "uvicorn-bare"])
    ap.add_argument("--port", type=int)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-wrk", action="store_true")
    args = ap.parse_args()
    if args.serve == "pyrama":
        serve_pyrama(args.port)
        return
    if args.serve in ("uvicorn", "uvicorn-bare"):
        serve_uvicorn(args.port, extra_headers=args.serve == "uvicorn")
        return

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load {os.getloadavg()}")
    n = 20000
    d = driver_path_us(n)
    u = uvicorn_path_us(n)
    f = h11_floor_us(n)
    print(f"in-process pyrama driver path (in-memory stream): {d:.1f} us/request")
    print(f"in-process uvicorn H11Protocol path (fake transport): {u:.1f} us/request")
    print(f"h11 alone (parse + encode, no I/O, no Request objects): {f:.1f} us/request")
    print(f"in-process ratio uvicorn/pyrama: {u / d:.2f}x")
    if args.skip_wrk:
        return
    tool = f"wrk -t2 -c{args.connections}" if shutil.which("wrk") else "httpx (no wrk)"
    print(f"load: {tool}, {args.duration}s per run, {args.rounds} rounds")
    ratios_bare = []
    ratios_full = []
    for r in range(args.rounds):
        p = measure("pyrama", args.duration, args.connections)
        ub = measure("uvicorn-bare", args.duration, args.connections)
        uf = measure("uvicorn", args.duration, args.connections)
        ratios_bare.append(p / ub)
        ratios_full.append(p / uf)
        print(
            f"round {r + 1}: pyrama {p:8.0f} req/s ({1e6 / p:6.1f} us)   "
            f"uvicorn-h11 no date/server {ub:8.0f} req/s ({1e6 / ub:6.1f} us)   "
            f"uvicorn-h11 default {uf:8.0f} req/s ({1e6 / uf:6.1f} us)"
        )
    ratios_bare.sort()
    ratios_full.sort()
    print(
        f"median ratio pyrama/uvicorn-h11: {ratios_bare[len(ratios_bare) // 2]:.2f}x "
        f"(uvicorn without date/server headers), {ratios_full[len(ratios_full) // 2]:.2f}x "
        "(uvicorn defaults)"
    )


if __name__ == "__main__":
    main()
