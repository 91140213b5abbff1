"""pyrama_core.TimerWheel: late by at most a tick, never early, nothing kept after cancel."""

from __future__ import annotations

import asyncio
import gc
import weakref

from pyrama_core import TimerWheel, timer_wheel
from pyrama_core._timer_wheel import DEFAULT_TICK

TICK = 0.05


class Owner:
    def __init__(self, wheel: TimerWheel, loop: asyncio.AbstractEventLoop) -> None:
        self.wheel = wheel
        self.loop = loop
        self.deadline: float | None = None
        self._wheel_key: tuple[float, int] | None = None
        self.fired: list[float] = []
        self.done = asyncio.Event()

    def arm(self, seconds: float) -> None:
        self.deadline = self.loop.time() + seconds
        self.wheel.schedule(self, self.deadline, TICK)

    def _on_timer(self) -> None:
        assert self.deadline is not None
        now = self.loop.time()
        if now < self.deadline:
            self.wheel.schedule(self, self.deadline, TICK)
            return
        self.fired.append(now)
        self.done.set()


async def test_fires_after_the_deadline_within_a_tick_or_so() -> None:
    loop = asyncio.get_running_loop()
    wheel = TimerWheel(loop)
    owner = Owner(wheel, loop)
    owner.arm(0.12)
    await asyncio.wait_for(owner.done.wait(), 5)
    assert owner.deadline is not None
    assert owner.fired[0] >= owner.deadline  # never early
    assert len(wheel) == 0


async def test_a_later_deadline_re_registers_and_an_earlier_one_moves() -> None:
    loop = asyncio.get_running_loop()
    wheel = TimerWheel(loop)
    owner = Owner(wheel, loop)
    owner.arm(0.05)
    owner.arm(0.3)  # later: stays in the earlier bucket, re-registers when it fires
    assert len(wheel) == 1
    await asyncio.sleep(0.15)
    assert owner.fired == []
    assert len(wheel) == 1  # re-registered for the real deadline
    owner.arm(0.01)  # earlier: moves to an earlier bucket
    await asyncio.wait_for(owner.done.wait(), 5)
    assert len(owner.fired) == 1
    await asyncio.sleep(0.4)  # the abandoned later bucket fires nothing for it
    assert len(owner.fired) == 1


async def test_cancel_drops_every_reference() -> None:
    loop = asyncio.get_running_loop()
    wheel = TimerWheel(loop)
    owner = Owner(wheel, loop)
    owner.arm(10.0)
    ref = weakref.ref(owner)
    wheel.cancel(owner)
    del owner
    gc.collect()
    assert ref() is None
    assert len(wheel) == 0


async def test_one_wheel_per_loop_and_a_quarter_second_tick() -> None:
    loop = asyncio.get_running_loop()
    assert timer_wheel(loop) is timer_wheel(loop)
    assert DEFAULT_TICK == 0.25


async def test_thousands_of_owners_share_one_timer_per_tick() -> None:
    loop = asyncio.get_running_loop()
    wheel = TimerWheel(loop)
    owners = [Owner(wheel, loop) for _ in range(2000)]
    for o in owners:
        o.deadline = loop.time() + 0.1
        wheel.schedule(o, o.deadline, TICK)
    handles = sum(1 for h in loop._scheduled if getattr(h, "_callback", None) == wheel._fire)  # type: ignore[attr-defined]
    assert handles <= 2
    await asyncio.wait_for(asyncio.gather(*(o.done.wait() for o in owners)), 5)
    assert len(wheel) == 0
