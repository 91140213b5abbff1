"""K8sHealth: liveness and readiness probes with pluggable checks."""

from __future__ import annotations

from pyrama_core import service_fn
from pyrama_http.health import K8sHealth
from pyrama_http_types import Request, Response


async def test_default_probes_are_healthy() -> None:
    h = K8sHealth()
    for path in ("/k8s/alive", "/k8s/ready"):
        resp = await h.serve(Request("GET", path))
        assert resp.status == 200
        assert resp.headers["cache-control"] == "no-store"
        assert await resp.body.collect() == b"ok\n"
    assert (await h.serve(Request("HEAD", "/k8s/ready"))).status == 200
    assert (await h.serve(Request("GET", "/other"))).status == 404
    resp = await h.serve(Request("POST", "/k8s/alive"))
    assert resp.status == 405
    assert resp.headers["allow"] == "GET, HEAD"


async def test_checks_decide_and_run_each_time() -> None:
    state = {"ready": False}
    calls = []

    def alive() -> bool:
        calls.append("alive")
        return True

    async def ready() -> bool:
        return state["ready"]

    h = K8sHealth(alive=alive, ready=[alive, ready])
    assert (await h.serve(Request("GET", "/k8s/alive"))).status == 200
    resp = await h.serve(Request("GET", "/k8s/ready"))
    assert resp.status == 503
    assert await resp.body.collect() == b"unavailable\n"
    state["ready"] = True
    assert (await h.serve(Request("GET", "/k8s/ready"))).status == 200
    assert calls == ["alive"] * 3


async def test_failing_or_odd_checks_are_unhealthy() -> None:
    def boom() -> bool:
        raise RuntimeError("database down")

    def truthy() -> bool:
        return 1  # type: ignore[return-value]

    assert (await K8sHealth(ready=boom).serve(Request("GET", "/k8s/ready"))).status == 503
    assert (await K8sHealth(alive=truthy).serve(Request("GET", "/k8s/alive"))).status == 503


async def test_inner_service_and_custom_paths() -> None:
    async def app(req: Request) -> Response:
        return Response.text("app " + req.uri.path)

    h = K8sHealth(inner=service_fn(app), alive_path="/healthz", ready_path="/readyz")
    assert await (await h.serve(Request("GET", "/x"))).body.collect() == b"app /x"
    assert await (await h.serve(Request("GET", "/k8s/alive"))).body.collect() == b"app /k8s/alive"
    assert (await h.serve(Request("GET", "/healthz"))).status == 200
    assert (await h.serve(Request("GET", "/readyz"))).status == 200
