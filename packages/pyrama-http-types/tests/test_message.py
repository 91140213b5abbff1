from __future__ import annotations

import json

from pyrama_core import Extensions
from pyrama_http_types import (
    Body,
    HeaderMap,
    Method,
    Request,
    Response,
    StatusCode,
    Uri,
    Version,
)


async def test_request_defaults_and_coercion() -> None:
    r = Request()
    assert r.method is Method.GET
    assert r.uri == Uri("/")
    assert r.version is Version.HTTP_11
    assert len(r.headers) == 0
    assert r.body.is_empty
    assert isinstance(r.extensions, Extensions)
    r2 = Request("POST", b"http://h/x", headers={"Content-Type": "text/plain"}, body=b"hi")
    assert r2.method is Method.POST
    assert r2.uri.host is not None
    assert r2.headers.get("content-type") == "text/plain"
    assert await r2.body.collect() == b"hi"
    assert repr(r2) == "<Request POST http://h/x HTTP/1.1>"


def test_request_uses_given_objects() -> None:
    h = HeaderMap()
    b = Body(b"")
    e = Extensions()
    u = Uri("/x")
    r = Request(Method.PUT, u, headers=h, body=b, extensions=e, version=Version.HTTP_2)
    assert r.headers is h
    assert r.body is b
    assert r.extensions is e
    assert r.uri is u
    head, body = r.into_parts()
    assert body is b
    assert head.method is Method.PUT
    assert head.headers is h
    again = Request.from_parts(head, body)
    assert again.uri is u
    assert again.version is Version.HTTP_2
    assert again.extensions is e
    assert "PUT /x HTTP/2" in repr(head)


async def test_response_constructors() -> None:
    t = Response.text("héllo", 201)
    assert t.status is StatusCode.CREATED
    assert t.headers.get("Content-Type") == "text/plain; charset=utf-8"
    assert await t.body.collect() == "héllo".encode()
    j = Response.json({"a": [1, "é"]})
    assert j.headers.get("content-type") == "application/json"
    assert json.loads(await j.body.collect()) == {"a": [1, "é"]}
    h = Response.html("<p>x</p>", headers=[("X-A", "1")])
    assert h.headers.raw_items() == [(b"X-A", b"1"), (b"Content-Type", b"text/html; charset=utf-8")]
    bin_ = Response.binary(b"\x00", content_type="image/png")
    assert bin_.headers.get("content-type") == "image/png"
    own = Response.text("x", headers={"content-type": "text/csv"})
    assert own.headers.get_all("Content-Type") == ["text/csv"]
    e = Response.empty()
    assert e.status == 204
    assert e.body.is_empty
    r = Response.redirect("/elsewhere")
    assert r.status is StatusCode.SEE_OTHER
    assert r.headers.get("location") == "/elsewhere"
    assert repr(Response(404)) == "<Response 404 Not Found HTTP/1.1>"


def test_response_parts() -> None:
    r = Response(500, version=Version.HTTP_2)
    head, body = r.into_parts()
    assert head.status == 500
    assert head.version is Version.HTTP_2
    back = Response.from_parts(head, body)
    assert back.body is body
    assert back.headers is r.headers
    assert "500" in repr(head)


def test_response_extensions_are_made_on_first_use_and_kept() -> None:
    for resp in (Response.text("hi"), Response.json({"a": 1}), Response(200)):
        assert resp._extensions is None  # nothing made until asked for
        ext = resp.extensions
        assert isinstance(ext, Extensions)
        assert resp.extensions is ext  # the same map on every look-up
        ext.insert(7)
        assert resp.extensions.get(int) == 7
    given = Extensions()
    given.insert("x")
    resp = Response(200, extensions=given)
    assert resp.extensions is given
    other = Extensions()
    resp.extensions = other
    assert resp.extensions is other
    head, body = resp.into_parts()
    assert head.extensions is other  # the head shares them
    again = Response.from_parts(head, body)
    assert again.extensions is other
