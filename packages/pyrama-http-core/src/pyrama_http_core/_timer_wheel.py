"""Coarse deadlines for many connections with one loop timer per tick, not one per connection.

A server holding thousands of idle keep-alive connections would otherwise keep a
``TimerHandle`` (plus its bound method and context, about half a kilobyte) alive for each
one. Here a deadline is rounded up to the next tick (a quarter second by default) and the
connection is put in that tick's bucket; the event loop has one timer per non-empty bucket.
When it fires, every connection in the bucket gets its callback and decides itself whether
its deadline really passed (deadlines move later all the time: a keep-alive connection
re-arms on each request) and registers again if not.

A connection is in at most one bucket: moving a deadline later keeps the earlier bucket (the
connection re-registers when it fires); moving it earlier moves the connection. Closing a
connection takes it out, so a closed connection is not held until its deadline.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from typing import Final, Protocol

__all__ = ["DEFAULT_TICK", "Expiring", "TimerWheel", "timer_wheel"]

DEFAULT_TICK: Final = 0.25
"""Seconds between the wheel's timers: deadlines fire up to this much late, never early."""


class Expiring(Protocol):
    """What the wheel calls back: the owner checks its deadline, re-registers if due later."""

    def _on_timer(self) -> None: ...


class TimerWheel:
    """Tick buckets of :class:`Expiring` owners for one event loop (see the module docs)."""

    __slots__ = ("_buckets", "_loop", "_slot", "_tick")

    def __init__(self, loop: asyncio.AbstractEventLoop, tick: float = DEFAULT_TICK) -> None:
        self._loop = loop
        self._tick = tick
        self._buckets: dict[int, set[Expiring]] = {}
        self._slot: dict[Expiring, int] = {}  # owner -> the bucket it is in

    def schedule(self, owner: Expiring, when: float) -> None:
        """Call ``owner._on_timer()`` at or soon after loop time *when*."""
        key = math.ceil(when / self._tick)
        current = self._slot.get(owner)
        if current is not None:
            if current <= key:
                return  # an earlier (or the same) bucket fires first; the owner re-checks then
            bucket = self._buckets.get(current)
            if bucket is not None:
                bucket.discard(owner)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = set()
            self._loop.call_at(key * self._tick, self._fire, key)
        bucket.add(owner)
        self._slot[owner] = key

    def cancel(self, owner: Expiring) -> None:
        """Forget *owner* (it closed): no callback, no reference kept."""
        key = self._slot.pop(owner, None)
        if key is not None:
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.discard(owner)

    def _fire(self, key: int) -> None:
        bucket = self._buckets.pop(key, None)
        if not bucket:
            return
        slot = self._slot
        for owner in bucket:
            if slot.get(owner) == key:
                del slot[owner]
        for owner in bucket:
            owner._on_timer()

    def __len__(self) -> int:
        """How many owners wait for a deadline."""
        return len(self._slot)


_WHEELS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TimerWheel] = (
    weakref.WeakKeyDictionary()
)


def timer_wheel(loop: asyncio.AbstractEventLoop) -> TimerWheel:
    """The wheel of *loop* (one per event loop, made on first use)."""
    wheel = _WHEELS.get(loop)
    if wheel is None:
        wheel = _WHEELS[loop] = TimerWheel(loop)
    return wheel
