"""HttpTimeoutLayer: a deadline per exchange, answered with a status or raised."""

from __future__ import annotations

from pyrama_core.errors import ConfigError, PyramaTimeoutError
from pyrama_core.layer import TimeoutLayer, TimeoutService
from pyrama_http.errors import RequestTimeoutError
from pyrama_http.layer._util import HttpService, plain_response
from pyrama_http_types import Request, Response

__all__ = ["HttpTimeoutLayer", "HttpTimeoutService"]


class HttpTimeoutService:
    """Bounds the inner service's time (see :class:`HttpTimeoutLayer`)."""

    __slots__ = ("_seconds", "_status", "_timed", "inner")

    def __init__(self, inner: HttpService, seconds: float, status: int | None) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._timed: TimeoutService[Request, Response] = TimeoutLayer(seconds).layer(inner)
        self._seconds = seconds
        self._status = status

    async def serve(self, request: Request, /) -> Response:
        """Serve *request* within the deadline."""
        try:
            return await self._timed.serve(request)
        except PyramaTimeoutError as exc:
            if exc.source is not self._timed:
                raise  # the inner service's own timeout error
            if self._status is None:
                raise RequestTimeoutError(
                    f"no response within {self._seconds:g} s for {request.method} {request.uri}",
                    seconds=self._seconds,
                ) from exc
            return plain_response(self._status, "request timed out\n", [("Connection", "close")])


class HttpTimeoutLayer:
    """Gives the inner service *seconds* to produce a response head.

    Built on the core :class:`~pyrama_core.layer.TimeoutLayer`.

    Server side (default) the late request is cancelled and answered *status* (``408``
    Request Timeout; a gateway uses ``504``). Client side (:meth:`client`) it raises
    :class:`~pyrama_http.errors.RequestTimeoutError`.
    """

    __slots__ = ("_seconds", "_status")

    def __init__(self, seconds: float, *, status: int | None = 408) -> None:
        """Deadline of *seconds*; *status* to answer with (``None``: raise)."""
        if not seconds > 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {seconds!r}")
        if status is not None and not 400 <= status <= 599:
            raise ConfigError(f"timeout status must be 4xx or 5xx, got {status!r}")
        self._seconds = float(seconds)
        self._status = status

    @classmethod
    def gateway(cls, seconds: float) -> HttpTimeoutLayer:
        """Server side, answering ``504 Gateway Timeout`` (for proxies)."""
        return cls(seconds, status=504)

    @classmethod
    def client(cls, seconds: float) -> HttpTimeoutLayer:
        """Client side: raise :class:`~pyrama_http.errors.RequestTimeoutError`."""
        return cls(seconds, status=None)

    def layer(self, inner: HttpService, /) -> HttpTimeoutService:
        """Wrap *inner*."""
        return HttpTimeoutService(inner, self._seconds, self._status)
