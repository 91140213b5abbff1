"""HttpServer: protocol selection, real clients (httpx, curl), limits, errors, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl

import h2.config
import h2.connection
import h2.events
import httpx
import pytest
from http_support import (
    GUARD,
    acceptor_data,
    cert,
    cert_files,
    raw_exchange,
    run_tool,
    running,
)

from pyrama_core import Executor, Shutdown, service_fn
from pyrama_http import (
    DEFAULT_MAX_BODY_SIZE,
    HttpClient,
    HttpServer,
    HttpVersionPolicy,
    HttpVersions,
)
from pyrama_http_core import H2ClientFingerprintData, Http1Config, HttpLimits
from pyrama_http_types import Request, Response
from pyrama_net import SocketInfo, Stream
from pyrama_tcp import TcpListener
from pyrama_testing import require_peer
from pyrama_tls import ClientHello, NegotiatedTls, TlsAcceptorLayer


def ssl_context(ca: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca)


async def hello(req: Request) -> Response:
    return Response.text(f"hello {req.version} {req.uri.path}")


async def describe(req: Request) -> Response:
    body = await req.body.collect()
    tls = req.extensions.get(NegotiatedTls)
    info = req.extensions.get(SocketInfo)
    return Response.json(
        {
            "version": str(req.version),
            "method": str(req.method),
            "path": req.uri.path_and_query,
            "body": body.decode(),
            "alpn": None if tls is None else tls.alpn,
            "peer_port": None if info is None else info.peer[1],
            "client_hello": req.extensions.get(ClientHello) is not None,
            "h2_fingerprint": req.extensions.get(H2ClientFingerprintData) is not None,
        }
    )


# -- protocol selection ------------------------------------------------------------------------


async def test_auto_plain_serves_http1_to_httpx() -> None:
    async with running(describe) as srv, httpx.AsyncClient() as c:
        r = await c.post(f"{srv.url}/p?q=1", content=b"abc")
        assert r.http_version == "HTTP/1.1"
        data = r.json()
        assert data["version"] == "HTTP/1.1"
        assert data["path"] == "/p?q=1"
        assert data["body"] == "abc"
        assert data["peer_port"] is not None
        assert data["alpn"] is None


async def test_auto_plain_serves_h2c_prior_knowledge_to_httpx() -> None:
    async with running(describe) as srv, httpx.AsyncClient(http1=False, http2=True) as c:
        r = await c.post(f"{srv.url}/x", content=b"h2c body")
        assert r.http_version == "HTTP/2"
        data = r.json()
        assert data["version"] == "HTTP/2"
        assert data["body"] == "h2c body"
        assert data["h2_fingerprint"] is True


async def test_auto_tls_alpn_h2_and_http1_with_httpx() -> None:
    ca, _ = cert_files()
    async with running(describe, tls=acceptor_data()) as srv:
        async with httpx.AsyncClient(http2=True, verify=ssl_context(ca)) as c:
            r = await c.get(f"{srv.localhost_url()}/tls")
            assert r.http_version == "HTTP/2"
            data = r.json()
            assert data["alpn"] == "h2"
            assert data["client_hello"] is True
            assert data["h2_fingerprint"] is True
        async with httpx.AsyncClient(http2=False, verify=ssl_context(ca)) as c:
            r = await c.get(f"{srv.localhost_url()}/tls")
            assert r.http_version == "HTTP/1.1"
            assert r.json()["alpn"] == "http/1.1"


async def test_preface_arriving_in_pieces_is_still_h2() -> None:
    async with running(hello) as srv:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        conn.send_headers(
            1,
            [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/split")],
            end_stream=True,
        )
        data = conn.data_to_send()
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        try:
            w.write(data[:7])
            await w.drain()
            await asyncio.sleep(0.05)
            w.write(data[7:20])
            await w.drain()
            await asyncio.sleep(0.05)
            w.write(data[20:])
            await w.drain()
            body = b""
            status = None
            done = False
            while not done:
                chunk = await asyncio.wait_for(r.read(65536), GUARD)
                assert chunk, "server closed before answering"
                for ev in conn.receive_data(chunk):
                    if isinstance(ev, h2.events.ResponseReceived):
                        status = dict(ev.headers)[b":status"]
                    elif isinstance(ev, h2.events.DataReceived):
                        body += ev.data
                        conn.acknowledge_received_data(ev.flow_controlled_length, 1)
                    elif isinstance(ev, h2.events.StreamEnded):
                        done = True
                w.write(conn.data_to_send())
            assert status == b"200"
            assert body == b"hello HTTP/2 /split"
        finally:
            w.close()


async def test_short_http10_request_is_not_mistaken_for_a_preface() -> None:
    async with running(hello) as srv:
        out = await raw_exchange(srv.port, b"GET /a HTTP/1.0\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 200")
        assert out.endswith(b"hello HTTP/1.0 /a")


async def test_silent_client_is_closed_without_an_answer() -> None:
    server = HttpServer.auto(limits=HttpLimits(header_read_timeout=0.2))
    async with running(hello, server) as srv:
        out = await raw_exchange(srv.port, b"")
        assert out == b""


async def test_http1_only_server_refuses_the_h2_preface() -> None:
    async with running(hello, HttpServer.http1()) as srv:
        out = await raw_exchange(srv.port, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        # answered in HTTP/1.1, never with HTTP/2 frames (the h1 codec's verdict on the
        # odd request line itself is pyrama-http-core's business)
        assert out.startswith(b"HTTP/1.1 ")


async def test_h2_only_server_with_tls_offers_only_h2() -> None:
    ca, _ = cert_files()
    async with running(describe, HttpServer.h2(), tls=acceptor_data()) as srv:
        async with httpx.AsyncClient(http2=True, verify=ssl_context(ca)) as c:
            r = await c.get(f"{srv.localhost_url()}/only")
            assert r.http_version == "HTTP/2"
        # an HTTP/1.1-only client gets no ALPN agreement and then HTTP/2 frames: it fails
        async with httpx.AsyncClient(http2=False, verify=ssl_context(ca)) as c:
            with pytest.raises(httpx.HTTPError):
                await c.get(f"{srv.localhost_url()}/only")


async def test_service_composes_under_tls_acceptor_and_tcp_listener() -> None:
    svc = TlsAcceptorLayer(HttpServer.auto().tls_acceptor_data(acceptor_data())).layer(
        HttpServer.auto().service(service_fn(describe))
    )
    listener = await TcpListener.bind("127.0.0.1:0")
    sd = Shutdown(deadline=5)
    task = asyncio.create_task(listener.serve(svc, guard=sd.guard()))
    try:
        ca, _ = cert_files()
        async with httpx.AsyncClient(http2=True, verify=ssl_context(ca)) as c:
            r = await c.get(f"https://localhost:{listener.local_addr.port}/stack")
            assert r.http_version == "HTTP/2"
            assert r.json()["alpn"] == "h2"
    finally:
        sd.trigger()
        await asyncio.wait_for(task, GUARD)


async def test_serve_one_stream_directly() -> None:
    server = HttpServer.http1()
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    async def on_conn(stream: Stream) -> None:
        await server.serve(stream, service_fn(hello))
        done.set_result(True)

    listener = await TcpListener.bind("127.0.0.1:0")
    task = asyncio.create_task(listener.serve(service_fn(on_conn)))
    try:
        req = b"GET /direct HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        out = await raw_exchange(listener.local_addr.port, req)
        assert out.endswith(b"hello HTTP/1.1 /direct")
        assert await asyncio.wait_for(done, GUARD)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# -- curl -------------------------------------------------------------------------------------


@pytest.mark.peer("curl")
@pytest.mark.parametrize(
    ("flag", "tls", "expected"),
    [
        ("--http1.1", False, "1.1"),
        ("--http2-prior-knowledge", False, "2"),
        ("--http1.1", True, "1.1"),
        ("--http2", True, "2"),
    ],
)
async def test_curl_against_auto(flag: str, tls: bool, expected: str) -> None:
    curl = require_peer("curl")
    ca, _ = cert_files()
    async with running(describe, tls=acceptor_data() if tls else None) as srv:
        url = f"{srv.localhost_url()}/curl" if tls else f"{srv.url}/curl"
        out = await run_tool(
            curl, "-sS", flag, "--cacert", ca, "-d", "posted", "-w", "\n%{http_version}", url
        )
        assert out.returncode == 0, out.stderr
        body, _, version = out.stdout.decode().rpartition("\n")
        assert version == expected
        data = json.loads(body)
        assert data["body"] == "posted"
        assert data["method"] == "POST"


# -- errors -------------------------------------------------------------------------------------


async def failing(req: Request) -> Response:
    if req.uri.path == "/boom":
        raise RuntimeError("handler bug")
    if req.uri.path == "/none":
        return None  # type: ignore[return-value]
    return Response.text("fine")


@pytest.mark.parametrize("policy", [HttpVersionPolicy.HTTP1_ONLY, HttpVersionPolicy.HTTP2_ONLY])
async def test_service_exception_is_a_500_and_the_connection_goes_on(
    policy: HttpVersionPolicy,
) -> None:
    async with running(failing) as srv, HttpClient(version_policy=policy) as c:
        r = await c.get(f"{srv.url}/boom")
        assert r.status == 500
        await r.bytes()
        if policy is HttpVersionPolicy.HTTP1_ONLY:
            r = await c.get(f"{srv.url}/none")
            assert r.status == 500
            await r.bytes()
        r = await c.get(f"{srv.url}/ok")
        assert r.status == 200
        assert await r.text() == "fine"
        stats = c.service.stats()  # type: ignore[attr-defined]
        assert stats.http1.open + stats.h2_connections == 1


# -- limits -------------------------------------------------------------------------------------


async def test_default_body_limit_is_applied() -> None:
    server = HttpServer.auto()
    assert server.http1_config.limits.max_body_size == DEFAULT_MAX_BODY_SIZE
    assert server.h2_config.limits.max_body_size == DEFAULT_MAX_BODY_SIZE
    async with running(hello, server) as srv:
        over = DEFAULT_MAX_BODY_SIZE + 1
        head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % over
        out = await raw_exchange(srv.port, head)
        assert out.startswith(b"HTTP/1.1 413")


async def echo_len(req: Request) -> Response:
    data = await req.body.collect()
    return Response.text(str(len(data)))


async def test_streamed_body_over_the_limit_is_413() -> None:
    server = HttpServer.auto(limits=HttpLimits(max_body_size=1000))
    async with running(echo_len, server) as srv:
        chunked = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        chunked += b"3e8\r\n" + b"a" * 1000 + b"\r\n1\r\nb\r\n0\r\n\r\n"
        out = await raw_exchange(srv.port, chunked)
        assert out.startswith(b"HTTP/1.1 413")
        ok = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n"
        out = await raw_exchange(srv.port, ok + b"a" * 1000)
        assert out.startswith(b"HTTP/1.1 200")
        assert out.endswith(b"1000")


async def test_h2_body_over_the_limit_is_413() -> None:
    server = HttpServer.auto(limits=HttpLimits(max_body_size=1000))
    async with (
        running(echo_len, server) as srv,
        HttpClient(version_policy=HttpVersionPolicy.HTTP2_ONLY) as c,
    ):
        r = await c.post(f"{srv.url}/").body(b"x" * 1001).send()
        assert r.status == 413
        await r.bytes()
        r = await c.post(f"{srv.url}/").body(b"x" * 1000).send()
        assert r.status == 200
        assert await r.text() == "1000"


async def test_oversize_head_is_431() -> None:
    server = HttpServer.auto(limits=HttpLimits(max_header_size=1024))
    async with running(hello, server) as srv:
        req = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n"
        out = await raw_exchange(srv.port, req)
        assert out.startswith(b"HTTP/1.1 431")


async def test_too_many_headers_is_431() -> None:
    server = HttpServer.auto(limits=HttpLimits(max_headers=5))
    async with running(hello, server) as srv:
        fields = b"".join(b"X-%d: v\r\n" % i for i in range(10))
        out = await raw_exchange(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        assert out.startswith(b"HTTP/1.1 431")


async def test_slow_head_gets_408_and_close() -> None:
    server = HttpServer.auto(limits=HttpLimits(header_read_timeout=0.3))
    async with running(hello, server) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        try:
            w.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finishes the head
            await w.drain()
            out = await asyncio.wait_for(r.read(), GUARD)
            assert out.startswith(b"HTTP/1.1 408")
        finally:
            w.close()


async def test_slow_head_without_408_when_configured_off() -> None:
    cfg = Http1Config(limits=HttpLimits(header_read_timeout=0.3), send_408_on_header_timeout=False)
    async with running(hello, HttpServer.auto(http1_config=cfg)) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        try:
            w.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
            await w.drain()
            assert await asyncio.wait_for(r.read(), GUARD) == b""
        finally:
            w.close()


async def test_idle_keep_alive_connection_is_closed() -> None:
    server = HttpServer.auto(limits=HttpLimits(keep_alive_timeout=0.2))
    async with running(hello, server) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        try:
            w.write(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
            await w.drain()
            out = await asyncio.wait_for(r.read(), GUARD)  # the server closes when idle
            assert out.startswith(b"HTTP/1.1 200")
            assert out.endswith(b"hello HTTP/1.1 /one")
        finally:
            w.close()


async def test_max_requests_per_connection() -> None:
    server = HttpServer.auto(limits=HttpLimits(max_requests_per_connection=2))
    async with running(hello, server) as srv:
        two = b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
        out = await raw_exchange(srv.port, two + b"GET /3 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert out.count(b"HTTP/1.1 200") == 2
        assert b"/3" not in out
        assert b"connection: close" in out.lower()


async def test_max_requests_per_connection_is_off_by_default() -> None:
    assert HttpServer.auto().http1_config.limits.max_requests_per_connection is None
    async with running(hello) as srv:
        many = b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(30))
        last = b"GET /end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        out = await raw_exchange(srv.port, many + last)
        assert out.count(b"HTTP/1.1 200") == 31


# -- graceful shutdown ------------------------------------------------------------------------


async def test_shutdown_closes_idle_keep_alive_and_finishes_in_flight() -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(req: Request) -> Response:
        if req.uri.path == "/slow":
            started.set()
            await release.wait()
        return Response.text("done")

    async with running(slow) as srv:
        # an idle keep-alive connection
        r1, w1 = await asyncio.open_connection("127.0.0.1", srv.port)
        w1.write(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        await w1.drain()
        first = await asyncio.wait_for(r1.readuntil(b"done"), GUARD)
        assert first.startswith(b"HTTP/1.1 200")
        # a busy one
        r2, w2 = await asyncio.open_connection("127.0.0.1", srv.port)
        w2.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        await w2.drain()
        await asyncio.wait_for(started.wait(), GUARD)
        srv.shutdown.trigger("test")
        assert await asyncio.wait_for(r1.read(), GUARD) == b""  # idle: closed at once
        release.set()
        out = await asyncio.wait_for(r2.read(), GUARD)
        assert out.startswith(b"HTTP/1.1 200")
        assert b"connection: close" in out.lower()
        assert out.endswith(b"done")
        result = await asyncio.wait_for(srv.task, GUARD)
        assert result.cancelled == 0
        w1.close()
        w2.close()


async def test_shutdown_sends_goaway_to_h2_connections() -> None:
    async with (
        running(hello) as srv,
        HttpClient(version_policy=HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE) as c,
    ):
        r = await c.get(f"{srv.url}/a")
        assert r.version.value == "HTTP/2"
        await r.bytes()
        srv.shutdown.trigger("test")
        result = await asyncio.wait_for(srv.task, GUARD)
        assert result.cancelled == 0


async def test_executor_without_guard_is_fine() -> None:
    """A stream whose Executor has no guard is served without a shutdown watch."""
    listener = await TcpListener.bind("127.0.0.1:0")
    task = asyncio.create_task(listener.serve(HttpServer.auto().service(service_fn(hello))))
    try:
        out = await raw_exchange(
            listener.local_addr.port, b"GET /g HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert out.endswith(b"hello HTTP/1.1 /g")
        assert Executor().guard is None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_versions_and_config() -> None:
    assert HttpServer.auto().versions is HttpVersions.AUTO
    assert HttpServer.http1().versions is HttpVersions.HTTP1
    assert HttpServer.h2().versions is HttpVersions.H2
    limits = HttpLimits(max_body_size=5)
    s = HttpServer(limits=limits, http1_config=Http1Config())
    assert s.http1_config.limits is limits
    assert s.h2_config.limits is limits
    assert HttpServer.auto().http1_config.send_408_on_header_timeout is True
    alpn = HttpServer.h2().tls_acceptor_data(acceptor_data()).alpn
    assert alpn == (b"h2",)
    own = acceptor_data(alpn=["http/1.1"])
    assert HttpServer.auto().tls_acceptor_data(own) is own


async def test_tls_without_alpn_is_sniffed() -> None:
    from pyrama_tcp import TcpConnector
    from pyrama_tls import TlsConnectorData, tls_connect

    async with running(describe, tls=acceptor_data()) as srv:
        for h2c in (False, True):
            tcp = await TcpConnector().connect("127.0.0.1", srv.port)
            data = TlsConnectorData(ca_certificates=[cert().leaf])
            tls = await tls_connect(tcp, "localhost", data)
            neg = tls.extensions.get(NegotiatedTls)
            assert neg is not None
            assert neg.alpn is None
            if not h2c:
                tls.write(b"GET /noalpn HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                out = b""
                while chunk := await asyncio.wait_for(tls.read(), GUARD):
                    out += chunk
                assert out.startswith(b"HTTP/1.1 200")
                assert b'"alpn":null' in out
            else:
                from pyrama_http_core import H2ClientConnection

                conn = H2ClientConnection(tls, default_scheme="https")
                try:
                    resp = await conn.send_request(Request("GET", "https://localhost/h2c-in-tls"))
                    body = json.loads(await resp.body.collect())
                    assert body["version"] == "HTTP/2"
                finally:
                    await conn.close()
            await tls.close()


async def test_connection_arriving_after_shutdown_is_closed_politely() -> None:
    import socket

    from pyrama_http_core import H2ClientConnection
    from pyrama_http_core.errors import HttpCoreError
    from pyrama_net import open_socket_stream

    sd = Shutdown(deadline=5)
    guard = sd.guard()
    sd.trigger("before the connection")
    svc = HttpServer.auto().service(service_fn(hello))

    # HTTP/1.1: the request in flight is answered with Connection: close
    a, b = socket.socketpair()
    server_stream = await open_socket_stream(a)
    server_stream.extensions.insert(Executor.graceful(guard))
    task = asyncio.create_task(svc.serve(server_stream))
    client = await open_socket_stream(b)
    client.write(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
    out = b""
    while chunk := await asyncio.wait_for(client.read(), GUARD):
        out += chunk
    assert out.startswith(b"HTTP/1.1 200")
    assert b"connection: close" in out.lower()
    await asyncio.wait_for(task, GUARD)
    await client.close()

    # HTTP/2: SETTINGS first, then GOAWAY; no new request is taken
    a, b = socket.socketpair()
    server_stream = await open_socket_stream(a)
    server_stream.extensions.insert(Executor.graceful(guard))
    task = asyncio.create_task(svc.serve(server_stream))
    conn = H2ClientConnection(await open_socket_stream(b), default_scheme="http")
    await conn.start()
    with contextlib.suppress(HttpCoreError, ConnectionError):
        await asyncio.wait_for(conn.send_request(Request("GET", "http://x/late")), GUARD)
    await asyncio.wait_for(conn.wait_closed(), GUARD)
    assert conn.goaway_received is not None
    await asyncio.wait_for(task, GUARD)
    await conn.close()
    guard.release()
