"""CorsLayer: the response fields replace the inner service's own and Vary is merged."""

from __future__ import annotations

import pytest

from pyrama_core import service_fn
from pyrama_http.layer import CorsLayer
from pyrama_http_types import Request, Response


def answering(headers: list[tuple[str, str]]) -> object:
    async def inner(req: Request) -> Response:
        return Response.text("ok", headers=headers)

    return service_fn(inner)


async def test_fields_replace_the_inner_services_own() -> None:
    given = [
        ("Access-Control-Allow-Origin", "https://old.example"),
        ("access-control-allow-origin", "https://older.example"),
        ("Access-Control-Expose-Headers", "x-old"),
    ]
    svc = CorsLayer(allow_origins="mirror", allow_credentials=True, expose_headers=["x-a"]).layer(
        answering(given)  # type: ignore[arg-type]
    )
    resp = await svc.serve(Request("GET", "/", headers=[("Origin", "https://app.example")]))
    assert resp.headers.get_all("access-control-allow-origin") == ["https://app.example"]
    assert resp.headers.get_all("access-control-expose-headers") == ["x-a"]
    assert resp.headers.get_all("access-control-allow-credentials") == ["true"]
    assert resp.headers.get_all("vary") == ["Origin"]


async def test_fields_are_added_when_absent() -> None:
    svc = CorsLayer.permissive().layer(answering([]))  # type: ignore[arg-type]
    resp = await svc.serve(Request("GET", "/", headers=[("Origin", "https://app.example")]))
    assert resp.headers.get_all("access-control-allow-origin") == ["*"]
    assert resp.headers.get_all("access-control-expose-headers") == ["*"]
    assert "vary" not in resp.headers  # '*' for everyone: nothing varies


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], ["Origin"]),
        ([("Vary", "Accept-Encoding")], ["Accept-Encoding", "Origin"]),
        ([("Vary", "origin")], ["origin"]),
        ([("Vary", "*")], ["*"]),
    ],
)
async def test_vary_is_merged(given: list[tuple[str, str]], expected: list[str]) -> None:
    svc = CorsLayer(allow_origins=["https://app.example"]).layer(answering(given))  # type: ignore[arg-type]
    resp = await svc.serve(Request("GET", "/", headers=[("Origin", "https://app.example")]))
    assert resp.headers.get_all("vary") == expected
    # an OPTIONS without Access-Control-Request-Method is not a preflight: it is served
    resp = await svc.serve(Request("OPTIONS", "/", headers=[("Origin", "https://app.example")]))
    assert await resp.body.collect() == b"ok"
