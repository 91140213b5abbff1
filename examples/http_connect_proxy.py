"""An HTTP proxy with Basic proxy authentication and username labels (rama's http_connect_proxy).

It forwards absolute-form requests (``curl -x``'s ``http://`` URLs) and opens ``CONNECT``
tunnels (``https://`` URLs), over HTTP/1.1 and HTTP/2 alike. Clients log in as
``john:secret``; the username may carry labels, ``john-priority-high-red-blue``, which a
username parser takes off before the password check and hands to the request as an
extension. A pseudo API answers requests for ``echo.example.internal`` from the proxy
itself, showing what it knows about the request.

Run it::

    python examples/http_connect_proxy.py            # listens on 127.0.0.1:62001 (PORT=...)

Then::

    curl -v -x http://127.0.0.1:62001 --proxy-user 'john:secret' http://www.example.com/
    curl -v -x http://127.0.0.1:62001 --proxy-user 'john:secret' https://www.example.com/
    curl -x http://127.0.0.1:62001 -U 'john-priority-high-red:secret' http://echo.example.internal/a
    curl -x http://127.0.0.1:62001 --proxy-user 'john:wrong' http://www.example.com/  # 407

Every request is logged as ``proxy request method=... target=... user=... priority=...``.
Ctrl-C (or SIGTERM) stops accepting and gives connections in flight up to 10 s.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass

from pyrama_core import Service, Shutdown
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http.proxy import HttpProxy, ProxyAuthLayer, ProxyUser, http_proxy_server
from pyrama_http_types import Request, Response
from pyrama_net import Basic

DEFAULT_PORT = 62001
ECHO_HOST = "echo.example.internal"
PRIORITIES = ("high", "medium", "low")

log = get_logger("http_connect_proxy")


@dataclass(frozen=True)
class UsernameLabels:
    """The labels a client put after its username (a request extension)."""

    labels: tuple[str, ...]
    priority: str | None


def parse_username(username: str) -> tuple[str, object | None]:
    """``john-priority-high-red`` -> ``("john", UsernameLabels(("red",), "high"))``.

    ``priority`` must be followed by high, medium or low; anything else is refused
    (the client then gets ``407``).
    """
    user, *rest = username.split("-")
    if not rest:
        return user, None
    labels: list[str] = []
    priority = None
    it = iter(rest)
    for label in it:
        if label.lower() == "priority":
            value = next(it, "").lower()
            if value not in PRIORITIES:
                raise ValueError(f"invalid priority label {value!r}")
            priority = value
        else:
            labels.append(label)
    return user, UsernameLabels(tuple(labels), priority)


class LogRequests:
    """Logs each request that passed authentication, then passes it on."""

    def __init__(self, inner: Service[Request, Response]) -> None:
        self.inner = inner

    async def serve(self, request: Request) -> Response:
        """Log and forward *request*."""
        user = request.extensions.get(ProxyUser)
        labels = request.extensions.get(UsernameLabels)
        log.info(
            "proxy request",
            method=str(request.method),
            target=str(request.uri),
            user=None if user is None else user.username,
            priority=None if labels is None else labels.priority,
        )
        return await self.inner.serve(request)


class EchoApi:
    """Answers requests for echo.example.internal itself; the rest goes to the proxy."""

    def __init__(self, inner: Service[Request, Response]) -> None:
        self.inner = inner

    async def serve(self, request: Request) -> Response:
        """Hijack the pseudo API host, forward everything else."""
        host = request.uri.host
        if host is None or str(host) != ECHO_HOST or request.method == "CONNECT":
            return await self.inner.serve(request)
        user = request.extensions.get(ProxyUser)
        labels = request.extensions.get(UsernameLabels)
        return Response.json(
            {
                "method": str(request.method),
                "path": request.uri.path,
                "user": None if user is None else user.username,
                "username_labels": [] if labels is None else list(labels.labels),
                "user_priority": None if labels is None else labels.priority,
            }
        )


async def main(port: int) -> None:
    """Run the proxy on 127.0.0.1:*port* until SIGINT/SIGTERM."""
    auth = ProxyAuthLayer(Basic("john", "secret"), username_parser=parse_username)
    proxy = HttpProxy()
    service = auth.layer(LogRequests(EchoApi(proxy)))  # outermost first: auth, log, API
    try:
        await http_proxy_server(
            ("127.0.0.1", port), service, shutdown=Shutdown.with_signals(deadline=10.0)
        )
    finally:
        await proxy.close()
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    args = sys.argv[1:]
    asyncio.run(main(int(args[0] if args else os.environ.get("PORT", DEFAULT_PORT))))
