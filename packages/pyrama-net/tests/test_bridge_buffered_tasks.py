"""bridge(), buffered path: the two direction tasks (first failure wins, cancellation, leaks)."""

from __future__ import annotations

import asyncio
import gc

import pytest

from pyrama_net import BridgeError, bridge
from pyrama_net._bridge import _SideFailed
from pyrama_testing import MockStream, mock_stream_pair


class _ResetOnRead(MockStream):
    """A stream whose peer reset the connection: reading raises."""

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        raise ConnectionResetError(104, "Connection reset by peer")


class _StubbornRead(MockStream):
    """A stream whose pending read shrugs off the first cancellation for a moment."""

    def __init__(self) -> None:
        super().__init__()
        self.cancels = 0
        self.reading = asyncio.Event()

    async def read(self, max_bytes: int = 65536, /) -> bytes:
        self.reading.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancels += 1
            await asyncio.sleep(0.01)  # cleaning up takes a moment
            raise
        return b""  # pragma: no cover - never set


def _our_tasks() -> set[asyncio.Task[object]]:
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not current}


async def test_a_failure_while_the_other_direction_waits_ends_the_relay() -> None:
    a = _ResetOnRead()
    b, _b_peer = mock_stream_pair()  # b never sends: its direction waits
    with pytest.raises(BridgeError) as info:
        await bridge(a, b)
    assert info.value.side == "a"
    assert isinstance(info.value.__cause__, ConnectionResetError)
    assert a.is_closing()
    assert b.is_closing()
    assert not _our_tasks()


async def test_cancelling_twice_still_waits_for_both_directions() -> None:
    a = _StubbornRead()
    b = _StubbornRead()
    relay = asyncio.create_task(bridge(a, b))
    await a.reading.wait()
    await b.reading.wait()
    relay.cancel()
    await asyncio.sleep(0)
    relay.cancel()
    with pytest.raises(asyncio.CancelledError):
        await relay
    assert a.cancels == b.cancels == 1
    assert a.is_closing()
    assert b.is_closing()
    assert not _our_tasks()


async def test_a_failed_relay_leaves_no_exception_cycles_for_the_collector() -> None:
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(3):
            b, _b_peer = mock_stream_pair()
            with pytest.raises(BridgeError):
                await bridge(_ResetOnRead(), b)
        gc.collect()
        leaked = [o for o in gc.garbage if isinstance(o, BridgeError | _SideFailed)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert leaked == []
