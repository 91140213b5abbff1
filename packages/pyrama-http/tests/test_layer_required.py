"""RequiredHeaderLayer on large header maps (past the small-map scan) and mixed case."""

from __future__ import annotations

from pyrama_core import service_fn
from pyrama_http.layer import RequiredHeaderLayer
from pyrama_http_types import Request, Response


async def ok(req: Request) -> Response:
    return Response.text("ok")


async def test_host_count_in_large_and_mixed_case_maps() -> None:
    svc = RequiredHeaderLayer().layer(service_fn(ok))
    many = [(f"X-F{i}", str(i)) for i in range(64)]
    assert int((await svc.serve(Request(headers=[*many, ("hOsT", "a")]))).status) == 200
    two = [("Host", "a"), *many, ("HOST", "b")]
    assert int((await svc.serve(Request(headers=two))).status) == 400
    assert int((await svc.serve(Request(headers=many))).status) == 400
