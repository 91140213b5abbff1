"""Sse responses: encoding, keep-alives, closing, and reading them over real HTTP/1.1 and h2."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator

import pytest
from http_support import GUARD, running

from pyrama_http import HttpClient, HttpServer
from pyrama_http.datastar import PatchSignals
from pyrama_http.sse import KeepAlive, Sse, SseEvent, read_sse_events
from pyrama_http_types import Request, Response, Version
from pyrama_http_types.errors import SseError, SseLimitError


async def three() -> AsyncIterator[object]:
    yield SseEvent(data="one", id="1")
    yield "two"
    yield PatchSignals(signals={"n": 3})


async def test_response_head_and_body() -> None:
    resp = Sse(three()).into_response()
    assert resp.status == 200
    assert resp.headers["content-type"] == "text/event-stream"
    assert resp.headers["cache-control"] == "no-cache"
    assert resp.headers["x-accel-buffering"] == "no"
    assert resp.body.size_hint is None
    assert await resp.body.collect() == (
        b'id: 1\ndata: one\n\ndata: two\n\nevent: datastar-patch-signals\ndata: signals {"n":3}\n\n'
    )


async def test_bad_item_fails_the_stream() -> None:
    async def bad() -> AsyncIterator[object]:
        yield 42

    with pytest.raises(SseError):
        await Sse(bad()).into_response().body.collect()


async def test_keep_alive_comments_while_silent() -> None:
    release = asyncio.Event()

    async def slow() -> AsyncIterator[SseEvent]:
        await release.wait()
        yield SseEvent(data="late")

    body = Sse(slow(), keep_alive=KeepAlive(0.01, "ping")).into_response().body
    it = aiter(body)
    assert await asyncio.wait_for(anext(it), GUARD) == b": ping\n\n"
    assert await asyncio.wait_for(anext(it), GUARD) == b": ping\n\n"
    release.set()
    chunk = await asyncio.wait_for(anext(it), GUARD)
    while chunk == b": ping\n\n":
        chunk = await asyncio.wait_for(anext(it), GUARD)
    assert chunk == b"data: late\n\n"
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(it), GUARD)
    assert KeepAlive().encode() == b":\n\n"
    with pytest.raises(ValueError, match="interval"):
        KeepAlive(0)
    assert Sse(slow(), keep_alive=2).keep_alive == KeepAlive(2.0)


async def test_closing_the_body_closes_the_generator() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[SseEvent]:
        try:
            while True:
                await asyncio.sleep(3600)
                yield SseEvent(data="never")
        finally:
            closed.set()

    body = Sse(endless(), keep_alive=0.01).into_response().body
    it = aiter(body)
    assert await asyncio.wait_for(anext(it), GUARD) == b":\n\n"
    await body.aclose()
    assert closed.is_set()


async def test_dropped_body_does_not_keep_a_waiting_generator_alive() -> None:
    closed = asyncio.Event()
    never = asyncio.Event()

    async def waiting() -> AsyncIterator[SseEvent]:
        try:
            await never.wait()
            yield SseEvent(data="never")
        finally:
            closed.set()

    body = Sse(waiting(), keep_alive=0.01).into_response().body
    it = aiter(body)
    assert await asyncio.wait_for(anext(it), GUARD) == b":\n\n"
    del it, body  # no aclose: what a driver that lost its connection does
    gc.collect()
    await asyncio.wait_for(closed.wait(), GUARD)


async def test_read_sse_events_from_a_local_response() -> None:
    events = [e async for e in read_sse_events(Sse(three()).into_response())]
    assert [e.data for e in events] == ["one", "two", 'signals {"n":3}']
    assert events[2].event == "datastar-patch-signals"
    assert events[1].id == "1"  # the last event id persists


async def test_read_sse_events_limit() -> None:
    async def big() -> AsyncIterator[str]:
        yield "x" * 100

    with pytest.raises(SseLimitError):
        async for _ in read_sse_events(Sse(big()).into_response(), max_line_size=50):
            pass


async def counter(request: Request) -> Response:
    n = int(request.uri.query or "3")

    async def events() -> AsyncIterator[SseEvent]:
        for i in range(n):
            yield SseEvent.json({"i": i}, event="count", id=str(i))
            await asyncio.sleep(0)

    return Sse(events(), keep_alive=5).into_response()


@pytest.mark.parametrize("version", [Version.HTTP_11, Version.HTTP_2])
async def test_sse_over_the_wire(version: Version) -> None:
    async with running(counter, HttpServer.auto()) as srv, HttpClient() as client:
        resp = await client.get(f"{srv.url}/?4").version(version)
        assert resp.status == 200
        assert resp.version == version
        assert resp.headers["content-type"] == "text/event-stream"
        got = [e async for e in read_sse_events(resp)]
        assert [e.json_data() for e in got] == [{"i": i} for i in range(4)]
        assert {e.event for e in got} == {"count"}
        assert got[-1].id == "3"


async def test_client_stops_reading_early() -> None:
    async with running(counter) as srv, HttpClient() as client:
        resp = await client.get(f"{srv.url}/?1000")
        async for event in read_sse_events(resp):
            assert event.json_data() == {"i": 0}
            break
        # the connection is usable for the next request
        resp = await client.get(f"{srv.url}/?1")
        assert [e.data async for e in read_sse_events(resp)] == ['{"i":0}']
