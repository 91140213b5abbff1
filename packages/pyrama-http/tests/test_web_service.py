"""WebService: matcher routes before path routes, directories via ServeDir, interop."""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any

from pyrama_http.datastar import ReadSignals
from pyrama_http.matcher import HeaderMatcher, PathMatcher
from pyrama_http.web import PathParams, WebService
from pyrama_http_types import Request, Response


async def text(resp: Response) -> str:
    return (await resp.body.collect()).decode()


async def test_matchers_first_then_routes_then_fallback() -> None:
    async def beta(params: PathParams) -> dict[str, Any]:
        return {"beta": dict(params)}

    svc = (
        WebService(fallback=lambda: (404, "nothing here"))
        .on(HeaderMatcher.equals("x-beta", "1") & PathMatcher("/items/{id}"), beta)
        .get("/items/{id}", lambda id: f"item {id}")
    )
    assert await text(await svc.serve(Request("GET", "/items/3"))) == "item 3"
    beta_req = Request("GET", "/items/3", headers=[("X-Beta", "1")])
    assert await text(await svc.serve(beta_req)) == '{"beta":{"id":"3"}}'
    resp = await svc.serve(Request("GET", "/x"))
    assert resp.status == 404
    assert await text(resp) == "nothing here"


async def test_dir_serves_files_under_a_prefix(tmp_path: FsPath) -> None:
    (tmp_path / "a.txt").write_text("alpha")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.css").write_text("body{}")
    svc = WebService().get("/api/ping", lambda: "pong").dir("/static", tmp_path)
    ok = await svc.serve(Request("GET", "/static/a.txt"))
    assert ok.status == 200
    assert await text(ok) == "alpha"
    css = await svc.serve(Request("GET", "/static/sub/b.css"))
    assert await text(css) == "body{}"
    assert (css.headers.get("content-type") or "").startswith("text/css")
    assert (await svc.serve(Request("GET", "/static/missing"))).status == 404
    assert (await svc.serve(Request("GET", "/static/../a.txt"))).status in (400, 403, 404)
    assert await text(await svc.serve(Request("GET", "/api/ping"))) == "pong"


async def test_datastar_read_signals_is_an_extractor() -> None:
    async def handler(signals: ReadSignals) -> dict[str, Any]:
        return signals.signals

    svc = WebService().route("GET,POST", "/ds", handler)
    post = Request(
        "POST", "/ds", headers=[("Content-Type", "application/json")], body=b'{"count": 2}'
    )
    assert await text(await svc.serve(post)) == '{"count":2}'
    get = Request("GET", "/ds?datastar=%7B%22a%22%3A1%7D")
    assert await text(await svc.serve(get)) == '{"a":1}'
    bad = Request("POST", "/ds", body=b"\xff")
    assert (await svc.serve(bad)).status == 400
