"""TraceLayer under pyrama's logging setup: lines written, and the disabled-level fast path."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from pyrama_core import service_fn
from pyrama_core.telemetry import setup_logging
from pyrama_core.telemetry._logging import _teardown_logging
from pyrama_http.layer import TraceLayer
from pyrama_http_types import Body, Request, Response


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    level = logging.getLogger().level
    yield
    _teardown_logging()
    logging.getLogger().setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(x) for x in out.getvalue().splitlines() if x.strip()]


async def ok(req: Request) -> Response:
    return Response.text("hello")


async def streamed(req: Request) -> Response:
    async def gen() -> AsyncIterator[bytes]:
        yield b"abc"

    return Response(200, body=Body.from_iter(gen()))


async def boom(req: Request) -> Response:
    raise RuntimeError("nope")


async def test_enabled_level_writes_one_json_line_per_exchange() -> None:
    out = io.StringIO()
    setup_logging("json", "info", stream=out)
    svc = TraceLayer().layer(service_fn(ok))
    for _ in range(3):
        assert await (await svc.serve(Request("GET", "/a"))).body.collect() == b"hello"
    got = lines(out)
    assert len(got) == 3
    assert {e["event"] for e in got} == {"http request"}
    assert got[0]["path"] == "/a"
    assert got[0]["status"] == 200
    assert got[0]["bytes"] == 5
    assert got[0]["logger"] == "pyrama.http.trace"


async def test_disabled_level_skips_the_line_and_the_body_observer() -> None:
    out = io.StringIO()
    setup_logging("json", "warning", stream=out)
    inner_body: list[Body] = []

    async def keep(req: Request) -> Response:
        resp = await streamed(req)
        inner_body.append(resp.body)
        return resp

    svc = TraceLayer(level="info").layer(service_fn(keep))
    resp = await svc.serve(Request("GET", "/quiet"))
    assert resp.body is inner_body[0]  # not wrapped: nothing would be logged at its end
    assert await resp.body.collect() == b"abc"
    assert lines(out) == []
    # a failure is a warning: still written
    with pytest.raises(RuntimeError):
        await TraceLayer(level="info").layer(service_fn(boom)).serve(Request("PUT", "/x"))
    (entry,) = lines(out)
    assert entry["event"] == "http request failed"
    assert entry["method"] == "PUT"
    assert entry["path"] == "/x"
    assert entry["side"] == "server"
    assert entry["error"] == "RuntimeError: nope"
    assert entry["level"] == "warning"


async def test_the_level_is_asked_per_exchange() -> None:
    out = io.StringIO()
    setup_logging("json", "warning", stream=out)
    svc = TraceLayer(level="info").layer(service_fn(ok))
    await (await svc.serve(Request("GET", "/1"))).body.collect()
    logging.getLogger().setLevel(logging.INFO)
    await (await svc.serve(Request("GET", "/2"))).body.collect()
    assert [e["path"] for e in lines(out)] == ["/2"]
