"""Workload ``web_json``: a small JSON API, pyrama's web router vs Starlette vs aiohttp.

The same three routes in every framework, one process each, on uvloop, over 127.0.0.1:

* ``GET /items/{id}?verbose=1``: a path parameter (int) and a query parameter (bool) in,
  a JSON object out;
* ``POST /items``: a JSON body validated into an ``Item`` (``name: str``, ``price: float``),
  ``201`` with a JSON object out;
* ``GET /health``: a constant JSON object.

pyrama is :class:`~pyrama_http.web.Router` with ``Path``/``Query``/``Json`` extractors on
``HttpServer.auto()``, twice: ``pyrama`` with its default HTTP/1.1 codec (httptools when
installed) and ``pyrama-h11`` with the h11 codec (the like-for-like pure-Python parser of
Starlette on uvicorn ``--http h11``); aiohttp runs its own server (``web.run_app``; its C
parser when built). The Starlette and aiohttp handlers validate the
body with the same checks by hand. Load: ``wrk -t2 -c64`` with a Lua script cycling through
the three requests, ``--repeat`` rounds with the order of the servers rotating each round;
the report gives medians and the median of per-round ratios. Target: pyrama >= 1.2x
Starlette-on-uvicorn-h11 in requests per second (``pyrama``; ``pyrama-h11`` is shown too).

``python -m benchmarks.web_json serve-pyrama [--codec h11]|serve-aiohttp --port N`` runs one
server on its own (the harness starts them this way).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._harness import (
    BenchError,
    Proc,
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
from benchmarks.http import run_wrk

__all__ = ["add_arguments", "run", "starlette_app"]

SERVERS = ("pyrama", "pyrama-h11", "starlette-uvicorn-h11", "aiohttp")
OURS = ("pyrama", "pyrama-h11")
PEERS = ("starlette-uvicorn-h11", "aiohttp")
TARGET = ("starlette-uvicorn-h11", 1.2)

ITEM_BODY = b'{"name":"widget","price":9.5}'

WRK_SCRIPT = (
    """\
local reqs = {}
local i = 0
init = function(args)
  reqs[1] = wrk.format("GET", "/items/42?verbose=1")
  reqs[2] = wrk.format("POST", "/items", {["Content-Type"] = "application/json"},
                       'BODY')
  reqs[3] = wrk.format("GET", "/health")
end
request = function()
  i = i % 3 + 1
  return reqs[i]
end
"""
).replace("BODY", ITEM_BODY.decode())


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the ``web_json`` workload."""
    p.add_argument("--seconds", type=float, default=10.0, help="load time per run (10)")
    p.add_argument("--repeat", type=int, default=3, help="rounds per measurement (median)")
    p.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    p.add_argument(
        "--only",
        default=",".join(SERVERS),
        help="comma-separated servers to compare (default: %(default)s)",
    )


# ------------------------------------------------------------------------------ the servers


def serve_pyrama(port: int, codec: str = "default") -> None:
    """The API on pyrama: Router + extractors on HttpServer.auto(), uvloop.

    *codec* ``h11`` swaps the default HTTP/1.1 codec (httptools when installed) for h11's.
    """
    import uvloop

    from pyrama_core import Shutdown
    from pyrama_http import HttpServer
    from pyrama_http.web import Json, Path, Query, Router

    @dataclass
    class Item:
        name: str
        price: float

    @dataclass
    class Options:
        verbose: bool = False

    state = {"next": 0}

    async def get_item(id: Path[int], q: Query[Options]) -> dict[str, Any]:
        return {"id": id, "name": f"item {id}", "verbose": q.verbose}

    async def create_item(item: Json[Item]) -> tuple[int, dict[str, Any]]:
        state["next"] += 1
        return 201, {"id": state["next"], "name": item.name, "price": item.price}

    async def health() -> dict[str, str]:
        return {"status": "ok"}

    # the annotations name local classes: give the resolved ones to the router
    get_item.__annotations__.update(id=Path[int], q=Query[Options])
    create_item.__annotations__.update(item=Json[Item])

    app = Router().get("/items/{id}", get_item).post("/items", create_item).get("/health", health)

    async def main() -> None:
        shutdown = Shutdown(deadline=2.0)
        shutdown.install_signal_handlers()
        server = HttpServer.auto()
        if codec == "h11":
            from pyrama_http import DEFAULT_MAX_BODY_SIZE
            from pyrama_http_core import H11ServerCodec, Http1Config, HttpLimits

            server = HttpServer.auto(
                http1_config=Http1Config(
                    limits=HttpLimits(max_body_size=DEFAULT_MAX_BODY_SIZE),
                    codec_factory=lambda cfg: H11ServerCodec(cfg.limits),
                    send_408_on_header_timeout=True,
                )
            )
        await server.listen(
            f"127.0.0.1:{port}",
            app,
            shutdown=shutdown,
            on_listening=lambda addr: print(f"listening {addr}", flush=True),
        )

    uvloop.run(main())


def _check_item(data: Any) -> tuple[str, float] | str:
    """The hand-written validation of the peers: ``(name, price)`` or an error text."""
    if not isinstance(data, dict):
        return "expected an object"
    name = data.get("name")
    price = data.get("price")
    if not isinstance(name, str):
        return "name: expected a string"
    if isinstance(price, bool) or not isinstance(price, int | float):
        return "price: expected a number"
    return name, float(price)


def _starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    state = {"next": 0}

    async def get_item(request: Request) -> JSONResponse:
        try:
            item_id = int(request.path_params["id"])
        except ValueError:
            return JSONResponse({"error": "id"}, 400)
        verbose = request.query_params.get("verbose", "false").lower() in ("1", "true", "yes")
        return JSONResponse({"id": item_id, "name": f"item {item_id}", "verbose": verbose})

    async def create_item(request: Request) -> JSONResponse:
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            return JSONResponse({"error": "content type"}, 415)
        try:
            data = await request.json()
        except ValueError:
            return JSONResponse({"error": "malformed"}, 400)
        checked = _check_item(data)
        if isinstance(checked, str):
            return JSONResponse({"error": checked}, 422)
        state["next"] += 1
        return JSONResponse({"id": state["next"], "name": checked[0], "price": checked[1]}, 201)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/items/{id}", get_item, methods=["GET"]),
            Route("/items", create_item, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def starlette_app() -> Any:
    """The Starlette app (uvicorn factory: ``--factory benchmarks.web_json:starlette_app``)."""
    return _starlette()


def serve_aiohttp(port: int) -> None:
    """The API on aiohttp's own server (uvloop)."""
    import asyncio

    import uvloop
    from aiohttp import web

    state = {"next": 0}

    async def get_item(request: web.Request) -> web.Response:
        try:
            item_id = int(request.match_info["id"])
        except ValueError:
            return web.json_response({"error": "id"}, status=400)
        verbose = request.query.get("verbose", "false").lower() in ("1", "true", "yes")
        return web.json_response({"id": item_id, "name": f"item {item_id}", "verbose": verbose})

    async def create_item(request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return web.json_response({"error": "content type"}, status=415)
        try:
            data = await request.json()
        except ValueError:
            return web.json_response({"error": "malformed"}, status=400)
        checked = _check_item(data)
        if isinstance(checked, str):
            return web.json_response({"error": checked}, status=422)
        state["next"] += 1
        body = {"id": state["next"], "name": checked[0], "price": checked[1]}
        return web.json_response(body, status=201)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/items/{id}", get_item)
    app.router.add_post("/items", create_item)
    app.router.add_get("/health", health)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        access_log=None,
        print=lambda *_a: print(f"listening 127.0.0.1:{port}", flush=True),
    )


def _start_server(name: str, work: Path) -> tuple[Proc, int]:
    py = sys.executable
    port = free_port()
    argv: list[str]
    if name in OURS:
        argv = [py, "-m", "benchmarks.web_json", "serve-pyrama", "--port", str(port)]
        if name == "pyrama-h11":
            argv += ["--codec", "h11"]
    elif name == "aiohttp":
        argv = [py, "-m", "benchmarks.web_json", "serve-aiohttp", "--port", str(port)]
    elif name == "starlette-uvicorn-h11":
        argv = [
            py, "-m", "uvicorn", "--factory", "benchmarks.web_json:starlette_app",
            "--host", "127.0.0.1", "--port", str(port), "--http", "h11", "--loop", "uvloop",
            "--workers", "1", "--no-access-log", "--log-level", "warning",
            "--no-server-header", "--lifespan", "off",
        ]  # fmt: skip
    else:  # pragma: no cover - guarded by the --only check
        raise BenchError(f"unknown server {name!r}")
    proc = start(name, argv, work)
    if name == "starlette-uvicorn-h11":
        wait_port(proc, port, timeout=60.0)
    else:
        wait_line(proc, rf"listening 127\.0\.0\.1:{port}\b", timeout=60.0)
    return proc, port


def _tool_missing(name: str) -> str | None:
    import importlib.util

    modules = {
        "pyrama": ("pyrama_http", "uvloop"),
        "pyrama-h11": ("pyrama_http", "h11", "uvloop"),
        "starlette-uvicorn-h11": ("starlette", "uvicorn", "h11", "uvloop"),
        "aiohttp": ("aiohttp", "uvloop"),
    }[name]
    for module in modules:
        if importlib.util.find_spec(module) is None:
            return f"the Python module `{module}` is not installed"
    return None


def _check_api(name: str, port: int) -> None:
    """Every route must answer as specified before anything is measured."""
    import httpx

    base = f"http://127.0.0.1:{port}"
    with httpx.Client(timeout=30) as c:
        a = c.get(f"{base}/items/42?verbose=1")
        b = c.post(f"{base}/items", content=ITEM_BODY, headers={"content-type": "application/json"})
        h = c.get(f"{base}/health")
        bad = c.post(f"{base}/items", json={"name": 1, "price": 2})
    ok = (
        a.status_code == 200
        and a.json() == {"id": 42, "name": "item 42", "verbose": True}
        and b.status_code == 201
        and b.json()["name"] == "widget"
        and b.json()["price"] == 9.5
        and h.json() == {"status": "ok"}
        and bad.status_code == 422
    )
    if not ok:
        raise BenchError(
            f"{name}: unexpected answers: {a.status_code} {a.text!r} / {b.status_code} "
            f"{b.text!r} / {h.text!r} / {bad.status_code}"
        )


# ------------------------------------------------------------------------------------ load


@dataclass
class Result:
    """One load run: requests per second, requests done, failures, server CPU seconds."""

    rps: float
    requests: int
    failures: int
    cpu: float


def _wrk(args: argparse.Namespace, port: int, proc: Proc, script: Path) -> Result:
    run = run_wrk(args, f"http://127.0.0.1:{port}", proc.pid, script=script)
    return Result(run.rps, run.requests, run.failures, run.cpu)


# ---------------------------------------------------------------------------------- report


def _fmt(x: float, digits: int = 0) -> str:
    return "n/a" if math.isnan(x) else f"{x:,.{digits}f}"


def _ratio(r: float) -> str:
    return "n/a" if math.isnan(r) else f"**{r:.2f}x**"


def _report(
    args: argparse.Namespace,
    names: list[str],
    missing: dict[str, str],
    samples: Samples,
    failures: dict[str, int],
    argvs: dict[str, list[str]],
) -> str:
    peers = [p for p in PEERS if p in names]
    ours = [o for o in OURS if o in names]
    s = max(1, round(args.seconds))
    load = f"wrk -t{args.threads} -c{args.connections} -d{s}s (3 requests in turn)"
    lines = [
        "# Benchmark: `web_json` (a small JSON API)",
        "",
        f"Generated {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} by "
        f"`python -m benchmarks {shlex.join(sys.argv[1:]) or 'web_json'}`. Three routes in "
        "each framework: `GET /items/{id}?verbose=1` (path + query parameters, JSON out), "
        "`POST /items` (JSON body validated into an item, `201` + JSON out) and `GET /health`; "
        "wrk cycles through the three. One process each, uvloop, 127.0.0.1. Every figure is a "
        f"median over {args.repeat} rounds; the order of the servers rotates each round, and "
        "a ratio is the median of the per-round ratios.",
        "",
        "## Ratios (pyrama / peer, requests per second; higher is better for pyrama)",
        "",
        f"Load: {load}.",
        "",
        "| server | " + " | ".join(f"/ {p}" for p in peers) + " |",
        "|---|" + "---|" * len(peers),
    ]
    for o in ours:
        row = [_ratio(samples.ratio("rps", o, p)) for p in peers]
        lines.append(f"| {o} | " + " | ".join(row) + " |")
    lines += [
        "",
        "CPU efficiency (peer's server CPU per request / pyrama's; higher is better for pyrama):",
        "",
        "| server | " + " | ".join(f"{p} /" for p in peers) + " |",
        "|---|" + "---|" * len(peers),
    ]
    for o in ours:
        row = [_ratio(samples.ratio("cpu", p, o)) for p in peers]
        lines.append(f"| {o} | " + " | ".join(row) + " |")
    lines += ["", "Target (requests per second):", ""]
    peer, want = TARGET
    for o in ours:
        if peer not in names:
            lines.append(f"- {o} >= {want:g}x {peer}: n/a (not measured)")
            continue
        r = samples.ratio("rps", o, peer)
        verdict = "n/a" if math.isnan(r) else ("met" if r >= want else "NOT met")
        shown = "n/a" if math.isnan(r) else f"{r:.2f}x"
        lines.append(f"- {o} >= {want:g}x {peer}: **{verdict}** ({shown})")
    lines += [
        "",
        "## Requests per second and server CPU per request (medians)",
        "",
        "| metric | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        "| requests/s | " + " | ".join(_fmt(samples.med("rps", n)) for n in names) + " |",
        "| CPU us/request | " + " | ".join(_fmt(samples.med("cpu", n), 1) for n in names) + " |",
        "",
    ]
    bad = {k: v for k, v in failures.items() if v}
    lines.append(
        "Failed requests (non-2xx answers, socket errors; all rounds): "
        + ("none." if not bad else ", ".join(f"{w}: {n}" for w, n in sorted(bad.items())) + ".")
    )
    lines += ["", "## Every sample", ""]
    for metric, per in samples.values.items():
        for who, vals in per.items():
            lines.append(f"- {metric} / {who}: " + ", ".join(_fmt(v, 1) for v in vals))
    lines += ["", "## Setup", ""]
    for k, v in host_facts({}):
        lines.append(f"- {k}: {v}")
    versions = []
    for mod in ("starlette", "uvicorn", "h11", "httptools", "aiohttp", "uvloop"):
        try:
            from importlib.metadata import version

            versions.append(f"{mod} {version(mod)}")
        except Exception:  # pragma: no cover - only for the report
            versions.append(f"{mod} ?")
    lines.append("- Python packages: " + ", ".join(versions))
    lines.append(
        "- pyrama: `pyrama_http.web.Router` with `Path[int]`, `Query[Options]`, `Json[Item]` "
        "extractors (dataclasses), dict/tuple return values, `HttpServer.auto()`; `pyrama` "
        "with the default HTTP/1.1 codec (httptools when installed), `pyrama-h11` with "
        "`H11ServerCodec`"
    )
    lines.append(
        "- Starlette and aiohttp: `request.path_params`/`match_info`, `query_params`/`query`, "
        "`await request.json()` plus the same field checks by hand, `JSONResponse`/"
        "`json_response`"
    )
    lines.append("- wrk script:")
    lines += ["", "```lua", WRK_SCRIPT.rstrip(), "```", ""]
    for name, argv in argvs.items():
        shown = " ".join(shlex.quote(a) for a in [Path(argv[0]).name, *argv[1:]])
        lines.append(f"- {name}: `{shown}`")
    for name, why in missing.items():
        lines.append(f"- {name}: not measured ({why})")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- run


def run(args: argparse.Namespace, work: Path) -> str:
    """Run the workload in *work* (a scratch directory) and return the markdown report."""
    wanted = selected(args.only, SERVERS, "servers")
    if find_tool("wrk") is None:
        raise BenchError("`wrk` is required (apt-get install -y wrk)")
    missing: dict[str, str] = {}
    names: list[str] = []
    for n in wanted:
        why = _tool_missing(n)
        if why is None:
            names.append(n)
        else:
            missing[n] = why
    script = work / "web_json.lua"
    script.write_text(WRK_SCRIPT)
    samples = Samples()
    failures: dict[str, int] = {}
    servers: dict[str, tuple[Proc, int]] = {}
    try:
        for name in names:
            servers[name] = _start_server(name, work)
            _check_api(name, servers[name][1])
        for r in range(args.repeat):
            for who in rotate(names, r):
                proc, port = servers[who]
                res = _wrk(args, port, proc, script)
                samples.add("rps", who, res.rps)
                per_request = res.cpu / res.requests * 1e6 if res.requests else math.nan
                samples.add("cpu", who, per_request)
                failures[who] = failures.get(who, 0) + res.failures
                print(
                    f"round {r + 1}: {who:22s} {res.rps:10,.0f} req/s "
                    f"{per_request:8.1f} us CPU/request",
                    flush=True,
                )
        for proc, _ in servers.values():
            proc.check_alive()
        argvs = {name: servers[name][0].argv for name in names}
    finally:
        for proc, _ in servers.values():
            proc.stop()
    return _report(args, names, missing, samples, failures, argvs)


def _main(argv: list[str]) -> int:
    """``serve-pyrama --port N`` / ``serve-aiohttp --port N``."""
    if argv[:1] in (["serve-pyrama"], ["serve-aiohttp"]):
        p = argparse.ArgumentParser(prog=f"python -m benchmarks.web_json {argv[0]}")
        p.add_argument("--port", type=int, required=True)
        if argv[0] == "serve-pyrama":
            p.add_argument("--codec", choices=("default", "h11"), default="default")
        args = p.parse_args(argv[1:])
        if argv[0] == "serve-pyrama":
            serve_pyrama(args.port, args.codec)
        else:
            serve_aiohttp(args.port)
        return 0
    print(
        "usage: python -m benchmarks.web_json serve-pyrama [--codec h11]|serve-aiohttp --port N",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(_main(sys.argv[1:]))
