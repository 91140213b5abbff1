"""Connector protocol pieces: EstablishedConnection, targets, connect errors."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core import Extensions, Service, service_fn
from pyrama_core.errors import PyramaTimeoutError
from pyrama_net import (
    ConnectAttempt,
    ConnectAttemptsError,
    Connector,
    ConnectTimeoutError,
    EstablishedConnection,
    target_host_port,
)
from pyrama_net.errors import ConnectError


@dataclass(frozen=True)
class FakeAuthority:
    host: object
    port: int


async def test_a_service_fn_is_a_connector() -> None:
    async def connect(target: tuple[str, int]) -> EstablishedConnection[tuple[str, int], str]:
        ext = Extensions()
        ext.insert(7)
        return EstablishedConnection(conn=f"conn-to-{target[0]}", target=target, extensions=ext)

    connector: Connector[tuple[str, int], str] = service_fn(connect)
    assert isinstance(connector, Service)
    est = await connector.serve(("example.com", 443))
    assert est.conn == "conn-to-example.com"
    assert est.target == ("example.com", 443)
    assert est.extensions.get(int) == 7


def test_established_connection_defaults_to_fresh_extensions() -> None:
    a = EstablishedConnection(conn=1, target="t")
    b = EstablishedConnection(conn=2, target="t")
    assert a.extensions is not b.extensions
    assert len(a.extensions) == 0


def test_target_host_port_accepts_tuples_and_host_port_objects() -> None:
    assert target_host_port(("example.com", 80)) == ("example.com", 80)
    assert target_host_port(("[::1]", 8080)) == ("::1", 8080)
    assert target_host_port(FakeAuthority(IPv6Address("::1"), 1)) == ("::1", 1)
    assert target_host_port(FakeAuthority(IPv4Address("10.0.0.1"), 65535)) == ("10.0.0.1", 65535)


@pytest.mark.parametrize(
    "target",
    [("", 80), ("[]", 80), ("h", 0), ("h", 65536), ("h", True), ("h", "80"), ("h", 80, 1)],
)
def test_target_host_port_rejects_bad_targets(target: object) -> None:
    with pytest.raises(ConnectError):
        target_host_port(target)  # type: ignore[arg-type]


@given(st.ip_addresses(), st.integers(min_value=1, max_value=65535))
def test_target_host_port_roundtrips_ips(ip: IPv4Address | IPv6Address, port: int) -> None:
    text = f"[{ip}]" if ip.version == 6 else str(ip)
    assert target_host_port((text, port)) == (str(ip), port)
    assert target_host_port(FakeAuthority(ip, port)) == (str(ip), port)


def test_connect_errors_describe_attempts() -> None:
    attempts = (
        ConnectAttempt(IPv6Address("::1"), 80, ConnectionRefusedError(111, "refused")),
        ConnectAttempt(IPv4Address("127.0.0.1"), 80, OSError(113, "no route")),
    )
    err = ConnectAttemptsError("example.com", 80, attempts)
    assert isinstance(err, ConnectError)
    assert isinstance(err, ConnectionError)
    assert "example.com:80" in str(err)
    assert "[::1]:80: ConnectionRefusedError" in str(err)
    assert "127.0.0.1:80: OSError" in str(err)
    assert err.attempts == attempts

    timeout = ConnectTimeoutError("example.com", 80, 1.5, attempts[:1])
    assert isinstance(timeout, ConnectError)
    assert isinstance(timeout, PyramaTimeoutError)
    assert isinstance(timeout, TimeoutError)
    assert timeout.seconds == 1.5
    assert "1.5s" in str(timeout)
    assert "[::1]:80" in str(timeout)
