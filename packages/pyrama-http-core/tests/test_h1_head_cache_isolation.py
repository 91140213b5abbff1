"""A cached request head is shared: what one service does to its request never reaches the next."""

from __future__ import annotations

import asyncio

import pytest

from pyrama_core import service_fn
from pyrama_http_core import Http1Config, serve_http1
from pyrama_http_types import Request, Response
from pyrama_testing import MockStream

GET = b"GET /poll?x=1 HTTP/1.1\r\nHost: a\r\nX-Keep: original\r\nAccept: */*\r\n\r\n"

# every test here runs with each HTTP/1.1 server codec as the driver default (conftest.py)
pytestmark = pytest.mark.usefixtures("each_server_codec")


async def test_header_changes_by_a_service_do_not_leak_into_later_identical_requests() -> None:
    seen: list[list[tuple[str, str]]] = []

    async def handler(req: Request) -> Response:
        seen.append(req.headers.items())
        # a service (a proxy, a layer) edits the request it was given, in every way it can
        req.headers.remove("x-keep")
        req.headers.add("X-Added", "by-the-service")
        req.headers.set("Accept", "text/plain")
        return Response.text("ok")

    stream = MockStream()
    for _ in range(5):  # pipelined; from the second parse on, the head comes from the cache
        stream.feed(GET)
    stream.feed_eof()
    await asyncio.wait_for(serve_http1(stream, service_fn(handler), Http1Config()), 10)
    assert len(seen) == 5
    assert seen[0] == [("Host", "a"), ("X-Keep", "original"), ("Accept", "*/*")]
    assert all(s == seen[0] for s in seen), seen
    assert b"".join(stream.written).count(b"HTTP/1.1 200") == 5
