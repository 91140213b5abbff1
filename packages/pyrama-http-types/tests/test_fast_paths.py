"""The hot-path constructors (Body.empty, the content responses) build the usual objects."""

from __future__ import annotations

import pytest

from pyrama_http_types import Body, Response
from pyrama_http_types.errors import BodyConsumedError


async def test_empty_body_is_a_normal_empty_body() -> None:
    body = Body.empty()
    assert type(body) is Body
    assert body.size_hint == 0
    assert body.is_empty
    assert body.is_in_memory
    assert not body.is_consumed
    assert await body.collect() == b""
    assert body.trailers is None
    with pytest.raises(BodyConsumedError):
        await body.collect()


async def test_empty_bodies_are_independent() -> None:
    a, b = Body.empty(), Body.empty()
    assert a is not b
    assert a.try_take_bytes() == b""
    assert b.try_take_bytes() == b""


def test_a_body_subclass_keeps_its_constructor() -> None:
    class Mine(Body):
        pass

    assert type(Mine.empty()) is Mine


async def test_content_responses_hold_bytes_bodies() -> None:
    resp = Response.text("hé")
    assert resp.body.size_hint == 3
    assert await resp.body.collect() == "hé".encode()
    binary = Response.binary(bytearray(b"ab"))  # type: ignore[arg-type]
    data = binary.body.try_take_bytes()
    assert data == b"ab"
    assert type(data) is bytes
