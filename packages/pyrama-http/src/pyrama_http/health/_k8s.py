"""Kubernetes-style health probes: ``/k8s/alive`` and ``/k8s/ready``."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from pyrama_core import Service
from pyrama_core.telemetry import get_logger
from pyrama_http_types import Method, Request, Response, StatusCode

__all__ = [
    "K8S_ALIVE_PATH",
    "K8S_READY_PATH",
    "HealthCheck",
    "K8sHealth",
]

_log = get_logger(__name__)

K8S_ALIVE_PATH: Final = "/k8s/alive"
"""The liveness probe path."""

K8S_READY_PATH: Final = "/k8s/ready"
"""The readiness probe path."""

HealthCheck = Callable[[], bool | Awaitable[bool]]
"""A probe check: a plain or async callable returning whether the service is healthy."""


async def _passes(check: HealthCheck) -> bool:
    try:
        result = check()
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:  # a failing check means "not healthy", never a 500
        _log.warning("health check failed", check=repr(check), error=repr(exc))
        return False
    return result is True


class K8sHealth:
    """``Service[Request, Response]`` answering Kubernetes liveness and readiness probes.

    ``GET``/``HEAD`` on *alive_path* (``/k8s/alive``) and *ready_path* (``/k8s/ready``)
    answer ``200 OK`` when every check of that probe returns ``True`` and ``503 Service
    Unavailable`` otherwise (a check that raises or returns anything but ``True`` fails).
    No checks means healthy. Checks may be plain or async callables and run in order, each
    time the probe is asked. Other methods on the probe paths get ``405``. Every other
    request goes to *inner* when given, else ``404``.
    """

    __slots__ = ("_alive", "_alive_path", "_inner", "_ready", "_ready_path")

    def __init__(
        self,
        *,
        alive: HealthCheck | Sequence[HealthCheck] = (),
        ready: HealthCheck | Sequence[HealthCheck] = (),
        inner: Service[Request, Response] | None = None,
        alive_path: str = K8S_ALIVE_PATH,
        ready_path: str = K8S_READY_PATH,
    ) -> None:
        self._alive: tuple[HealthCheck, ...] = (alive,) if callable(alive) else tuple(alive)
        self._ready: tuple[HealthCheck, ...] = (ready,) if callable(ready) else tuple(ready)
        self._inner = inner
        self._alive_path = alive_path
        self._ready_path = ready_path

    async def is_alive(self) -> bool:
        """Run the liveness checks."""
        for check in self._alive:
            if not await _passes(check):
                return False
        return True

    async def is_ready(self) -> bool:
        """Run the readiness checks."""
        for check in self._ready:
            if not await _passes(check):
                return False
        return True

    async def serve(self, request: Request, /) -> Response:
        """Answer a probe, or pass the request on to the inner service."""
        path = request.uri.path
        if path == self._alive_path:
            probe = self.is_alive
        elif path == self._ready_path:
            probe = self.is_ready
        elif self._inner is not None:
            return await self._inner.serve(request)
        else:
            return Response.text("not found\n", StatusCode.NOT_FOUND)
        if request.method != Method.GET and request.method != Method.HEAD:
            return Response.text(
                "method not allowed\n",
                StatusCode.METHOD_NOT_ALLOWED,
                headers={"Allow": "GET, HEAD"},
            )
        ok = await probe()
        status = StatusCode.OK if ok else StatusCode.SERVICE_UNAVAILABLE
        resp = Response.text("ok\n" if ok else "unavailable\n", status)
        resp.headers.add("Cache-Control", "no-store")
        return resp

    def __repr__(self) -> str:
        return f"K8sHealth(alive={len(self._alive)} checks, ready={len(self._ready)} checks)"
