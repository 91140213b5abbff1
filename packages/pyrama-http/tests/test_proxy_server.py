"""HttpProxy over loopback: forwarding, hop-by-hop stripping, CONNECT tunnels, errors, auth."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from http_support import GUARD, free_tcp_port, running
from proxy_support import header_echo, proxy_running, read_head, tcp_echo

from pyrama_core import layers, service_fn
from pyrama_core.errors import ConfigError
from pyrama_http import HttpProxyConnector
from pyrama_http.proxy import (
    HttpProxy,
    ProxyAuthLayer,
    ProxyUser,
    TunnelTarget,
)
from pyrama_http_types import Body, Request, Response, Version
from pyrama_net import Basic, EstablishedConnection, ProxyAddress, Stream


async def exchange(port: int, data: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(data)
    await w.drain()
    return r, w


async def status_of(port: int, request: bytes) -> tuple[int, bytes]:
    r, w = await exchange(port, request)
    try:
        head = await read_head(r)
        return int(head.split(b" ", 2)[1]), head
    finally:
        w.close()


async def test_forward_strips_hop_by_hop_and_keeps_case_and_order() -> None:
    async with running(header_echo) as origin, proxy_running() as proxy:
        auth = Basic("u", "p").encode_header_value()
        r, w = await exchange(
            proxy.port,
            (
                f"GET http://127.0.0.1:{origin.port}/a/b?q=1 HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{origin.port}\r\n"
                "X-Custom-HEADER: One\r\n"
                "Connection: keep-alive, X-Drop-Me\r\n"
                "X-Drop-Me: secret\r\n"
                f"Proxy-Authorization: {auth}\r\n"
                "Proxy-Connection: keep-alive\r\n"
                "Keep-Alive: timeout=5\r\n"
                "TE: trailers\r\n"
                "x-last: z\r\n\r\n"
            ).encode(),
        )
        head = await read_head(r)
        assert head.startswith(b"HTTP/1.1 200")
        # response hop-by-hop fields (and the one Connection named) are gone too
        assert b"X-Secret" not in head
        assert b"Keep-Alive" not in head
        assert b"X-Body-Len: 0" in head
        length = int(head.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
        body = await asyncio.wait_for(r.readexactly(length), GUARD)
        w.close()
    lines = body.decode().splitlines()
    assert lines == [
        "GET /a/b?q=1",
        f"Host: 127.0.0.1:{origin.port}",
        "X-Custom-HEADER: One",
        "x-last: z",
    ]


async def test_forward_fixes_host_and_adds_via() -> None:
    async with running(header_echo) as origin, proxy_running(HttpProxy(via="pyrama")) as proxy:
        r, w = await exchange(
            proxy.port,
            f"GET http://127.0.0.1:{origin.port}/ HTTP/1.1\r\nHost: elsewhere\r\n\r\n".encode(),
        )
        head = await read_head(r)
        assert b"Via: 1.1 pyrama" in head
        length = int(head.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
        body = await asyncio.wait_for(r.readexactly(length), GUARD)
        w.close()
    assert body.decode().splitlines()[1:] == [
        f"Host: 127.0.0.1:{origin.port}",
        "Via: 1.1 pyrama",
    ]


async def test_bodies_stream_both_ways() -> None:
    async def echo(req: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            async for chunk in req.body:
                yield chunk

        return Response(200, body=Body.from_iter(chunks()))

    data = os.urandom(3 << 20)
    async with running(echo) as origin, proxy_running() as proxy:
        r, w = await exchange(
            proxy.port,
            f"POST http://127.0.0.1:{origin.port}/up HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode(),
        )
        w.write(data)
        await w.drain()
        head = await read_head(r)
        assert head.startswith(b"HTTP/1.1 200")
        assert b"transfer-encoding: chunked" in head.lower()
        got = bytearray()
        while True:
            size_line = await asyncio.wait_for(r.readuntil(b"\r\n"), GUARD)
            size = int(size_line.strip(), 16)
            if size == 0:
                break
            got += await asyncio.wait_for(r.readexactly(size + 2), GUARD)
            del got[-2:]
        w.close()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


async def test_origin_form_and_other_schemes_are_refused() -> None:
    async with proxy_running() as proxy:
        status, _ = await status_of(proxy.port, b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        assert status == 400
        status, _ = await status_of(proxy.port, b"GET ftp://a/x HTTP/1.1\r\nHost: a\r\n\r\n")
        assert status == 400
        status, _ = await status_of(proxy.port, b"GET http://u@a/x HTTP/1.1\r\nHost: a\r\n\r\n")
        assert status == 400


async def test_forward_to_unreachable_origin_is_502() -> None:
    dead = free_tcp_port()
    async with proxy_running() as proxy:
        status, _ = await status_of(
            proxy.port, f"GET http://127.0.0.1:{dead}/ HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
    assert status == 502


async def test_connect_tunnel_relays_bytes() -> None:
    async with tcp_echo() as port, proxy_running() as proxy:
        r, w = await exchange(
            proxy.port,
            f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\nearly".encode(),
        )
        head = await read_head(r)
        assert head == b"HTTP/1.1 200 OK\r\n\r\n"
        assert await asyncio.wait_for(r.readexactly(5), GUARD) == b"early"
        blob = os.urandom(1 << 20)
        w.write(blob)
        await w.drain()
        assert await asyncio.wait_for(r.readexactly(len(blob)), GUARD) == blob
        w.write_eof()
        assert await asyncio.wait_for(r.read(), GUARD) == b""  # half-close went through
        w.close()


@pytest.mark.parametrize(
    "target",
    [
        b"127.0.0.1",  # no port
        b"/path",  # origin form
        b"http://127.0.0.1:80/",  # absolute form
        b"john@127.0.0.1:80",  # userinfo
        b"bad_host!:80",  # not a host
        b"127.0.0.1:0",  # port 0
        b"127.0.0.1:99999",  # port out of range
        b"[::1:80",  # broken IPv6
    ],
)
async def test_malformed_connect_targets_are_400(target: bytes) -> None:
    async with proxy_running() as proxy:
        status, _ = await status_of(
            proxy.port, b"CONNECT " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n"
        )
    assert status == 400


async def test_connect_unreachable_is_502_and_timeout_is_504() -> None:
    dead = free_tcp_port()
    async with proxy_running() as proxy:
        status, _ = await status_of(
            proxy.port, f"CONNECT 127.0.0.1:{dead} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
    assert status == 502

    class Hanging:
        async def serve(self, target: TunnelTarget) -> EstablishedConnection[Any, Stream]:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    async with proxy_running(HttpProxy(connector=Hanging(), connect_timeout=0.2)) as proxy:
        status, _ = await status_of(
            proxy.port, b"CONNECT example.test:443 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
    assert status == 504


async def test_lazy_connect_answers_first() -> None:
    dead = free_tcp_port()
    async with tcp_echo() as port, proxy_running(HttpProxy(lazy_connect=True)) as proxy:
        r, w = await exchange(
            proxy.port, f"CONNECT 127.0.0.1:{dead} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        assert (await read_head(r)).startswith(b"HTTP/1.1 200")
        assert await asyncio.wait_for(r.read(), GUARD) == b""  # dial failed: tunnel closed
        w.close()
        r, w = await exchange(
            proxy.port, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        assert (await read_head(r)).startswith(b"HTTP/1.1 200")
        w.write(b"ping")
        assert await asyncio.wait_for(r.readexactly(4), GUARD) == b"ping"
        w.close()


async def test_h2_connect_tunnel() -> None:
    async with tcp_echo() as port, proxy_running() as proxy:
        connector = HttpProxyConnector(version=Version.HTTP_2)
        stream = await connector.open_tunnel(ProxyAddress.parse(proxy.url), "127.0.0.1", port)
        try:
            stream.write(b"over h2")
            await stream.drain()
            got = b""
            while len(got) < 7:
                got += await asyncio.wait_for(stream.read(), GUARD)
            assert got == b"over h2"
        finally:
            await stream.close()


# -- authentication -------------------------------------------------------------------------


async def test_proxy_auth_407_and_pass() -> None:
    seen: list[Any] = []

    async def inner(req: Request) -> Response:
        seen.append((req.extensions.get(ProxyUser), req.headers.get("proxy-authorization")))
        return Response.text("ok")

    svc = layers(ProxyAuthLayer(Basic("john", "secret"), realm="test")).into(service_fn(inner))
    for header in (None, "Basic Zm9v", Basic("john", "wrong").encode_header_value()):
        req = Request(
            "GET", "http://a/", headers=[] if header is None else [("Proxy-Authorization", header)]
        )
        resp = await svc.serve(req)
        assert int(resp.status) == 407
        assert resp.headers["proxy-authenticate"] == 'Basic realm="test", charset="UTF-8"'
    assert seen == []
    req = Request(
        "GET",
        "http://a/",
        headers=[("Proxy-Authorization", Basic("john", "secret").encode_header_value())],
    )
    resp = await svc.serve(req)
    assert int(resp.status) == 200
    assert seen == [(ProxyUser("john", "john"), None)]


async def test_username_parser_and_async_authorizer() -> None:
    class Labels(tuple[str, ...]):
        pass

    def parse(username: str) -> tuple[str, object | None]:
        user, *labels = username.split("-")
        if "bad" in labels:
            raise ValueError("unknown label")
        return user, Labels(labels) if labels else None

    async def authorize(cred: Basic) -> bool:
        await asyncio.sleep(0)
        return cred.username == "john" and cred.password == "pw"

    got: list[Any] = []

    async def inner(req: Request) -> Response:
        got.append((req.extensions.get(ProxyUser), req.extensions.get(Labels)))
        return Response.text("ok")

    svc = layers(ProxyAuthLayer(authorize, username_parser=parse)).into(service_fn(inner))

    def req(user: str) -> Request:
        value = Basic(user, "pw").encode_header_value()
        return Request("GET", "http://a/", headers=[("Proxy-Authorization", value)])

    assert int((await svc.serve(req("john-country-us-residential"))).status) == 200
    assert got == [
        (ProxyUser("john", "john-country-us-residential"), ("country", "us", "residential"))
    ]
    assert int((await svc.serve(req("john-bad"))).status) == 407
    assert int((await svc.serve(req("jane-country-us"))).status) == 407


async def test_auth_guards_connect_over_the_wire() -> None:
    svc = layers(ProxyAuthLayer([Basic("a", "1"), Basic("b", "2")])).into(HttpProxy())
    async with tcp_echo() as port, proxy_running(svc) as proxy:
        status, head = await status_of(
            proxy.port, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        assert status == 407
        assert b'Proxy-Authenticate: Basic realm="pyrama"' in head
        good = Basic("b", "2").encode_header_value()
        r, w = await exchange(
            proxy.port,
            f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n"
            f"Proxy-Authorization: {good}\r\n\r\n".encode(),
        )
        assert (await read_head(r)).startswith(b"HTTP/1.1 200")
        w.write(b"hi")
        assert await asyncio.wait_for(r.readexactly(2), GUARD) == b"hi"
        w.close()


def test_config_errors() -> None:
    with pytest.raises(ConfigError):
        HttpProxy(connect_timeout=0)
    with pytest.raises(ConfigError):
        HttpProxy(via="a\r\nb")
    with pytest.raises(ConfigError):
        HttpProxy(buffer_small_responses=-1)
    with pytest.raises(ConfigError):
        HttpProxy(buffer_small_responses=True)
    with pytest.raises(ConfigError):
        ProxyAuthLayer([])
    with pytest.raises(ConfigError):
        ProxyAuthLayer(Basic("a", "b"), realm='x"y')


@contextlib.asynccontextmanager
async def raw_origin(length: int, first: bytes, rest: asyncio.Event | None) -> AsyncIterator[int]:
    """An origin that answers ``Content-Length: length`` with *first*, then either the rest
    once *rest* is set, or (``rest=None``) a hang-up in the middle of the body."""

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            await r.readuntil(b"\r\n\r\n")
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % length + first)
            await w.drain()
            if rest is not None:
                await rest.wait()
                w.write(b"y" * (length - len(first)))
                await w.drain()
        finally:
            w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_small_response_is_read_whole_before_the_answer() -> None:
    # the origin hangs up in the middle of a small body: the proxy had not answered yet
    proxy = HttpProxy()
    async with raw_origin(100, b"x" * 40, None) as port, running(proxy) as srv:
        status, _ = await status_of(
            srv.port, f"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
    assert status == 502
    await proxy.close()


async def test_response_buffering_off_streams_small_bodies() -> None:
    proxy = HttpProxy(buffer_small_responses=0)
    rest = asyncio.Event()
    async with raw_origin(100, b"x" * 40, rest) as port, running(proxy) as srv:
        r, w = await exchange(
            srv.port, f"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        assert (await read_head(r)).startswith(b"HTTP/1.1 200")  # before the body is complete
        rest.set()
        body = await asyncio.wait_for(r.readexactly(100), GUARD)
        assert body == b"x" * 40 + b"y" * 60
        w.close()
    await proxy.close()


async def test_response_longer_than_the_buffer_limit_streams() -> None:
    proxy = HttpProxy(buffer_small_responses=99)  # one byte short of the body
    rest = asyncio.Event()
    async with raw_origin(100, b"x" * 40, rest) as port, running(proxy) as srv:
        r, w = await exchange(
            srv.port, f"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        assert (await read_head(r)).startswith(b"HTTP/1.1 200")
        rest.set()
        assert await asyncio.wait_for(r.readexactly(100), GUARD) == b"x" * 40 + b"y" * 60
        w.close()
    await proxy.close()


async def test_response_at_the_buffer_limit_is_buffered() -> None:
    proxy = HttpProxy(buffer_small_responses=100)  # exactly the body's length
    async with raw_origin(100, b"x" * 40, None) as port, running(proxy) as srv:
        status, _ = await status_of(
            srv.port, f"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
    assert status == 502  # read whole (and found cut) before answering
    await proxy.close()


async def _tunnel_done(proxy: HttpProxy | None, size: int) -> dict[str, Any]:
    """Send *size* bytes through a CONNECT tunnel to an echo; the tunnel's done event."""
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        async with tcp_echo() as port, proxy_running(proxy) as srv:
            r, w = await exchange(
                srv.port, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            )
            assert (await read_head(r)).startswith(b"HTTP/1.1 200")
            w.write(b"x" * size)
            await w.drain()
            assert len(await asyncio.wait_for(r.readexactly(size), GUARD)) == size
            w.write_eof()
            assert await asyncio.wait_for(r.read(), GUARD) == b""
            w.close()
            for _ in range(200):
                if any(e["event"] == "proxy tunnel done" for e in logs):
                    break
                await asyncio.sleep(0.01)
    done = [e for e in logs if e["event"] == "proxy tunnel done"]
    assert done, logs
    assert done[0]["up"] == done[0]["down"] == size
    return done[0]


async def test_plain_tunnel_is_zero_copy() -> None:
    # more than DEFAULT_SPLICE_AFTER: the tunnel switches to splice
    assert (await _tunnel_done(None, 100_000))["zero_copy"] is True


async def test_short_plain_tunnel_never_sets_up_splice() -> None:
    assert (await _tunnel_done(None, 1000))["zero_copy"] is False


async def test_tunnel_splice_after_zero_splices_at_once_and_none_never() -> None:
    assert (await _tunnel_done(HttpProxy(tunnel_splice_after=0), 1000))["zero_copy"] is True
    never = await _tunnel_done(HttpProxy(tunnel_splice_after=None), 200_000)
    assert never["zero_copy"] is False


@pytest.mark.parametrize("bad", [-1, True, 1.5, "64k"])
def test_tunnel_splice_after_is_checked(bad: Any) -> None:
    with pytest.raises(ConfigError, match="tunnel_splice_after"):
        HttpProxy(tunnel_splice_after=bad)


async def test_tunnel_idle_timeout_closes_the_tunnel() -> None:
    async with tcp_echo() as port, proxy_running(HttpProxy(tunnel_idle_timeout=0.2)) as proxy:
        r, w = await exchange(
            proxy.port, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        assert (await read_head(r)).startswith(b"HTTP/1.1 200")
        w.write(b"once")
        assert await asyncio.wait_for(r.readexactly(4), GUARD) == b"once"
        assert await asyncio.wait_for(r.read(), GUARD) == b""  # idle: closed by the proxy
        w.close()


async def test_shutdown_ends_open_tunnels() -> None:
    from pyrama_core import Shutdown
    from pyrama_http.proxy import http_proxy_server

    async with tcp_echo() as port:
        sd = Shutdown(deadline=0.3)
        bound: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            http_proxy_server("127.0.0.1:0", shutdown=sd, on_listening=bound.set_result)
        )
        addr = await asyncio.wait_for(bound, GUARD)
        r, w = await exchange(
            addr.port, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        assert (await read_head(r)).startswith(b"HTTP/1.1 200")
        w.write(b"alive")
        assert await asyncio.wait_for(r.readexactly(5), GUARD) == b"alive"
        sd.trigger("test")
        await asyncio.wait_for(task, GUARD)  # the open tunnel does not hold shutdown forever
        assert await asyncio.wait_for(r.read(), GUARD) == b""
        w.close()


async def test_h2_requests_are_forwarded() -> None:
    from pyrama_http import EasyHttpWebClient, HttpVersionPolicy

    async with (
        running(header_echo) as origin,
        proxy_running() as proxy,
        EasyHttpWebClient(
            proxy=proxy.url,
            trust_env=False,
            version_policy=HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE,  # h2c to the proxy
        ) as client,
    ):
        resp = await client.serve(
            Request("GET", f"http://127.0.0.1:{origin.port}/h2", headers=[("X-A", "1")])
        )
        text = (await resp.body.collect()).decode()
    assert resp.version is Version.HTTP_2
    lines = text.splitlines()
    assert lines[0] == "GET /h2"
    assert f"Host: 127.0.0.1:{origin.port}" in lines  # added for the HTTP/1.1 origin
    assert "x-a: 1" in lines


async def test_head_and_no_content_pass_through() -> None:
    async def origin(req: Request) -> Response:
        if req.uri.path == "/empty":
            return Response(204)
        return Response.text("x" * 10)

    async with running(origin) as srv, proxy_running() as proxy:
        r, w = await exchange(
            proxy.port,
            f"HEAD http://127.0.0.1:{srv.port}/ HTTP/1.1\r\nHost: x\r\n\r\n"
            f"GET http://127.0.0.1:{srv.port}/empty HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        )
        head = await read_head(r)
        assert head.startswith(b"HTTP/1.1 200")
        assert b"content-length: 10" in head.lower()
        head = await read_head(r)  # no body came between the two heads
        assert head.startswith(b"HTTP/1.1 204")
        w.close()


async def test_via_loop_is_508() -> None:
    async with proxy_running(HttpProxy(via="pyrama-a")) as proxy:
        status, _ = await status_of(
            proxy.port,
            b"GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\nVia: 1.0 other, 1.1 Pyrama-A\r\n\r\n",
        )
    assert status == 508


async def test_connect_through_a_plain_http_server_listen() -> None:
    # no TunnelKeeper, no http_proxy_service: HttpServer.auto().listen(addr, HttpProxy())
    proxy = HttpProxy()
    async with tcp_echo() as port, running(proxy) as srv:
        r, w = await exchange(
            srv.port, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        assert (await read_head(r)).startswith(b"HTTP/1.1 200")
        for i in range(3):  # the tunnel outlives the h1 driver, round after round
            await asyncio.sleep(0.02)
            w.write(f"ping {i}\n".encode())
            assert await asyncio.wait_for(r.readline(), GUARD) == f"ping {i}\n".encode()
        w.write_eof()
        assert await asyncio.wait_for(r.read(), GUARD) == b""  # the echo's EOF came through
        w.close()
    await proxy.close()


class _NoDetach:
    """A stream wrapper without ``detach_socket``: the bridge falls back to its buffered copy."""

    def __init__(self, inner: Stream) -> None:
        self.inner = inner
        self.extensions = inner.extensions
        self.read = inner.read
        self.write = inner.write
        self.drain = inner.drain
        self.can_write_eof = inner.can_write_eof
        self.write_eof = inner.write_eof
        self.is_closing = inner.is_closing
        self.close = inner.close


async def test_buffered_tunnel_under_plain_listen_ends_and_releases() -> None:
    from pyrama_tcp import TcpConnector

    tcp = TcpConnector()

    async def dial(target: Any) -> EstablishedConnection[Any, Any]:
        stream = await tcp.connect(target.host, target.port)
        return EstablishedConnection(conn=_NoDetach(stream), target=target)

    proxy = HttpProxy(connector=service_fn(dial))
    async with tcp_echo() as port, running(proxy) as srv:
        for _ in range(2):  # the first connection was released: a second one works as well
            r, w = await exchange(
                srv.port, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            )
            assert (await read_head(r)).startswith(b"HTTP/1.1 200")
            await asyncio.sleep(0.02)
            w.write(b"buffered\n")
            assert await asyncio.wait_for(r.readline(), GUARD) == b"buffered\n"
            w.write_eof()
            assert await asyncio.wait_for(r.read(), GUARD) == b""
            w.close()
        await asyncio.sleep(0.05)  # let the relay finish closing both ends
        srv.shutdown.trigger("check the drain")
        result = await asyncio.wait_for(srv.task, GUARD)
    # every connection's service returned on its own: none waited for the deadline
    assert result.cancelled == 0
    await proxy.close()


async def test_upgraded_stream_stays_open_until_its_taker_closes_it() -> None:
    from pyrama_http_core import OnUpgrade

    tasks: list[asyncio.Task[None]] = []

    async def take(on_upgrade: OnUpgrade) -> None:
        upgraded = await on_upgrade
        stream = upgraded.stream
        line = await stream.read(100)
        await asyncio.sleep(0.05)  # long after the h1 driver returned
        stream.write(b"late " + line)
        await stream.drain()
        await stream.close()

    async def handler(req: Request) -> Response:
        tasks.append(asyncio.create_task(take(req.extensions.require(OnUpgrade))))
        return Response(101, headers=[("Upgrade", "echo"), ("Connection", "upgrade")])

    async with running(handler) as srv:
        r, w = await exchange(
            srv.port,
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\n",
        )
        assert (await read_head(r)).startswith(b"HTTP/1.1 101")
        w.write(b"hello")
        assert await asyncio.wait_for(r.read(), GUARD) == b"late hello"  # then EOF
        w.close()
    await asyncio.gather(*tasks)


async def test_upstream_connections_are_pooled() -> None:
    from pyrama_net import SocketInfo

    async def origin(req: Request) -> Response:
        info = req.extensions.require(SocketInfo)
        return Response.text(str(info.peer[1]))

    async with running(origin) as srv, proxy_running() as proxy:
        r, w = await exchange(proxy.port, b"")
        ports = []
        for i in range(3):
            w.write(f"GET http://127.0.0.1:{srv.port}/{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head = await read_head(r)
            length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
            ports.append(await asyncio.wait_for(r.readexactly(length), GUARD))
        w.close()
    assert len(set(ports)) == 1  # one upstream connection carried all three


async def test_expect_100_continue_passes_through() -> None:
    async def origin(req: Request) -> Response:
        return Response.text(f"got {len(await req.body.collect())}")

    async with running(origin) as srv, proxy_running() as proxy:
        r, w = await exchange(
            proxy.port,
            f"PUT http://127.0.0.1:{srv.port}/up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            "Expect: 100-continue\r\n\r\n".encode(),
        )
        assert (await read_head(r)).startswith(b"HTTP/1.1 100")  # before any body byte
        w.write(b"hello")
        head = await read_head(r)
        assert head.startswith(b"HTTP/1.1 200")
        assert await asyncio.wait_for(r.readexactly(5), GUARD) == b"got 5"
        w.close()


def test_a_failed_relay_is_logged_with_its_side() -> None:
    from structlog.testing import capture_logs

    from pyrama_http.proxy import TunnelTarget
    from pyrama_http.proxy._service import _relay_ended
    from pyrama_net import BridgeError, BridgeStats

    target = TunnelTarget("127.0.0.1", 443)
    stats = BridgeStats(a_to_b=3, b_to_a=0, zero_copy=False)
    failure = BridgeError("bridge side b failed", side="b", stats=stats)
    failure.__cause__ = ConnectionResetError("reset by peer")
    with capture_logs() as logs:
        _relay_ended(target, failure)
        _relay_ended(target, stats)
    assert [(e["event"], e.get("side"), e.get("up")) for e in logs] == [
        ("proxy tunnel ended with an error", "target", None),
        ("proxy tunnel done", None, 3),
    ]
    assert logs[0]["error"] == "reset by peer"
    assert logs[0]["target"] == "127.0.0.1:443"
