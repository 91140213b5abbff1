"""spawn_tunnel: handed to a driver that runs takers itself, or spawned as a task."""

from __future__ import annotations

import asyncio

import pytest

from pyrama_core import Executor, Extensions, Shutdown
from pyrama_http.proxy import spawn_tunnel
from pyrama_http_core import OnUpgrade
from pyrama_http_core.errors import UpgradeError
from pyrama_http_types import Request


def _connect_request(on_upgrade: OnUpgrade | None, executor: Executor | None) -> Request:
    req = Request("CONNECT", "127.0.0.1:443")
    ext: Extensions = req.extensions
    if on_upgrade is not None:
        ext.insert(on_upgrade)
    if executor is not None:
        ext.insert(executor)
    return req


async def _taker(on_upgrade: OnUpgrade, log: list[str]) -> None:
    try:
        await on_upgrade
    except UpgradeError:
        log.append("no switch: cleaned up")
        return
    log.append("switched")


async def test_a_driver_that_runs_takers_gets_the_coroutine() -> None:
    on_upgrade = OnUpgrade(runs_takers=True)
    log: list[str] = []
    before = asyncio.all_tasks()
    assert spawn_tunnel(_connect_request(on_upgrade, None), _taker(on_upgrade, log)) is None
    assert asyncio.all_tasks() == before  # no task
    second = _taker(on_upgrade, log)
    assert not on_upgrade.hand_over(second)  # one taker per handle
    second.close()
    taker = on_upgrade.take_taker()
    assert taker is not None
    assert on_upgrade.take_taker() is None
    on_upgrade.fail("answered without a switch")
    await taker  # the driver awaits it whatever the outcome: its clean-up runs
    assert log == ["no switch: cleaned up"]


@pytest.mark.parametrize("graceful", [True, False])
async def test_other_drivers_get_a_task(graceful: bool) -> None:
    on_upgrade = OnUpgrade()  # an HTTP/2 stream's, say: runs no takers
    log: list[str] = []
    shutdown = Shutdown(deadline=5)
    guard = shutdown.guard()
    executor = Executor.graceful(guard) if graceful else None
    task = spawn_tunnel(
        _connect_request(on_upgrade, executor), _taker(on_upgrade, log), name="tunnel"
    )
    assert task is not None
    assert task.get_name() == "tunnel"
    if graceful:
        assert shutdown.in_flight == 2  # the guard and the task's own hold
    on_upgrade.fail("no switch")
    await task
    assert log == ["no switch: cleaned up"]
    guard.release()
    assert shutdown.in_flight == 0
