"""TraceLayer: one structured access-log line per exchange."""

from __future__ import annotations

import time
from typing import Literal

from pyrama_core.telemetry import get_logger
from pyrama_http.layer._util import HttpService, ObservedBody
from pyrama_http_types import Request, Response

__all__ = ["TraceLayer", "TraceService"]


class TraceService:
    """Logs each exchange (see :class:`TraceLayer`)."""

    __slots__ = ("_level", "_log", "_side", "inner")

    def __init__(self, inner: HttpService, logger: str, level: str, side: str) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._log = get_logger(logger)
        self._level = level
        self._side = side

    def _enabled(self) -> bool:
        """Whether a line at the configured level would be written (asked of the logger)."""
        try:
            return bool(self._log.isEnabledFor(_LEVELS[self._level]))
        except AttributeError:  # a structlog setup whose logger cannot tell: assume yes
            return True

    async def serve(self, request: Request, /) -> Response:
        """Serve *request*; log once its response body is done (or the call failed)."""
        if not self._enabled():
            # the exchange line would be dropped: only a failure (a warning) is logged
            start = time.perf_counter()
            try:
                return await self.inner.serve(request)
            except BaseException as exc:
                self._log.warning(
                    "http request failed",
                    side=self._side,
                    method=str(request.method),
                    path=request.uri.path,
                    version=str(request.version),
                    error=f"{type(exc).__name__}: {exc}",
                    duration_ms=round((time.perf_counter() - start) * 1000, 3),
                )
                raise
        start = time.perf_counter()
        fields = {
            "side": self._side,
            "method": str(request.method),
            "path": request.uri.path,
            "version": str(request.version),
        }
        try:
            response = await self.inner.serve(request)
        except BaseException as exc:
            self._log.warning(
                "http request failed",
                **fields,
                error=f"{type(exc).__name__}: {exc}",
                duration_ms=round((time.perf_counter() - start) * 1000, 3),
            )
            raise
        status = int(response.status)
        body = response.body
        if body.is_in_memory:
            self._emit(fields, status, start, body.size_hint or 0, None)
            return response
        sent = [0]

        def on_chunk(chunk: bytes) -> None:
            sent[0] += len(chunk)

        def on_end(exc: BaseException | None) -> None:
            self._emit(fields, status, start, sent[0], exc)

        response.body = ObservedBody(body, on_chunk=on_chunk, on_end=on_end)
        return response

    def _emit(
        self,
        fields: dict[str, str],
        status: int,
        start: float,
        size: int,
        exc: BaseException | None,
    ) -> None:
        extra: dict[str, object] = {}
        if exc is not None:
            extra["body_error"] = f"{type(exc).__name__}: {exc}"
        self._log.log(
            _LEVELS[self._level],
            "http request",
            **fields,
            status=status,
            duration_ms=round((time.perf_counter() - start) * 1000, 3),
            bytes=size,
            **extra,
        )


_LEVELS = {"debug": 10, "info": 20, "warning": 30}


class TraceLayer:
    """Logs one structured line per exchange through :func:`pyrama_core.telemetry.get_logger`.

    The event ``http request`` carries ``method``, ``path``, ``version``, ``status``,
    ``duration_ms`` (until the last body byte went through) and ``bytes`` (the response
    body size); it is emitted once the response body has been streamed (or has failed:
    ``body_error``). A service that raises is logged as ``http request failed`` with the
    error, which is re-raised. *side* (``server`` or ``client``) is logged too. When the
    logger drops lines at *level* (asked as each exchange starts) an exchange costs next to
    nothing: no fields, no body observer; failures are still logged.
    """

    __slots__ = ("_level", "_logger", "_side")

    def __init__(
        self,
        *,
        logger: str = "pyrama.http.trace",
        level: Literal["debug", "info", "warning"] = "info",
        side: Literal["server", "client"] = "server",
    ) -> None:
        """Log as *logger* at *level*."""
        if level not in _LEVELS:
            raise ValueError(f"level must be debug, info or warning, got {level!r}")
        self._logger = logger
        self._level = level
        self._side = side

    def layer(self, inner: HttpService, /) -> TraceService:
        """Wrap *inner*."""
        return TraceService(inner, self._logger, self._level, self._side)
