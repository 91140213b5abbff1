"""Connection reuse: many requests, few connections, with EasyHttpWebClient's pool.

:class:`~pyrama_http.EasyHttpWebClient` keeps finished HTTP/1.1 connections idle in its
:class:`~pyrama_http.HttpConnectionPool` (at most ``max_idle_per_host`` per origin, closed
after ``idle_timeout``) and shares one HTTP/2 connection between concurrent requests. The
example starts a local server that counts the distinct client connections it sees (by the
peer's address), then sends:

1. 20 requests one after the other over HTTP/1.1: one connection serves them all;
2. 20 requests, 5 at a time, over HTTP/1.1: about 5 connections (one kept from round 1),
   each reused;
3. 20 concurrent requests over HTTP/2 (h2c prior knowledge): one connection, 20 streams.

Run it::

    python examples/http_pooled_client.py

It prints one line per round and the pool's counters, for example::

    sequential http/1.1: requests=20 connections=1
    concurrent http/1.1 (5 at a time): requests=20 connections=4 idle=5
    concurrent h2c: requests=20 connections=1
    total: requests=60 connections=6

("connections" counts the new ones a round opened: the second round reuses the first
round's idle connection and opens about 4 more.)
"""

from __future__ import annotations

import asyncio

from pyrama_core import Shutdown
from pyrama_http import EasyHttpWebClient, HttpClient, HttpServer, HttpVersionPolicy
from pyrama_http_types import Request, Response
from pyrama_net import SocketAddress, SocketInfo


class ConnectionCounter:
    """The server side: answers every request and remembers each connection's peer."""

    def __init__(self) -> None:
        self.peers: set[object] = set()
        self.requests = 0

    async def serve(self, request: Request) -> Response:
        """Count the request and its connection, answer ``ok``."""
        info = request.extensions.get(SocketInfo)
        if info is not None:
            self.peers.add(info.peer)
        self.requests += 1
        return Response.text("ok")


async def _get(client: HttpClient, url: str) -> None:
    resp = await client.get(url).send()
    assert await resp.text() == "ok"  # reading to the end gives an h1 connection back


async def rounds(base: str, counter: ConnectionCounter) -> None:
    """The three rounds against *base*, printing the connections each one needed."""
    easy = EasyHttpWebClient(version_policy=HttpVersionPolicy.HTTP1_ONLY, max_idle_per_host=10)
    async with HttpClient(easy) as client:
        before = len(counter.peers)
        for i in range(20):
            await _get(client, f"{base}/seq/{i}")
        print(f"sequential http/1.1: requests=20 connections={len(counter.peers) - before}")

        before = len(counter.peers)
        gate = asyncio.Semaphore(5)

        async def limited(i: int) -> None:
            async with gate:
                await _get(client, f"{base}/par/{i}")

        await asyncio.gather(*(limited(i) for i in range(20)))
        used = len(counter.peers) - before
        idle = easy.stats().http1.idle
        print(f"concurrent http/1.1 (5 at a time): requests=20 connections={used} idle={idle}")

    policy = HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE
    async with HttpClient(version_policy=policy) as h2:
        before = len(counter.peers)
        await asyncio.gather(*(_get(h2, f"{base}/h2/{i}") for i in range(20)))
        print(f"concurrent h2c: requests=20 connections={len(counter.peers) - before}")
    print(f"total: requests={counter.requests} connections={len(counter.peers)}")


async def main() -> None:
    """Start the counting server on a free port, run the rounds, stop it."""
    counter = ConnectionCounter()
    shutdown = Shutdown(deadline=5.0)
    bound: asyncio.Future[SocketAddress] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(
        HttpServer.auto().listen(
            "127.0.0.1:0",
            counter,
            shutdown=shutdown,
            on_listening=bound.set_result,
        )
    )
    addr = await bound
    try:
        await rounds(f"http://{addr}", counter)
    finally:
        shutdown.trigger("example done")
        await server


if __name__ == "__main__":
    asyncio.run(main())
