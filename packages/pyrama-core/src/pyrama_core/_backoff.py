"""Exponential backoff with jitter, for accept-error loops and retries."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Literal

from pyrama_core.errors import ConfigError

__all__ = ["ExponentialBackoff", "Jitter"]

Jitter = Literal["full", "equal", "none"]
"""How randomness spreads a delay ``d``: ``full`` is uniform in ``[0, d]``, ``equal`` is
uniform in ``[d/2, d]``, ``none`` is exactly ``d``."""

_JITTERS: frozenset[str] = frozenset({"full", "equal", "none"})


class ExponentialBackoff:
    """Delays that grow by *multiplier* from *initial* up to *max* seconds, with jitter.

    The n-th delay (counting from 0) is based on ``min(max, initial * multiplier**n)`` and
    then jittered. After *max_attempts* delays (if set) the backoff is exhausted:
    :meth:`next_delay` returns ``None`` and :meth:`next_backoff` returns ``False`` without
    sleeping. :meth:`reset` starts over (call it after a success).

    Randomness comes from *rng* (inject ``random.Random(seed)`` for deterministic tests);
    sleeping goes through *sleep* (``asyncio.sleep`` unless injected). One instance holds
    the state of one sequence of attempts; :meth:`clone` makes a fresh one with the same
    settings (one per request for retries).
    """

    __slots__ = (
        "_attempts",
        "_current",
        "_initial",
        "_jitter",
        "_max",
        "_max_attempts",
        "_multiplier",
        "_rng",
        "_sleep",
    )

    def __init__(
        self,
        initial: float = 0.1,
        max: float = 30.0,
        multiplier: float = 2.0,
        *,
        jitter: Jitter = "full",
        max_attempts: int | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        """Configure the backoff; invalid numbers raise :class:`ConfigError`."""
        if not initial > 0:
            raise ConfigError(f"initial backoff must be > 0 seconds, got {initial!r}")
        if not max >= initial:
            raise ConfigError(f"max backoff ({max!r}) must be >= initial ({initial!r})")
        if not multiplier >= 1:
            raise ConfigError(f"backoff multiplier must be >= 1, got {multiplier!r}")
        if jitter not in _JITTERS:
            raise ConfigError(f"jitter must be one of full, equal, none; got {jitter!r}")
        if max_attempts is not None and max_attempts < 0:
            raise ConfigError(f"max_attempts must be >= 0, got {max_attempts!r}")
        self._initial = float(initial)
        self._max = float(max)
        self._multiplier = float(multiplier)
        self._jitter: Jitter = jitter
        self._max_attempts = max_attempts
        self._rng = rng if rng is not None else random.Random()
        self._sleep = sleep
        self._attempts = 0
        self._current = self._initial

    @property
    def attempts(self) -> int:
        """How many delays were handed out since the last :meth:`reset`."""
        return self._attempts

    @property
    def exhausted(self) -> bool:
        """Whether *max_attempts* delays have been handed out."""
        return self._max_attempts is not None and self._attempts >= self._max_attempts

    def next_delay(self) -> float | None:
        """The next delay in seconds (advancing the sequence), or ``None`` if exhausted."""
        if self.exhausted:
            return None
        base = self._current
        self._attempts += 1
        # grow iteratively (capped) so huge attempt counts never overflow a float
        self._current = min(self._max, base * self._multiplier)
        if self._jitter == "full":
            return self._rng.uniform(0.0, base)
        if self._jitter == "equal":
            half = base / 2.0
            return half + self._rng.uniform(0.0, half)
        return base

    async def next_backoff(self) -> bool:
        """Sleep for the next delay; ``False`` (without sleeping) when exhausted."""
        delay = self.next_delay()
        if delay is None:
            return False
        await self._sleep(delay)
        return True

    def reset(self) -> None:
        """Start the sequence over (after a success)."""
        self._attempts = 0
        self._current = self._initial

    def clone(self) -> ExponentialBackoff:
        """A fresh backoff with the same settings (sharing the random source)."""
        return ExponentialBackoff(
            self._initial,
            self._max,
            self._multiplier,
            jitter=self._jitter,
            max_attempts=self._max_attempts,
            rng=self._rng,
            sleep=self._sleep,
        )

    def __repr__(self) -> str:
        return (
            f"ExponentialBackoff(initial={self._initial}, max={self._max}, "
            f"multiplier={self._multiplier}, jitter={self._jitter!r}, "
            f"max_attempts={self._max_attempts}, attempts={self._attempts})"
        )
