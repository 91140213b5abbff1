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


async def test_a_failed_switch_runs_a_handed_over_taker_in_a_task() -> None:
    # the driver runs only the takers of switches that happened: a failure runs it at once
    on_upgrade = OnUpgrade(runs_takers=True)
    log: list[str] = []
    assert spawn_tunnel(_connect_request(on_upgrade, None), _taker(on_upgrade, log)) is None
    on_upgrade.fail("the response could not be sent")
    assert on_upgrade.take_taker() is None  # it left with the failure
    for _ in range(5):
        await asyncio.sleep(0)
    assert log == ["no switch: cleaned up"]


async def test_an_h1_connect_relay_runs_in_the_connection_task() -> None:
    from http_support import running
    from proxy_support import tcp_echo

    from pyrama_core import service_fn
    from pyrama_http_types import Response

    seen: dict[str, object] = {}

    async def relay(on_upgrade: OnUpgrade, target: int) -> None:
        seen["relay"] = asyncio.current_task()
        upgraded = await on_upgrade
        r, w = await asyncio.open_connection("127.0.0.1", target)
        w.write(await upgraded.stream.read(100))
        upgraded.stream.write(await r.readline())
        await upgraded.stream.drain()
        w.close()
        await upgraded.stream.close()

    async with tcp_echo() as port:

        async def connect(req: Request) -> Response:
            seen["service"] = asyncio.current_task()
            on_upgrade = req.extensions.require(OnUpgrade)
            seen["spawned"] = spawn_tunnel(req, relay(on_upgrade, port))
            return Response(200)

        async with running(service_fn(connect)) as srv:
            r, w = await asyncio.open_connection("127.0.0.1", srv.port)
            w.write(b"CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 200")
            w.write(b"ping\n")
            assert await asyncio.wait_for(r.readline(), 5) == b"ping\n"
            w.close()
    assert seen["spawned"] is None  # handed over: no task of its own
    assert seen["relay"] is seen["service"]  # the connection's task ran it


async def test_the_callers_on_upgrade_is_used_without_a_look_up() -> None:
    on_upgrade = OnUpgrade(runs_takers=True)
    log: list[str] = []
    # the request's extensions hold no OnUpgrade: only the one passed can take the coroutine
    req = _connect_request(None, None)
    assert spawn_tunnel(req, _taker(on_upgrade, log), on_upgrade=on_upgrade) is None
    taker = on_upgrade.take_taker()
    assert taker is not None
    on_upgrade.fail("answered without a switch")
    await taker
    assert log == ["no switch: cleaned up"]
