"""Happy eyeballs: ordering, staggering, losers cancelled and closed, failures aggregated."""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrama_core.errors import ConfigError, PyramaTimeoutError
from pyrama_net import (
    ConnectAttemptsError,
    ConnectTimeoutError,
    DnsNoRecordsError,
    IpMode,
    StaticResolver,
    happy_eyeballs_connect,
)
from pyrama_net.errors import ConnectError, DnsError

IP = IPv4Address | IPv6Address
GUARD = 10.0  # hang guard only, never a timing assertion

V6 = ["2001:db8::1", "2001:db8::2"]
V4 = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]


@dataclass
class Conn:
    ip: IP
    closed: bool = False

    async def close(self) -> None:
        self.closed = True


@dataclass
class Recorder:
    """A connect_one whose behaviour per address is scripted: "ok", "fail" or "hang"."""

    script: dict[str, str] = field(default_factory=dict)
    default: str = "fail"
    calls: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    made: list[Conn] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, ip: IP, port: int) -> Conn:
        assert port == 443
        self.calls.append(str(ip))
        self.started.set()
        action = self.script.get(str(ip), self.default)
        try:
            await asyncio.sleep(0)
            if action == "hang":
                await asyncio.Event().wait()
            if action == "fail":
                raise ConnectionRefusedError(111, f"refused by {ip}")
        except asyncio.CancelledError:
            self.cancelled.append(str(ip))
            raise
        conn = Conn(ip)
        self.made.append(conn)
        return conn


class GatedResolver:
    """Answers from fixed lists; each family can be held back until its gate opens."""

    def __init__(self, v6: list[str] | Exception, v4: list[str] | Exception) -> None:
        self.v6, self.v4 = v6, v4
        self.gate6 = asyncio.Event()
        self.gate4 = asyncio.Event()
        self.gate6.set()
        self.gate4.set()
        self.answered4 = asyncio.Event()
        self.asked: list[str] = []
        self.cancelled: list[str] = []

    async def _answer(
        self, rtype: str, gate: asyncio.Event, value: list[str] | Exception
    ) -> list[IP]:
        self.asked.append(rtype)
        try:
            await gate.wait()
        except asyncio.CancelledError:
            self.cancelled.append(rtype)
            raise
        if isinstance(value, Exception):
            raise value
        return [ip_address(v) for v in value]

    async def ipv4_lookup(self, name: str, /) -> list[IPv4Address]:
        out = await self._answer("A", self.gate4, self.v4)
        self.answered4.set()
        return [a for a in out if isinstance(a, IPv4Address)]

    async def ipv6_lookup(self, name: str, /) -> list[IPv6Address]:
        out = await self._answer("AAAA", self.gate6, self.v6)
        return [a for a in out if isinstance(a, IPv6Address)]

    async def txt_lookup(self, name: str, /) -> list[bytes]:
        raise AssertionError("not used")


async def connect(
    resolver: object, rec: Callable[[IP, int], Awaitable[Conn]], **kw: object
) -> Conn:
    async with asyncio.timeout(GUARD):
        return await happy_eyeballs_connect(
            "dual.test",
            443,
            resolver=resolver,  # type: ignore[arg-type]
            connect_one=rec,
            **kw,  # type: ignore[arg-type]
        )


# --- ordering ---------------------------------------------------------------------------------


async def test_interleaves_ipv6_first_and_aggregates_failures() -> None:
    rec = Recorder()
    with pytest.raises(ConnectAttemptsError) as info:
        await connect(GatedResolver(V6, V4), rec, attempt_delay=0)
    expected = ["2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2", "192.0.2.3"]
    assert rec.calls == expected
    err = info.value
    assert isinstance(err, ConnectError)
    assert [str(a.ip) for a in err.attempts] == expected
    assert all(isinstance(a.error, ConnectionRefusedError) for a in err.attempts)
    assert "[2001:db8::1]:443" in str(err)
    assert "192.0.2.3:443" in str(err)
    assert isinstance(err.__cause__, ExceptionGroup)
    assert len(err.__cause__.exceptions) == 5


async def test_prefer_ipv4_mode() -> None:
    rec = Recorder()
    with pytest.raises(ConnectAttemptsError):
        await connect(GatedResolver(V6, V4), rec, attempt_delay=0, ip_mode=IpMode.DUAL_PREFER_IPV4)
    assert rec.calls == ["192.0.2.1", "2001:db8::1", "192.0.2.2", "2001:db8::2", "192.0.2.3"]


async def test_single_family_modes_skip_the_other_lookup() -> None:
    resolver = GatedResolver(V6, V4)
    rec = Recorder(default="ok")
    conn = await connect(resolver, rec, ip_mode=IpMode.IPV4)
    assert conn.ip == IPv4Address("192.0.2.1")
    assert resolver.asked == ["A"]
    resolver6 = GatedResolver(V6, V4)
    conn6 = await connect(resolver6, Recorder(default="ok"), ip_mode=IpMode.IPV6)
    assert conn6.ip == IPv6Address("2001:db8::1")
    assert resolver6.asked == ["AAAA"]


async def test_sequential_fallback_with_infinite_attempt_delay() -> None:
    rec = Recorder(script={"192.0.2.2": "ok"})
    conn = await connect(GatedResolver([], V4), rec, attempt_delay=math.inf)
    assert conn.ip == IPv4Address("192.0.2.2")
    assert rec.calls == ["192.0.2.1", "192.0.2.2"]


# --- racing -------------------------------------------------------------------------------------


async def test_first_success_wins_and_losers_are_cancelled() -> None:
    rec = Recorder(script={"2001:db8::1": "hang", "192.0.2.1": "ok"})
    conn = await connect(GatedResolver(V6[:1], V4[:1]), rec, attempt_delay=0.01)
    assert conn.ip == IPv4Address("192.0.2.1")
    assert rec.cancelled == ["2001:db8::1"]
    assert not conn.closed


async def test_simultaneous_successes_keep_one_and_close_the_rest() -> None:
    rec = Recorder(default="ok")
    conn = await connect(GatedResolver(V6, V4), rec, attempt_delay=0)
    assert conn.ip == IPv6Address("2001:db8::1")
    assert len(rec.made) >= 1
    for other in rec.made:
        assert other.closed == (other is not conn)


async def test_custom_close_is_used_for_losers() -> None:
    rec = Recorder(default="ok")
    closed: list[IP] = []

    async def close(c: Conn) -> None:
        closed.append(c.ip)

    conn = await connect(GatedResolver(V6, V4), rec, attempt_delay=0, close=close)
    assert sorted(map(str, closed)) == sorted(str(c.ip) for c in rec.made if c is not conn)
    assert not any(c.closed for c in rec.made)


async def test_attempt_delay_staggers_while_an_attempt_is_pending() -> None:
    rec = Recorder(default="hang")
    task = asyncio.create_task(connect(GatedResolver(V6, V4), rec, attempt_delay=3600))
    await asyncio.wait_for(rec.started.wait(), GUARD)
    for _ in range(20):
        await asyncio.sleep(0.005)
    assert rec.calls == ["2001:db8::1"]  # the next attempt waits for the delay (an hour)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rec.cancelled == ["2001:db8::1"]


async def test_failure_starts_next_attempt_without_waiting_for_the_delay() -> None:
    rec = Recorder(script={"192.0.2.1": "ok"})
    conn = await connect(GatedResolver(V6[:1], V4), rec, attempt_delay=3600)
    assert conn.ip == IPv4Address("192.0.2.1")
    assert rec.calls == ["2001:db8::1", "192.0.2.1"]


async def test_next_attempt_starts_after_the_delay() -> None:
    rec = Recorder(script={"2001:db8::1": "hang", "192.0.2.1": "ok"})
    conn = await connect(GatedResolver(V6[:1], V4[:1]), rec, attempt_delay=0.02)
    assert conn.ip == IPv4Address("192.0.2.1")
    assert rec.calls == ["2001:db8::1", "192.0.2.1"]


# --- resolution delay -------------------------------------------------------------------------


async def test_waits_resolution_delay_for_aaaa_after_a() -> None:
    resolver = GatedResolver(V6[:1], V4[:1])
    resolver.gate6.clear()
    rec = Recorder(default="ok")
    task = asyncio.create_task(connect(resolver, rec, resolution_delay=3600))
    await asyncio.wait_for(resolver.answered4.wait(), GUARD)
    for _ in range(10):
        await asyncio.sleep(0)
    assert rec.calls == []  # A is known, but we wait for AAAA (up to an hour)
    resolver.gate6.set()
    conn = await task
    assert conn.ip == IPv6Address("2001:db8::1")


async def test_gives_up_on_slow_aaaa_after_resolution_delay() -> None:
    resolver = GatedResolver(V6[:1], V4[:1])
    resolver.gate6.clear()  # AAAA never answers
    rec = Recorder(default="ok")
    conn = await connect(resolver, rec, resolution_delay=0.01)
    assert conn.ip == IPv4Address("192.0.2.1")
    assert resolver.cancelled == ["AAAA"]


async def test_late_aaaa_answers_join_the_race() -> None:
    resolver = GatedResolver(V6[:1], V4[:1])
    resolver.gate6.clear()
    rec = Recorder(script={"192.0.2.1": "hang", "2001:db8::1": "ok"})
    task = asyncio.create_task(connect(resolver, rec, resolution_delay=0, attempt_delay=0))
    await asyncio.wait_for(rec.started.wait(), GUARD)
    assert rec.calls == ["192.0.2.1"]
    resolver.gate6.set()
    conn = await task
    assert conn.ip == IPv6Address("2001:db8::1")
    assert rec.cancelled == ["192.0.2.1"]


async def test_aaaa_failure_does_not_stop_ipv4() -> None:
    resolver = GatedResolver(DnsNoRecordsError("dual.test", "AAAA"), V4[:1])
    conn = await connect(resolver, Recorder(default="ok"))
    assert conn.ip == IPv4Address("192.0.2.1")


async def test_failed_attempts_report_dns_errors_too() -> None:
    resolver = GatedResolver(DnsError("AAAA lookup broke"), V4[:1])
    with pytest.raises(ConnectAttemptsError, match="AAAA lookup broke") as info:
        await connect(resolver, Recorder())
    assert len(info.value.attempts) == 1


async def test_no_addresses_raises_dns_error() -> None:
    both_empty = GatedResolver(
        DnsNoRecordsError("dual.test", "AAAA"), DnsNoRecordsError("dual.test", "A", nxdomain=True)
    )
    with pytest.raises(DnsNoRecordsError) as info:
        await connect(both_empty, Recorder())
    assert info.value.record_type == "A+AAAA"
    assert info.value.nxdomain
    mixed = GatedResolver(DnsError("server failure"), DnsNoRecordsError("dual.test", "A"))
    with pytest.raises(DnsError, match="server failure") as err:
        await connect(mixed, Recorder())
    assert not isinstance(err.value, DnsNoRecordsError)
    only4 = GatedResolver(V6, DnsNoRecordsError("dual.test", "A"))
    with pytest.raises(DnsNoRecordsError):
        await connect(only4, Recorder(), ip_mode=IpMode.IPV4)


# --- literals, timeout, cancellation, config -----------------------------------------------------


class NoDns:
    async def ipv4_lookup(self, name: str, /) -> list[IPv4Address]:
        raise AssertionError("looked up an IP literal")

    async def ipv6_lookup(self, name: str, /) -> list[IPv6Address]:
        raise AssertionError("looked up an IP literal")

    async def txt_lookup(self, name: str, /) -> list[bytes]:
        raise AssertionError("looked up an IP literal")


@pytest.mark.parametrize("literal", ["192.0.2.50", "2001:db8::50", "[2001:db8::50]"])
async def test_ip_literal_skips_dns(literal: str) -> None:
    rec = Recorder(default="ok")
    conn = await happy_eyeballs_connect(literal, 443, resolver=NoDns(), connect_one=rec)
    assert conn.ip == ip_address(literal.strip("[]"))
    with pytest.raises(ConnectAttemptsError) as info:
        await happy_eyeballs_connect(literal, 443, resolver=NoDns(), connect_one=Recorder())
    assert len(info.value.attempts) == 1


async def test_ip_literal_is_one_direct_attempt_without_tasks() -> None:
    loop = asyncio.get_running_loop()
    made: list[object] = []
    loop.set_task_factory(lambda lp, coro: made.append(coro) or asyncio.Task(coro, loop=lp))  # type: ignore[arg-type,func-returns-value]
    try:
        conn = await happy_eyeballs_connect(
            "192.0.2.50", 443, resolver=NoDns(), connect_one=Recorder(default="ok"), timeout=GUARD
        )
    finally:
        loop.set_task_factory(None)
    assert conn.ip == ip_address("192.0.2.50")
    assert made == []


async def test_ip_literal_failure_has_the_shape_of_a_lost_race() -> None:
    with pytest.raises(ConnectAttemptsError) as info:
        await happy_eyeballs_connect("192.0.2.50", 443, resolver=NoDns(), connect_one=Recorder())
    err = info.value
    assert [str(a.ip) for a in err.attempts] == ["192.0.2.50"]
    assert isinstance(err.attempts[0].error, ConnectionRefusedError)
    assert isinstance(err.__cause__, ExceptionGroup)
    assert err.__cause__.exceptions == (err.attempts[0].error,)
    assert err.__suppress_context__


async def test_ip_literal_attempt_is_bounded_by_the_timeout() -> None:
    rec = Recorder(default="hang")
    with pytest.raises(ConnectTimeoutError) as info:
        await happy_eyeballs_connect(
            "2001:db8::50", 443, resolver=NoDns(), connect_one=rec, timeout=0.05
        )
    assert info.value.attempts == ()
    assert rec.cancelled == ["2001:db8::50"]


@pytest.mark.parametrize("how", ["cancel", "timeout"])
async def test_ip_literal_connection_made_after_cancellation_is_closed(how: str) -> None:
    gate = asyncio.Event()
    made: list[Conn] = []

    async def stubborn(ip: IP, port: int) -> Conn:
        with contextlib.suppress(asyncio.CancelledError):
            await gate.wait()  # finishes connecting anyway, after being cancelled
        conn = Conn(ip)
        made.append(conn)
        return conn

    kw: dict[str, object] = {"timeout": 0.05} if how == "timeout" else {}
    task = asyncio.create_task(
        happy_eyeballs_connect(
            "192.0.2.50",
            443,
            resolver=NoDns(),
            connect_one=stubborn,
            **kw,  # type: ignore[arg-type]
        )
    )
    for _ in range(10):
        await asyncio.sleep(0)
    if how == "cancel":
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        with pytest.raises(ConnectTimeoutError):
            await task
    assert len(made) == 1
    assert made[0].closed


async def test_timeout_cancels_attempts_and_lists_failures() -> None:
    rec = Recorder(script={"2001:db8::1": "fail"}, default="hang")
    with pytest.raises(ConnectTimeoutError) as info:
        await connect(GatedResolver(V6[:1], V4[:1]), rec, attempt_delay=0, timeout=0.05)
    err = info.value
    assert isinstance(err, ConnectError)
    assert isinstance(err, PyramaTimeoutError)
    assert isinstance(err, TimeoutError)
    assert [str(a.ip) for a in err.attempts] == ["2001:db8::1"]
    assert rec.cancelled == ["192.0.2.1"]


async def test_timeout_covers_dns() -> None:
    resolver = GatedResolver(V6, V4)
    resolver.gate4.clear()
    resolver.gate6.clear()
    with pytest.raises(ConnectTimeoutError):
        await connect(resolver, Recorder(), timeout=0.05)
    assert sorted(resolver.cancelled) == ["A", "AAAA"]


async def test_inner_timeout_errors_are_attempt_failures_not_deadlines() -> None:
    async def times_out(ip: IP, port: int) -> Conn:
        raise TimeoutError("connect syscall timed out")

    with pytest.raises(ConnectAttemptsError):
        await connect(GatedResolver([], V4[:1]), times_out, timeout=GUARD)


async def test_outer_cancellation_closes_connection_made_during_cleanup() -> None:
    gate = asyncio.Event()
    made: list[Conn] = []

    async def stubborn(ip: IP, port: int) -> Conn:
        with contextlib.suppress(asyncio.CancelledError):
            await gate.wait()  # finishes connecting anyway, after being cancelled
        conn = Conn(ip)
        made.append(conn)
        return conn

    task = asyncio.create_task(connect(GatedResolver([], V4[:1]), stubborn))
    for _ in range(10):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(made) == 1
    assert made[0].closed


async def test_config_validation() -> None:
    with pytest.raises(ConfigError):
        await connect(NoDns(), Recorder(), attempt_delay=-1)
    with pytest.raises(ConfigError):
        await connect(NoDns(), Recorder(), resolution_delay=-0.1)
    with pytest.raises(ConfigError):
        await connect(NoDns(), Recorder(), timeout=0)


# --- real sockets on loopback -----------------------------------------------------------------


@pytest.fixture
async def v4_listener() -> AsyncIterator[int]:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


async def test_loopback_ipv6_refused_then_ipv4_connects(v4_listener: int) -> None:
    port = v4_listener
    loop = asyncio.get_running_loop()
    tried: list[str] = []

    async def tcp_connect(ip: IP, p: int) -> socket.socket:
        tried.append(str(ip))
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (str(ip), p))
        except BaseException:
            sock.close()
            raise
        return sock

    resolver = StaticResolver({"dual.test": ["::1", "127.0.0.1"]})
    async with asyncio.timeout(GUARD):
        sock = await happy_eyeballs_connect(
            "dual.test", port, resolver=resolver, connect_one=tcp_connect
        )
    try:
        assert sock.getpeername() == ("127.0.0.1", port)
        assert tried == ["::1", "127.0.0.1"]
    finally:
        sock.close()


# --- property: every address is tried once, families alternate, preferred first ---------------


def _expected_order(v6: list[str], v4: list[str], first: list[str]) -> list[str]:
    a, b = (v6, v4) if first is v6 else (v4, v6)
    out: list[str] = []
    for i in range(max(len(a), len(b))):
        out += a[i : i + 1] + b[i : i + 1]
    return out


@settings(max_examples=60, deadline=None)
@given(
    n6=st.integers(min_value=0, max_value=4),
    n4=st.integers(min_value=0, max_value=4),
    prefer_v4=st.booleans(),
)
def test_all_fail_order_property(n6: int, n4: int, prefer_v4: bool) -> None:
    v6 = [f"2001:db8::{i + 1}" for i in range(n6)]
    v4 = [f"192.0.2.{i + 1}" for i in range(n4)]
    mode = IpMode.DUAL_PREFER_IPV4 if prefer_v4 else IpMode.DUAL
    rec = Recorder()

    async def run() -> None:
        resolver = GatedResolver(
            v6 or DnsNoRecordsError("x", "AAAA"), v4 or DnsNoRecordsError("x", "A")
        )
        if not v6 and not v4:
            with pytest.raises(DnsNoRecordsError):
                await connect(resolver, rec, attempt_delay=0, ip_mode=mode)
            return
        with pytest.raises(ConnectAttemptsError) as info:
            await connect(resolver, rec, attempt_delay=0, ip_mode=mode)
        assert [str(a.ip) for a in info.value.attempts] == rec.calls

    asyncio.run(run())
    assert rec.calls == _expected_order(v6, v4, v4 if prefer_v4 else v6)
