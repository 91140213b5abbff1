"""Limits: a generic LimitLayer driven by a Policy, with concurrency and rate policies."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final, Generic, Literal, Protocol, TypeVar, overload, runtime_checkable

from pyrama_core._service import Service
from pyrama_core.errors import ConfigError, OverloadedError, RateLimitedError

__all__ = [
    "NOOP_PERMIT",
    "ConcurrencyLimitLayer",
    "ConcurrentPolicy",
    "LimitLayer",
    "LimitService",
    "OnLimit",
    "Permit",
    "Policy",
    "RateLimitPolicy",
]

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741
J = TypeVar("J")
In_contra = TypeVar("In_contra", contravariant=True)

OnLimit = Literal["wait", "reject"]
"""What a policy does when its limit is reached: wait for room, or refuse right away."""


def _check_on_limit(on_limit: str, max_wait: float | None) -> None:
    if on_limit not in ("wait", "reject"):
        raise ConfigError(f"on_limit must be 'wait' or 'reject', got {on_limit!r}")
    if max_wait is not None and not max_wait >= 0:
        raise ConfigError(f"max_wait must be >= 0 seconds, got {max_wait!r}")


@runtime_checkable
class Permit(Protocol):
    """What a :class:`Policy` grants: released once the call is done."""

    def release(self) -> None:
        """Give the permit back (must be safe to call more than once)."""
        ...


@runtime_checkable
class Policy(Protocol[In_contra]):
    """Decides whether a call may proceed.

    :meth:`acquire` returns a :class:`Permit` once the call may run (possibly after
    waiting), or raises to refuse it: :class:`~pyrama_core.errors.OverloadedError`,
    :class:`~pyrama_core.errors.RateLimitedError` or any error of your own. It sees the
    input, so a policy can key its limit on it (per peer address, per user).
    """

    async def acquire(self, input: In_contra, /) -> Permit:
        """Wait for and return a permit for *input*, or raise to refuse it."""
        ...


class _NoopPermit:
    __slots__ = ()

    def release(self) -> None:
        pass

    def __repr__(self) -> str:
        return "NOOP_PERMIT"


NOOP_PERMIT: Final[Permit] = _NoopPermit()
"""A permit with nothing to give back (for policies that only gate the start of a call)."""


class LimitService(Generic[I, O]):
    """Serves a call once its policy grants a permit, and releases it when the call is done."""

    __slots__ = ("inner", "policy")

    def __init__(self, inner: Service[I, O], policy: Policy[I]) -> None:
        """Guard *inner* with *policy*."""
        self.inner = inner
        self.policy = policy

    async def serve(self, input: I, /) -> O:
        """Acquire a permit for *input*, serve it, release the permit."""
        permit = await self.policy.acquire(input)
        try:
            return await self.inner.serve(input)
        finally:
            permit.release()

    def __repr__(self) -> str:
        return f"LimitService({self.policy!r}, {self.inner!r})"


class LimitLayer(Generic[I]):
    """Limits the inner service with a :class:`Policy`.

    The policy object is shared by every service this layer builds: applying one layer to
    two services puts both under the same limit.
    """

    __slots__ = ("policy",)

    def __init__(self, policy: Policy[I]) -> None:
        """Use *policy* for every call."""
        self.policy = policy

    @overload
    def layer(self: LimitLayer[object], inner: Service[J, O], /) -> LimitService[J, O]: ...
    @overload
    def layer(self, inner: Service[I, O], /) -> LimitService[I, O]: ...
    def layer(self, inner: Service[Any, O], /) -> LimitService[Any, O]:
        """Wrap *inner* (a policy that accepts any input fits any service)."""
        return LimitService(inner, self.policy)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.policy!r})"


class _ConcurrencyPermit:
    __slots__ = ("_policy",)

    def __init__(self, policy: ConcurrentPolicy) -> None:
        self._policy: ConcurrentPolicy | None = policy

    def release(self) -> None:
        policy = self._policy
        if policy is not None:
            self._policy = None
            policy._release_slot()


class ConcurrentPolicy:
    """At most *max* calls in flight at once.

    When full, ``on_limit="wait"`` queues the call (first come, first served), at most
    *max_wait* seconds if set, after which :class:`~pyrama_core.errors.OverloadedError` is
    raised; ``on_limit="reject"`` raises ``OverloadedError`` right away.
    """

    __slots__ = ("_in_use", "_max", "_max_wait", "_reject", "_waiters")

    def __init__(
        self,
        max: int,
        *,
        on_limit: OnLimit = "wait",
        max_wait: float | None = None,
    ) -> None:
        """Allow *max* (>= 1) concurrent calls."""
        if not isinstance(max, int) or max < 1:
            raise ConfigError(f"concurrency limit must be an int >= 1, got {max!r}")
        _check_on_limit(on_limit, max_wait)
        self._max = max
        self._reject = on_limit == "reject"
        self._max_wait = max_wait
        self._in_use = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def max(self) -> int:
        """The limit."""
        return self._max

    @property
    def in_flight(self) -> int:
        """Permits currently held."""
        return self._in_use

    @property
    def waiting(self) -> int:
        """Calls queued for a permit."""
        return len(self._waiters)

    async def acquire(self, input: object = None, /) -> Permit:
        """Return a permit, waiting for one (or refusing) when all are taken."""
        if self._in_use < self._max and not self._waiters:
            self._in_use += 1
            return _ConcurrencyPermit(self)
        if self._reject:
            raise OverloadedError(f"concurrency limit of {self._max} reached", limit=self._max)
        await self._wait_for_slot()
        return _ConcurrencyPermit(self)

    async def _wait_for_slot(self) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            if self._max_wait is None:
                await fut
            else:
                async with asyncio.timeout(self._max_wait):
                    await fut
        except BaseException as exc:
            if fut.done() and not fut.cancelled():
                self._release_slot()  # a slot was handed to us as we left: pass it on
            else:
                fut.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)
            if isinstance(exc, TimeoutError):
                raise OverloadedError(
                    f"no slot under the concurrency limit of {self._max} within {self._max_wait} s",
                    limit=self._max,
                ) from exc
            raise

    def _release_slot(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # hand the slot over; in-use count is unchanged
                return
        self._in_use -= 1

    def __repr__(self) -> str:
        mode = "reject" if self._reject else "wait"
        return f"ConcurrentPolicy(max={self._max}, on_limit={mode!r}, in_flight={self._in_use})"


class ConcurrencyLimitLayer(LimitLayer[object]):
    """At most *max* calls of the inner service at once (a :class:`ConcurrentPolicy`).

    ``policy="wait"`` (default) queues calls beyond the limit, optionally at most
    *max_wait* seconds; ``policy="reject"`` refuses them with
    :class:`~pyrama_core.errors.OverloadedError` right away.
    """

    __slots__ = ()

    policy: ConcurrentPolicy

    def __init__(
        self,
        max: int,
        policy: OnLimit = "wait",
        *,
        max_wait: float | None = None,
    ) -> None:
        """Allow *max* concurrent calls."""
        super().__init__(ConcurrentPolicy(max, on_limit=policy, max_wait=max_wait))


class RateLimitPolicy:
    """A token bucket: *rate* calls per *period* seconds, bursts of up to *burst*.

    The bucket starts full with *burst* tokens (default: *rate*, at least 1) and refills
    continuously at ``rate / period`` tokens per second. A call takes one token. When none
    is left, ``on_limit="reject"`` (default) raises
    :class:`~pyrama_core.errors.RateLimitedError` whose ``retry_after`` says how many
    seconds until a token is due (waiting exactly that long is always enough);
    ``on_limit="wait"`` reserves the next token and sleeps until it is due (refusing
    instead when that is more than *max_wait* seconds away).

    It is implemented as GCRA (the generic cell rate algorithm): one timestamp of state,
    no refill arithmetic per call. *clock* (monotonic seconds) and *sleep* can be injected
    for deterministic tests. The policy limits all calls together; key it yourself for
    per-peer limits.
    """

    __slots__ = (
        "_burst",
        "_clock",
        "_interval",
        "_max_wait",
        "_period",
        "_rate",
        "_reject",
        "_slack",
        "_sleep",
        "_tat",
        "_tolerance",
    )

    def __init__(
        self,
        rate: float,
        period: float = 1.0,
        *,
        burst: int | None = None,
        on_limit: OnLimit = "reject",
        max_wait: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        """Allow *rate* calls per *period* seconds."""
        if not rate > 0 or math.isinf(rate):
            raise ConfigError(f"rate must be a finite number > 0, got {rate!r}")
        if not period > 0 or math.isinf(period):
            raise ConfigError(f"period must be a finite number of seconds > 0, got {period!r}")
        if burst is None:
            burst = max(1, math.floor(rate))
        if not isinstance(burst, int) or burst < 1:
            raise ConfigError(f"burst must be an int >= 1, got {burst!r}")
        _check_on_limit(on_limit, max_wait)
        self._rate = rate
        self._period = period
        self._burst = burst
        self._interval = period / rate  # seconds one token is worth
        self._tolerance = (burst - 1) * self._interval  # how far ahead calls may run
        self._slack = self._interval * 1e-6
        self._reject = on_limit == "reject"
        self._max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        # theoretical arrival time: when the bucket would be full again
        self._tat = clock()

    @property
    def tokens(self) -> float:
        """Tokens available now (negative while waiters hold reservations)."""
        now = self._clock()
        return self._burst - (max(self._tat, now) - now) / self._interval

    async def acquire(self, input: object = None, /) -> Permit:
        """Take a token, wait for one, or refuse with a ``retry_after`` hint."""
        now = self._clock()
        tat = self._tat if self._tat > now else now
        allow_at = tat - self._tolerance
        # slack absorbs float rounding (a millionth of a token, plus an ulp for each
        # interval the burst may have added to `tat`): a full burst always passes, and so
        # does waiting exactly `retry_after`
        if now + self._slack + (self._burst + 2) * math.ulp(tat) >= allow_at:
            self._tat = tat + self._interval
            return NOOP_PERMIT
        wait = allow_at - now
        if self._reject or (self._max_wait is not None and wait > self._max_wait):
            raise RateLimitedError(
                f"rate limit of {self._rate} per {self._period} s exceeded",
                limit=self._rate,
                retry_after=wait,
            )
        self._tat = tat + self._interval  # reserve the token due in `wait` seconds
        try:
            await self._sleep(wait)
        except BaseException:
            self._tat -= self._interval  # give the reservation back
            raise
        return NOOP_PERMIT

    def __repr__(self) -> str:
        mode = "reject" if self._reject else "wait"
        return (
            f"RateLimitPolicy(rate={self._rate}, period={self._period}, "
            f"burst={self._burst}, on_limit={mode!r})"
        )
