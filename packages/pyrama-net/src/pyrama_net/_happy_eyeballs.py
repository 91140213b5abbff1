"""Happy Eyeballs v2 (RFC 8305): race a host's addresses, IPv6 first, and keep the winner.

Transport-agnostic: the caller supplies ``connect_one(ip, port)``, so the same race connects
TCP sockets, QUIC connections or anything else addressed by IP and port.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from enum import Enum
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Generic, TypeVar

from pyrama_core.errors import ConfigError
from pyrama_net._connector import (
    ConnectAttempt,
    ConnectAttemptsError,
    ConnectTimeoutError,
    TaskDeadline,
    close_duck,
)
from pyrama_net._dns import DnsNoRecordsError, DnsResolver, ip_literal
from pyrama_net.errors import ConnectError, DnsError

__all__ = ["IpMode", "happy_eyeballs_connect"]

T = TypeVar("T")
IPAddress = IPv4Address | IPv6Address

# parsing an IP literal costs microseconds and a proxy connects to the same few targets over
# and over: remember the answers (addresses are immutable; ``None`` for names is cached too)
_ip_literal = functools.lru_cache(maxsize=1024)(ip_literal)


class IpMode(Enum):
    """Which address families to resolve and in which order to try them."""

    DUAL = "dual"
    """Both families, IPv6 first (RFC 8305's default)."""
    DUAL_PREFER_IPV4 = "dual_prefer_ipv4"
    """Both families, IPv4 first."""
    IPV4 = "ipv4"
    """IPv4 only (no AAAA lookup)."""
    IPV6 = "ipv6"
    """IPv6 only (no A lookup)."""


def happy_eyeballs_connect(
    host: str,
    port: int,
    *,
    resolver: DnsResolver,
    connect_one: Callable[[IPAddress, int], Awaitable[T]],
    resolution_delay: float = 0.05,
    attempt_delay: float = 0.25,
    timeout: float | None = None,
    ip_mode: IpMode = IpMode.DUAL,
    close: Callable[[T], Awaitable[None]] | None = None,
) -> Coroutine[Any, Any, T]:
    """Connect to *host*:*port* the Happy Eyeballs way and return the first connection made.

    The AAAA and A lookups run concurrently. Attempts may start as soon as the preferred
    family (IPv6 unless *ip_mode* says otherwise) has answered, or *resolution_delay* seconds
    after the other family answered first. Addresses are tried alternating between families,
    preferred first; a new attempt starts every *attempt_delay* seconds while earlier ones are
    still pending, and at once when an attempt fails. Addresses arriving late join the race.
    The first attempt to succeed wins; every other attempt is cancelled, and a loser that
    connected anyway is closed with *close* (default: await its ``close()`` method).

    An IP-literal *host* skips DNS and makes a single attempt. ``math.inf`` as *attempt_delay*
    gives plain sequential fallback (next address only after the previous one failed).

    Raises :class:`~pyrama_net.ConnectAttemptsError` (a
    :class:`~pyrama_net.errors.ConnectError`) with every attempt's error when all attempts
    fail; a :class:`~pyrama_net.errors.DnsError` (:class:`~pyrama_net.DnsNoRecordsError` when
    there were simply no addresses) when no address could be resolved; and
    :class:`~pyrama_net.ConnectTimeoutError` when *timeout* seconds (DNS included) pass first.

    A plain function returning the connecting coroutine (await it): the coroutine is the
    literal's single attempt or the race itself, without a coroutine layer of its own around
    it. Bad delays or timeouts raise :class:`~pyrama_core.errors.ConfigError` at the call.
    """
    if not resolution_delay >= 0 or not attempt_delay >= 0:
        raise ConfigError(
            f"happy eyeballs delays must be >= 0, got {resolution_delay}, {attempt_delay}"
        )
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"connect timeout must be > 0 seconds, got {timeout!r}")
    literal = _ip_literal(host)
    if literal is not None:
        return _connect_literal(
            literal, host, port, connect_one, close if close is not None else close_duck, timeout
        )
    race: _Race[T] = _Race(
        host,
        port,
        resolver=resolver,
        connect_one=connect_one,
        resolution_delay=resolution_delay,
        attempt_delay=attempt_delay,
        ip_mode=ip_mode,
        close=close if close is not None else close_duck,
    )
    if timeout is None:
        return race.run()
    return _race_within(race, timeout)


async def _race_within(race: _Race[T], timeout: float) -> T:  # noqa: ASYNC109 - the deadline
    """Run *race* under a deadline of *timeout* seconds (DNS included)."""
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            return await race.run()
    except TimeoutError as exc:
        if deadline.expired():
            raise ConnectTimeoutError(race.host, race.port, timeout, tuple(race.failed)) from exc
        raise


async def _connect_literal(
    ip: IPAddress,
    host: str,
    port: int,
    connect_one: Callable[[IPAddress, int], Awaitable[T]],
    close: Callable[[T], Awaitable[None]],
    timeout: float | None,  # noqa: ASYNC109 - the attempt's deadline
) -> T:
    """An IP literal: one attempt, awaited directly (no DNS, no race, no tasks).

    The deadline is a :class:`~pyrama_net.TaskDeadline` (a timer-wheel slot, not a loop
    timer and an ``asyncio.timeout`` per connection); errors are those of a race with one
    address: :class:`~pyrama_net.ConnectAttemptsError` naming the attempt, or
    :class:`~pyrama_net.ConnectTimeoutError`.
    """
    if timeout is None:
        deadline = None
        task = asyncio.current_task()
        cancels = task.cancelling() if task is not None else 0
    else:
        deadline = TaskDeadline(timeout)  # it looked up the task and its cancel count
        task = deadline._task
        cancels = deadline._cancelling
    failed: ConnectAttempt | None = None
    try:
        try:
            conn = await connect_one(ip, port)
        except Exception as err:
            failed = ConnectAttempt(ip, port, err)
        else:
            if task is None or task.cancelling() <= cancels:
                return conn
            # cancelled (or timed out) while connecting, and connect_one finished anyway:
            # like a race that ended, close what was made instead of handing it out
            with contextlib.suppress(Exception):
                await close(conn)
            raise asyncio.CancelledError
    except asyncio.CancelledError as exc:
        if deadline is not None and deadline.finish():
            raise ConnectTimeoutError(host, port, timeout) from exc
        raise
    finally:
        if deadline is not None:
            deadline.finish()
    # outside the except block: chained to the attempt's error only as __cause__, as in a race
    assert failed is not None  # the only way here
    failure = ConnectAttemptsError(host, port, (failed,))
    failure.__cause__ = ExceptionGroup(f"connect attempts to {host}:{port}", [failed.error])
    raise failure


class _Race(Generic[T]):
    """The state of one happy-eyeballs race (one call of :func:`happy_eyeballs_connect`)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        resolver: DnsResolver,
        connect_one: Callable[[IPAddress, int], Awaitable[T]],
        resolution_delay: float,
        attempt_delay: float,
        ip_mode: IpMode,
        close: Callable[[T], Awaitable[None]],
    ) -> None:
        self.host = host
        self.port = port
        self.resolver = resolver
        self.connect_one = connect_one
        self.resolution_delay = resolution_delay
        self.attempt_delay = attempt_delay
        self.ip_mode = ip_mode
        self.close = close
        self.preferred = 4 if ip_mode in (IpMode.DUAL_PREFER_IPV4, IpMode.IPV4) else 6
        self.failed: list[ConnectAttempt] = []
        self.dns_errors: list[DnsError] = []

    async def _lookup4(self) -> list[IPAddress]:
        return list(await self.resolver.ipv4_lookup(self.host))

    async def _lookup6(self) -> list[IPAddress]:
        return list(await self.resolver.ipv6_lookup(self.host))

    async def _attempt(self, ip: IPAddress) -> T:
        return await self.connect_one(ip, self.port)

    def run(self) -> Coroutine[Any, Any, T]:
        return self._race()

    async def _race(self) -> T:
        loop = asyncio.get_running_loop()
        queues: dict[int, deque[IPAddress]] = {4: deque(), 6: deque()}
        dns: dict[asyncio.Task[list[IPAddress]], int] = {}
        attempts: dict[asyncio.Task[T], IPAddress] = {}  # insertion order = start order
        may_start = False
        resolution_deadline: float | None = None
        next_at = 0.0
        last_family: int | None = None
        try:
            if self.ip_mode is not IpMode.IPV4:
                dns[loop.create_task(self._lookup6())] = 6
            if self.ip_mode is not IpMode.IPV6:
                dns[loop.create_task(self._lookup4())] = 4
            while True:
                now = loop.time()
                if not may_start and resolution_deadline is not None and now >= resolution_deadline:
                    may_start = True
                if may_start and (queues[4] or queues[6]) and (now >= next_at or not attempts):
                    family = self._pick(queues, last_family)
                    ip = queues[family].popleft()
                    attempts[loop.create_task(self._attempt(ip))] = ip
                    last_family = family
                    next_at = now + self.attempt_delay
                    continue
                if not attempts and not dns and not (queues[4] or queues[6]):
                    raise self._failure()
                wake: float | None = None
                if not may_start and resolution_deadline is not None:
                    wake = resolution_deadline - now
                elif may_start and (queues[4] or queues[6]) and math.isfinite(next_at):
                    wake = next_at - now
                pending: set[asyncio.Task[Any]] = {*attempts, *dns}
                # invariant: with nothing to start now, something is pending (DNS or attempts)
                assert pending
                done, _ = await asyncio.wait(
                    pending, timeout=wake, return_when=asyncio.FIRST_COMPLETED
                )
                for lookup in [t for t in dns if t in done]:
                    family = dns.pop(lookup)
                    self._take_dns(lookup, queues[family])
                    if family == self.preferred or not dns:
                        may_start = True
                    elif resolution_deadline is None:
                        resolution_deadline = loop.time() + self.resolution_delay
                winner: asyncio.Task[T] | None = None
                for task in [t for t in attempts if t in done]:
                    ip = attempts.pop(task)
                    if task.cancelled():
                        err: BaseException | None = ConnectError("the attempt was cancelled")
                    else:
                        err = task.exception()
                    if err is None:
                        if winner is None:
                            winner = task
                        else:  # connected in the same instant as the winner: not needed
                            await self._close_quietly(task.result())
                    elif isinstance(err, Exception):
                        self.failed.append(ConnectAttempt(ip, self.port, err))
                        next_at = loop.time()  # a failure starts the next attempt at once
                    else:
                        raise err
                if winner is not None:
                    return winner.result()
        finally:
            await self._reap(dns, attempts)

    def _pick(self, queues: dict[int, deque[IPAddress]], last: int | None) -> int:
        """The family of the next attempt: alternate, preferred first."""
        if last is None:
            return self.preferred if queues[self.preferred] else 10 - self.preferred
        other = 10 - last
        return other if queues[other] else last

    def _take_dns(self, task: asyncio.Task[list[IPAddress]], queue: deque[IPAddress]) -> None:
        if task.cancelled():
            self.dns_errors.append(DnsError(f"DNS lookup of {self.host!r} was cancelled"))
            return
        err = task.exception()
        if err is None:
            queue.extend(task.result())
        elif isinstance(err, DnsError):
            self.dns_errors.append(err)
        else:
            raise err

    def _failure(self) -> Exception:
        """The error to raise when nothing is left to try."""
        if self.failed:
            group = ExceptionGroup(
                f"connect attempts to {self.host}:{self.port}",
                [a.error for a in self.failed] + list(self.dns_errors),
            )
            note = "; ".join(str(e) for e in self.dns_errors)
            err: Exception = ConnectAttemptsError(
                self.host, self.port, tuple(self.failed), note=note
            )
            err.__cause__ = group
            return err
        if len(self.dns_errors) == 1:
            return self.dns_errors[0]
        rtype = {IpMode.IPV4: "A", IpMode.IPV6: "AAAA"}.get(self.ip_mode, "A+AAAA")
        if all(isinstance(e, DnsNoRecordsError) for e in self.dns_errors):
            nx = any(isinstance(e, DnsNoRecordsError) and e.nxdomain for e in self.dns_errors)
            err = DnsNoRecordsError(self.host, rtype, nxdomain=nx)
        else:
            detail = "; ".join(str(e) for e in self.dns_errors)
            err = DnsError(f"could not resolve {self.host!r} ({rtype}): {detail}")
        if self.dns_errors:
            err.__cause__ = ExceptionGroup(f"DNS lookups of {self.host!r}", self.dns_errors)
        return err

    async def _close_quietly(self, conn: T) -> None:
        with contextlib.suppress(Exception):
            await self.close(conn)

    async def _reap(
        self,
        dns: dict[asyncio.Task[list[IPAddress]], int],
        attempts: dict[asyncio.Task[T], IPAddress],
    ) -> None:
        """Cancel what is still running; close any connection made after the race ended."""
        tasks: list[asyncio.Task[Any]] = [*dns, *attempts]
        if not tasks:
            return
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks)
        for t in tasks:
            if t.cancelled():
                continue
            err = t.exception()  # retrieve it, so asyncio does not log it as lost
            if err is None and t in attempts:
                await self._close_quietly(t.result())
