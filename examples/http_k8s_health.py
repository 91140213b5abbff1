"""Kubernetes liveness and readiness probes next to an application.

:class:`~pyrama_http.health.K8sHealth` answers ``/k8s/alive`` and ``/k8s/ready`` with
``200`` or ``503`` from check callables, and passes every other request to the application
(here a one-line greeting). Liveness has no checks (the process answers, so it is alive);
readiness runs a check on every probe:

* with ``READY_FILE=/path``: ready while that file exists (a deploy script can create or
  remove it to take the instance in or out of rotation);
* without it: ready once the application has "warmed up", ``WARMUP`` seconds after start
  (default 3).

Run it::

    python examples/http_k8s_health.py            # 127.0.0.1:62028 (PORT=0: any free port)

Then::

    curl -i http://127.0.0.1:62028/k8s/alive      # 200
    curl -i http://127.0.0.1:62028/k8s/ready      # 503, then 200 after the warm-up
    curl http://127.0.0.1:62028/                  # the application

Pod spec: ``livenessProbe: {httpGet: {path: /k8s/alive, port: 62028}}`` and the same with
``/k8s/ready`` for ``readinessProbe``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from pyrama_core import Shutdown, service_fn
from pyrama_core.telemetry import get_logger, setup_logging
from pyrama_http import HttpServer
from pyrama_http.health import K8sHealth
from pyrama_http_types import Request, Response
from pyrama_net import SocketAddress

DEFAULT_PORT = 62028

log = get_logger("http_k8s_health")


async def app(request: Request) -> Response:
    """The application behind the probes."""
    return Response.text(f"hello from pyrama, you asked for {request.uri.path}\n")


def readiness(ready_file: str | None, warmup: float) -> K8sHealth:
    """The probes: ready while *ready_file* exists, or once *warmup* seconds have passed."""
    started = time.monotonic()

    def ready() -> bool:
        if ready_file is not None:
            return os.path.exists(ready_file)
        return time.monotonic() - started >= warmup

    return K8sHealth(ready=ready, inner=service_fn(app))


async def main(port: int, ready_file: str | None, warmup: float) -> None:
    """Serve on 127.0.0.1:*port* until SIGINT/SIGTERM."""

    def bound(addr: SocketAddress) -> None:
        log.info("listening", address=str(addr), ready_file=ready_file, warmup=warmup)

    await HttpServer.auto().listen(
        ("127.0.0.1", port),
        readiness(ready_file, warmup),
        shutdown=Shutdown.with_signals(deadline=5.0),
        on_listening=bound,
    )
    log.info("stopped")


if __name__ == "__main__":
    setup_logging()
    asyncio.run(
        main(
            int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", DEFAULT_PORT)),
            os.environ.get("READY_FILE") or None,
            float(os.environ.get("WARMUP", "3")),
        )
    )
