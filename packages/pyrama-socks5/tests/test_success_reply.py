"""The SOCKS5 success reply built from the raw socket address equals the general encoding."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pyrama_core import Extensions
from pyrama_net import EstablishedConnection, SocketInfo
from pyrama_socks5._proto import Reply, ReplyCode
from pyrama_socks5._server import _established_local, _success_reply


def _established(local: Any, family: socket.AddressFamily) -> EstablishedConnection[Any, Any]:
    ext = Extensions()
    ext.insert(SocketInfo(local=local, peer=local, family=family))
    return EstablishedConnection(conn=None, target=None, extensions=ext)


def _general(est: EstablishedConnection[Any, Any]) -> bytes:
    return Reply(ReplyCode.SUCCEEDED, _established_local(est)).encode()


ports = st.integers(min_value=0, max_value=65535)


@given(st.ip_addresses(v=4), ports)
def test_ipv4_fast_path_matches_general_encoding(ip: IPv4Address, port: int) -> None:
    est = _established((str(ip), port), socket.AF_INET)
    assert _success_reply(est) == _general(est)
    assert _success_reply(est)[3] == 0x01


@given(st.ip_addresses(v=6), ports, st.integers(0, 2**20 - 1))
def test_ipv6_fast_path_matches_general_encoding(ip: IPv6Address, port: int, flow: int) -> None:
    est = _established((str(ip), port, flow, 0), socket.AF_INET6)
    assert _success_reply(est) == _general(est)
    assert _success_reply(est)[3] == 0x04


def test_zone_and_missing_info_take_the_general_path() -> None:
    zoned = _established(("fe80::1%lo", 1080, 0, 1), socket.AF_INET6)
    assert _success_reply(zoned) == _general(zoned)
    unix = _established("/tmp/sock", socket.AF_UNIX)
    assert _success_reply(unix) == _general(unix) == b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    bare: EstablishedConnection[Any, Any] = EstablishedConnection(
        conn=None, target=None, extensions=Extensions()
    )
    assert _success_reply(bare) == b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"
