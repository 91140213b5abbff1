"""Client-side HTTP layers: redirects, retries, authorization, required headers."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest
from http_support import running

from pyrama_core import ExponentialBackoff, layers, service_fn
from pyrama_http import EasyHttpWebClient
from pyrama_http.layer import (
    AddAuthorizationLayer,
    AddRequiredRequestHeadersLayer,
    FollowRedirectLayer,
    RedirectHistory,
    RedirectLoopError,
    RetryLayer,
    SensitiveHeaders,
    StandardRetryPolicy,
    TooManyRedirectsError,
)
from pyrama_http_types import Body, Request, Response


class Recorder:
    """An upstream double: answers from a routing function and records every request."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []

    async def record(self, req: Request) -> bytes:
        body = await req.body.collect()
        self.seen.append(
            (str(req.method), str(req.uri), {n.lower(): v for n, v in req.headers.items()}, body)
        )
        return body


def redirect(status: int, location: str) -> Response:
    resp = Response(status)
    resp.headers.add("Location", location)
    return resp


async def test_redirect_method_rules_and_relative_location() -> None:
    rec = Recorder()

    async def upstream(req: Request) -> Response:
        await rec.record(req)
        path = req.uri.path
        if path.endswith("/303"):
            return redirect(303, "../done?x=1#frag")
        if path == "/302":
            return redirect(302, "/done")
        if path == "/307":
            return redirect(307, "http://a.test/done")
        return Response.text("final")

    svc = FollowRedirectLayer().layer(service_fn(upstream))
    for start, method, expect_method, expect_body in [
        ("http://a.test/x/303", "POST", "GET", b""),
        ("http://a.test/302", "POST", "GET", b""),
        ("http://a.test/302", "PUT", "PUT", b"data"),
        ("http://a.test/307", "POST", "POST", b"data"),
    ]:
        rec.seen.clear()
        resp = await svc.serve(
            Request(
                method,
                start,
                headers=[("Content-Type", "text/plain"), ("Content-Length", "4")],
                body=b"data",
            )
        )
        assert await resp.body.collect() == b"final"
        m, uri, headers, body = rec.seen[-1]
        assert (m, body) == (expect_method, expect_body)
        assert uri.startswith("http://a.test/done")
        if expect_method == "GET":
            assert "content-type" not in headers
        history = resp.extensions.require(RedirectHistory)
        assert str(history.uris[0]) == start
    assert rec.seen[-1][1] == "http://a.test/done"
    # 303 resolved "../done?x=1" against /x/303, fragment dropped
    rec.seen.clear()
    await svc.serve(Request("GET", "http://a.test/x/303"))
    assert rec.seen[-1][1] == "http://a.test/done?x=1"


async def test_cross_origin_strips_credentials() -> None:
    rec = Recorder()

    async def upstream(req: Request) -> Response:
        await rec.record(req)
        if req.uri.host is not None and str(req.uri.host) == "a.test" and req.uri.path == "/go":
            return redirect(302, "http://b.test/there")
        if req.uri.path == "/same":
            return redirect(302, "/there")
        return Response.text("ok")

    svc = FollowRedirectLayer().layer(service_fn(upstream))
    secret = [("Authorization", "Bearer x"), ("Cookie", "s=1"), ("Proxy-Authorization", "Basic y")]
    await svc.serve(Request("GET", "http://a.test/go", headers=secret))
    assert not {"authorization", "cookie", "proxy-authorization"} & set(rec.seen[-1][2])
    await svc.serve(Request("GET", "http://a.test/same", headers=secret))
    assert {"authorization", "cookie", "proxy-authorization"} <= set(rec.seen[-1][2])


async def test_too_many_redirects_and_loops() -> None:
    counter = 0

    async def chain(req: Request) -> Response:
        nonlocal counter
        counter += 1
        return redirect(302, f"/r{counter}")

    with pytest.raises(TooManyRedirectsError):
        await FollowRedirectLayer(3).layer(service_fn(chain)).serve(Request("GET", "http://a/"))
    assert counter == 4

    async def loop(req: Request) -> Response:
        return redirect(301, "/b" if req.uri.path == "/a" else "/a")

    with pytest.raises(RedirectLoopError):
        await FollowRedirectLayer().layer(service_fn(loop)).serve(Request("GET", "http://a/a"))


async def test_streamed_body_is_not_replayed_on_307() -> None:
    async def upstream(req: Request) -> Response:
        await req.body.collect()
        return redirect(307, "/elsewhere")

    async def gen() -> AsyncIterator[bytes]:
        yield b"once"

    svc = FollowRedirectLayer().layer(service_fn(upstream))
    resp = await svc.serve(Request("POST", "http://a/x", body=Body.from_iter(gen())))
    assert int(resp.status) == 307  # handed back: the body cannot be sent twice


async def test_non_http_location_is_not_followed() -> None:
    async def upstream(req: Request) -> Response:
        return redirect(302, "ftp://files.example/x")

    resp = (
        await FollowRedirectLayer().layer(service_fn(upstream)).serve(Request("GET", "http://a/"))
    )
    assert int(resp.status) == 302


async def test_redirect_over_loopback() -> None:
    async def site(req: Request) -> Response:
        if req.uri.path == "/old":
            return Response.redirect("/new", 308)
        return Response.text(f"{req.method} {req.uri.path} {(await req.body.collect()).decode()}")

    async with running(site) as srv, EasyHttpWebClient() as client:
        svc = FollowRedirectLayer().layer(client)
        resp = await svc.serve(Request("PUT", srv.url + "/old", body=b"payload"))
        assert await resp.body.collect() == b"PUT /new payload"


# -- retry -------------------------------------------------------------------------------------


def no_sleep_backoff() -> ExponentialBackoff:
    async def sleep(_: float) -> None:
        return None

    return ExponentialBackoff(0.01, 0.1, rng=random.Random(1), sleep=sleep)


async def test_retry_on_status_and_connection_errors() -> None:
    attempts: list[bytes] = []
    outcomes: list[object] = [ConnectionResetError("reset"), Response(503), Response.text("ok")]

    async def flaky(req: Request) -> Response:
        attempts.append(await req.body.collect())
        out = outcomes.pop(0)
        if isinstance(out, Exception):
            raise out
        assert isinstance(out, Response)
        return out

    svc = RetryLayer(backoff=no_sleep_backoff()).layer(service_fn(flaky))
    resp = await svc.serve(Request("PUT", "http://a/", body=b"same body"))
    assert await resp.body.collect() == b"ok"
    assert attempts == [b"same body"] * 3


async def test_retry_limits() -> None:
    calls = 0

    async def down(req: Request) -> Response:
        nonlocal calls
        calls += 1
        return Response(502)

    svc = RetryLayer(max_attempts=4, backoff=no_sleep_backoff()).layer(service_fn(down))
    assert int((await svc.serve(Request("GET", "http://a/"))).status) == 502
    assert calls == 4
    calls = 0
    assert int((await svc.serve(Request("POST", "http://a/", body=b"x"))).status) == 502
    assert calls == 1  # POST is not idempotent
    calls = 0
    any_method = RetryLayer(
        StandardRetryPolicy(any_method=True), max_attempts=2, backoff=no_sleep_backoff()
    ).layer(service_fn(down))
    await any_method.serve(Request("POST", "http://a/", body=b"x"))
    assert calls == 2

    async def gen() -> AsyncIterator[bytes]:
        yield b"stream"

    calls = 0
    await svc.serve(Request("PUT", "http://a/", body=Body.from_iter(gen())))
    assert calls == 1  # a streamed body is not replayable

    async def broken(req: Request) -> Response:
        nonlocal calls
        calls += 1
        raise ValueError("a bug, not a network error")

    calls = 0
    with pytest.raises(ValueError, match="a bug"):
        await RetryLayer(backoff=no_sleep_backoff()).layer(service_fn(broken)).serve(Request())
    assert calls == 1


async def test_retry_against_a_refusing_port() -> None:
    """Connection refused is retried, then surfaces as the client's connect error."""
    from http_support import free_tcp_port

    from pyrama_net.errors import ConnectError

    port = free_tcp_port()
    async with EasyHttpWebClient(max_retries=0) as client:
        svc = RetryLayer(max_attempts=2, backoff=no_sleep_backoff()).layer(client)
        with pytest.raises(ConnectError):
            await svc.serve(Request("GET", f"http://127.0.0.1:{port}/"))


# -- authorization, required headers -------------------------------------------------------------


async def test_add_authorization_marks_sensitive() -> None:
    rec = Recorder()
    marks: list[frozenset[str]] = []

    async def upstream(req: Request) -> Response:
        await rec.record(req)
        marks.append(req.extensions.require(SensitiveHeaders).names)
        return Response.empty()

    svc = layers(
        AddAuthorizationLayer.basic("u", "p"), AddAuthorizationLayer.bearer("t", proxy=True)
    ).into(service_fn(upstream))
    await svc.serve(Request("GET", "http://a/"))
    assert rec.seen[0][2]["authorization"] == "Basic dTpw"
    assert rec.seen[0][2]["proxy-authorization"] == "Bearer t"
    assert marks[0] == {"authorization", "proxy-authorization"}
    keep = AddAuthorizationLayer.bearer("t", if_absent=True).layer(service_fn(upstream))
    await keep.serve(Request("GET", "http://a/", headers=[("Authorization", "Bearer mine")]))
    assert rec.seen[-1][2]["authorization"] == "Bearer mine"
    assert "<redacted>" in repr(AddAuthorizationLayer.basic("u", "p"))


async def test_add_required_request_headers() -> None:
    rec = Recorder()

    async def upstream(req: Request) -> Response:
        await rec.record(req)
        return Response.empty()

    svc = AddRequiredRequestHeadersLayer().layer(service_fn(upstream))
    await svc.serve(Request("GET", "http://user@example.com:8080/x"))
    assert rec.seen[0][2]["host"] == "example.com:8080"
    assert rec.seen[0][2]["user-agent"].startswith("pyrama/")
    await svc.serve(Request("GET", "http://example.com/", headers=[("User-Agent", "mine")]))
    assert rec.seen[1][2]["user-agent"] == "mine"


async def test_body_dropped_by_303_is_not_resent_by_a_later_307() -> None:
    rec = Recorder()

    async def upstream(req: Request) -> Response:
        await rec.record(req)
        if req.uri.path == "/a":
            return redirect(303, "/b")
        if req.uri.path == "/b":
            return redirect(307, "/c")
        return Response.text("end")

    svc = FollowRedirectLayer().layer(service_fn(upstream))
    await svc.serve(Request("POST", "http://h/a", body=b"form=1"))
    assert [(m, body) for m, _, _, body in rec.seen] == [
        ("POST", b"form=1"),
        ("GET", b""),
        ("GET", b""),
    ]
