"""RetryLayer: send a request again after a transient failure."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from pyrama_core import ExponentialBackoff
from pyrama_core.errors import ConfigError
from pyrama_http.layer._util import HttpService
from pyrama_http_types import Body, Request, Response

__all__ = ["RetryLayer", "RetryPolicy", "RetryService", "StandardRetryPolicy"]


@runtime_checkable
class RetryPolicy(Protocol):
    """Decides whether an attempt's outcome is retried."""

    def should_retry(
        self, request: Request, response: Response | None, error: Exception | None
    ) -> bool:
        """Whether to try again after *response* (or *error*, exactly one is set)."""
        ...


def _connection_error(exc: BaseException) -> bool:
    from pyrama_http_core.errors import ConnectionClosedError

    if isinstance(exc, ConnectionError | ConnectionClosedError):
        return True
    from pyrama_net.errors import ConnectError

    if isinstance(exc, ConnectError):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, TimeoutError)


class StandardRetryPolicy:
    """Retries connection errors and the statuses *statuses* (502, 503, 504).

    Only for idempotent methods unless *any_method*.
    """

    __slots__ = ("_any", "_statuses", "_timeouts")

    def __init__(
        self,
        *,
        statuses: Iterable[int] = (502, 503, 504),
        any_method: bool = False,
        retry_timeouts: bool = False,
    ) -> None:
        """Configure what is retried (*retry_timeouts*: also timeouts)."""
        self._statuses = frozenset(statuses)
        self._any = any_method
        self._timeouts = retry_timeouts

    def should_retry(
        self, request: Request, response: Response | None, error: Exception | None
    ) -> bool:
        """See the class docs."""
        if not self._any and not request.method.is_idempotent:
            return False
        if response is not None:
            return int(response.status) in self._statuses
        if error is None:
            return False
        if isinstance(error, TimeoutError):
            return self._timeouts
        return _connection_error(error)


def _retry_after(response: Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("retry-after")
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


class RetryService:
    """Retries per policy (see :class:`RetryLayer`)."""

    __slots__ = ("_attempts", "_backoff", "_policy", "inner")

    def __init__(
        self,
        inner: HttpService,
        policy: RetryPolicy,
        backoff: ExponentialBackoff,
        max_attempts: int,
    ) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._policy = policy
        self._backoff = backoff
        self._attempts = max_attempts

    async def serve(self, request: Request, /) -> Response:
        """Send *request*, again after a retryable outcome while attempts remain."""
        data = request.body.try_take_bytes()
        if data is None:
            # a streamed body cannot be sent twice
            return await self.inner.serve(request)
        backoff = self._backoff.clone()
        attempt = 0
        while True:
            attempt += 1
            request.body = Body(data)
            response: Response | None = None
            error: Exception | None = None
            try:
                response = await self.inner.serve(request)
            except Exception as exc:
                error = exc
            last = attempt >= self._attempts or backoff.exhausted
            if last or not self._policy.should_retry(request, response, error):
                if error is not None:
                    raise error
                assert response is not None
                return response
            if response is not None:
                await response.body.aclose()
            hinted = _retry_after(response)
            if hinted is None:
                if await backoff.next_backoff():
                    continue
            else:
                delay = backoff.next_delay()
                if delay is not None:
                    await asyncio.sleep(max(delay, min(hinted, 60.0)))
                    continue
            # the backoff is exhausted: the outcome stands
            if error is not None:
                raise error
            assert response is not None
            return response


class RetryLayer:
    """Client side: retries a request after a transient failure.

    *policy* (default :class:`StandardRetryPolicy`: connection errors and 502/503/504, for
    idempotent methods) decides; between attempts the core
    :class:`~pyrama_core.ExponentialBackoff` *backoff* sleeps (a fresh copy per request; a
    ``Retry-After`` in seconds stretches the delay, capped at 60 s). At most *max_attempts*
    attempts in all. Only requests with an in-memory body are retried: a streamed body
    cannot be sent twice, so such a request gets exactly one attempt.
    """

    __slots__ = ("_attempts", "_backoff", "_policy")

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        max_attempts: int = 3,
        backoff: ExponentialBackoff | None = None,
    ) -> None:
        """Configure the policy, the attempts and the backoff."""
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be >= 1, got {max_attempts!r}")
        self._policy = policy if policy is not None else StandardRetryPolicy()
        self._attempts = max_attempts
        self._backoff = backoff if backoff is not None else ExponentialBackoff(0.05, 2.0)

    def layer(self, inner: HttpService, /) -> RetryService:
        """Wrap *inner*."""
        return RetryService(inner, self._policy, self._backoff, self._attempts)
