"""An HTTP/2 client connection whose TLS transport fails after the handshake (mTLS refusal)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from http_support import GUARD, acceptor_data, cert_files, running

from pyrama_http import EasyHttpWebClient, HttpVersionPolicy
from pyrama_http_core.errors import ConnectionClosedError
from pyrama_http_types import Request, Response, Version
from pyrama_tls import CertificateAuthority, ClientAuth, NegotiatedTls
from pyrama_tls.errors import TlsStreamError


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What reaches the loop's exception handler (e.g. "Task exception was never retrieved")."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    old = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: seen.append(ctx))
    yield seen
    loop.set_exception_handler(old)


async def who(req: Request) -> Response:
    neg = req.extensions.get(NegotiatedTls)
    assert neg is not None
    assert neg.peer_certificate is not None
    return Response.text(
        f"{neg.version} {neg.alpn} {neg.peer_certificate.subject.rfc4514_string()}"
    )


async def test_h2_request_fails_at_once_when_the_server_refuses_the_client_certificate(
    loop_errors: list[dict[str, Any]],
) -> None:
    ca = CertificateAuthority.generate("test client CA")
    client_cert = ca.issue_leaf(["client.test"], server_auth=False, client_auth=True)
    data = acceptor_data(client_auth=ClientAuth.REQUIRED, client_ca=[ca.cert])
    ca_file, _ = cert_files()
    async with running(who, tls=data) as srv:
        url = f"{srv.localhost_url()}/"
        # with a certificate: HTTP/2 over TLS 1.3 works
        async with EasyHttpWebClient(
            ca_file=ca_file,
            client_certificate=client_cert,
            version_policy=HttpVersionPolicy.HTTP2_ONLY,
        ) as client:
            resp = await asyncio.wait_for(client.serve(Request("GET", url)), GUARD)
            assert resp.version == Version.HTTP_2
            assert await resp.body.collect() == b"TLSv1.3 h2 CN=client.test"
        # without: TLS 1.3 lets the client finish its handshake first; the refusal (alert
        # "certificate required") then arrives as a read error on the HTTP/2 connection,
        # which must fail the request at once instead of leaving it hanging
        for policy in (HttpVersionPolicy.HTTP2_ONLY, HttpVersionPolicy.AUTO):
            async with EasyHttpWebClient(ca_file=ca_file, version_policy=policy) as client:
                with pytest.raises(ConnectionClosedError) as info:
                    await asyncio.wait_for(client.serve(Request("GET", url)), GUARD)
                cause = info.value.__cause__
                assert isinstance(cause, TlsStreamError)
                assert "certificate required" in str(cause)
                assert client.stats().h2_streams == 0
    for _ in range(3):
        gc.collect()  # finished tasks with unretrieved exceptions report when collected
        await asyncio.sleep(0.01)
    assert loop_errors == []
