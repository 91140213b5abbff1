"""NegotiatedTls: value semantics, and certificates converted only when asked for."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from OpenSSL import SSL
from tls_support import client_data, memory_pair_contexts, pki, server_data

from pyrama_testing import mock_stream_pair
from pyrama_tls import NegotiatedTls, TlsStream


def _facts(**kw: Any) -> NegotiatedTls:
    base: dict[str, Any] = {
        "role": "server",
        "version": "TLSv1.3",
        "cipher": "TLS_AES_128_GCM_SHA256",
        "alpn": "h2",
        "server_name": "example.test",
    }
    return NegotiatedTls(**{**base, **kw})


def test_value_semantics() -> None:
    a = _facts(peer_certificates=(pki().client.leaf,))
    b = _facts(peer_certificates=[pki().client.leaf])  # any iterable, kept as a tuple
    assert a == b
    assert hash(a) == hash(b)
    assert a != _facts()
    assert a.peer_certificate == pki().client.leaf
    assert _facts().peer_certificate is None
    assert _facts().peer_certificates == ()
    assert a.is_tls13
    assert not _facts(version="TLSv1.2").is_tls13
    assert a.session_reused is False
    assert a.group is None
    assert a.client_hello is None
    assert "alpn='h2'" in repr(a)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.alpn = "http/1.1"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del a.version  # type: ignore[misc]


@pytest.mark.parametrize("mutual", [False, True])
async def test_a_handshake_converts_certificates_only_when_asked(
    mutual: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"leaf": 0, "chain": 0}
    leaf_of = SSL.Connection.get_peer_certificate
    chain_of = SSL.Connection.get_peer_cert_chain

    def count_leaf(self: SSL.Connection, *args: Any, **kw: Any) -> Any:
        calls["leaf"] += 1
        return leaf_of(self, *args, **kw)

    def count_chain(self: SSL.Connection, *args: Any, **kw: Any) -> Any:
        calls["chain"] += 1
        return chain_of(self, *args, **kw)

    monkeypatch.setattr(SSL.Connection, "get_peer_certificate", count_leaf)
    monkeypatch.setattr(SSL.Connection, "get_peer_cert_chain", count_chain)
    server_kw: dict[str, Any] = {}
    client_kw: dict[str, Any] = {}
    if mutual:
        server_kw = {"client_auth": "required", "client_ca": [pki().ca.cert]}
        client_kw = {"client_certificate": pki().client}
    sctx, cctx = memory_pair_contexts(server_data(**server_kw), client_data(**client_kw))
    a, b = mock_stream_pair()
    server = TlsStream(a, SSL.Connection(sctx, None), role="server")
    client = TlsStream(b, SSL.Connection(cctx, None), role="client", server_name="localhost")
    sn, cn = await asyncio.gather(server.handshake(5), client.handshake(5))
    assert calls == {"leaf": 0, "chain": 0}  # nothing converted by the handshake itself
    expected = pki().client.leaf if mutual else None
    assert sn.peer_certificate == expected
    assert calls == {"leaf": 1, "chain": 0}  # the leaf alone
    # what the client presented, leaf first (its OpenSSL adds the CA it trusts to the chain)
    if mutual:
        assert sn.peer_certificates[0] == expected
        assert sn.peer_certificates[1:] == (pki().ca.cert,)
    else:
        assert sn.peer_certificates == ()
    assert sn.peer_certificate is (sn.peer_certificates[0] if mutual else None)
    assert calls["chain"] == (1 if mutual else 0)
    # the client side sees the server's chain, leaf first
    assert cn.peer_certificates[0] == pki().server.leaf
    assert cn.peer_certificate == pki().server.leaf
    assert sn == sn
    assert hash(sn) == hash(sn)
