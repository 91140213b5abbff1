"""Mutual TLS: client certificates required, optional, accepted and refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from tls_support import client_data, connect, echo, pki, read_all, server_data, tls_server

from pyrama_core.errors import Side
from pyrama_net import Stream
from pyrama_tcp import TcpListener
from pyrama_tls import ClientAuth, NegotiatedTls, TlsStream
from pyrama_tls.errors import TlsError, TlsHandshakeError


def _recording() -> tuple[list[NegotiatedTls], Callable[[Stream], Awaitable[None]]]:
    seen: list[NegotiatedTls] = []

    async def handler(stream: Stream) -> None:
        seen.append(stream.extensions.require(NegotiatedTls))
        await echo(stream)

    return seen, handler


async def _ping(tls: TlsStream) -> bytes:
    tls.write(b"ping")
    tls.write_eof()
    out = await read_all(tls)
    await tls.close()
    return out


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
async def test_required_client_certificate_accepted(version: str) -> None:
    seen, handler = _recording()
    data = server_data(client_auth=ClientAuth.REQUIRED, client_ca=[pki().ca.cert])
    async with tls_server(data, handler) as listener:
        tls = await connect(
            listener, client_data(client_certificate=pki().client, max_version=version)
        )
        assert await _ping(tls) == b"ping"
    (server,) = seen
    assert server.peer_certificate == pki().client.leaf
    assert server.version == version


async def _expect_refusal(listener: TcpListener, **client_kw: Any) -> TlsError:
    # TLS 1.3 clients finish their handshake before the server checks their certificate:
    # the refusal (an alert) then arrives with the first read
    try:
        tls = await connect(listener, client_data(**client_kw))
    except TlsHandshakeError as exc:
        return exc
    tls.write(b"ping")
    with pytest.raises(TlsError) as info:
        await read_all(tls)
    await tls.close()
    return info.value


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
async def test_required_client_certificate_missing_is_refused(version: str) -> None:
    data = server_data(client_auth="required", client_ca=[pki().ca.cert])
    seen, handler = _recording()
    async with tls_server(data, handler) as listener:
        err = await _expect_refusal(listener, max_version=version)
        assert "certificate required" in str(err) or "handshake failure" in str(err)
        # others are still served
        tls = await connect(listener, client_data(client_certificate=pki().client))
        assert await _ping(tls) == b"ping"
    assert len(seen) == 1  # the refused client never reached the service


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
async def test_client_certificate_from_another_ca_is_refused(version: str) -> None:
    data = server_data(client_auth=ClientAuth.REQUIRED, client_ca=[pki().ca.cert])
    seen, handler = _recording()
    async with tls_server(data, handler) as listener:
        err = await _expect_refusal(
            listener, client_certificate=pki().other_client, max_version=version
        )
        assert "unknown ca" in str(err)
        if isinstance(err, TlsHandshakeError):
            assert err.side is Side.REMOTE
    assert seen == []


async def test_optional_client_certificate() -> None:
    seen, handler = _recording()
    data = server_data(client_auth=ClientAuth.OPTIONAL, client_ca=[pki().ca.cert])
    async with tls_server(data, handler) as listener:
        tls = await connect(listener, client_data())
        assert await _ping(tls) == b"ping"
        tls = await connect(listener, client_data(client_certificate=pki().client))
        assert await _ping(tls) == b"ping"
        # a certificate that is present must still verify
        await _expect_refusal(listener, client_certificate=pki().other_client)
    assert [n.peer_certificate for n in seen] == [None, pki().client.leaf]


async def test_client_ca_from_a_pem_file(tmp_path: Path) -> None:
    ca_file = tmp_path / "clients.pem"
    ca_file.write_bytes(pki().ca.cert_pem())
    data = server_data(client_auth=ClientAuth.REQUIRED, client_ca_file=ca_file)
    async with tls_server(data) as listener:
        tls = await connect(listener, client_data(client_certificate=pki().client))
        assert await _ping(tls) == b"ping"
