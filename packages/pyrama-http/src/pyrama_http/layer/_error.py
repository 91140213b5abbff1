"""ErrorToResponseLayer: turn errors into HTTP responses without leaking details."""

from __future__ import annotations

import math
from collections.abc import Callable

from pyrama_core.errors import OverloadedError, ProtocolError, PyramaError, RateLimitedError
from pyrama_core.telemetry import get_logger
from pyrama_http.layer._util import HttpService, plain_response
from pyrama_http_types import Request, Response, StatusCode
from pyrama_http_types.errors import HttpError

__all__ = ["ErrorToResponseLayer", "ErrorToResponseService", "status_for_error"]

_log = get_logger("pyrama.http.error")


def status_for_error(exc: BaseException) -> int:
    """The HTTP status an error maps to.

    :class:`~pyrama_core.errors.RateLimitedError` is ``429``,
    :class:`~pyrama_core.errors.OverloadedError` ``503``, a timeout ``504``; a
    :class:`~pyrama_core.errors.PyramaError` with a wire hint (``status_hint`` of the HTTP
    errors, ``hint`` of a :class:`~pyrama_core.errors.ProtocolError`) in ``400..599`` uses
    it; anything else is ``500``.
    """
    if isinstance(exc, RateLimitedError):
        return 429
    if isinstance(exc, OverloadedError):
        return 503
    if isinstance(exc, PyramaError):
        hint: object = None
        if isinstance(exc, HttpError):
            hint = exc.status_hint
        if hint is None and isinstance(exc, ProtocolError):
            hint = exc.hint
        if hint is None:  # other packages' errors with a status hint
            hint = getattr(exc, "status_hint", None)
        if isinstance(hint, int) and 400 <= hint <= 599:
            return hint
        if isinstance(exc, TimeoutError):
            return 504
    return 500


def _retry_after(exc: BaseException) -> str | None:
    if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
        return str(max(1, math.ceil(exc.retry_after)))
    return None


class ErrorToResponseService:
    """Maps the inner service's errors to responses (see :class:`ErrorToResponseLayer`)."""

    __slots__ = ("_render", "inner")

    def __init__(
        self, inner: HttpService, render: Callable[[int, BaseException], Response] | None
    ) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._render = render

    async def serve(self, request: Request, /) -> Response:
        """Serve *request*; an ``Exception`` becomes a response."""
        try:
            return await self.inner.serve(request)
        except Exception as exc:
            status = status_for_error(exc)
            if status >= 500:
                _log.error(
                    "http service error",
                    method=str(request.method),
                    path=request.uri.path,
                    status=status,
                    exc_info=exc,
                )
            if self._render is not None:
                return self._render(status, exc)
            # the reason phrase only: the error's text may hold internal details
            reason = StatusCode(status).reason_phrase
            headers = [("Connection", "close")] if status in (408, 413) else []
            retry = _retry_after(exc)
            if retry is not None:
                headers.append(("Retry-After", retry))
            return plain_response(status, f"{reason}\n", headers)


class ErrorToResponseLayer:
    """Turns errors of the inner service into responses (server side).

    Status per :func:`status_for_error`; the body is the status's reason phrase only, never
    the error text (5xx errors are logged with their traceback instead). A rate-limit
    error gets ``Retry-After``. *render* ``(status, error) -> Response`` replaces the
    default response.
    """

    __slots__ = ("_render",)

    def __init__(self, render: Callable[[int, BaseException], Response] | None = None) -> None:
        """Use *render* for the responses, or the default plain-text ones."""
        self._render = render

    def layer(self, inner: HttpService, /) -> ErrorToResponseService:
        """Wrap *inner*."""
        return ErrorToResponseService(inner, self._render)
