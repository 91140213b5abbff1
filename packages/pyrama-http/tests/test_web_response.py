"""into_response: every value a handler may return."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyrama_http.web import ExtractError, Html, JsonResponse, Redirect, into_response
from pyrama_http_types import HeaderMap, Response, StatusCode


async def content(resp: Response) -> bytes:
    return await resp.body.collect()


class Kind(enum.Enum):
    A = "a"


@dataclasses.dataclass
class Point:
    x: int
    kind: Kind = Kind.A


async def test_plain_values() -> None:
    r = into_response("héllo")
    assert r.status == 200
    assert r.headers.get("content-type") == "text/plain; charset=utf-8"
    assert await content(r) == "héllo".encode()
    r = into_response(b"\x00\x01")
    assert r.headers.get("content-type") == "application/octet-stream"
    assert await content(r) == b"\x00\x01"
    for value, want in (({"a": [1, "é"]}, '{"a":[1,"é"]}'), ([1, 2], "[1,2]"),
                        (Point(3), '{"x":3,"kind":"a"}'), ({"p": Point(1)},
                        '{"p":{"x":1,"kind":"a"}}')):  # fmt: skip
        r = into_response(value)
        assert r.headers.get("content-type") == "application/json"
        assert (await content(r)).decode() == want
    r = into_response(None)
    assert r.status == 200
    assert await content(r) == b""
    assert into_response(204).status == 204
    assert into_response(StatusCode.ACCEPTED).status == 202
    same = Response.text("x")
    assert into_response(same) is same


async def test_wrappers() -> None:
    r = into_response(Html("<b>x</b>"))
    assert r.headers.get("content-type") == "text/html; charset=utf-8"
    assert await content(r) == b"<b>x</b>"
    r = into_response(JsonResponse({"a": 1}, 201, headers={"X-A": "1"}))
    assert r.status == 201
    assert r.headers.get("x-a") == "1"
    assert await content(r) == b'{"a":1}'
    for make, code in ((Redirect.see_other, 303), (Redirect.temporary, 307),
                       (Redirect.permanent, 308)):  # fmt: skip
        r = into_response(make("/next"))
        assert r.status == code
        assert r.headers.get("location") == "/next"
    r = into_response(ExtractError("bad thing", status=415))
    assert r.status == 415
    assert await content(r) == b"bad thing\n"


async def test_tuples() -> None:
    r = into_response((201, "made"))
    assert r.status == 201
    assert await content(r) == b"made"
    r = into_response((202, {"X-One": "1", "Content-Type": "text/csv"}, "a,b"))
    assert r.status == 202
    assert r.headers.get("content-type") == "text/csv"
    assert r.headers.get_all("content-type") == ["text/csv"]
    assert r.headers.get("x-one") == "1"
    r = into_response((200, [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")], {"ok": True}))
    assert r.headers.get_all("set-cookie") == ["a=1", "b=2"]
    r = into_response((200, HeaderMap([("X-H", "v")]), Html("<p>")))
    assert r.headers.get("x-h") == "v"
    with pytest.raises(TypeError):
        into_response((1, 2, 3, 4))
    with pytest.raises(TypeError):
        into_response(("200", "x"))


async def test_streams_and_refusals() -> None:
    async def gen() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    r = into_response(gen())
    assert r.body.size_hint is None
    assert await content(r) == b"ab"

    class Bad:
        def into_response(self) -> Any:
            return "not a response"

    with pytest.raises(TypeError, match="into_response"):
        into_response(Bad())
    with pytest.raises(TypeError):
        into_response(object())
    with pytest.raises(TypeError):
        into_response(True)
