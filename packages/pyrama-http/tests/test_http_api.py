"""HttpClient / RequestBuilder / ClientResponse against an in-process fake service."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrama_core import service_fn
from pyrama_core.errors import ConfigError
from pyrama_http import HttpClient, RequestTimeout, TargetHttpVersion
from pyrama_http.errors import HttpStatusError, InvalidRequestError
from pyrama_http_types import Body, HeaderMap, Request, Response, Version
from pyrama_http_types.errors import BodyError, BodyTooLargeError


class Recorder:
    """A fake client service: records requests, answers with a configurable response."""

    def __init__(self, response: Response | None = None) -> None:
        self.requests: list[Request] = []
        self.bodies: list[bytes] = []
        self.response = response
        self.closed = False

    async def serve(self, req: Request) -> Response:
        self.requests.append(req)
        self.bodies.append(await req.body.collect())
        if self.response is not None:
            return self.response
        return Response.json({"ok": True})

    async def close(self) -> None:
        self.closed = True


async def test_get_with_query_headers_and_json_response() -> None:
    rec = Recorder()
    c = HttpClient(rec)
    r = (
        await c.get("https://api.test/items?fixed=1")
        .query({"q": "a b", "n": 3, "flag": True})
        .query([("multi", "x"), ("multi", "y")])
        .header("X-One", "1")
        .header("x-two", "2")
        .send()
    )
    assert r.status == 200
    assert r.is_success
    assert await r.json() == {"ok": True}
    req = rec.requests[0]
    assert req.method == "GET"
    assert req.uri.scheme == "https"
    assert req.uri.path == "/items"
    assert urllib.parse.parse_qsl(req.uri.query or "") == [
        ("fixed", "1"),
        ("q", "a b"),
        ("n", "3"),
        ("flag", "true"),
        ("multi", "x"),
        ("multi", "y"),
    ]
    assert req.headers.raw_items() == [(b"X-One", b"1"), (b"x-two", b"2")]


async def test_json_form_and_raw_bodies() -> None:
    rec = Recorder()
    c = HttpClient(rec)
    await c.post("http://h/").json({"a": [1, "é"]}).send()
    assert rec.requests[0].headers["content-type"] == "application/json"
    assert json.loads(rec.bodies[0]) == {"a": [1, "é"]}
    await c.put("http://h/").form({"name": "x y", "v": 1}).send()
    assert rec.requests[1].headers["content-type"] == "application/x-www-form-urlencoded"
    assert rec.bodies[1] == b"name=x+y&v=1"
    await c.patch("http://h/").body("text", content_type="text/plain").send()
    assert rec.bodies[2] == b"text"
    assert rec.requests[2].headers["content-type"] == "text/plain"

    async def gen() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    await c.request("REPORT", "http://h/").body(gen(), size=2).send()
    assert rec.requests[3].method == "REPORT"
    assert rec.requests[3].body.size_hint == 2
    assert rec.bodies[3] == b"ab"
    # an explicit Content-Type wins over the one json() implies
    await c.post("http://h/").header("Content-Type", "application/vnd+json").json(1).send()
    assert rec.requests[4].headers.get_all("content-type") == ["application/vnd+json"]


async def test_auth_helpers_and_userinfo() -> None:
    rec = Recorder()
    c = HttpClient(rec)
    await c.get("http://h/").basic_auth("user", "p:ss").send()
    value = rec.requests[0].headers["authorization"]
    assert value.startswith("Basic ")
    assert base64.b64decode(value[6:]) == b"user:p:ss"
    await c.delete("http://h/").bearer_auth("tok.en-1").send()
    assert rec.requests[1].headers["authorization"] == "Bearer tok.en-1"
    await c.get("http://al%20ice:s3cret@h/x#frag").send()
    req = rec.requests[2]
    assert req.uri.userinfo is None
    assert str(req.uri) == "http://h/x"
    assert base64.b64decode(req.headers["authorization"][6:]) == b"al ice:s3cret"
    with pytest.raises(InvalidRequestError):
        c.get("http://h/").basic_auth("a:b")
    with pytest.raises(InvalidRequestError):
        c.get("http://h/").bearer_auth("not a token")


async def test_version_timeout_and_extensions_travel_on_the_request() -> None:
    rec = Recorder()
    c = HttpClient(rec)

    class Tag:
        pass

    tag = Tag()
    await c.get("http://h/").version(Version.HTTP_2).timeout(3).extension(tag).send()
    req = rec.requests[0]
    assert req.version is Version.HTTP_2
    assert req.extensions.get(TargetHttpVersion) == TargetHttpVersion(Version.HTTP_2)
    assert req.extensions.get(RequestTimeout) == RequestTimeout(3)
    assert req.extensions.get(Tag) is tag
    with pytest.raises(ConfigError):
        c.get("http://h/").timeout(-1)
    with pytest.raises(ConfigError):
        c.get("http://h/").version(Version.HTTP_3)


async def test_builder_is_awaitable_and_build_gives_the_request() -> None:
    rec = Recorder()
    c = HttpClient(rec)
    r = await c.head("http://h/awaited")
    assert r.status == 200
    req = c.options("http://h/o").header("A", "b").build()
    assert req.method == "OPTIONS"
    assert req.headers["a"] == "b"


async def test_base_url_and_default_headers() -> None:
    rec = Recorder()
    c = HttpClient(rec, base_url="https://api.test/v1/", headers={"X-Api": "k", "Accept": "a/b"})
    await c.get("/users?x=1").header("accept", "c/d").send()
    req = rec.requests[0]
    assert str(req.uri) == "https://api.test/v1/users?x=1"
    assert req.headers.raw_items() == [(b"X-Api", b"k"), (b"accept", b"c/d")]
    with pytest.raises(InvalidRequestError):
        await HttpClient(rec).get("/no-base").send()
    with pytest.raises(ConfigError):
        HttpClient(rec, base_url="/relative")
    with pytest.raises(InvalidRequestError):
        await c.get("http://bad host/").send()


async def test_non_ascii_url_is_percent_encoded() -> None:
    rec = Recorder()
    await HttpClient(rec).get("http://h/ünï?q=ß").send()
    assert str(rec.requests[0].uri) == "http://h/%C3%BCn%C3%AF?q=%C3%9F"


async def test_raise_for_status() -> None:
    c = HttpClient(Recorder(Response.text("nope", 404)))
    r = await c.get("http://h/")
    assert r.status == 404
    assert not r.is_success
    with pytest.raises(HttpStatusError) as info:
        r.raise_for_status()
    assert info.value.status == 404
    assert info.value.response is r
    assert await r.text() == "nope"  # the body is still there
    ok = await HttpClient(Recorder(Response.text("fine", 302))).get("http://h/")
    assert ok.raise_for_status() is ok
    r5 = await HttpClient(Recorder(Response.text("x", 503))).get("http://h/")
    with pytest.raises(HttpStatusError, match="server error"):
        r5.raise_for_status()


async def test_text_uses_the_charset() -> None:
    ct = {"Content-Type": "text/plain; charset=latin-1"}
    resp = Response(200, headers=ct, body="é".encode("latin-1"))
    r = await HttpClient(Recorder(resp)).get("http://h/")
    assert r.charset == "latin-1"
    assert await r.text() == "é"
    bad = Response(200, body=b"\xff")
    r = await HttpClient(Recorder(bad)).get("http://h/")
    with pytest.raises(BodyError):
        await r.text()
    r = await HttpClient(Recorder(Response.text("not json"))).get("http://h/")
    with pytest.raises(BodyError):
        await r.json()


async def test_stream_limit_and_close() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(3):
            yield b"%d" % i

    r = await HttpClient(Recorder(Response(200, body=Body.from_iter(chunks())))).get("http://h/")
    assert [c async for c in r.stream()] == [b"0", b"1", b"2"]
    r = await HttpClient(Recorder(Response(200, body=b"x" * 100))).get("http://h/")
    with pytest.raises(BodyTooLargeError):
        await r.bytes(limit=10)
    closed = []

    class Tracked:
        def __aiter__(self) -> Tracked:
            return self

        async def __anext__(self) -> bytes:
            return b"more"

        async def aclose(self) -> None:
            closed.append(True)

    resp = Response(200, body=Body.from_iter(Tracked()))
    async with await HttpClient(Recorder(resp)).get("http://h/") as r:
        assert r.headers == HeaderMap()
    assert closed == [True]


async def test_async_with_closes_the_service() -> None:
    rec = Recorder()
    async with HttpClient(rec) as c:
        assert c.service is rec
    assert rec.closed
    async with HttpClient(service_fn(Recorder().serve)):
        pass  # a service without close() is fine


def test_settings_need_the_default_client() -> None:
    with pytest.raises(ConfigError):
        HttpClient(Recorder(), insecure=True)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=10),
            st.one_of(st.text(max_size=10), st.integers(), st.booleans()),
        ),
        max_size=8,
    )
)
def test_query_round_trips(pairs: list[tuple[str, Any]]) -> None:
    req = HttpClient(Recorder()).get("http://h/p?a=1").query(pairs).build()
    want = [("a", "1")] + [
        (k, ("true" if v else "false") if isinstance(v, bool) else str(v)) for k, v in pairs
    ]
    assert urllib.parse.parse_qsl(req.uri.query or "", keep_blank_values=True) == want
    assert req.uri.path == "/p"
