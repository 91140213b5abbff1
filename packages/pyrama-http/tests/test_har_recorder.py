"""HAR recording through a real client and server, the HAR model, the loader and its checks."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from http_support import GUARD, running
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrama_core import service_fn
from pyrama_http import EasyHttpWebClient, HttpClient
from pyrama_http.har import (
    REDACTED,
    HarCreator,
    HarEntry,
    HarLog,
    HarPage,
    HarRecorder,
    HarRecorderLayer,
    HarValidationError,
    load_har,
    validate_har,
)
from pyrama_http_types import Body, Request, Response


async def handler(request: Request) -> Response:
    path = request.uri.path
    data = await request.body.collect()
    if path == "/cookie":
        resp = Response.text("set")
        resp.headers.add("Set-Cookie", "sid=secret; Path=/; HttpOnly; Secure; SameSite=Lax")
        return resp
    if path == "/stream":

        async def gen() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"0123456789" * 10
                await asyncio.sleep(0)

        return Response(200, headers=[("Content-Type", "text/plain")], body=Body.from_iter(gen()))
    if path == "/binary":
        return Response.binary(bytes(range(256)))
    return Response.json({"len": len(data), "path": path})


async def _record(recorder: HarRecorder) -> None:
    async with running(handler) as srv:
        svc = HarRecorderLayer(recorder).layer(EasyHttpWebClient())
        async with HttpClient(svc) as client:
            r = await (
                client.get(f"{srv.url}/q")
                .query({"a": "1", "b": "x y"})
                .header("Authorization", "Bearer top")
                .header("Cookie", "c1=v1; c2=v2")
                .header("X-MiXeD", "Keep")
                .send()
            )
            assert (await r.json())["path"] == "/q"
            r = await client.post(f"{srv.url}/form").form({"k": "v", "e": ""}).send()
            await r.bytes()

            async def upload() -> AsyncIterator[bytes]:
                yield b"\x00\x01\x02"
                yield b"\xff" * 3000

            r = await client.post(f"{srv.url}/up").body(upload()).send()
            assert (await r.json())["len"] == 3003
            r = await client.get(f"{srv.url}/cookie").send()
            await r.text()
            r = await client.get(f"{srv.url}/stream").send()
            assert len(await r.bytes()) == 1000  # streaming passes everything through
            r = await client.get(f"{srv.url}/binary").send()
            assert await r.bytes() == bytes(range(256))


async def test_recording_round_trips_and_validates(tmp_path: Path) -> None:
    recorder = HarRecorder(max_body=500, page=HarPage("p1", "test", "2026-01-01T00:00:00Z"))
    await _record(recorder)
    path = tmp_path / "out.har"
    recorder.write(path)
    doc = json.loads(path.read_text())
    validate_har(doc)
    assert doc["log"]["version"] == "1.2"
    assert doc["log"]["creator"]["name"] == "pyrama"
    loaded = load_har(path)
    assert loaded.to_dict() == doc
    q, form, up, cookie, stream, binary = loaded.entries
    assert all(e.pageref == "p1" for e in loaded.entries)

    assert q.request.method == "GET"
    assert q.request.url.endswith("/q?a=1&b=x+y")
    assert [(p.name, p.value) for p in q.request.query_string] == [("a", "1"), ("b", "x y")]
    headers = {h.name: h.value for h in q.request.headers}
    assert headers["Authorization"] == REDACTED
    assert headers["Cookie"] == REDACTED
    assert headers["X-MiXeD"] == "Keep"  # case kept
    assert [(c.name, c.value) for c in q.request.cookies] == [("c1", REDACTED), ("c2", REDACTED)]
    assert q.response.status == 200
    assert q.response.content.mime_type == "application/json"
    assert json.loads(q.response.content.text or "") == {"len": 0, "path": "/q"}
    assert q.server_ip_address == "127.0.0.1"
    assert q.response.http_version == "HTTP/1.1"
    assert q.time >= 0

    assert form.request.post_data is not None
    assert form.request.post_data.mime_type == "application/x-www-form-urlencoded"
    assert [(p.name, p.value) for p in form.request.post_data.params] == [("k", "v"), ("e", "")]

    post = up.request.post_data
    assert post is not None
    assert post.encoding == "base64"
    assert base64.b64decode(post.text) == (b"\x00\x01\x02" + b"\xff" * 3000)[:500]
    assert post.comment == "truncated: 500 of 3003 bytes recorded"
    assert up.request.body_size == 3003

    (sc,) = cookie.response.cookies
    assert (sc.name, sc.value, sc.path, sc.http_only, sc.secure, sc.same_site) == (
        "sid", REDACTED, "/", True, True, "Lax",
    )  # fmt: skip
    assert {h.name: h.value for h in cookie.response.headers}["Set-Cookie"] == REDACTED

    assert stream.response.content.size == 1000
    assert stream.response.content.text == ("0123456789" * 50)
    assert stream.response.content.comment == "truncated: 500 of 1000 bytes recorded"

    assert binary.response.content.encoding == "base64"
    assert base64.b64decode(binary.response.content.text or "") == bytes(range(256))


async def test_redaction_is_configurable() -> None:
    recorder = HarRecorder(redact=["x-mixed"])
    await _record(recorder)
    headers = {h.name: h.value for h in recorder.entries[0].request.headers}
    assert headers["Authorization"] == "Bearer top"
    assert headers["X-MiXeD"] == REDACTED
    assert [c.value for c in recorder.entries[0].request.cookies] == ["v1", "v2"]


async def test_failed_exchange_is_recorded_with_status_0() -> None:
    async def failing(request: Request) -> Response:
        raise ConnectionRefusedError("nobody home")

    recorder = HarRecorder()
    svc = HarRecorderLayer(recorder).layer(service_fn(failing))
    with pytest.raises(ConnectionRefusedError):
        await svc.serve(Request("GET", "http://127.0.0.1:9/x"))
    (entry,) = recorder.entries
    assert entry.response.status == 0
    assert entry.comment is not None
    assert "nobody home" in entry.comment
    validate_har(recorder.log().to_dict())


async def test_dropped_body_still_gives_an_entry() -> None:
    async def streaming(request: Request) -> Response:
        async def gen() -> AsyncIterator[bytes]:
            yield b"a"
            yield b"b"

        return Response(200, body=Body.from_iter(gen()))

    recorder = HarRecorder()
    svc = HarRecorderLayer(recorder).layer(service_fn(streaming))
    resp = await asyncio.wait_for(svc.serve(Request("GET", "http://h/")), GUARD)
    assert recorder.entries == []  # not finished until the body ends
    await resp.body.aclose()
    (entry,) = recorder.entries
    assert entry.comment is not None
    assert "not read to its end" in entry.comment


def test_limits_and_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_body"):
        HarRecorder(max_body=-1)
    with pytest.raises(ValueError, match="not both"):
        HarRecorderLayer(HarRecorder(), max_body=3)
    assert HarRecorderLayer(max_body=3).recorder.max_body == 3


# -- the loader's validation ----------------------------------------------------------------


def _valid() -> dict[str, Any]:
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "x", "version": "1"},
            "entries": [
                {
                    "startedDateTime": "2026-01-01T00:00:00Z",
                    "time": 1.5,
                    "request": {
                        "method": "GET", "url": "http://h/", "httpVersion": "HTTP/1.1",
                        "cookies": [], "headers": [], "queryString": [],
                        "headersSize": -1, "bodySize": 0,
                    },
                    "response": {
                        "status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                        "cookies": [], "headers": [{"name": "a", "value": "b"}],
                        "content": {"size": 0, "mimeType": "text/plain"},
                        "redirectURL": "", "headersSize": -1, "bodySize": 0,
                    },
                    "cache": {},
                    "timings": {"send": 0, "wait": 1, "receive": 0.5},
                }
            ],
        }
    }  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d["log"].pop("creator"), "log.creator"),
        (lambda d: d["log"].update(entries={}), "log.entries"),
        (lambda d: d["log"]["entries"][0].pop("cache"), "log.entries[0].cache"),
        (lambda d: d["log"]["entries"][0].update(time="1"), "log.entries[0].time"),
        (lambda d: d["log"]["entries"][0]["request"].pop("url"), "log.entries[0].request.url"),
        (
            lambda d: d["log"]["entries"][0]["response"].update(status=True),
            "log.entries[0].response.status",
        ),
        (
            lambda d: d["log"]["entries"][0]["response"]["headers"][0].pop("value"),
            "log.entries[0].response.headers[0].value",
        ),
        (
            lambda d: d["log"]["entries"][0]["timings"].pop("wait"),
            "log.entries[0].timings.wait",
        ),
        (lambda d: d["log"]["entries"][0].update(pageref="nope"), "log.entries[0].pageref"),
    ],
)
def test_validation_names_the_broken_field(mutate: Any, where: str) -> None:
    doc = _valid()
    validate_har(doc)
    mutate(doc)
    with pytest.raises(HarValidationError) as info:
        validate_har(doc)
    assert info.value.path == where


def test_load_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.har"
    bad.write_text("{not json")
    with pytest.raises(HarValidationError):
        load_har(bad)
    with pytest.raises(HarValidationError):
        HarLog.loads("[]")


_text = st.text(max_size=20)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"status": st.integers(0, 999), "text": st.none() | _text, "name": _text}
        ),
        max_size=4,
    ),
    st.none() | st.builds(HarCreator, _text, _text),
)
def test_model_round_trip(items: list[dict[str, Any]], browser: HarCreator | None) -> None:
    doc = _valid()
    template = doc["log"]["entries"][0]
    entries = []
    for item in items:
        e = json.loads(json.dumps(template))
        e["response"]["status"] = item["status"]
        e["response"]["headers"] = [{"name": item["name"], "value": item["name"]}]
        if item["text"] is not None:
            e["response"]["content"]["text"] = item["text"]
        entries.append(e)
    doc["log"]["entries"] = entries
    if browser is not None:
        doc["log"]["browser"] = browser.to_dict()
    log = HarLog.from_dict(doc)
    again = HarLog.loads(log.dumps())
    assert again == log
    assert all(isinstance(e, HarEntry) for e in again.entries)
