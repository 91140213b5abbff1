"""Server-side HTTP layers with real Request/Response objects (and loopback where it matters)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import structlog
from http_support import GUARD, raw_exchange, running
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core import layers, service_fn
from pyrama_core.errors import ConfigError, ProtocolError, PyramaError
from pyrama_http.layer import (
    AuthorizedUser,
    CorsLayer,
    ErrorToResponseLayer,
    HstsLayer,
    HttpLimitLayer,
    HttpsRedirectLayer,
    HttpTimeoutLayer,
    NormalizePathLayer,
    PropagateHeaderLayer,
    RemoveRequestHeaderLayer,
    RemoveResponseHeaderLayer,
    RequestBodyLimitLayer,
    RequestId,
    RequestIdLayer,
    RequiredHeaderLayer,
    SetRequestHeaderLayer,
    SetResponseHeaderLayer,
    TraceLayer,
    TrailingSlash,
    ValidateRequestHeaderLayer,
    normalize_path,
)
from pyrama_http_types import Body, Request, Response, Version
from pyrama_http_types.errors import BodyTooLargeError
from pyrama_net import Basic


async def ok(req: Request) -> Response:
    return Response.text("ok")


async def echo_headers(req: Request) -> Response:
    return Response.json([[n, v] for n, v in req.headers.items()])


# -- headers -----------------------------------------------------------------------------------


async def test_set_request_header_modes() -> None:
    seen: list[Request] = []

    async def inner(req: Request) -> Response:
        seen.append(req)
        return Response.empty()

    base = [("X-A", "1"), ("X-A", "2")]
    cases: list[tuple[SetRequestHeaderLayer, str, list[str]]] = [
        (SetRequestHeaderLayer.overriding("x-a", "9"), "x-a", ["9"]),
        (SetRequestHeaderLayer.appending("x-a", "9"), "x-a", ["1", "2", "9"]),
        (SetRequestHeaderLayer.if_not_present("x-a", "9"), "x-a", ["1", "2"]),
        (SetRequestHeaderLayer.if_not_present("x-b", lambda h: None), "x-b", []),
        (SetRequestHeaderLayer.if_not_present("x-b", lambda h: h.get("x-a")), "x-b", ["1"]),
    ]
    for layer, name, expected in cases:
        seen.clear()
        await layer.layer(service_fn(inner)).serve(Request("GET", "/", headers=base))
        assert seen[0].headers.get_all(name) == expected


async def test_set_response_header_with_a_function() -> None:
    svc = SetResponseHeaderLayer.if_not_present(
        "Content-Length-Copy", lambda h: h.get("content-type")
    ).layer(service_fn(ok))
    resp = await svc.serve(Request())
    assert resp.headers["content-length-copy"] == "text/plain; charset=utf-8"
    with pytest.raises(PyramaError):
        SetResponseHeaderLayer.overriding("bad name", "x")


async def test_propagate_and_remove_headers() -> None:
    async def inner(req: Request) -> Response:
        resp = Response.json(sorted(n.lower() for n in req.headers.names()))
        resp.headers.add("X-Internal-Trace", "1")
        resp.headers.add("x-internal-cost", "2")
        resp.headers.add("X-Corr", "server-made")
        return resp

    svc = layers(
        PropagateHeaderLayer("x-corr"),
        RemoveResponseHeaderLayer(prefix="x-internal-"),
        RemoveRequestHeaderLayer("cookie", prefix="x-debug-"),
    ).into(service_fn(inner))
    resp = await svc.serve(
        Request(
            "GET",
            "/",
            headers=[
                ("Cookie", "a=b"),
                ("X-Debug-One", "1"),
                ("X-DEBUG-two", "2"),
                ("X-Corr", "abc"),
            ],
        )
    )
    assert json.loads(await resp.body.collect()) == ["x-corr"]
    assert "x-internal-trace" not in resp.headers
    assert "x-internal-cost" not in resp.headers
    assert resp.headers.get_all("x-corr") == ["abc"]


# -- request id ----------------------------------------------------------------------------------


async def test_request_id_made_and_propagated() -> None:
    ids = iter(["id-1", "id-2"])
    seen: list[str] = []

    async def inner(req: Request) -> Response:
        seen.append(req.extensions.require(RequestId).value)
        return Response.empty()

    svc = RequestIdLayer(make=lambda: next(ids)).layer(service_fn(inner))
    r1 = await svc.serve(Request())
    assert r1.headers["x-request-id"] == "id-1"
    r2 = await svc.serve(Request(headers=[("X-Request-Id", "client-given")]))
    assert r2.headers["x-request-id"] == "client-given"
    assert seen == ["id-1", "client-given"]
    default = await RequestIdLayer().layer(service_fn(inner)).serve(Request())
    assert len(default.headers["x-request-id"]) == 36  # a UUID4


# -- auth ----------------------------------------------------------------------------------------


async def test_basic_auth() -> None:
    async def who(req: Request) -> Response:
        user = req.extensions.require(AuthorizedUser).credentials
        assert isinstance(user, Basic)
        return Response.text(user.username)

    svc = ValidateRequestHeaderLayer.basic(("alice", "s3cret"), Basic("bob", "pw")).layer(
        service_fn(who)
    )
    good = await svc.serve(
        Request(headers=[("Authorization", Basic("bob", "pw").encode_header_value())])
    )
    assert await good.body.collect() == b"bob"
    for headers in (
        [],
        [("Authorization", Basic("alice", "wrong").encode_header_value())],
        [("Authorization", "Basic !!!")],
        [("Authorization", "Bearer abc")],
    ):
        bad = await svc.serve(Request(headers=headers))
        assert int(bad.status) == 401
        assert bad.headers["www-authenticate"].startswith('Basic realm="pyrama"')


async def test_bearer_and_custom_auth() -> None:
    svc = ValidateRequestHeaderLayer.bearer("tok-1").layer(service_fn(ok))
    assert (
        int((await svc.serve(Request(headers=[("Authorization", "Bearer tok-1")]))).status) == 200
    )
    denied = await svc.serve(Request(headers=[("Authorization", "Bearer tok-2")]))
    assert int(denied.status) == 401
    assert denied.headers["www-authenticate"] == 'Bearer realm="pyrama"'

    async def check(req: Request) -> bool | Response:
        key = req.headers.get("x-api-key")
        if key is None:
            return Response.text("give a key", 403)
        return key == "k"

    svc2 = ValidateRequestHeaderLayer.custom(check).layer(service_fn(ok))
    assert int((await svc2.serve(Request(headers=[("X-Api-Key", "k")]))).status) == 200
    assert int((await svc2.serve(Request(headers=[("X-Api-Key", "x")]))).status) == 401
    assert int((await svc2.serve(Request())).status) == 403


# -- CORS ----------------------------------------------------------------------------------------


async def test_cors_preflight_and_actual() -> None:
    called: list[str] = []

    async def inner(req: Request) -> Response:
        called.append(str(req.method))
        return Response.text("data")

    svc = CorsLayer(
        allow_origins=["https://app.example"],
        allow_methods=["GET", "PUT"],
        allow_headers=["x-token"],
        allow_credentials=True,
        expose_headers=["x-total"],
        max_age=600,
    ).layer(service_fn(inner))
    pre = await svc.serve(
        Request(
            "OPTIONS",
            "/",
            headers=[
                ("Origin", "https://app.example"),
                ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "x-token"),
            ],
        )
    )
    assert called == []
    assert int(pre.status) == 200
    h = pre.headers
    assert h["access-control-allow-origin"] == "https://app.example"
    assert h["access-control-allow-methods"] == "GET, PUT"
    assert h["access-control-allow-headers"] == "x-token"
    assert h["access-control-allow-credentials"] == "true"
    assert h["access-control-max-age"] == "600"
    assert "Origin" in h.get_joined("vary")  # type: ignore[operator]
    actual = await svc.serve(Request("GET", "/", headers=[("Origin", "https://app.example")]))
    assert actual.headers["access-control-allow-origin"] == "https://app.example"
    assert actual.headers["access-control-expose-headers"] == "x-total"
    other = await svc.serve(Request("GET", "/", headers=[("Origin", "https://evil.example")]))
    assert "access-control-allow-origin" not in other.headers
    assert other.headers["vary"] == "Origin"
    bad_pre = await svc.serve(
        Request(
            "OPTIONS",
            "/",
            headers=[("Origin", "https://evil.example"), ("Access-Control-Request-Method", "PUT")],
        )
    )
    assert "access-control-allow-origin" not in bad_pre.headers


async def test_cors_any_and_mirror() -> None:
    anyone = CorsLayer.permissive().layer(service_fn(ok))
    resp = await anyone.serve(Request("GET", "/", headers=[("Origin", "https://x.example")]))
    assert resp.headers["access-control-allow-origin"] == "*"
    assert "vary" not in resp.headers
    mirror = CorsLayer.very_permissive().layer(service_fn(ok))
    pre = await mirror.serve(
        Request(
            "OPTIONS",
            "/",
            headers=[
                ("Origin", "https://y.example"),
                ("Access-Control-Request-Method", "DELETE"),
                ("Access-Control-Request-Headers", "a, b"),
            ],
        )
    )
    assert pre.headers["access-control-allow-origin"] == "https://y.example"
    assert pre.headers["access-control-allow-methods"] == "DELETE"
    assert pre.headers["access-control-allow-headers"] == "a, b"
    with pytest.raises(ConfigError):
        CorsLayer(allow_origins="*", allow_credentials=True)


# -- path normalization ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "trim", "append"),
    [
        ("/", "/", "/"),
        ("/a/b/", "/a/b", "/a/b/"),
        ("//a///b", "/a/b", "/a/b/"),
        ("/a/./b/../c", "/a/c", "/a/c/"),
        ("/../../etc/passwd", "/etc/passwd", "/etc/passwd/"),
        ("/a/b/..", "/a", "/a/"),
    ],
)
def test_normalize_path(path: str, trim: str, append: str) -> None:
    assert normalize_path(path, TrailingSlash.TRIM) == trim
    assert normalize_path(path, TrailingSlash.APPEND) == append


@given(st.lists(st.sampled_from(["a", "b", ".", "..", "", "%2e"]), max_size=12))
def test_normalize_path_property(segments: list[str]) -> None:
    norm = normalize_path("/" + "/".join(segments))
    assert norm.startswith("/")
    assert "//" not in norm
    assert all(s not in (".", "..") for s in norm.split("/"))
    assert normalize_path(norm) == norm


async def test_normalize_path_layer_keeps_query() -> None:
    async def inner(req: Request) -> Response:
        return Response.text(req.uri.path_and_query)

    svc = NormalizePathLayer.trim_trailing_slash().layer(service_fn(inner))
    resp = await svc.serve(Request("GET", "//api/./v1/items/?q=1"))
    assert await resp.body.collect() == b"/api/v1/items?q=1"


# -- required headers, HSTS, HTTPS redirect ------------------------------------------------


async def test_required_host() -> None:
    svc = RequiredHeaderLayer().layer(service_fn(ok))
    assert int((await svc.serve(Request(headers=[("Host", "a")]))).status) == 200
    assert int((await svc.serve(Request())).status) == 400
    assert int((await svc.serve(Request(headers=[("Host", "a"), ("Host", "b")]))).status) == 400
    assert int((await svc.serve(Request(version=Version.HTTP_10))).status) == 200


async def test_required_host_over_loopback() -> None:
    async with running(RequiredHeaderLayer().layer(service_fn(ok))) as srv:
        reply = await raw_exchange(srv.port, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400")


async def test_hsts_and_https_redirect() -> None:
    hsts = HstsLayer(63072000, include_subdomains=True, preload=True).layer(service_fn(ok))
    resp = await hsts.serve(Request())
    assert (
        resp.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains; preload"
    )
    with pytest.raises(ConfigError):
        HstsLayer(100, preload=True)
    redirect = HttpsRedirectLayer(8443).layer(service_fn(ok))
    r = await redirect.serve(Request("GET", "/p?q=1", headers=[("Host", "example.com:8080")]))
    assert int(r.status) == 301
    assert r.headers["location"] == "https://example.com:8443/p?q=1"
    r = (
        await HttpsRedirectLayer()
        .layer(service_fn(ok))
        .serve(Request("POST", "/p", headers=[("Host", "[::1]:80")]))
    )
    assert int(r.status) == 308
    assert r.headers["location"] == "https://[::1]/p"


# -- errors, limits, timeouts --------------------------------------------------------------


async def test_error_to_response_hides_details() -> None:
    async def boom(req: Request) -> Response:
        if req.uri.path == "/hint":
            raise ProtocolError("the database password is hunter2", hint=422)
        raise RuntimeError("the database password is hunter2")

    svc = ErrorToResponseLayer().layer(service_fn(boom))
    r500 = await svc.serve(Request("GET", "/"))
    assert int(r500.status) == 500
    assert b"hunter2" not in await r500.body.collect()
    r422 = await svc.serve(Request("GET", "/hint"))
    assert int(r422.status) == 422
    assert b"hunter2" not in await r422.body.collect()


async def test_concurrency_limit_answers_503() -> None:
    gate = asyncio.Event()

    async def slow(req: Request) -> Response:
        await gate.wait()
        return Response.text("done")

    svc = HttpLimitLayer.concurrency(1).layer(service_fn(slow))
    first = asyncio.create_task(svc.serve(Request()))
    await asyncio.sleep(0)
    refused = await svc.serve(Request())
    assert int(refused.status) == 503
    assert refused.headers["retry-after"] == "1"
    gate.set()
    assert int((await asyncio.wait_for(first, GUARD)).status) == 200
    assert int((await svc.serve(Request())).status) == 200


async def test_rate_limit_answers_429_with_retry_after() -> None:
    svc = HttpLimitLayer.rate(2, 60.0).layer(service_fn(ok))
    assert int((await svc.serve(Request())).status) == 200
    assert int((await svc.serve(Request())).status) == 200
    limited = await svc.serve(Request())
    assert int(limited.status) == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 30


async def test_body_limit_announced_and_streaming() -> None:
    async def read(req: Request) -> Response:
        return Response.text(str(len(await req.body.collect())))

    svc = RequestBodyLimitLayer(10).layer(service_fn(read))
    assert await (await svc.serve(Request("POST", "/", body=b"0123456789"))).body.collect() == b"10"
    assert int((await svc.serve(Request("POST", "/", body=b"0123456789A"))).status) == 413

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"abcd"

    r = await svc.serve(Request("POST", "/", body=Body.from_iter(stream())))
    assert int(r.status) == 413

    async def careful(req: Request) -> Response:
        try:
            await req.body.collect()
        except BodyTooLargeError:
            return Response.text("handled", 400)
        return Response.text("read")

    svc2 = RequestBodyLimitLayer(10).layer(service_fn(careful))
    r = await svc2.serve(Request("POST", "/", body=Body.from_iter(stream())))
    assert int(r.status) == 400


async def test_body_limit_over_loopback() -> None:
    async def read(req: Request) -> Response:
        return Response.text(str(len(await req.body.collect())))

    async with running(RequestBodyLimitLayer(1000).layer(service_fn(read))) as srv:
        reply = await raw_exchange(
            srv.port,
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + b"400\r\n"
            + b"a" * 1024
            + b"\r\n0\r\n\r\n",
        )
    assert reply.startswith(b"HTTP/1.1 413")


async def test_http_timeout_server_and_client() -> None:
    async def hang(req: Request) -> Response:
        await asyncio.sleep(GUARD)
        return Response.text("late")

    svc = HttpTimeoutLayer(0.05).layer(service_fn(hang))
    assert int((await svc.serve(Request())).status) == 408
    assert (
        int((await HttpTimeoutLayer.gateway(0.05).layer(service_fn(hang)).serve(Request())).status)
        == 504
    )
    from pyrama_http.errors import RequestTimeoutError

    with pytest.raises(RequestTimeoutError):
        await HttpTimeoutLayer.client(0.05).layer(service_fn(hang)).serve(Request())
    fast = await HttpTimeoutLayer(5).layer(service_fn(ok)).serve(Request())
    assert int(fast.status) == 200


# -- trace ---------------------------------------------------------------------------------------


async def test_trace_logs_one_line_after_the_body() -> None:
    async def streamed(req: Request) -> Response:
        async def gen() -> AsyncIterator[bytes]:
            yield b"12345"
            yield b"678"

        return Response(201, body=Body.from_iter(gen()))

    with structlog.testing.capture_logs() as logs:
        svc = TraceLayer().layer(service_fn(streamed))
        resp = await svc.serve(Request("POST", "/items?x=1"))
        assert logs == []  # nothing until the body went through
        assert await resp.body.collect() == b"12345678"
    (entry,) = logs
    assert entry["event"] == "http request"
    assert entry["method"] == "POST"
    assert entry["path"] == "/items"
    assert entry["status"] == 201
    assert entry["bytes"] == 8
    assert entry["duration_ms"] >= 0
    assert entry["log_level"] == "info"


async def test_trace_logs_failures() -> None:
    async def boom(req: Request) -> Response:
        raise RuntimeError("nope")

    with structlog.testing.capture_logs() as logs, pytest.raises(RuntimeError):
        await TraceLayer().layer(service_fn(boom)).serve(Request())
    assert logs[0]["event"] == "http request failed"
    assert "RuntimeError" in logs[0]["error"]


async def test_http_timeout_passes_the_inner_services_own_timeout() -> None:
    from pyrama_core.errors import PyramaTimeoutError

    async def own(req: Request) -> Response:
        raise PyramaTimeoutError("upstream gave up", seconds=5.0)

    with pytest.raises(PyramaTimeoutError, match="upstream gave up"):
        await HttpTimeoutLayer(5.0).layer(service_fn(own)).serve(Request())
