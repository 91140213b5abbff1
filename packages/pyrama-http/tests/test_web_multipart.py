"""Multipart: the sans-IO parser (fuzzed), its limits, and the streaming extractor."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrama_http.web import (
    PART_END,
    Multipart,
    MultipartError,
    MultipartLimits,
    MultipartParser,
    PartStart,
    Router,
)
from pyrama_http_types import Request, Response

BOUNDARY = "----pyrama-test-boundary"


def encode(parts: list[tuple[str, str | None, bytes]], boundary: str = BOUNDARY) -> bytes:
    out = bytearray()
    for name, filename, data in parts:
        out += f"--{boundary}\r\n".encode()
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out += disp.encode() + b"\r\n"
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def parse(raw: bytes, sizes: list[int], limits: MultipartLimits | None = None) -> list[Any]:
    """Feed *raw* in chunks of *sizes* (cycled) and return [(start, data)] per part."""
    p = MultipartParser(BOUNDARY, limits)
    events: list[Any] = []
    i = 0
    k = 0
    while i < len(raw):
        n = max(1, sizes[k % len(sizes)]) if sizes else len(raw)
        events += p.feed(raw[i : i + n])
        i += n
        k += 1
    p.finish()
    parts: list[Any] = []
    for ev in events:
        if isinstance(ev, PartStart):
            parts.append([ev, b""])
        elif isinstance(ev, bytes):
            parts[-1][1] += ev
        else:
            assert ev is PART_END
    return parts


names = st.text(alphabet="abcdefghij_-.", min_size=1, max_size=8)
payloads = st.binary(max_size=300).filter(lambda b: BOUNDARY.encode() not in b)


@given(
    st.lists(st.tuples(names, st.none() | names, payloads), max_size=6),
    st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=10),
)
def test_round_trip_any_chunking(
    parts: list[tuple[str, str | None, bytes]], sizes: list[int]
) -> None:
    raw = b"preamble to ignore\r\n" + encode(parts) + b"epilogue"
    got = parse(raw, sizes)
    assert [(s.name, s.filename, d) for s, d in got] == parts


@given(st.binary(max_size=400), st.lists(st.integers(1, 50), min_size=1, max_size=5))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_garbage_only_raises_multipart_error(raw: bytes, sizes: list[int]) -> None:
    statuses: list[int] = []
    try:
        parse(raw, sizes, MultipartLimits(max_header_size=64))
    except MultipartError as exc:
        statuses.append(exc.status)
    assert set(statuses) <= {400, 413}


@given(st.lists(st.tuples(names, st.none() | names, payloads), min_size=1, max_size=4),
       st.integers(min_value=1, max_value=2000))  # fmt: skip
def test_truncated_bodies_fail(parts: list[tuple[str, str | None, bytes]], cut: int) -> None:
    raw = encode(parts)
    cut = min(cut, len(raw) - 3)  # keep the final "--\r\n" out of reach
    with pytest.raises(MultipartError):
        parse(raw[:cut], [7])


def test_headers_names_and_transport_padding() -> None:
    raw = (
        b"--" + BOUNDARY.encode() + b"  \t\r\n"
        b'Content-Disposition: form-data; name="f"; filename="r\xc3\xa9sum\xc3\xa9 \\"1\\".txt"\r\n'
        b"Content-Type: text/plain\r\n"
        b"\r\n"
        b"hello\r\n"
        b"--" + BOUNDARY.encode() + b"\r\n"
        b"\r\n"  # a part without headers
        b"anon\r\n"
        b"--" + BOUNDARY.encode() + b"--"
    )
    (s1, d1), (s2, d2) = parse(raw, [5])
    assert s1.name == "f"
    assert s1.filename == 'résumé "1".txt'
    assert s1.content_type == "text/plain"
    assert d1 == b"hello"
    assert s2.name is None
    assert d2 == b"anon"


def test_limits() -> None:
    three = encode([("a", None, b"1"), ("b", None, b"2"), ("c", None, b"3")])
    with pytest.raises(MultipartError, match="more than 2 parts") as e:
        parse(three, [1000], MultipartLimits(max_parts=2))
    assert e.value.status == 413
    parse(three, [1000], MultipartLimits(max_parts=3))
    big = encode([("a", None, b"x" * 101)])
    with pytest.raises(MultipartError, match="larger than 100") as e:
        parse(big, [13], MultipartLimits(max_part_size=100))
    assert e.value.status == 413
    parse(encode([("a", None, b"x" * 100)]), [13], MultipartLimits(max_part_size=100))
    long_header = encode([("n" * 200, None, b"")])
    with pytest.raises(MultipartError, match="headers over 100") as e:
        parse(long_header, [1000], MultipartLimits(max_header_size=100))
    assert e.value.status == 413
    with pytest.raises(MultipartError, match="headers over 100"):
        parse(long_header, [9], MultipartLimits(max_header_size=100))
    with pytest.raises(MultipartError, match="boundary"):
        MultipartParser("x" * 71)
    with pytest.raises(MultipartError, match="boundary"):
        MultipartParser("")


def test_transport_padding_limit() -> None:
    b = BOUNDARY.encode()
    padded = b"--" + b + b" " * 256 + b"\r\n\r\nx\r\n--" + b + b"--"
    assert parse(padded, [1000])[0][1] == b"x"
    with pytest.raises(MultipartError, match="padding"):
        parse(b"--" + b + b" " * 257, [1000])


def test_malformed() -> None:
    b = BOUNDARY.encode()
    for raw in (
        b"--" + b + b"xx\r\n\r\n--" + b + b"--",  # junk after the boundary
        b"--" + b + b"\r\nno colon here\r\n\r\nx\r\n--" + b + b"--",
        b"nothing but preamble" * 10,
    ):
        with pytest.raises(MultipartError) as e:
            parse(raw, [4], MultipartLimits(max_header_size=64))
        assert e.value.status == 400


async def stream(data: bytes, n: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), n):
        yield data[i : i + n]


def upload_request(raw: bytes, ctype: str | None = None) -> Request:
    ct = ctype if ctype is not None else f"multipart/form-data; boundary={BOUNDARY}"
    return Request("POST", "/up", headers=[("Content-Type", ct)], body=stream(raw, 17))


async def test_extractor_streams_parts() -> None:
    async def upload(form: Multipart) -> dict[str, Any]:
        out: dict[str, Any] = {}
        async for part in form:
            if part.filename is not None:
                size = 0
                async for chunk in part:
                    size += len(chunk)
                out[part.name or "?"] = {"file": part.filename, "size": size}
            elif part.name == "skip":
                continue  # not read: skipped when moving on
            else:
                out[part.name or "?"] = await part.text()
        return out

    r = Router().post("/up", upload)
    raw = encode([("title", None, "héllo".encode()), ("skip", None, b"x" * 1000),
                  ("doc", "a.bin", bytes(range(256)) * 40)])  # fmt: skip
    resp = await r.serve(upload_request(raw))
    assert resp.status == 200
    assert json.loads(await resp.body.collect()) == {
        "title": "héllo",
        "doc": {"file": "a.bin", "size": 10240},
    }
    wrong = await r.serve(upload_request(raw, "application/json"))
    assert wrong.status == 415
    no_boundary = await r.serve(upload_request(raw, "multipart/form-data"))
    assert no_boundary.status == 400
    truncated = await r.serve(upload_request(raw[:-10]))
    assert truncated.status == 400


async def test_extractor_body_limit_and_fields() -> None:
    raw = encode([("a", None, b"1" * 50), ("b", None, b"2")])

    async def small(request: Request) -> Response:
        form = Multipart(request.body, BOUNDARY, MultipartLimits(max_body_size=40))
        return Response.json(await form.fields())

    async def fields(form: Multipart) -> dict[str, str]:
        return await form.fields()

    r = Router().post("/small", small).post("/up", fields)
    req = upload_request(raw)
    req.uri = req.uri.with_path("/small")
    resp = await r.serve(req)
    assert resp.status == 413
    ok = await r.serve(upload_request(raw))
    assert json.loads(await ok.body.collect()) == {"a": "1" * 50, "b": "2"}


async def test_limits_by_annotation() -> None:
    async def strict(form: Annotated[Multipart, MultipartLimits(max_parts=1)]) -> str:
        return str(len(await form.fields()))

    r = Router().post("/up", strict)
    one = await r.serve(upload_request(encode([("a", None, b"1")])))
    assert await one.body.collect() == b"1"
    two = await r.serve(upload_request(encode([("a", None, b"1"), ("b", None, b"2")])))
    assert two.status == 413
    assert (await r.serve(upload_request(b"", "text/plain"))).status == 415
