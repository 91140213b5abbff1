"""Parsing ``--bind``: every documented form, errors, and round-trip properties."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama.cli._bind import parse_bind
from pyrama_net import Authority


def hp(text: str, default_port: int = 8080) -> tuple[str, int]:
    a = parse_bind(text, default_port=default_port)
    return str(a.host), a.port


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9000", ("127.0.0.1", 9000)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("[::1]:9000", ("::1", 9000)),
        ("[::]:443", ("::", 443)),
        ("[::1]", ("::1", 8080)),
        ("::1", ("::1", 8080)),
        ("fe80::1%eth0", ("fe80::1%eth0", 8080)),
        ("10.1.2.3", ("10.1.2.3", 8080)),
        ("9000", ("127.0.0.1", 9000)),
        (":9000", ("127.0.0.1", 9000)),
        ("0", ("127.0.0.1", 0)),
        ("localhost:81", ("localhost", 81)),
        ("localhost", ("localhost", 8080)),
    ],
)
def test_accepted_forms(text: str, expected: tuple[str, int]) -> None:
    assert hp(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        (" 127.0.0.1:80", "spaces"),
        ("example.com:80", "not a domain name"),
        ("127.0.0.1:65536", "65536"),
        ("70000", "not a port"),
        (":", "invalid"),
        ("127.0.0.1:", "invalid"),
        ("127.0.0.1:-1", "invalid"),
        ("[::1", "invalid"),
        ("[::1]x", "invalid"),
        ("1.2.3:80", "invalid"),
        ("::1:80:zz", r"\[ADDRESS\]:PORT"),
        ("999999", "not a port"),
    ],
)
def test_rejected_forms(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_bind(text, default_port=8080)


@given(st.ip_addresses(), st.integers(0, 65535))
def test_round_trips_authority_text(ip: IPv4Address | IPv6Address, port: int) -> None:
    text = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
    a = parse_bind(text, default_port=1)
    assert a.host.ip == ip
    assert a.port == port
    assert parse_bind(str(a), default_port=1) == a


@given(st.integers(0, 65535), st.integers(0, 65535))
def test_port_only_forms_bind_loopback(port: int, default: int) -> None:
    for text in (str(port), f":{port}"):
        a = parse_bind(text, default_port=default)
        assert a == Authority.parse(f"127.0.0.1:{port}")


@given(st.text(max_size=40))
def test_arbitrary_text_parses_or_raises_value_error(text: str) -> None:
    try:
        a = parse_bind(text, default_port=8080)
    except ValueError:
        return
    assert 0 <= a.port <= 65535
    assert a.host.is_ip or a.host.is_loopback
