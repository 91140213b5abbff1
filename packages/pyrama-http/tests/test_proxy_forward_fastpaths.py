"""HttpProxy's forwarding fast paths: kept targets and untouched response headers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pyrama_core import service_fn
from pyrama_http.proxy import HttpProxy, _service
from pyrama_http_types import HeaderMap, Request, Response


@pytest.fixture(autouse=True)
def _no_kept_targets() -> Iterator[None]:
    _service._TARGETS.clear()
    yield
    _service._TARGETS.clear()


def _proxy(seen: list[Request], response: HeaderMap | None = None) -> HttpProxy:
    async def origin(req: Request) -> Response:
        seen.append(req)
        out = Response(200, body=b"ok")
        if response is not None:
            out.headers = response
        return out

    return HttpProxy(client=service_fn(origin))


async def test_a_kept_target_forwards_like_a_new_one() -> None:
    seen: list[Request] = []
    proxy = _proxy(seen)
    for host in ["wrong", "a.test:81", "wrong", "a.test:81"]:
        req = Request("GET", "http://a.test:81/x", headers=[("Host", host), ("X", "1")])
        assert (await proxy.serve(req)).status == 200
        assert seen[-1].headers.raw_items() == [(b"Host", b"a.test:81"), (b"X", b"1")]
    assert list(_service._TARGETS) == [b"http://a.test:81/x"]


async def test_bad_targets_are_refused_every_time_after_a_good_one_was_kept() -> None:
    seen: list[Request] = []
    proxy = _proxy(seen)
    assert (await proxy.serve(Request("GET", "http://a.test/x"))).status == 200
    for target in ["/x", "ftp://a.test/x", "http://u:p@a.test/x", "*"]:
        for _ in range(3):
            answer = await proxy.serve(Request("GET", target))
            assert answer.status == 400
    assert len(seen) == 1
    assert list(_service._TARGETS) == [b"http://a.test/x"]


async def test_kept_targets_are_bounded() -> None:
    proxy = _proxy([])
    for i in range(_service._TARGETS_MAX + 10):
        assert (await proxy.serve(Request("GET", f"http://a.test/{i}"))).status == 200
        assert len(_service._TARGETS) <= _service._TARGETS_MAX


async def test_response_headers_without_hop_by_hop_fields_are_kept_as_they_are() -> None:
    plain = HeaderMap.from_raw([(b"Content-Type", b"text/plain"), (b"X-A", b"1")])
    answer = await _proxy([], plain).serve(Request("GET", "http://a.test/"))
    assert answer.headers is plain
    hop = HeaderMap.from_raw([(b"Connection", b"x-a"), (b"X-A", b"1"), (b"B", b"2")])
    answer = await _proxy([], hop).serve(Request("GET", "http://a.test/"))
    assert answer.headers.raw_items() == [(b"B", b"2")]
