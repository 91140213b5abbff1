"""The server records the client's first frames (Akamai inputs); the client reproduces them."""

from __future__ import annotations

import asyncio

import pytest
from h2_support import h2_pair, loopback_server

from pyrama_http_core import (
    H2ClientConfig,
    H2ClientFingerprintData,
    H2PseudoHeaderOrder,
    H2ServerConfig,
)
from pyrama_http_types import AkamaiH2Fingerprint, H2Priority, Request, Response
from pyrama_testing import require_peer

CHROME = "1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p"
FIREFOX = (
    "1:65536;4:131072;5:16384|12517377|"
    "3:0:0:201,5:0:0:101,7:0:0:1,9:0:7:1,11:0:3:1,13:0:0:241|m,p,a,s"
)


class Recorder:
    """A service that keeps what the driver put in each request's extensions."""

    def __init__(self) -> None:
        self.fingerprints: list[H2ClientFingerprintData] = []
        self.orders: list[H2PseudoHeaderOrder] = []

    async def serve(self, req: Request) -> Response:
        self.fingerprints.append(req.extensions.require(H2ClientFingerprintData))
        self.orders.append(req.extensions.require(H2PseudoHeaderOrder))
        return Response.text("ok")


@pytest.mark.parametrize("text", [CHROME, FIREFOX, "2:0;4:65535|00|0|m,s,p,a"])
async def test_client_reproduces_and_server_records_akamai(text: str) -> None:
    rec = Recorder()
    cfg = H2ClientConfig.from_akamai(AkamaiH2Fingerprint.parse(text))
    async with h2_pair(rec, H2ServerConfig(), cfg) as (client, _):
        for _ in range(2):
            resp = await client.send_request(Request("GET", "https://example.test/"))
            assert resp.status == 200
    first = rec.fingerprints[0]
    assert first.complete
    assert str(first.akamai()) == text
    assert rec.fingerprints[1] is first  # one record per connection, shared by its requests
    assert rec.orders[0] == rec.orders[1] == H2PseudoHeaderOrder(cfg.pseudo_header_order)


async def test_requests_start_above_priority_stream_ids() -> None:
    rec = Recorder()
    cfg = H2ClientConfig.from_akamai(AkamaiH2Fingerprint.parse(FIREFOX))
    async with h2_pair(rec, None, cfg) as (client, _):
        await client.send_request(Request("GET", "https://example.test/"))
        assert client.conn.highest_outbound_stream_id == 15


async def test_request_pseudo_header_order_override() -> None:
    rec = Recorder()
    order = H2PseudoHeaderOrder((":path", ":scheme", ":method", ":authority"))
    async with h2_pair(rec) as (client, _):
        req = Request("GET", "https://example.test/q")
        req.extensions.insert(order)
        await client.send_request(req)
        await client.send_request(Request("GET", "https://example.test/q"))
    assert rec.orders[0] == order
    assert rec.orders[1] == H2PseudoHeaderOrder((":method", ":authority", ":scheme", ":path"))
    assert rec.fingerprints[0].pseudo_header_order == order.order


async def test_headers_priority_is_sent_and_recorded() -> None:
    rec = Recorder()
    prio = H2Priority(0, True, 0, 256)
    async with h2_pair(rec, None, H2ClientConfig(headers_priority=prio)) as (client, _):
        await client.send_request(Request("GET", "https://example.test/"))
    fp = rec.fingerprints[0]
    assert fp.headers_priority == H2Priority(1, True, 0, 256)
    assert fp.priorities == []  # the HEADERS' priority is not a PRIORITY frame


async def test_default_client_settings_fingerprint() -> None:
    rec = Recorder()
    async with h2_pair(rec) as (client, _):
        await client.send_request(Request("GET", "https://example.test/"))
    assert str(rec.fingerprints[0].akamai()) == "2:0;4:1048576;6:262144|4128769|0|m,a,s,p"


@pytest.mark.peer("curl")
async def test_curl_fingerprint_is_recorded() -> None:
    curl = require_peer("curl")
    rec = Recorder()
    async with loopback_server(rec) as srv:
        proc = await asyncio.create_subprocess_exec(
            curl,
            "-sS",
            "--http2-prior-knowledge",
            f"http://127.0.0.1:{srv.port}/",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err
        assert out == b"ok"
    fp = rec.fingerprints[0]
    assert fp.complete
    assert (2, 0) in fp.settings  # curl (nghttp2) disables push
    assert set(fp.pseudo_header_order) == {":method", ":path", ":scheme", ":authority"}
    assert fp.window_update is not None
    akamai = fp.akamai()
    assert AkamaiH2Fingerprint.parse(str(akamai)) == akamai
