"""``match_service``: route with matchers, in order, the first match wins.

Where a :class:`~pyrama_http.web.Router` routes by path, :func:`~pyrama_http.web.match_service`
tries ``(matcher, service)`` pairs in order and can match on anything in the request:
method, path pattern, domain, headers, the peer's address, the HTTP version, and ``&``/
``|``/``~`` combinations of them (:mod:`pyrama_http.matcher`, on
:mod:`pyrama_core.matcher`). No match: the fallback.

    GET  /                      (Host: api.localhost or *.api.localhost)   JSON api banner
    GET  /                      (any other host)                           HTML home page
    POST /echo                  the request body echoed back
    GET  /users/{id}            the id (path parameters captured by the matcher)
    any  /internal/...          only from loopback peers with X-Internal: yes (else 404)
    any  (HTTP/2 requests)      "served over HTTP/2" if nothing above matched
    otherwise                   404 "no match"

Run it::

    python examples/http_service_match.py      # 127.0.0.1:62018 (PORT=0: any)

Then::

    curl http://127.0.0.1:62018/
    curl -H 'host: v1.api.localhost' http://127.0.0.1:62018/
    curl -d 'ping' http://127.0.0.1:62018/echo
"""

from __future__ import annotations

import asyncio
import os
import sys

from pyrama_core import Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.matcher import (
    DomainMatcher,
    HeaderMatcher,
    MethodMatcher,
    PathMatcher,
    SocketAddressMatcher,
    VersionMatcher,
)
from pyrama_http.web import Html, MatchService, Path, match_service
from pyrama_http_types import Response, Uri, Version
from pyrama_net import SocketAddress

DEFAULT_PORT = 62018

log = get_logger("http_service_match")


async def api_banner() -> dict[str, str]:
    """The API's root."""
    return {"service": "api", "version": "1"}


async def home() -> Html:
    """The website's root."""
    return Html("<!doctype html><h1>home</h1>")


async def echo(body: bytes) -> Response:
    """Echo the body."""
    return Response.binary(body)


async def user(id: Path[int]) -> dict[str, int]:
    """A user id from the path."""
    return {"user": id}


async def internal(uri: Uri) -> str:
    """Internal-only."""
    return f"internal: {uri.path}"


async def over_h2() -> str:
    """Anything else, when it came over HTTP/2."""
    return "served over HTTP/2"


async def nothing() -> tuple[int, str]:
    """The fallback."""
    return 404, "no match\n"


def app() -> MatchService:
    """The matcher table."""
    get = MethodMatcher("GET")
    return match_service(
        [
            (get & PathMatcher("/") & DomainMatcher.sub("api.localhost"), api_banner),
            (get & PathMatcher("/"), home),
            (MethodMatcher("POST") & PathMatcher("/echo"), echo),
            (get & PathMatcher("/users/{id}"), user),
            (
                PathMatcher("/internal/{*rest}")
                & SocketAddressMatcher.loopback()
                & HeaderMatcher.equals("x-internal", "yes"),
                internal,
            ),
            (VersionMatcher(Version.HTTP_2), over_h2),
        ],
        fallback=nothing,
    )


async def main(port: int) -> None:
    """Serve on 127.0.0.1:*port* until SIGINT/SIGTERM."""

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
