"""A :class:`~pyrama_http.web.WebService`: static files and a JSON API on one port.

``WebService.dir("/", "./public")`` serves a directory (``pyrama_http.fs.ServeDir``:
``ETag``, ranges, ``304``...); the API routes are ordinary router routes; ``.on(matcher,
service)`` adds matcher routes tried first (here: a health check for any method).

    GET  /api/time        {"unix": ...}
    POST /api/echo        JSON in, the same JSON out
    any  /health          "ok" (a matcher route)
    GET  /static/...      files under DIR (default: a demo directory made at start-up)

Run it::

    python examples/http_web_service_dir_and_api.py          # 127.0.0.1:62019 (PORT=0: any)
    DIR=./site python examples/http_web_service_dir_and_api.py

Then::

    curl http://127.0.0.1:62019/static/index.html
    curl http://127.0.0.1:62019/api/time
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path as FsPath
from typing import Any

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.matcher import PathMatcher
from pyrama_http.web import Json, WebService
from pyrama_net import SocketAddress

DEFAULT_PORT = 62019

log = get_logger("http_web_service_dir_and_api")


async def now() -> dict[str, float]:
    """The server's clock."""
    return {"unix": time.time()}


async def echo(value: Json[Any]) -> Any:
    """The JSON body, back (``{"echo": ...}``)."""
    return {"echo": value}


async def health() -> str:
    """Liveness."""
    return "ok\n"


def demo_dir() -> FsPath:
    """A directory with an index page, made when no ``DIR`` is given."""
    d = FsPath(tempfile.mkdtemp(prefix="pyrama-web-"))
    (d / "index.html").write_text("<!doctype html><h1>static</h1><script src=app.js></script>\n")
    (d / "app.js").write_text("console.log('hello from pyrama');\n")
    return d


def app(directory: FsPath) -> WebService:
    """Files under ``/static``, the API under ``/api``, a matcher route for ``/health``."""
    return (
        WebService()
        .on(PathMatcher("/health"), health)
        .get("/api/time", now)
        .post("/api/echo", echo)
        .dir("/static", directory)
    )


async def main(port: int, directory: FsPath) -> None:
    """Serve on 127.0.0.1:*port* until SIGINT/SIGTERM."""

    def bound(addr: SocketAddress) -> None:
        log.info("listening", address=str(addr), dir=str(directory))

    await HttpServer.auto().listen(
        ("127.0.0.1", port),
        app(directory),
        shutdown=Shutdown.with_signals(deadline=5.0),
        on_listening=bound,
    )
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT))
    d = os.environ.get("DIR")
    asyncio.run(main(port, FsPath(d) if d else demo_dir()))
