"""An SNI router: TLS connections go to different backends by name, without terminating TLS.

A :class:`~pyrama_tls.SniRouter` peeks each connection's ClientHello, picks a route by its
server name (exact names, ``*.example.com`` for every name below, ``.example.com`` for the
name and below) and hands the untouched stream, ClientHello bytes included, to a service
that relays it to that route's backend with :func:`~pyrama_net.bridge`. The router never
sees a key or a plaintext byte: the client's TLS session is with the backend. A name
without a route, a ClientHello without SNI, or a connection that is not TLS at all is
closed and logged.

Run it with routes (``NAME=HOST:PORT``, as arguments after the port or in ``ROUTES``,
comma-separated)::

    python examples/tls_sni_router.py 62045 a.test=127.0.0.1:9001 '*.b.test=127.0.0.1:9002'
    export ROUTES='a.test=127.0.0.1:9001,*.b.test=127.0.0.1:9002'
    PORT=62045 python examples/tls_sni_router.py

Without routes it starts two demo TLS backends itself (on free ports, answering HTTP with
``backend a`` / ``backend b``, self-signed for ``a.localhost`` / ``b.localhost``) and routes
``a.localhost`` and ``b.localhost`` to them. It logs ``listening address=127.0.0.1:62045
routes=...``, then per connection ``routed sni=a.localhost pattern=a.localhost
backend=...`` (or ``no route`` / ``not tls``). With the demo backends::

    curl -k --resolve a.localhost:62045:127.0.0.1 https://a.localhost:62045/    # backend a
    curl -k --resolve b.localhost:62045:127.0.0.1 https://b.localhost:62045/    # backend b

Ctrl-C (or SIGTERM) stops accepting and gives relays in flight up to 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

from pyrama_core import Service, Shutdown, service_fn
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_net import Authority, BridgeError, SocketInfo, Stream, bridge
from pyrama_net.errors import ConnectError
from pyrama_tcp import TcpConnector, TcpListener
from pyrama_tls import (
    SniRoute,
    SniRouter,
    TlsAcceptorData,
    TlsAcceptorLayer,
)
from pyrama_tls.errors import ClientHelloError, NoSniRouteError, NotTlsError, TlsHandshakeError

DEFAULT_PORT = 62045

log = get_logger("tls_sni_router")


def peer(stream: Stream) -> str | None:
    """The client's address as text."""
    info = stream.extensions.get(SocketInfo)
    return None if info is None else f"{info.peer[0]}:{info.peer[1]}"


class PassThrough:
    """``Service[Stream, None]``: relay the still-encrypted stream to one backend."""

    def __init__(self, backend: Authority, connector: TcpConnector) -> None:
        self.backend = backend
        self.connector = connector

    async def serve(self, stream: Stream) -> None:
        """Connect to the backend and bridge, ClientHello bytes first."""
        route = stream.extensions.get(SniRoute)
        sni = None if route is None else route.server_name
        try:
            upstream = (await self.connector.serve(self.backend)).conn
        except ConnectError as exc:
            log.warning("backend unreachable", sni=sni, backend=str(self.backend), error=str(exc))
            await stream.close()
            return
        log.info(
            "routed",
            peer=peer(stream),
            sni=sni,
            pattern=None if route is None else route.pattern,
            backend=str(self.backend),
        )
        try:
            stats = await bridge(stream, upstream)
        except BridgeError as exc:
            log.info("relay failed", sni=sni, side=exc.side, error=str(exc.__cause__ or exc))
            return
        log.info("relay done", sni=sni, up=stats.a_to_b, down=stats.b_to_a)


class RouterErrorsLogged:
    """Outermost service: turn the router's refusals into one log line each."""

    def __init__(self, inner: Service[Stream, None]) -> None:
        self.inner = inner

    async def serve(self, stream: Stream) -> None:
        """Serve *stream*; log connections the router refused (it closed them)."""
        who = peer(stream)
        try:
            await self.inner.serve(stream)
        except NoSniRouteError as exc:
            log.info("no route", peer=who, sni=exc.server_name)
        except NotTlsError:
            log.info("not tls", peer=who)
        except ClientHelloError as exc:
            log.info("bad ClientHello", peer=who, error=str(exc))
        except TimeoutError:
            log.info("no ClientHello in time", peer=who)


def parse_routes(items: list[str]) -> dict[str, Authority]:
    """``["a.test=127.0.0.1:9001", ...]`` -> ``{"a.test": Authority(...)}``."""
    routes: dict[str, Authority] = {}
    for item in items:
        name, sep, target = item.partition("=")
        if not sep or not name or not target:
            raise SystemExit(f"bad route {item!r}: write NAME=HOST:PORT")
        routes[name.strip()] = Authority.parse(target.strip())
    return routes


async def demo_backend(name: str) -> tuple[TcpListener, asyncio.Task[object]]:
    """A TLS server for *name* answering every HTTP request with ``backend <letter>``."""
    greeting = f"backend {name[0]}\n".encode()

    async def answer(stream: Stream) -> None:
        await stream.read(65536)  # the request head (a demo: one read is enough)
        stream.write(
            b"HTTP/1.1 200 OK\r\nconnection: close\r\n"
            + f"content-length: {len(greeting)}\r\n\r\n".encode()
            + greeting
        )
        await stream.drain()

    async def quiet(stream: Stream) -> None:
        with contextlib.suppress(TlsHandshakeError):
            await tls_answer.serve(stream)

    tls_answer = TlsAcceptorLayer(TlsAcceptorData.self_signed([name])).layer(service_fn(answer))
    listener = await TcpListener.bind(("127.0.0.1", 0))
    task: asyncio.Task[object] = asyncio.create_task(listener.serve(service_fn(quiet)))
    return listener, task


async def main(port: int, routes: dict[str, Authority]) -> None:
    """Route TLS connections on 127.0.0.1:*port* by SNI to the *routes* backends."""
    demo: list[asyncio.Task[object]] = []
    if not routes:
        for name in ("a.localhost", "b.localhost"):
            backend, task = await demo_backend(name)
            demo.append(task)
            routes[name] = Authority.parse(str(backend.local_addr))
    connector = TcpConnector(connect_timeout=5.0)
    router = SniRouter({name: PassThrough(target, connector) for name, target in routes.items()})
    listener = await TcpListener.bind(("127.0.0.1", port))
    log.info(
        "listening",
        address=str(listener.local_addr),
        routes=",".join(f"{n}={t}" for n, t in routes.items()),
        demo_backends=bool(demo),
    )
    await listener.serve_graceful(RouterErrorsLogged(router), Shutdown.with_signals(deadline=10.0))
    for task in demo:
        task.cancel()
    await asyncio.gather(*demo, return_exceptions=True)
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    argv = sys.argv[1:]
    port = int(argv[0] if argv else os.environ.get("PORT", DEFAULT_PORT))
    items = argv[1:] or [r for r in os.environ.get("ROUTES", "").split(",") if r.strip()]
    asyncio.run(main(port, parse_routes(items)))
