"""Workload ``budget``: microseconds of CPU per request on the HTTP/1.1 server path, and per layer.

No network: an in-memory stream (:class:`FeedStream`) hands ``HttpServer.auto()`` (the same
server the ``http`` workload runs, the protocol sniff included) a connection carrying N
keep-alive requests and swallows the responses. What is measured is process CPU time
(``time.process_time``) from the first read to the stream's close, divided by N: accept
(the per-connection path), parse, service, response framing and the write call, without
the socket syscalls, on uvloop.

Cases:

* the no-op service (``Response.text("hello")``) with each HTTP/1.1 codec (httptools,
  h11), requests arriving one per read (``sequential``: a client waiting for each
  response) and many per read (``pipelined``: 64 KiB reads);
* ``unique heads``: sequential, but every head differs (an ``X-Request-Id`` field), so the
  codecs' head cache (a repeated head is not parsed again) never hits: the parse cost;
* one connection per request (``1 req/conn``): the per-connection cost on top;
* then, with the default codec and sequential requests, each built-in layer on its own
  around the no-op service, reported as microseconds added to the bare server.

Every case runs ``--repeat`` rounds (the case order rotates each round); the report gives
medians and the spread (min..max) over rounds; an added cost is the median over rounds of
(case - baseline of the same round).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import gc
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._harness import host_facts
from pyrama_core import Extensions
from pyrama_http_types import Request, Response
from pyrama_net import SocketInfo

__all__ = ["FeedStream", "add_arguments", "run"]

REQUEST = (
    b"GET / HTTP/1.1\r\n"
    b"Host: bench.example\r\n"
    b"User-Agent: pyrama-budget/1\r\n"
    b"Accept: */*\r\n"
    b"Accept-Encoding: gzip, br\r\n"
    b"Origin: http://app.example\r\n"
    b"X-Forwarded-For: 203.0.113.7\r\n"
    b"\r\n"
)
HELLO = "hello"
TEXT_4K = ("pyrama budget: the quick brown fox jumps over the lazy dog. " * 70)[:4096]
PIPELINE_READ = 65536
_PEER = SocketInfo(local=("127.0.0.1", 8080), peer=("127.0.0.1", 50000), family=socket.AF_INET)


class FeedStream:
    """An in-memory ``pyrama_net.Stream``: reads hand out prepared chunks, writes are counted.

    Neither ``read`` nor ``drain`` ever suspends, so only the server path's own work is timed.
    """

    __slots__ = ("_chunks", "_closing", "_extensions", "_i", "responses", "writes", "written")

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks
        self._i = 0
        self._closing = False
        self._extensions = Extensions()
        self._extensions.insert(_PEER)
        self.written = 0
        self.writes = 0
        self.responses = 0

    @property
    def extensions(self) -> Any:
        """The stream's extensions (a ``SocketInfo`` for a loopback peer)."""
        return self._extensions

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        """The next prepared chunk, ``b""`` once they are used up."""
        i = self._i
        if i < len(self._chunks):
            self._i = i + 1
            return self._chunks[i]
        return b""

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        """Count *data* (and the response heads in it)."""
        self.writes += 1
        self.written += len(data)
        self.responses += bytes(data[:9]).startswith(b"HTTP/1.1 ")

    async def drain(self) -> None:
        """Nothing to wait for."""

    def can_write_eof(self) -> bool:
        """Half-close is accepted (and ignored)."""
        return True

    def write_eof(self) -> None:
        """Ignored."""

    def is_closing(self) -> bool:
        """Whether ``close`` was called."""
        return self._closing

    async def close(self) -> None:
        """Mark closed."""
        self._closing = True

    def abort(self) -> None:
        """Mark closed."""
        self._closing = True


def _unique(i: int) -> bytes:
    """REQUEST with an ``X-Request-Id`` of its own: a head no cache has seen."""
    return REQUEST[:-2] + b"X-Request-Id: %08d\r\n\r\n" % i


def _chunks(n: int, mode: str) -> list[bytes]:
    if mode == "unique heads":
        return [_unique(i) for i in range(n)]
    if mode == "pipelined":
        per = max(1, PIPELINE_READ // len(REQUEST))
        out = []
        left = n
        while left > 0:
            k = min(per, left)
            out.append(REQUEST * k)
            left -= k
        return out
    return [REQUEST] * n


@dataclass
class Case:
    """One measured setup: a service (maybe layered), a codec, an arrival mode."""

    name: str
    make_service: Callable[[], Any]
    codec: str = "httptools"
    mode: str = "sequential"
    per_conn: bool = False
    baseline: str | None = None  # the case whose cost this one adds to
    samples: list[float] = field(default_factory=list)


def _hello_service(text: str = HELLO) -> Any:
    class Hello:
        async def serve(self, request: Request, /) -> Response:
            return Response.text(text)

    return Hello()


def _layered(layer_factory: Callable[[], Any], text: str = HELLO) -> Callable[[], Any]:
    return lambda: layer_factory().layer(_hello_service(text))


async def _index() -> Response:
    return Response.text(HELLO)


def _router() -> Any:
    from pyrama_http.web import Router

    return Router().get("/", _index)


def _otel() -> Any:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    from pyrama_http.layer import OpenTelemetryLayer

    return OpenTelemetryLayer(tracer_provider=TracerProvider(), meter_provider=MeterProvider())


def _cases(codecs: list[str]) -> list[Case]:
    from pyrama_core.layer import ConcurrencyLimitLayer, TimeoutLayer
    from pyrama_http import layer as L

    cases: list[Case] = []
    for codec in codecs:
        for mode in ("sequential", "pipelined", "unique heads"):
            cases.append(Case(f"{codec} {mode}", _hello_service, codec=codec, mode=mode))
        cases.append(Case(f"{codec} 1 req/conn", _hello_service, codec=codec, per_conn=True))
    default = codecs[0]
    base = f"{default} sequential"
    set_header = L.SetResponseHeaderLayer.overriding
    layers: list[tuple[str, Callable[[], Any]]] = [
        ("TraceLayer (json log to a null sink)", L.TraceLayer),
        ("HttpTimeoutLayer(30)", lambda: L.HttpTimeoutLayer(30)),
        ("CompressionLayer (5-byte body: not compressed)", L.CompressionLayer),
        ("CorsLayer.permissive()", L.CorsLayer.permissive),
        ("RequestIdLayer", L.RequestIdLayer),
        ("SetResponseHeaderLayer.overriding", lambda: set_header("x-b", "1")),
        ("NormalizePathLayer", L.NormalizePathLayer),
        ("ForwardedLayer (X-Forwarded-For)", L.ForwardedLayer),
        ("RequiredHeaderLayer", L.RequiredHeaderLayer),
        ("HttpLimitLayer.concurrency(1000)", lambda: L.HttpLimitLayer.concurrency(1000)),
        ("RequestBodyLimitLayer(1 MiB)", lambda: L.RequestBodyLimitLayer(1 << 20)),
        ("ErrorToResponseLayer", L.ErrorToResponseLayer),
        ("OpenTelemetryLayer (SDK providers, no exporter)", _otel),
        ("core TimeoutLayer(30)", lambda: TimeoutLayer(30)),
        ("core ConcurrencyLimitLayer(1000)", lambda: ConcurrencyLimitLayer(1000)),
    ]  # fmt: skip
    for name, factory in layers:
        cases.append(Case(name, _layered(factory), codec=default, baseline=base))
    cases.append(Case("web Router, one route", _router, codec=default, baseline=base))
    base4k = f"{default} sequential, 4 KiB text body"
    cases.append(Case(base4k, lambda: _hello_service(TEXT_4K), codec=default))
    cases.append(
        Case(
            "CompressionLayer (4 KiB text: gzip)",
            _layered(L.CompressionLayer, TEXT_4K),
            codec=default,
            baseline=base4k,
        )
    )
    return cases


def _server(codec: str) -> Any:
    from pyrama_http import HttpServer
    from pyrama_http_core import H11ServerCodec, Http1Config, HttpLimits, HttptoolsServerCodec

    factory: Any = (lambda cfg: H11ServerCodec(cfg.limits)) if codec == "h11" else (
        lambda cfg: HttptoolsServerCodec(cfg.limits)
    )  # fmt: skip
    limits = HttpLimits(max_body_size=2 << 20)
    return HttpServer.auto(
        http1_config=Http1Config(
            limits=limits, codec_factory=factory, send_408_on_header_timeout=True
        )
    )


async def _measure(case: Case, n: int) -> float:
    """CPU microseconds per request of one round of *case*."""
    svc = _server(case.codec).service(case.make_service())
    if case.per_conn:
        streams = [FeedStream([REQUEST]) for _ in range(n)]
    else:
        streams = [FeedStream(_chunks(n, case.mode))]
    gc.collect()
    t0 = time.process_time()
    for s in streams:
        await svc.serve(s)
    spent = time.process_time() - t0
    got = sum(s.responses for s in streams)
    if got != n:
        raise RuntimeError(f"{case.name}: {got} responses to {n} requests")
    return spent / n * 1e6


def measure(cases: list[Case], n: int, repeat: int) -> None:
    """Run every case *repeat* times (rotating the order), appending to ``case.samples``."""
    import uvloop

    from pyrama_core.telemetry import setup_logging

    class _Null:
        def write(self, s: str) -> int:
            return len(s)

        def flush(self) -> None:
            pass

    setup_logging("json", "info", stream=_Null())  # type: ignore[arg-type]

    async def main() -> None:
        for c in cases:  # warm-up: imports, caches, first-call costs
            await _measure(c, min(n, 50))
        for r in range(repeat):
            k = r % len(cases)
            for c in cases[k:] + cases[:k]:
                c.samples.append(await _measure(c, n))

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def report(cases: list[Case], n: int, repeat: int, argv: str) -> str:
    """The markdown report."""
    by_name = {c.name: c for c in cases}
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark: `budget` (CPU per request on the HTTP/1.1 server path)",
        "",
        f"Generated {now} by `{argv}`. {n:,} requests per round, {repeat} rounds; "
        "figures are medians over rounds with the spread (min..max). In-process, no sockets: "
        "`HttpServer.auto()` on uvloop serves an in-memory stream (protocol sniff, parse, "
        "service, response framing, one write call per response), process CPU time divided "
        "by the requests. The socket syscalls a real server also pays are left out.",
        "",
        '## The bare server (no-op service: `Response.text("hello")`)',
        "",
        "| codec, arrival | us/request | spread |",
        "|---|---|---|",
    ]
    for c in cases:
        if c.baseline is None and "4 KiB" not in c.name:
            med = statistics.median(c.samples)
            lines.append(
                f"| {c.name} | **{_fmt(med)}** | {_fmt(min(c.samples))}..{_fmt(max(c.samples))} |"
            )
    lines += [
        "",
        "`sequential`: one request per read; `pipelined`: 64 KiB reads of back-to-back "
        "requests; `unique heads`: sequential, every head different (an `X-Request-Id`), so "
        "each one is parsed (no head cache hit); `1 req/conn`: a new connection (stream, "
        "sniff, driver, close) for every request.",
        "",
        "## Added per request by each layer (on its own, default codec, sequential)",
        "",
        "| layer | added us/request | spread | total us/request |",
        "|---|---|---|---|",
    ]
    for c in cases:
        if c.baseline is None:
            continue
        base = by_name[c.baseline]
        diffs = [a - b for a, b in zip(c.samples, base.samples, strict=True)]
        med = statistics.median(diffs)
        lines.append(
            f"| {c.name} | **{med:+.1f}** | {min(diffs):+.1f}..{max(diffs):+.1f} | "
            f"{_fmt(statistics.median(c.samples))} |"
        )
    b4 = [c for c in cases if c.baseline is None and "4 KiB" in c.name]
    for c in b4:
        lines.append("")
        lines.append(
            f"Baseline for the 4 KiB row: {c.name}: {_fmt(statistics.median(c.samples))} us."
        )
    lines += ["", "## Host", ""]
    lines += [f"- {k}: {v}" for k, v in host_facts({})]
    lines += ["", "## Every sample (us/request, in round order)", ""]
    for c in cases:
        lines.append(f"- {c.name}: " + ", ".join(_fmt(s) for s in c.samples))
    return "\n".join(lines) + "\n"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the ``budget`` workload."""
    p.add_argument("--requests", type=int, default=2000, help="requests per round (2000)")
    p.add_argument("--repeat", type=int, default=5, help="rounds (5)")
    p.add_argument("--codecs", default="httptools,h11", help="codecs, the first one for the layers")


def run(args: argparse.Namespace, work: Path) -> str:
    """Measure and return the report (``work`` is unused: nothing is spawned)."""
    codecs = [c.strip() for c in args.codecs.split(",") if c.strip()]
    for c in codecs:
        if c not in ("httptools", "h11"):
            raise SystemExit(f"unknown codec {c!r} (httptools, h11)")
    cases = _cases(codecs)
    measure(cases, args.requests, args.repeat)
    argv = f"python -m benchmarks budget --requests {args.requests} --repeat {args.repeat}"
    if args.codecs != "httptools,h11":
        argv += f" --codecs {args.codecs}"
    return report(cases, args.requests, args.repeat, argv)
