"""Datastar: ReadSignals (GET query / JSON body), DatastarScript, one-event responses."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from pyrama_http.datastar import (
    DATASTAR_CDN_URL,
    DatastarScript,
    ExecuteScript,
    PatchElements,
    ReadSignals,
    parse_datastar_event,
)
from pyrama_http.sse import read_sse_events
from pyrama_http_types import Request
from pyrama_http_types.errors import BodyTooLargeError, DatastarError


async def test_get_reads_the_datastar_query_parameter() -> None:
    q = quote(json.dumps({"name": "ada", "n": 2}))
    sig = await ReadSignals.read(Request("GET", f"/x?other=1&datastar={q}"))
    assert dict(sig) == {"name": "ada", "n": 2}
    assert sig["name"] == "ada"
    assert len(sig) == 2
    assert sig.signals == {"name": "ada", "n": 2}
    assert dict(await ReadSignals.read(Request("GET", "/x"))) == {}
    assert dict(await ReadSignals.read(Request("GET", "/x?a=b"))) == {}


async def test_post_reads_the_json_body() -> None:
    req = Request("POST", "/x", body=b'{"todo": {"done": true}}')
    assert dict(await ReadSignals.read(req)) == {"todo": {"done": True}}
    assert dict(await ReadSignals.read(Request("PUT", "/x", body=b" "))) == {}


@pytest.mark.parametrize(
    "req",
    [
        Request("GET", "/x?datastar=%7Bbad"),
        Request("GET", "/x?datastar=%5B1%5D"),
        Request("GET", "/x?datastar=%ff"),
        Request("POST", "/x", body=b"{nope"),
        Request("POST", "/x", body=b'"string"'),
        Request("PATCH", "/x", body=b'{"a": "\xff"}'),
    ],
)
async def test_invalid_signals(req: Request) -> None:
    with pytest.raises(DatastarError) as info:
        await ReadSignals.read(req)
    assert info.value.status_hint == 400


async def test_signals_body_limit() -> None:
    req = Request("POST", "/x", body=b'{"a": "' + b"x" * 100 + b'"}')
    with pytest.raises(BodyTooLargeError):
        await ReadSignals.read(req, limit=50)
    req = Request("POST", "/x", body=b'{"a": 1}')
    assert dict(await ReadSignals.read(req, limit=8)) == {"a": 1}


async def test_script_served_from_a_file_or_redirected(tmp_path: Path) -> None:
    js = tmp_path / "datastar.js"
    js.write_text("console.log('datastar')")
    local = DatastarScript(js)
    assert local.local
    resp = await local.serve(Request("GET", "/datastar.js"))
    assert resp.status == 200
    assert resp.headers["content-type"] == "text/javascript; charset=utf-8"
    assert await resp.body.collect() == b"console.log('datastar')"
    remote = DatastarScript()
    resp = await remote.serve(Request("GET", "/datastar.js"))
    assert resp.status == 307
    assert resp.headers["location"] == DATASTAR_CDN_URL
    assert (await remote.serve(Request("POST", "/datastar.js"))).status == 405


async def test_one_event_responses_parse_back() -> None:
    resp = ExecuteScript(script="alert(1)").into_response()
    (event,) = [e async for e in read_sse_events(resp)]
    patch = parse_datastar_event(event)
    assert isinstance(patch, PatchElements)
    assert patch.selector == "body"
    assert patch.elements == '<script data-effect="el.remove()">alert(1)</script>'


async def test_extractor_form_maps_errors_for_the_router() -> None:
    from pyrama_http.web import ExtractError, Router

    req = Request("POST", "/x", body=b'{"a": 1}')
    assert dict(await ReadSignals.from_request(req)) == {"a": 1}
    with pytest.raises(ExtractError) as info:
        await ReadSignals.from_request(Request("POST", "/x", body=b"{bad"))
    assert info.value.status == 400
    assert isinstance(info.value.__cause__, DatastarError)
    with pytest.raises(ExtractError) as info:
        await ReadSignals.from_request(Request("POST", "/x", body=b"[" * 100), limit=10)
    assert info.value.status == 413

    router = Router()

    @router.post("/echo")
    async def echo(signals: ReadSignals) -> dict[str, object]:
        return dict(signals)

    resp = await router.serve(Request("POST", "/echo", body=b'{"n": 5}'))
    assert resp.status == 200
    assert json.loads(await resp.body.collect()) == {"n": 5}
    assert (await router.serve(Request("POST", "/echo", body=b"nope"))).status == 400
