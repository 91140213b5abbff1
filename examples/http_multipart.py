"""File uploads with ``multipart/form-data``, streamed part by part.

``POST /upload`` takes a :class:`~pyrama_http.web.Multipart` parameter: parts arrive one at a
time and file content is hashed chunk by chunk, never held in memory whole. The answer is a
JSON summary: text fields as values, files as name, size and SHA-256. Limits, given by the
annotation ``Annotated[Multipart, MultipartLimits(...)]``: at most 16 parts, 32 MiB per part
(``413`` beyond); a request that is not multipart gets ``415``.

Run it::

    python examples/http_multipart.py      # listens on 127.0.0.1:62014 (PORT=0: any)

Then::

    curl -F title=holiday -F photo=@picture.jpg http://127.0.0.1:62014/upload
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from typing import Annotated, Any

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.web import Html, Multipart, MultipartLimits, Router
from pyrama_net import SocketAddress

DEFAULT_PORT = 62014

log = get_logger("http_multipart")

LIMITS = MultipartLimits(max_parts=16, max_part_size=32 * 1024 * 1024, max_body_size=None)

PAGE = """<!doctype html><title>upload</title>
<form method="post" action="/upload" enctype="multipart/form-data">
  <input name="title"> <input name="file" type="file" multiple> <button>Upload</button>
</form>
"""


async def page() -> Html:
    """A page with an upload form."""
    return Html(PAGE)


async def upload(form: Annotated[Multipart, LIMITS]) -> dict[str, Any]:
    """Summarise every part: text fields by value, files by size and SHA-256."""
    fields: dict[str, str] = {}
    files: list[dict[str, Any]] = []
    async for part in form:
        if part.filename is None:
            fields[part.name or ""] = await part.text()
            continue
        digest = hashlib.sha256()
        size = 0
        async for chunk in part:
            digest.update(chunk)
            size += len(chunk)
        files.append(
            {
                "field": part.name,
                "filename": part.filename,
                "content_type": part.content_type,
                "size": size,
                "sha256": digest.hexdigest(),
            }
        )
    log.info("upload", fields=len(fields), files=len(files))
    return {"fields": fields, "files": files}


def app() -> Router:
    """The routes (no body limit of the router's own: the multipart limits apply)."""
    return Router(body_limit=None).get("/", page).post("/upload", upload)


async def main(port: int) -> None:
    """Serve uploads on 127.0.0.1:*port* until SIGINT/SIGTERM."""

    def bound(addr: SocketAddress) -> None:
        log.info("listening", address=str(addr))

    await HttpServer.auto().listen(
        ("127.0.0.1", port), app(), shutdown=Shutdown.with_signals(deadline=5.0), on_listening=bound
    )
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    asyncio.run(
        main(int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT)))
    )
