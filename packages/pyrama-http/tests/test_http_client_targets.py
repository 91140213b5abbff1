"""EasyHttpWebClient's per-origin target cache: connectors still see the request that connects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from pyrama_http import (
    EasyHttpWebClient,
    HttpConnectTarget,
    HttpVersionPolicy,
    TargetHttpVersion,
    _easy,
)
from pyrama_http.errors import InvalidRequestError, RequestTimeoutError
from pyrama_http_types import Request, Uri, UriForm, Version
from pyrama_net import EstablishedConnection
from pyrama_net.errors import ConnectError
from pyrama_tcp import TcpConnector


@asynccontextmanager
async def origin() -> AsyncIterator[int]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


class Recording:
    """A transport that records each target it connects."""

    def __init__(self) -> None:
        self.tcp = TcpConnector()
        self.seen: list[HttpConnectTarget] = []

    async def serve(self, target: HttpConnectTarget) -> EstablishedConnection[Any, Any]:
        self.seen.append(target)
        return await self.tcp.serve(target)


async def test_each_new_connection_gets_the_request_that_needed_it() -> None:
    transport = Recording()
    async with origin() as port:
        # no idle connections kept: every request connects again through the cached target
        client = EasyHttpWebClient(transport=transport, max_idle_per_host=0, trust_env=False)
        sent = [Request("GET", f"http://127.0.0.1:{port}/{i}") for i in range(3)]
        for req in sent:
            resp = await client.serve(req)
            assert await resp.body.collect() == b"ok"
        await client.close()
    assert [t.request for t in transport.seen] == sent
    assert {t.pool_key for t in transport.seen} == {
        ("http", "127.0.0.1", port, transport.seen[0].mode, None)
    }


async def test_reused_connections_and_per_request_versions() -> None:
    transport = Recording()
    async with origin() as port:
        client = EasyHttpWebClient(
            transport=transport, trust_env=False, version_policy=HttpVersionPolicy.HTTP1_ONLY
        )
        for i in range(3):
            resp = await client.serve(Request("GET", f"http://127.0.0.1:{port}/{i}"))
            assert await resp.body.collect() == b"ok"
        assert len(transport.seen) == 1  # one connection for the three
        req = Request("GET", f"http://127.0.0.1:{port}/h1")
        req.extensions.insert(TargetHttpVersion(Version.HTTP_11))
        resp = await client.serve(req)
        assert await resp.body.collect() == b"ok"
        await client.close()


def test_the_target_cache_is_bounded() -> None:
    client = EasyHttpWebClient(trust_env=False)
    for i in range(_easy._TARGET_CACHE_MAX + 10):
        target = client._target(Request("GET", f"http://h{i}.test:8080/"))
        assert target.host == f"h{i}.test"
        assert target.port == 8080
        assert target.request is None
        assert len(client._targets) <= _easy._TARGET_CACHE_MAX
    again = client._target(Request("GET", "http://H5.test:8080/x"))
    assert again.host == "h5.test"


def test_origin_forms_are_kept_per_uri_and_bounded() -> None:
    _easy._ORIGIN_FORMS.clear()
    for i in range(_easy._ORIGIN_FORMS_MAX + 10):
        uri = Uri(f"http://a.test/p/{i}?q={i}")
        got = _easy._origin_form(uri)
        assert got.as_bytes() == f"/p/{i}?q={i}".encode()
        assert got.form is UriForm.ORIGIN
        assert len(_easy._ORIGIN_FORMS) <= _easy._ORIGIN_FORMS_MAX
    first = _easy._origin_form(Uri("http://a.test/same?x"))
    assert _easy._origin_form(Uri("http://a.test/same?x")) is first
    other = _easy._origin_form(Uri("http://b.test:81/same?x"))
    assert other == first
    assert other is not first
    # neither another form nor a URI with a fragment is kept
    with_fragment = Uri("http://a.test/f#x", allow_fragment=True)
    assert _easy._origin_form(with_fragment).as_bytes() == b"/f"
    assert with_fragment.as_bytes() not in _easy._ORIGIN_FORMS
    origin = Uri("/already")
    assert _easy._origin_form(origin) is origin


def test_routes_are_kept_per_uri_bounded_and_skip_per_request_demands() -> None:
    client = EasyHttpWebClient(trust_env=False)
    for i in range(_easy._TARGET_CACHE_MAX + 10):
        target, origin_bytes = client._route(Request("GET", f"http://h{i % 7}.test:8080/p{i}?x"))
        assert target.host == f"h{i % 7}.test"
        assert origin_bytes == f"/p{i}?x".encode()
        assert len(client._routes) <= _easy._TARGET_CACHE_MAX
    first = client._route(Request("GET", "http://a.test/same"))
    assert client._route(Request("GET", "http://a.test/same")) is first
    # a per-request version demand is neither served from nor put into the cache
    req = Request("GET", "http://a.test/same")
    req.extensions.insert(TargetHttpVersion(Version.HTTP_2))
    routed = client._route(req)
    assert routed is not first
    assert routed[0].mode is not first[0].mode
    assert client._route(Request("GET", "http://a.test/same")) is first


async def test_a_bad_target_after_good_ones_is_still_refused() -> None:
    async with origin() as port:
        client = EasyHttpWebClient(trust_env=False)
        resp = await client.serve(Request("GET", f"http://127.0.0.1:{port}/"))
        assert await resp.body.collect() == b"ok"
        for bad in ("/relative", "ftp://127.0.0.1/x"):
            try:
                await client.serve(Request("GET", bad))
            except InvalidRequestError:
                pass
            else:
                raise AssertionError(f"{bad} was sent")
        await client.close()


async def test_with_a_deadline_other_errors_and_cancellation_pass_through() -> None:
    stalled = asyncio.Event()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        stalled.set()
        await asyncio.sleep(30)  # never answers
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = EasyHttpWebClient(trust_env=False, request_timeout=30)
    try:
        task = asyncio.ensure_future(client.serve(Request("GET", f"http://127.0.0.1:{port}/")))
        await asyncio.wait_for(stalled.wait(), 10)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("the cancelled request answered")
        assert task.cancelled()
        # a request that fails for another reason within its deadline: that error
        server.close()
        await server.wait_closed()
        with pytest.raises(ConnectError) as info:
            await client.serve(Request("GET", f"http://127.0.0.1:{port}/"))
        assert not isinstance(info.value, RequestTimeoutError)
    finally:
        server.close()
        await client.close()
