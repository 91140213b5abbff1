"""Set*HeaderLayer: an absent field is appended, a present one replaced in place."""

from __future__ import annotations

from pyrama_core import service_fn
from pyrama_http.layer import SetRequestHeaderLayer, SetResponseHeaderLayer
from pyrama_http_types import Request, Response


async def test_overriding_response_field_absent_and_present() -> None:
    async def inner(req: Request) -> Response:
        return (
            Response.text("x", headers=[("X-B", "old"), ("X-Other", "1"), ("x-b", "older")])
            if req.uri.path == "/present"
            else Response.text("x")
        )

    svc = SetResponseHeaderLayer.overriding("X-B", "new").layer(service_fn(inner))
    absent = await svc.serve(Request("GET", "/absent"))
    assert absent.headers.get_all("x-b") == ["new"]
    assert absent.headers.raw_items()[-1] == (b"X-B", b"new")  # appended
    present = await svc.serve(Request("GET", "/present"))
    assert present.headers.get_all("x-b") == ["new"]
    names = [n.lower() for n, _ in present.headers.raw_items()]
    assert names.index(b"x-b") < names.index(b"x-other")  # kept where the first value was


async def test_if_not_present_and_computed_values() -> None:
    seen: list[list[str]] = []

    async def inner(req: Request) -> Response:
        seen.append(req.headers.get_all("x-a"))
        return Response.empty()

    keep = SetRequestHeaderLayer.if_not_present("X-A", "default").layer(service_fn(inner))
    await keep.serve(Request())
    await keep.serve(Request(headers=[("X-A", "given")]))
    computed = SetRequestHeaderLayer.overriding("X-A", lambda h: None).layer(service_fn(inner))
    await computed.serve(Request(headers=[("X-A", "kept")]))
    assert seen == [["default"], ["given"], ["kept"]]
