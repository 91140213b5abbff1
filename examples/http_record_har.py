"""Record HTTP traffic as a HAR file with HarRecorderLayer.

:class:`~pyrama_http.har.HarRecorderLayer` wraps any client- (or proxy-) side
``Service[Request, Response]``; every exchange through it becomes a HAR 1.2 entry (request
and response heads, query, cookies, bodies up to a limit, timings, server address). Bodies
keep streaming: they are teed, not buffered. ``Authorization``, ``Cookie``, ``Set-Cookie``
and friends are redacted by default. :meth:`~pyrama_http.har.HarRecorder.write` replaces
the file atomically; :func:`~pyrama_http.har.load_har` reads it back and validates it.

Run it::

    python examples/http_record_har.py                  # writes pyrama.har
    python examples/http_record_har.py out.har          # or HAR_FILE=out.har
    python examples/http_record_har.py out.har https://example.com/ ...   # record these URLs

Without URLs it starts a small local server (in the same process) and records a few
requests to it: a JSON GET with a query and a token, a form POST, a response that sets a
cookie and a streamed one. It prints one line per entry and ``wrote N entries to PATH``.
Open the file in a browser's developer tools (Network, import HAR) or any HAR viewer.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Sequence

from pyrama_core import Shutdown, service_fn
from pyrama_http import EasyHttpWebClient, HttpClient, HttpServer
from pyrama_http.har import HarRecorderLayer, load_har
from pyrama_http_types import Body, Request, Response
from pyrama_net import SocketAddress


async def demo_api(request: Request) -> Response:
    """The local server: ``/api`` JSON, ``/login`` sets a cookie, ``/feed`` streams."""
    path = request.uri.path
    body = await request.body.collect()
    if path == "/login":
        resp = Response.json({"ok": True, "form": body.decode()})
        resp.headers.add("Set-Cookie", "session=abc123; Path=/; HttpOnly")
        return resp
    if path == "/feed":

        async def events() -> AsyncIterator[bytes]:
            for i in range(3):
                yield f'{{"event": {i}}}\n'.encode()

        ndjson = [("Content-Type", "application/x-ndjson")]
        return Response(200, headers=ndjson, body=Body.from_iter(events()))
    return Response.json({"path": path, "query": request.uri.query})


async def record(urls: Sequence[str], out: str) -> int:
    """Fetch *urls* through a recording client; write the HAR to *out*; return the count."""
    layer = HarRecorderLayer(max_body=64 * 1024)
    async with HttpClient(layer.layer(EasyHttpWebClient()), timeout=30) as client:
        for url in urls:
            method, _, target = url.partition(" ") if " " in url else ("GET", "", url)
            builder = client.request(method, target)
            if target.endswith("/api"):
                builder.query({"q": "pyrama"}).bearer_auth("s3cr3t-token")
            if method == "POST":
                builder.form({"user": "ada", "remember": "yes"})
            resp = await builder.send()
            data = await resp.bytes()
            print(f"{method} {target} -> {int(resp.status)} ({len(data)} bytes)")
    layer.recorder.write(out)
    return len(load_har(out).entries)


async def main(out: str, urls: Sequence[str]) -> None:
    """Record *urls*, or the demo requests against a local server when none are given."""
    if urls:
        count = await record(urls, out)
    else:
        shutdown = Shutdown(deadline=5.0)
        bound: asyncio.Future[SocketAddress] = asyncio.get_running_loop().create_future()
        server = asyncio.create_task(
            HttpServer.auto().listen(
                "127.0.0.1:0",
                service_fn(demo_api),
                shutdown=shutdown,
                on_listening=bound.set_result,
            )
        )
        base = f"http://{await bound}"
        try:
            count = await record(
                [f"{base}/api", f"POST {base}/login", f"{base}/feed"],
                out,
            )
        finally:
            shutdown.trigger("recorded")
            await server
    print(f"wrote {count} entries to {out}")


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HAR_FILE", "pyrama.har")
    asyncio.run(main(target, sys.argv[2:]))
