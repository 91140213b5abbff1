"""An advanced router: shared state, custom extractors, layers, redirects and a fallback.

On top of ``http_web_router.py``:

* ``State[App]``: one shared object (a hit counter and a list of API keys);
* a custom extractor: :class:`ApiKey` has ``async def from_request(cls, request)``, so any
  handler taking an ``ApiKey`` is protected (``401`` without a valid ``X-Api-Key``);
* ``Query[...]`` with defaults and a ``Literal``, ``TypedHeader[AcceptLanguage | None]``;
* ``Redirect.permanent`` for an old path, ``HEAD`` served by ``GET``, ``405`` with ``Allow``;
* a JSON ``fallback`` for unknown paths;
* a layer around the whole router (:class:`ServerHeaderLayer`) that stamps every response.

    GET  /                          redirect (308) to /v2/hello
    GET  /v2/hello?name=&style=     a greeting in the client's language (Accept-Language)
    GET  /v2/stats                  hit counts (needs X-Api-Key)
    PUT  /v2/stats/reset            zero the counts (needs X-Api-Key)

Run it::

    python examples/http_advanced_router.py      # 127.0.0.1:62017 (PORT=0: any), API_KEY=...

Then::

    curl -L 'http://127.0.0.1:62017/?name=ada'
    curl -H 'accept-language: nl' 'http://127.0.0.1:62017/v2/hello?name=ada&style=loud'
    curl -H 'x-api-key: demo-key' http://127.0.0.1:62017/v2/stats
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Literal, Self

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.web import ExtractError, Query, Redirect, Router, State, TypedHeader
from pyrama_http_types import AcceptLanguage, Request, Response, Uri
from pyrama_net import SocketAddress

DEFAULT_PORT = 62017

log = get_logger("http_advanced_router")

GREETINGS = {"en": "Hello", "nl": "Hallo", "fr": "Bonjour", "de": "Guten Tag"}


class App:
    """Shared state: hit counts per route and the accepted API keys."""

    def __init__(self, api_keys: set[str]) -> None:
        self.hits: Counter[str] = Counter()
        self.api_keys = api_keys


class ApiKey:
    """A custom extractor: the request's ``X-Api-Key``, if it is a known key."""

    keys: set[str] = set()

    def __init__(self, key: str) -> None:
        self.key = key

    @classmethod
    async def from_request(cls, request: Request) -> Self:
        """Check ``X-Api-Key`` against :attr:`keys`; ``401`` if missing or unknown."""
        key = request.headers.get("x-api-key")
        if key is None or key not in cls.keys:
            raise ExtractError("a valid X-Api-Key header is required", status=401)
        return cls(key)


@dataclass
class HelloQuery:
    """``/v2/hello`` options."""

    name: str = "world"
    style: Literal["plain", "loud"] = "plain"


async def root(uri: Uri) -> Redirect:
    """The old entry point moved to ``/v2/hello`` (the query string is kept)."""
    query = "" if uri.query is None else f"?{uri.query}"
    return Redirect.permanent(f"/v2/hello{query}")


async def hello(
    q: Query[HelloQuery], app: State[App], langs: TypedHeader[AcceptLanguage | None]
) -> str:
    """Greet in the first language of Accept-Language we know."""
    app.hits["hello"] += 1
    word = GREETINGS["en"]
    for pref in [] if langs is None else langs.preferred():
        primary = pref.value.split("-")[0].lower()
        if primary in GREETINGS:
            word = GREETINGS[primary]
            break
    text = f"{word}, {q.name}!"
    return text.upper() if q.style == "loud" else text


async def stats(_key: ApiKey, app: State[App]) -> dict[str, int]:
    """Hit counts per route."""
    app.hits["stats"] += 1
    return dict(app.hits)


async def reset(_key: ApiKey, app: State[App]) -> Response:
    """Zero the counts."""
    app.hits.clear()
    return Response.empty()


async def not_found(uri: Uri) -> tuple[int, dict[str, str]]:
    """Unknown paths get a JSON error."""
    return 404, {"error": "not found", "path": uri.path}


class ServerHeaderLayer:
    """A layer: wraps the router and adds ``X-Served-By`` to every response."""

    def __init__(self, value: str) -> None:
        self.value = value

    def layer(self, inner: Router) -> ServerHeaderService:
        """Wrap *inner*."""
        return ServerHeaderService(inner, self.value)


class ServerHeaderService:
    """The service :class:`ServerHeaderLayer` makes."""

    def __init__(self, inner: Router, value: str) -> None:
        self.inner = inner
        self.value = value

    async def serve(self, request: Request) -> Response:
        """Serve with the router, then stamp the response."""
        resp = await self.inner.serve(request)
        resp.headers.set("X-Served-By", self.value)
        return resp


def app(api_keys: set[str]) -> ServerHeaderService:
    """The router (v2 routes nested under ``/v2``) wrapped in the stamping layer."""
    ApiKey.keys = api_keys
    state = App(api_keys)
    v2 = Router(state=state).get("/hello", hello).get("/stats", stats).put("/stats/reset", reset)
    router = Router(fallback=not_found).get("/", root).nest("/v2", v2)
    return ServerHeaderLayer("pyrama-advanced-router").layer(router)


async def main(port: int) -> None:
    """Serve on 127.0.0.1:*port* until SIGINT/SIGTERM."""

    def bound(addr: SocketAddress) -> None:
        log.info("listening", address=str(addr))

    service = app({os.environ.get("API_KEY", "demo-key")})
    await HttpServer.auto().listen(
        ("127.0.0.1", port),
        service,
        shutdown=Shutdown.with_signals(deadline=5.0),
        on_listening=bound,
    )
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    asyncio.run(
        main(int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT)))
    )
