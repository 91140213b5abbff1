"""An HTML form and its handler: ``Form[T]`` turns an urlencoded body into a dataclass.

``GET /`` serves a form; the browser POSTs it to ``/submit`` as
``application/x-www-form-urlencoded``; ``Form[Signup]`` validates it (a missing or invalid
field: ``422`` naming it; another content type: ``415``) and the handler answers with an
HTML page, or ``303`` back to the form when asked to (``?back=1``).

Run it::

    python examples/http_form.py      # listens on 127.0.0.1:62013 (PORT=0: any)

Then open http://127.0.0.1:62013/ in a browser, or::

    curl -d 'name=Glen&age=42&newsletter=on' http://127.0.0.1:62013/submit
"""

from __future__ import annotations

import asyncio
import html
import os
import sys
from dataclasses import dataclass

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.web import Form, Html, Query, Redirect, Router
from pyrama_net import SocketAddress

DEFAULT_PORT = 62013

log = get_logger("http_form")

FORM = """<!doctype html>
<title>pyrama form</title>
<form method="post" action="/submit">
  <label>Name <input name="name" required></label>
  <label>Age <input name="age" type="number" required></label>
  <label><input name="newsletter" type="checkbox"> newsletter</label>
  <button>Send</button>
</form>
"""


@dataclass
class Signup:
    """The form's fields; ``newsletter`` is absent when the box is not ticked."""

    name: str
    age: int
    newsletter: bool = False


@dataclass
class Options:
    """Query options of the submit route."""

    back: bool = False


async def form() -> Html:
    """The form page."""
    return Html(FORM)


async def submit(signup: Form[Signup], options: Query[Options]) -> Html | Redirect:
    """Show what was submitted (or redirect back to the form)."""
    if options.back:
        return Redirect.see_other("/")
    news = "yes" if signup.newsletter else "no"
    return Html(
        f"<!doctype html><p>Thanks, {html.escape(signup.name)} ({signup.age}). "
        f"Newsletter: {news}.</p>"
    )


def app() -> Router:
    """The routes."""
    return Router().get("/", form).post("/submit", submit)


async def main(port: int) -> None:
    """Serve the form on 127.0.0.1:*port* until SIGINT/SIGTERM."""

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
