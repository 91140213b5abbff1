"""An HTTP proxy that sends each request through an upstream proxy picked by username labels.

Clients log in as ``john:secret``; the username may carry labels that say which upstream
they want: ``john-country-us-residential`` asks for a residential exit in the US. The
proxy list is a CSV file (``PROXY_DB``, format: ``pyrama_proxy.CSV_COLUMNS``) loaded into
a :class:`~pyrama_proxy.MemoryProxyDB`:

* :class:`~pyrama_http.proxy.ProxyAuthLayer` checks the credentials with
  :func:`~pyrama_proxy.parse_username_labels` as its username parser, which puts a
  :class:`~pyrama_proxy.ProxyFilter` into the request's extensions;
* :class:`~pyrama_proxy.ProxySelectLayer` picks a matching proxy (round-robin) and inserts
  its :class:`~pyrama_net.ProxyAddress`;
* :class:`~pyrama_http.proxy.HttpProxy` forwards the request (or opens the CONNECT tunnel)
  through that upstream. Without labels any proxy in the list will do; if none matches, the
  client gets ``503``.

``SIGHUP`` reloads the CSV file while requests keep running (the new list replaces the old
one atomically; a broken file is logged and the old list stays). Requests for
``upstream.example.internal`` are answered by the proxy itself with the upstream it would
pick, handy to see the labels at work.

Run it::

    PROXY_DB=proxies.csv python examples/proxy_db_upstream.py    # 127.0.0.1:62049 (PORT=...)

with a ``proxies.csv`` such as::

    id,address,http,residential,country,city
    us-1,http://user:pass@127.0.0.1:3128,true,true,us,new_york
    de-1,socks5h://127.0.0.1:1080,false,false,de,berlin

Then::

    curl -x http://127.0.0.1:62049 -U 'john-country-us:secret' http://www.example.com/
    curl -x http://127.0.0.1:62049 -U 'john-country-de:secret' http://upstream.example.internal/
    kill -HUP <pid>                                    # reload proxies.csv
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from pyrama_core import Service, Shutdown, layers
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http.proxy import HttpProxy, ProxyAuthLayer, http_proxy_server
from pyrama_http_types import Request, Response
from pyrama_net import Basic
from pyrama_proxy import (
    MemoryProxyDB,
    Proxy,
    ProxyDBLoadError,
    ProxyFilter,
    ProxyNotFoundError,
    ProxySelection,
    ProxySelectLayer,
    parse_username_labels,
)

DEFAULT_PORT = 62049
API_HOST = "upstream.example.internal"

log = get_logger("proxy_db_upstream")


class UpstreamApi:
    """Answers requests for ``upstream.example.internal`` with the upstream picked for them."""

    def __init__(self, inner: Service[Request, Response]) -> None:
        self.inner = inner

    async def serve(self, request: Request) -> Response:
        """Describe the choice for the pseudo API host; forward everything else."""
        host = request.uri.host
        if host is None or str(host) != API_HOST or request.method == "CONNECT":
            proxy = request.extensions.get(Proxy)
            log.info(
                "proxy request",
                target=str(request.uri),
                upstream=None if proxy is None else proxy.id,
            )
            return await self.inner.serve(request)
        proxy = request.extensions.get(Proxy)
        proxy_filter = request.extensions.get(ProxyFilter)
        return Response.json(
            {
                "upstream": None if proxy is None else proxy.id,
                "address": None if proxy is None else str(proxy.authority),
                "country": None if proxy_filter is None else proxy_filter.country,
                "residential": None if proxy_filter is None else proxy_filter.residential,
            }
        )


class NoUpstreamIs503:
    """Turns "no proxy matches the labels" into a ``503`` answer."""

    def __init__(self, inner: Service[Request, Response]) -> None:
        self.inner = inner

    async def serve(self, request: Request) -> Response:
        """Serve *request*; ``503`` when no upstream matches."""
        try:
            return await self.inner.serve(request)
        except ProxyNotFoundError as exc:
            log.info("no upstream", error=str(exc))
            return Response.text("no upstream proxy matches your labels\n", 503)


def reload(db: MemoryProxyDB, path: Path) -> None:
    """Load *path* into *db*, keeping the old list if the file is broken."""
    try:
        db.reload_csv(path)
    except ProxyDBLoadError as exc:
        log.warning("proxy list not reloaded", path=str(path), error=str(exc))
        return
    log.info("proxy list reloaded", path=str(path), proxies=len(db))


async def main(port: int, db_path: Path) -> None:
    """Run the proxy on 127.0.0.1:*port* until SIGINT/SIGTERM; SIGHUP reloads *db_path*."""
    db = MemoryProxyDB.from_csv(db_path, selection=ProxySelection.ROUND_ROBIN)
    log.info("proxy list loaded", path=str(db_path), proxies=len(db))
    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload, db, db_path)
    proxy = HttpProxy()
    service = layers(
        ProxyAuthLayer(Basic("john", "secret"), username_parser=parse_username_labels),
        # no labels: any proxy of the list
        ProxySelectLayer(db, default_filter=ProxyFilter()),
    ).into(UpstreamApi(proxy))
    try:
        await http_proxy_server(
            ("127.0.0.1", port),
            NoUpstreamIs503(service),
            shutdown=Shutdown.with_signals(deadline=10.0),
        )
    finally:
        await proxy.close()
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    args = sys.argv[1:]
    db_file = os.environ.get("PROXY_DB")
    if not db_file:
        sys.exit("set PROXY_DB to a proxy list CSV (see the module docs)")
    asyncio.run(main(int(args[0] if args else os.environ.get("PORT", DEFAULT_PORT)), Path(db_file)))
