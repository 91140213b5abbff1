"""Datastar "hello world": the server types a greeting into the page over server-sent events.

The page (``GET /``) loads the Datastar browser script from ``/datastar.js`` and has a
``delay`` signal bound to an input and a button that calls ``@get('/hello-world')``.
Datastar sends the page's signals along (for a GET: the ``datastar`` query parameter);
:class:`~pyrama_http.datastar.ReadSignals` reads them. The answer is an
:class:`~pyrama_http.sse.Sse` stream: one :class:`~pyrama_http.datastar.PatchElements`
per letter of "Hello, world!" (morphing ``<div id="message">``), ``delay`` milliseconds
apart, then a :class:`~pyrama_http.datastar.PatchSignals` that records the finish time and an
:class:`~pyrama_http.datastar.ExecuteScript` that logs to the browser console.

``/datastar.js`` is :class:`~pyrama_http.datastar.DatastarScript`: with ``DATASTAR_JS``
set to a local copy of Datastar's 1.0 ``datastar.js`` bundle it is served from there;
otherwise the browser is redirected to the CDN copy (pyrama does not ship the script).

Run it::

    python examples/http_sse_datastar_hello.py    # 127.0.0.1:62032 (PORT=0: any free port)

Open http://127.0.0.1:62032/ and press the button, or watch the events with curl::

    curl -N 'http://127.0.0.1:62032/hello-world?datastar=%7B%22delay%22%3A100%7D'
"""

from __future__ import annotations

import asyncio
import html
import os
import sys
import time
from collections.abc import AsyncIterator

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.datastar import (
    DATASTAR_SCRIPT_PATH,
    DatastarScript,
    ExecuteScript,
    PatchElements,
    PatchSignals,
    ReadSignals,
)
from pyrama_http.sse import Sse
from pyrama_http.web import Html, Router
from pyrama_net import SocketAddress

DEFAULT_PORT = 62032
MESSAGE = "Hello, world!"
MAX_DELAY_MS = 5000

log = get_logger("http_sse_datastar_hello")

PAGE = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Datastar hello</title>
<script type="module" src="{DATASTAR_SCRIPT_PATH}"></script></head>
<body data-signals="{{delay: 400, finished: ''}}">
<h1>Datastar + pyrama</h1>
<label>delay (ms) <input type="number" data-bind:delay></label>
<button data-on:click="@get('/hello-world')">Start</button>
<div id="message">...</div>
<p data-show="$finished">finished at <span data-text="$finished"></span></p>
</body></html>
"""


def delay_of(signals: ReadSignals) -> float:
    """The ``delay`` signal in seconds (0..5 s; 400 ms when missing or not a number)."""
    raw = signals.get("delay", 400)
    ms = raw if isinstance(raw, int | float) and not isinstance(raw, bool) else 400
    return min(max(float(ms), 0.0), MAX_DELAY_MS) / 1000


def app(script: DatastarScript) -> Router:
    """The page, the script and the event stream."""
    router = Router()

    @router.get("/")
    async def index() -> Html:
        return Html(PAGE)

    router.get(DATASTAR_SCRIPT_PATH, script)

    @router.get("/hello-world")
    async def hello(signals: ReadSignals) -> Sse:
        delay = delay_of(signals)

        async def typing() -> AsyncIterator[object]:
            for i in range(1, len(MESSAGE) + 1):
                text = html.escape(MESSAGE[:i])
                yield PatchElements(elements=f'<div id="message">{text}</div>')
                await asyncio.sleep(delay)
            yield PatchSignals(signals={"finished": time.strftime("%H:%M:%S")})
            yield ExecuteScript(script="console.log('pyrama said hello')")

        return Sse(typing())

    return router


async def main(port: int, script_path: str | None) -> None:
    """Serve on 127.0.0.1:*port* until SIGINT/SIGTERM."""
    script = DatastarScript(script_path)

    def bound(addr: SocketAddress) -> None:
        log.info("listening", address=str(addr), script=repr(script))

    await HttpServer.auto().listen(
        ("127.0.0.1", port),
        app(script),
        shutdown=Shutdown.with_signals(deadline=5.0),
        on_listening=bound,
    )
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    asyncio.run(
        main(
            int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT)),
            os.environ.get("DATASTAR_JS") or None,
        )
    )
