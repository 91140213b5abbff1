"""RequestBodyLimitLayer: the fast path for in-memory bodies within the limit."""

from __future__ import annotations

from pyrama_core import service_fn
from pyrama_http_types import Request, Response


async def test_body_limit_passes_an_in_memory_body_within_the_limit_untouched() -> None:
    from pyrama_http.layer import RequestBodyLimitLayer
    from pyrama_http_types import Body

    seen: list[Body] = []

    async def keep(req: Request) -> Response:
        seen.append(req.body)
        return Response.text(str(len(await req.body.collect())))

    svc = RequestBodyLimitLayer(4).layer(service_fn(keep))
    body = Body(b"abcd")
    resp = await svc.serve(Request("POST", "/", body=body))
    assert seen[0] is body
    assert await resp.body.collect() == b"4"
    too_big = await svc.serve(Request("POST", "/", body=Body(b"abcde")))
    assert int(too_big.status) == 413
    assert len(seen) == 1
