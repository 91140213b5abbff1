"""Datagram services: serve each received datagram with a Service[Datagram, bytes | None]."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

from pyrama_core import Service, ShutdownGuard
from pyrama_core.errors import ConfigError
from pyrama_core.telemetry import get_logger
from pyrama_udp._datagram import Datagram
from pyrama_udp._socket import UdpSocket
from pyrama_udp.errors import UdpClosedError, UdpError

__all__ = ["DEFAULT_CONCURRENCY", "UdpServer", "serve_datagrams"]

_log = get_logger(__name__)

DEFAULT_CONCURRENCY: Final[int] = 256
"""Datagrams a :class:`UdpServer` handles at once unless told otherwise."""


def check_positive_int(name: str, value: object) -> int:
    """Return *value* if it is an ``int >= 1``, else raise :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be an int >= 1, got {value!r}")
    return value


async def run_until_stopped(
    work: Coroutine[Any, Any, None],
    guard: ShutdownGuard | None,
) -> bool:
    """Run *work* until it ends or *guard*'s shutdown begins; return whether it was stopped.

    When shutdown begins, *work* is cancelled and awaited. If the caller is cancelled,
    *work* is cancelled too and the cancellation propagates.
    """
    loop = asyncio.get_running_loop()
    task = loop.create_task(work)
    if guard is None:
        await task  # cancelling us cancels it, and we resume once it has unwound
        return False
    watch = loop.create_task(guard.cancelled())
    try:
        await asyncio.wait([task, watch], return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        await asyncio.wait([task])
        raise
    finally:
        watch.cancel()
    if task.done():
        task.result()  # re-raise its error, if any
        return False
    task.cancel()
    await asyncio.wait([task])
    return True


class _Run:
    """The state of one ``UdpServer.serve`` call."""

    __slots__ = ("in_flight", "slot_waiter")

    def __init__(self) -> None:
        self.in_flight: set[asyncio.Task[None]] = set()
        self.slot_waiter: asyncio.Future[None] | None = None

    def on_done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        w = self.slot_waiter
        if w is not None:
            self.slot_waiter = None
            if not w.done():
                w.set_result(None)

    async def drain(self) -> None:
        while self.in_flight:
            await asyncio.wait(list(self.in_flight))


class UdpServer:
    """Serves every datagram a :class:`UdpSocket` receives with a datagram service.

    The service is a ``Service[Datagram, bytes | None]``: returned bytes are sent back to the
    datagram's peer (``None`` or ``b""`` sends nothing). Each datagram is served in its own
    task, at most *concurrency* at once per served socket. While all slots are busy no more
    datagrams are taken from the socket, so they wait in its bounded queue and its overflow
    policy decides what is lost: overload sheds datagrams instead of growing memory. A
    service error is logged and drops only its datagram.
    """

    __slots__ = ("_concurrency", "_runs", "_serve_fn", "_service")

    def __init__(
        self,
        service: Service[Datagram, bytes | None],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        """Serve datagrams with *service*, at most *concurrency* at a time."""
        self._service = service
        self._serve_fn: Callable[[Datagram], Awaitable[bytes | None]] = service.serve
        self._concurrency = check_positive_int("concurrency", concurrency)
        self._runs: set[_Run] = set()

    @property
    def concurrency(self) -> int:
        """The most datagrams served at once."""
        return self._concurrency

    @property
    def in_flight(self) -> int:
        """How many datagrams are being served right now (over every served socket)."""
        return sum(len(run.in_flight) for run in self._runs)

    async def serve(self, sock: UdpSocket, *, guard: ShutdownGuard | None = None) -> None:
        """Receive from *sock* and serve each datagram until told to stop.

        With *guard*, every datagram's task holds a clone of it; when its shutdown begins the
        server stops receiving, waits for datagrams in flight (the shutdown cancels them at
        its deadline) and returns, releasing *guard* (``serve`` owns it). Without a guard it
        runs until cancelled (in-flight datagrams are then cancelled too) or until *sock* is
        closed. *sock* itself is never closed here.
        """
        run = _Run()
        self._runs.add(run)
        try:
            try:
                await run_until_stopped(self._receive_loop(run, sock, guard), guard)
            except asyncio.CancelledError:
                for t in run.in_flight:
                    t.cancel()
                await run.drain()
                raise
            await run.drain()
        finally:
            self._runs.discard(run)
            if guard is not None:
                guard.release()

    async def _receive_loop(self, run: _Run, sock: UdpSocket, guard: ShutdownGuard | None) -> None:
        loop = asyncio.get_running_loop()
        in_flight = run.in_flight
        on_done = run.on_done
        limit = self._concurrency
        local = sock.local_addr
        base_ext = sock.extensions
        while True:
            if len(in_flight) >= limit:
                w = loop.create_future()
                run.slot_waiter = w
                await w
                continue
            try:
                data, peer = await sock.recv_from()
            except UdpClosedError:
                return
            except UdpError as exc:
                _log.debug("udp receive error", local=str(local), error=str(exc))
                continue
            if guard is not None and guard.is_cancelled():
                return  # shutdown began while we waited: take no new work
            dgram = Datagram(data, peer, local, base_ext.fork())
            coro = self._handle(sock, dgram)
            task = loop.create_task(coro) if guard is None else guard.spawn_task(coro)
            in_flight.add(task)
            task.add_done_callback(on_done)

    async def _handle(self, sock: UdpSocket, dgram: Datagram) -> None:
        try:
            reply = await self._serve_fn(dgram)
        except Exception as exc:
            _log.error(
                "datagram service failed",
                peer=str(dgram.peer),
                error=f"{type(exc).__name__}: {exc}",
                exc_info=exc,
            )
            return
        if reply:
            try:
                await sock.send_to(reply, dgram.peer)
            except UdpError as exc:
                _log.warning(
                    "sending a datagram reply failed", peer=str(dgram.peer), error=str(exc)
                )

    def __repr__(self) -> str:
        return f"UdpServer({self._service!r}, concurrency={self._concurrency})"


async def serve_datagrams(
    sock: UdpSocket,
    service: Service[Datagram, bytes | None],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    guard: ShutdownGuard | None = None,
) -> None:
    """Serve every datagram *sock* receives with *service* (see :class:`UdpServer`)."""
    await UdpServer(service, concurrency=concurrency).serve(sock, guard=guard)
