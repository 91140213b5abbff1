"""Serve a directory over HTTP with :class:`~pyrama_http.fs.ServeDir`.

Every file below the directory is served with byte ranges (``curl -r``), ``ETag`` and
``Last-Modified`` validators (``304 Not Modified``), content types from file names and,
with ``listing=True``, HTML listings for directories without an ``index.html``. A
precompressed sibling (``app.js.gz``, ``.br``, ``.zst``) is sent instead of the file when
the client accepts that encoding. Paths that try to leave the directory are answered 404.

Run it::

    python examples/http_service_fs.py                  # this example's directory
    DIR=./site PORT=0 python examples/http_service_fs.py

It logs ``listening address=127.0.0.1:62029 dir=...``. Then::

    curl http://127.0.0.1:62029/                         # the listing
    curl -r 0-99 http://127.0.0.1:62029/http_service_fs.py
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.fs import PRECOMPRESSED_ENCODINGS, ServeDir
from pyrama_net import SocketAddress

DEFAULT_PORT = 62029

log = get_logger("http_service_fs")


async def main(port: int, directory: Path) -> None:
    """Serve *directory* on 127.0.0.1:*port* until SIGINT/SIGTERM."""
    service = ServeDir(directory, listing=True, precompressed=PRECOMPRESSED_ENCODINGS)

    def bound(addr: SocketAddress) -> None:
        log.info("listening", address=str(addr), dir=service.root)

    await HttpServer.auto().listen(
        ("127.0.0.1", port),
        service,
        shutdown=Shutdown.with_signals(deadline=5.0),
        on_listening=bound,
    )
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT))
    asyncio.run(main(port, Path(os.environ.get("DIR") or Path(__file__).parent)))
