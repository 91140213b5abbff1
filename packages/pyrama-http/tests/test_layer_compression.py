"""Compression layers: negotiation, streaming compression, decompression limits, loopback."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import zlib
from collections.abc import AsyncIterator

import brotli  # type: ignore[import-untyped]
import pytest
import zstandard
from http_support import GUARD, running
from hypothesis import example, given
from hypothesis import strategies as st

from pyrama_core import layers, service_fn
from pyrama_http import EasyHttpWebClient
from pyrama_http.layer import (
    CompressionLayer,
    DecodedContent,
    DecompressionLayer,
    ErrorToResponseLayer,
    RequestDecompressionLayer,
    negotiate_encoding,
    parse_accept_encoding,
)
from pyrama_http_types import Body, Request, Response
from pyrama_http_types.errors import BodyError, BodyTooLargeError

TEXT = b"pyrama compresses streaming bodies, chunk by chunk. " * 400


def decode(encoding: str, data: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    if encoding == "br":
        out: bytes = brotli.decompress(data)
        return out
    if encoding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def encode(encoding: str, data: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.compress(data)
    if encoding == "deflate":
        return zlib.compress(data)
    if encoding == "br":
        out: bytes = brotli.compress(data)
        return out
    return zstandard.ZstdCompressor().compress(data)


# -- negotiation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("gzip", "gzip"),
        ("gzip, br", "br"),  # tie: server preference (zstd, br, gzip, deflate)
        ("gzip;q=1, br;q=0.5", "gzip"),
        ("*", "zstd"),
        ("*;q=0.1, gzip;q=0", "zstd"),
        ("gzip;q=0", None),
        ("identity", None),
        ("identity;q=1, gzip;q=0.5", None),
        ("identity;q=0, gzip", "gzip"),
        ("x-gzip", "gzip"),
        ("GZIP", "gzip"),
        ("compress, sdch", None),
        ("", None),
        ("gzip;q=2", None),  # an invalid weight drops the element
        ("gzip;q=abc, br", "br"),
        ("deflate; q=0.8, gzip ; q=0.9", "gzip"),
    ],
)
def test_negotiate_encoding(accept: str, expected: str | None) -> None:
    assert negotiate_encoding([accept], ("zstd", "br", "gzip", "deflate")) == expected


def test_parse_accept_encoding_keeps_order_and_weights() -> None:
    assert parse_accept_encoding(["gzip;q=0.5, br", "zstd;q=0"]) == [
        ("gzip", 0.5),
        ("br", 1.0),
        ("zstd", 0.0),
    ]


codings = st.sampled_from(["gzip", "br", "zstd", "deflate", "identity", "*", "compress", "x-gzip"])
weights = st.one_of(st.none(), st.floats(0, 1).map(lambda q: f"{q:.3f}"), st.text(max_size=4))


@given(st.lists(st.tuples(codings, weights), max_size=8))
@example([("x-gzip", None), ("gzip", "0.250"), ("br", "0.500")])  # gzip named itself wins
@example([("x-gzip", None), ("gzip", "0.000")])  # an explicit gzip;q=0 refuses gzip
def test_negotiation_property(elements: list[tuple[str, str | None]]) -> None:
    header = ", ".join(c if q is None else f"{c};q={q}" for c, q in elements)
    supported = ("zstd", "br", "gzip")
    chosen = negotiate_encoding([header], supported)
    parsed = dict(reversed(parse_accept_encoding([header])))  # first mention wins
    assert chosen is None or chosen in supported
    if chosen is not None:
        q = parsed.get(chosen, parsed.get("x-gzip") if chosen == "gzip" else None)
        if q is None:
            q = parsed.get("*", 0.0)
        assert q > 0
        # nothing supported has a strictly higher weight
        for other in supported:
            oq = parsed.get(other, parsed.get("*", 0.0))
            assert oq <= q or (other == "gzip" and "x-gzip" in parsed)


@given(st.text(max_size=200))
def test_accept_encoding_parser_never_raises(text: str) -> None:
    for coding, q in parse_accept_encoding([text]):
        assert 0.0 <= q <= 1.0
        assert coding
        assert coding == coding.lower()


# -- server side --------------------------------------------------------------------------


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def handler(content_type: str = "text/plain", body: bytes = TEXT, status: int = 200):  # type: ignore[no-untyped-def]
    async def serve(req: Request) -> Response:
        return Response(
            status,
            headers=[("Content-Type", content_type), ("Content-Length", str(len(body)))],
            body=Body.from_iter(chunks(body, 1000), size_hint=len(body)),
        )

    return service_fn(serve)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
async def test_compresses_with_each_coding(encoding: str) -> None:
    svc = CompressionLayer().layer(handler())
    resp = await svc.serve(Request("GET", "/", headers=[("Accept-Encoding", encoding)]))
    assert resp.headers["content-encoding"] == encoding
    assert "content-length" not in resp.headers
    assert resp.headers["vary"] == "Accept-Encoding"
    data = await resp.body.collect()
    assert len(data) < len(TEXT) // 5
    assert decode(encoding, data) == TEXT


async def test_compression_streams_chunk_by_chunk() -> None:
    """The first compressed bytes go out before the handler produced its last chunk."""
    gate = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"first chunk of a long stream " * 10
        await gate.wait()
        yield b"second chunk " * 10

    async def serve(req: Request) -> Response:
        return Response(200, headers=[("Content-Type", "text/plain")], body=Body.from_iter(slow()))

    resp = (
        await CompressionLayer()
        .layer(service_fn(serve))
        .serve(Request("GET", "/", headers=[("Accept-Encoding", "gzip")]))
    )
    it = aiter(resp.body)
    first = await asyncio.wait_for(anext(it), GUARD)
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert d.decompress(first) == b"first chunk of a long stream " * 10
    gate.set()
    rest = b""
    with contextlib.suppress(StopAsyncIteration):
        while True:
            rest += await asyncio.wait_for(anext(it), GUARD)
    assert d.decompress(rest) == b"second chunk " * 10
    assert d.eof


@pytest.mark.parametrize(
    ("method", "content_type", "status", "extra", "body"),
    [
        ("GET", "image/png", 200, [], TEXT),
        ("GET", "text/event-stream", 200, [], TEXT),
        ("GET", "text/plain", 200, [("Content-Encoding", "br")], TEXT),
        ("GET", "text/plain", 200, [("Cache-Control", "no-transform")], TEXT),
        ("GET", "text/plain", 200, [], b"tiny"),
        ("GET", "text/plain", 204, [], b""),
        ("GET", "text/plain", 304, [], b""),
    ],
)
async def test_compression_skips(
    method: str, content_type: str, status: int, extra: list[tuple[str, str]], body: bytes
) -> None:
    async def serve(req: Request) -> Response:
        return Response(status, headers=[("Content-Type", content_type), *extra], body=body)

    resp = (
        await CompressionLayer()
        .layer(service_fn(serve))
        .serve(Request(method, "/", headers=[("Accept-Encoding", "gzip")]))
    )
    assert resp.headers.get_all("content-encoding") == [
        v for n, v in extra if n == "Content-Encoding"
    ]
    assert await resp.body.collect() == body


async def test_head_is_not_compressed() -> None:
    async def serve(req: Request) -> Response:
        return Response(200, headers=[("Content-Type", "text/plain")])

    resp = (
        await CompressionLayer()
        .layer(service_fn(serve))
        .serve(Request("HEAD", "/", headers=[("Accept-Encoding", "gzip")]))
    )
    assert "content-encoding" not in resp.headers
    assert resp.headers["vary"] == "Accept-Encoding"
    assert await resp.body.collect() == b""


async def test_vary_is_added_without_accept_encoding_too() -> None:
    resp = await CompressionLayer().layer(handler()).serve(Request("GET", "/"))
    assert "content-encoding" not in resp.headers
    assert resp.headers["vary"] == "Accept-Encoding"
    assert await resp.body.collect() == TEXT


# -- client side --------------------------------------------------------------------------


def compressed_upstream(encoding: str, data: bytes):  # type: ignore[no-untyped-def]
    async def serve(req: Request) -> Response:
        assert "gzip" in (req.headers.get("accept-encoding") or "")
        return Response(
            200,
            headers=[("Content-Encoding", encoding), ("Content-Length", str(len(data)))],
            body=Body.from_iter(chunks(data, 512), size_hint=len(data)),
        )

    return service_fn(serve)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
async def test_decompression_layer(encoding: str) -> None:
    svc = DecompressionLayer().layer(compressed_upstream(encoding, encode(encoding, TEXT)))
    resp = await svc.serve(Request("GET", "http://x/"))
    assert "content-encoding" not in resp.headers
    assert "content-length" not in resp.headers
    decoded = resp.extensions.require(DecodedContent)
    assert decoded.encodings == (encoding,)
    assert decoded.content_length == len(encode(encoding, TEXT))
    assert await resp.body.collect() == TEXT


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
async def test_zip_bomb_stops_at_the_limit(encoding: str) -> None:
    bomb = encode(encoding, b"\0" * (32 * 1024 * 1024))  # 32 MiB of zeros, a few KiB packed
    assert len(bomb) < 64 * 1024
    svc = DecompressionLayer(max_size=1024 * 1024).layer(compressed_upstream(encoding, bomb))
    resp = await svc.serve(Request("GET", "http://x/"))
    seen = 0

    async def drain() -> None:
        nonlocal seen
        async for chunk in resp.body:
            seen += len(chunk)

    with pytest.raises(BodyTooLargeError) as info:
        await drain()
    assert info.value.limit == 1024 * 1024
    assert seen <= 1024 * 1024


async def test_truncated_and_corrupt_streams_fail() -> None:
    data = encode("gzip", TEXT)
    svc = DecompressionLayer().layer(compressed_upstream("gzip", data[:-10]))
    with pytest.raises(BodyError, match="ended before"):
        await (await svc.serve(Request("GET", "http://x/"))).body.collect()
    svc = DecompressionLayer().layer(compressed_upstream("gzip", b"not gzip at all" * 5))
    with pytest.raises(BodyError, match="invalid gzip"):
        await (await svc.serve(Request("GET", "http://x/"))).body.collect()


async def test_unoffered_coding_is_left_alone() -> None:
    svc = DecompressionLayer(encodings=["gzip"]).layer(compressed_upstream("br", b"raw"))
    resp = await svc.serve(Request("GET", "http://x/"))
    assert resp.headers["content-encoding"] == "br"
    assert await resp.body.collect() == b"raw"


# -- request decompression ------------------------------------------------------------------


async def echo_len(req: Request) -> Response:
    data = await req.body.collect()
    return Response.text(f"{len(data)} {data[:10].decode()}")


async def test_request_decompression_and_its_limit() -> None:
    svc = layers(ErrorToResponseLayer(), RequestDecompressionLayer(max_size=100_000)).into(
        service_fn(echo_len)
    )
    ok = await svc.serve(
        Request("POST", "/", headers=[("Content-Encoding", "br")], body=encode("br", TEXT))
    )
    assert await ok.body.collect() == f"{len(TEXT)} pyrama com".encode()
    bomb = encode("gzip", b"a" * 10_000_000)
    big = await svc.serve(Request("POST", "/", headers=[("Content-Encoding", "gzip")], body=bomb))
    assert int(big.status) == 413
    unknown = await svc.serve(
        Request("POST", "/", headers=[("Content-Encoding", "compress")], body=b"xx")
    )
    assert int(unknown.status) == 415
    assert "gzip" in unknown.headers["accept-encoding"]


# -- over loopback: our server, our client ---------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
async def test_loopback_server_compresses_client_decompresses(encoding: str) -> None:
    svc = CompressionLayer(encodings=[encoding]).layer(handler())
    async with running(svc) as srv, EasyHttpWebClient() as raw_client:
        client = DecompressionLayer().layer(raw_client)
        resp = await client.serve(Request("GET", srv.url + "/"))
        assert int(resp.status) == 200
        assert await resp.body.collect() == TEXT
        # without the layer the wire shows the coding
        raw = await raw_client.serve(
            Request("GET", srv.url + "/", headers=[("Accept-Encoding", encoding)])
        )
        assert raw.headers["content-encoding"] == encoding
        assert decode(encoding, await raw.body.collect()) == TEXT


async def test_closing_a_decoded_body_early_closes_the_source() -> None:
    closed: list[str] = []
    data = encode("gzip", TEXT * 20)

    async def source() -> AsyncIterator[bytes]:
        try:
            for i in range(0, len(data), 100):
                yield data[i : i + 100]
        finally:
            closed.append("source")

    async def serve(req: Request) -> Response:
        return Response(200, headers=[("Content-Encoding", "gzip")], body=Body.from_iter(source()))

    resp = await DecompressionLayer().layer(service_fn(serve)).serve(Request("GET", "http://x/"))
    it = aiter(resp.body)
    assert await anext(it)
    await resp.body.aclose()
    assert closed == ["source"]

    # the same on the compressing side
    closed.clear()

    async def plain(req: Request) -> Response:
        async def gen() -> AsyncIterator[bytes]:
            try:
                for _ in range(100):
                    yield TEXT
            finally:
                closed.append("handler")

        return Response(200, headers=[("Content-Type", "text/plain")], body=Body.from_iter(gen()))

    resp = (
        await CompressionLayer()
        .layer(service_fn(plain))
        .serve(Request("GET", "/", headers=[("Accept-Encoding", "br")]))
    )
    it = aiter(resp.body)
    assert await anext(it)
    await resp.body.aclose()
    assert closed == ["handler"]


# -- the early exits (cheapest checks first) keep every outcome -------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], ["Accept-Encoding"]),
        ([("Vary", "Origin")], ["Origin", "Accept-Encoding"]),
        ([("Vary", "*")], ["*"]),
        ([("Vary", "origin, accept-encoding")], ["origin, accept-encoding"]),
    ],
)
async def test_vary_on_small_bodies_and_head(
    given: list[tuple[str, str]], expected: list[str]
) -> None:
    calls: list[str] = []

    def predicate(req: Request, resp: Response) -> bool:
        calls.append(req.uri.path)
        return True

    async def small(req: Request) -> Response:
        return Response.text("tiny", headers=given)

    svc = CompressionLayer(predicate=predicate).layer(service_fn(small))
    for method in ("GET", "HEAD"):
        resp = await svc.serve(Request(method, "/", headers=[("Accept-Encoding", "gzip")]))
        assert "content-encoding" not in resp.headers
        assert resp.headers.get_all("vary") == expected
        assert await resp.body.collect() == b"tiny"
    assert calls == []  # too small (and HEAD): the predicate is never asked
