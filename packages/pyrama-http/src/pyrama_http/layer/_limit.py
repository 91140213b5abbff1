"""HTTP limits: concurrency and rate limits answered 503/429, request body size limit."""

from __future__ import annotations

import math

from pyrama_core.errors import ConfigError, OverloadedError, RateLimitedError
from pyrama_core.layer import ConcurrentPolicy, OnLimit, Policy, RateLimitPolicy
from pyrama_http.layer._util import HttpService, ObservedBody, plain_response
from pyrama_http_types import Request, Response
from pyrama_http_types.errors import BodyTooLargeError

__all__ = [
    "HttpLimitLayer",
    "HttpLimitService",
    "RequestBodyLimitLayer",
    "RequestBodyLimitService",
]


class HttpLimitService:
    """Applies a limit policy, answering refusals (see :class:`HttpLimitLayer`)."""

    __slots__ = ("inner", "policy")

    def __init__(self, inner: HttpService, policy: Policy[Request]) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self.policy = policy

    async def serve(self, request: Request, /) -> Response:
        """Serve *request* under the policy; a refusal is ``503`` or ``429``."""
        try:
            permit = await self.policy.acquire(request)
        except RateLimitedError as exc:
            headers = []
            if exc.retry_after is not None:
                headers.append(("Retry-After", str(max(1, math.ceil(exc.retry_after)))))
            return plain_response(429, "too many requests\n", headers)
        except OverloadedError:
            return plain_response(503, "service overloaded\n", [("Retry-After", "1")])
        try:
            return await self.inner.serve(request)
        finally:
            permit.release()


class HttpLimitLayer:
    """Limits an HTTP service with a core :class:`~pyrama_core.layer.Policy`.

    Refusals become responses: :class:`~pyrama_core.errors.RateLimitedError` is ``429 Too
    Many Requests`` with ``Retry-After`` (seconds, rounded up), and
    :class:`~pyrama_core.errors.OverloadedError` ``503 Service Unavailable`` (the inner
    service is not called). Errors the inner service raises pass through. Like the core
    :class:`~pyrama_core.layer.LimitService`, the permit is held until the response head.
    :meth:`concurrency` and :meth:`rate` build the core policies.
    """

    __slots__ = ("policy",)

    def __init__(self, policy: Policy[Request]) -> None:
        """Use *policy* (shared by every service this layer wraps)."""
        self.policy = policy

    @classmethod
    def concurrency(
        cls, max: int, *, on_limit: OnLimit = "reject", max_wait: float | None = None
    ) -> HttpLimitLayer:
        """At most *max* requests in flight (a :class:`~pyrama_core.layer.ConcurrentPolicy`)."""
        return cls(ConcurrentPolicy(max, on_limit=on_limit, max_wait=max_wait))

    @classmethod
    def rate(cls, rate: float, period: float = 1.0, *, burst: int | None = None) -> HttpLimitLayer:
        """*rate* requests per *period* seconds (a :class:`~pyrama_core.layer.RateLimitPolicy`)."""
        return cls(RateLimitPolicy(rate, period, burst=burst))

    def layer(self, inner: HttpService, /) -> HttpLimitService:
        """Wrap *inner*."""
        return HttpLimitService(inner, self.policy)


class RequestBodyLimitService:
    """Caps request bodies (see :class:`RequestBodyLimitLayer`)."""

    __slots__ = ("_max", "inner")

    def __init__(self, inner: HttpService, max_bytes: int) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._max = max_bytes

    async def serve(self, request: Request, /) -> Response:
        """Refuse a body announced too large with 413; cap a streaming one."""
        limit = self._max
        hint = request.body.size_hint
        if hint is None:
            cl = request.headers.get("content-length")
            if cl is not None and cl.strip().isdigit():
                hint = int(cl)
        if hint is not None and hint > limit:
            await request.body.aclose()
            return plain_response(413, "payload too large\n", [("Connection", "close")])
        if hint is not None and request.body.is_in_memory:
            return await self.inner.serve(request)  # all there and within the limit
        overflow: list[BodyTooLargeError] = []

        def on_end(exc: BaseException | None) -> None:
            if isinstance(exc, BodyTooLargeError):
                overflow.append(exc)

        # the limit applies to what the handler reads, as it streams
        body = request.body.limited(limit)
        request.body = ObservedBody(body, on_end=on_end)
        try:
            response = await self.inner.serve(request)
        except Exception:
            if overflow:
                return plain_response(413, "payload too large\n", [("Connection", "close")])
            raise
        return response


class RequestBodyLimitLayer:
    """Caps request bodies at *max_bytes* (server side).

    A body announced larger (size hint or ``Content-Length``) is answered ``413 Payload Too
    Large`` before the handler runs; a streaming body is cut at the limit as it is read:
    the handler's read raises :class:`~pyrama_http_types.errors.BodyTooLargeError`, and if
    the handler lets that escape, the answer is ``413`` too.
    """

    __slots__ = ("_max",)

    def __init__(self, max_bytes: int) -> None:
        """Allow at most *max_bytes* (>= 0)."""
        if max_bytes < 0:
            raise ConfigError(f"max_bytes must be >= 0, got {max_bytes!r}")
        self._max = max_bytes

    def layer(self, inner: HttpService, /) -> RequestBodyLimitService:
        """Wrap *inner*."""
        return RequestBodyLimitService(inner, self._max)
