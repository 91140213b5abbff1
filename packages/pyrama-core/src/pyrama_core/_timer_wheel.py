"""Coarse deadlines for many owners with one loop timer per tick, not one per owner.

A server holding thousands of idle keep-alive connections, or a timeout layer on every
request, would otherwise create a ``TimerHandle`` (with its bound method and context) per
connection or per call. Here a deadline is rounded up to a tick and its owner put in that
tick's bucket; the event loop has one timer per non-empty bucket. When it fires, every owner
still in the bucket gets ``_on_timer()`` and decides itself whether its deadline really
passed (a keep-alive connection moves its deadline later on every request) and schedules
again if not.

An owner is in at most one bucket (its ``_wheel_key`` says which): moving a deadline later
keeps the earlier bucket (the owner re-checks when it fires); moving it earlier moves the
owner. :meth:`TimerWheel.cancel` takes an owner out, so nothing is kept for a closed
connection or a finished call.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from typing import Final, Protocol

__all__ = ["DEFAULT_TICK", "Expiring", "TimerWheel", "timer_wheel"]

DEFAULT_TICK: Final = 0.25
"""Default seconds between a wheel's timers: deadlines fire up to this much late, never early."""

_Key = tuple[float, int]  # (tick, tick count): the bucket fires at tick * count


class Expiring(Protocol):
    """What a :class:`TimerWheel` schedules: an object with a writable ``_wheel_key`` slot."""

    _wheel_key: _Key | None
    """The bucket the owner is in (``None`` when none); managed by the wheel."""

    def _on_timer(self) -> None:
        """Called at or soon after the deadline (check it, schedule again if due later)."""
        ...


class TimerWheel:
    """Tick buckets of :class:`Expiring` owners for one event loop (see the module docs)."""

    __slots__ = ("__weakref__", "_buckets", "_loop_ref")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop_ref = weakref.ref(loop)  # owners may keep their wheel; not a closed loop
        self._buckets: dict[_Key, set[Expiring]] = {}

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The wheel's event loop (``None`` once it is gone)."""
        return self._loop_ref()

    def schedule(self, owner: Expiring, when: float, tick: float = DEFAULT_TICK) -> None:
        """Call ``owner._on_timer()`` at loop time *when*, or up to *tick* seconds later."""
        current = owner._wheel_key
        if current is not None and current[0] * current[1] <= when:
            # an earlier bucket fires first and the owner re-checks then: the usual case of a
            # deadline moved later (keep-alive), decided before any rounding
            return
        key = (tick, math.ceil(when / tick))
        if current is not None:
            if current[0] * current[1] <= tick * key[1]:
                return  # the same bucket
            bucket = self._buckets.get(current)
            if bucket is not None:
                bucket.discard(owner)
        bucket = self._buckets.get(key)
        if bucket is None:
            loop = self._loop_ref()
            if loop is None:
                raise RuntimeError("the timer wheel's event loop is gone")
            bucket = self._buckets[key] = set()
            loop.call_at(key[1] * tick, self._fire, key)
        bucket.add(owner)
        owner._wheel_key = key

    def cancel(self, owner: Expiring) -> None:
        """Forget *owner*: no callback, no reference kept."""
        key = owner._wheel_key
        if key is not None:
            owner._wheel_key = None
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.discard(owner)

    def _fire(self, key: _Key) -> None:
        bucket = self._buckets.pop(key, None)
        if not bucket:
            return
        for owner in bucket:
            if owner._wheel_key == key:
                owner._wheel_key = None
        for owner in bucket:
            owner._on_timer()

    def __len__(self) -> int:
        """How many owners wait for a deadline."""
        return sum(len(b) for b in self._buckets.values())


_WHEELS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TimerWheel] = (
    weakref.WeakKeyDictionary()
)


def timer_wheel(loop: asyncio.AbstractEventLoop) -> TimerWheel:
    """The wheel of *loop* (one per event loop, made on first use)."""
    wheel = _WHEELS.get(loop)
    if wheel is None:
        wheel = _WHEELS[loop] = TimerWheel(loop)
    return wheel
