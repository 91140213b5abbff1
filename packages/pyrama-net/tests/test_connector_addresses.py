"""Connect targets built from pyrama's own address types."""

from __future__ import annotations

from pyrama_net import Authority, SocketAddress, target_host_port


def test_target_host_port_with_pyrama_address_types() -> None:
    assert target_host_port(Authority.parse("example.com:443")) == ("example.com", 443)
    assert target_host_port(Authority.parse("[::1]:8443")) == ("::1", 8443)
    assert target_host_port(SocketAddress.parse("127.0.0.1:80")) == ("127.0.0.1", 80)
