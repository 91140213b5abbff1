"""EasyHttpWebClient: pooling, h2 multiplexing, streaming both ways, timeouts, TLS, the wire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from http_support import GUARD, acceptor_data, cert_files, running, trusting

from pyrama_core import service_fn
from pyrama_core.errors import ShutdownError
from pyrama_http import (
    EasyHttpWebClient,
    HttpClient,
    HttpConnectTarget,
    HttpServer,
    HttpVersionPolicy,
    RequestTimeout,
    TargetHttpVersion,
    WireMode,
)
from pyrama_http.errors import (
    InvalidRequestError,
    ProtocolNegotiationError,
    RequestTimeoutError,
)
from pyrama_http_core import HttpLimits
from pyrama_http_types import Body, Request, Response, Version
from pyrama_net import ConnectTimeoutError, EstablishedConnection, SocketInfo
from pyrama_tcp import TcpConnector
from pyrama_tls import NegotiatedTls
from pyrama_tls.errors import CertificateVerifyError


def local_port(resp: Any) -> int:
    info = resp.extensions.get(SocketInfo)
    assert info is not None
    port: int = info.local[1]
    return port


class PeerCounter:
    """A handler that remembers which client ports it saw."""

    def __init__(self) -> None:
        self.peers: set[int] = set()

    async def __call__(self, req: Request) -> Response:
        info = req.extensions.get(SocketInfo)
        assert info is not None
        self.peers.add(info.peer[1])
        body = await req.body.collect()
        return Response.text(f"{req.version} {req.uri.path} {len(body)}")


# -- pooling --------------------------------------------------------------------------------


async def test_sequential_http1_requests_reuse_one_connection() -> None:
    seen = PeerCounter()
    async with running(seen) as srv, HttpClient() as c:
        ports = []
        for i in range(5):
            r = await c.get(f"{srv.url}/{i}")
            assert await r.text() == f"HTTP/1.1 /{i} 0"
            ports.append(local_port(r))
        assert len(set(ports)) == 1
        assert len(seen.peers) == 1
        stats = c.service.stats()  # type: ignore[attr-defined]
        assert stats.http1.open == 1
        assert stats.http1.idle == 1


async def test_unread_body_closes_the_http1_connection_and_the_pool_recovers() -> None:
    async with running(lambda r: _big()) as srv, EasyHttpWebClient() as client:
        c = HttpClient(client)
        r = await c.get(f"{srv.url}/big")
        assert client.stats().http1.leased == 1
        await r.aclose()
        assert client.stats().http1.open == 0
        r2 = await c.get(f"{srv.url}/big")
        assert len(await r2.bytes()) == 200_000
        assert client.stats().http1.idle == 1
        assert local_port(r2) != local_port(r)


async def _big() -> Response:
    async def gen() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 10_000

    return Response(200, body=Body.from_iter(gen()))


async def test_concurrent_http1_requests_respect_max_connections_per_host() -> None:
    seen = PeerCounter()

    async def slow(req: Request) -> Response:
        await asyncio.sleep(0.02)
        return await seen(req)

    async with (
        running(slow, HttpServer.http1()) as srv,
        HttpClient(max_connections_per_host=2) as c,
    ):

        async def one(i: int) -> str:
            # a lease ends when its body is read: read it inside the task
            return await (await c.get(f"{srv.url}/{i}")).text()

        texts = await asyncio.gather(*(one(i) for i in range(10)))
        assert sorted(texts) == sorted(f"HTTP/1.1 /{i} 0" for i in range(10))
        assert 1 <= len(seen.peers) <= 2
        assert c.service.stats().http1.open <= 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("tls", [False, True])
async def test_twenty_concurrent_h2_requests_share_one_connection(tls: bool) -> None:
    seen = PeerCounter()
    policy = HttpVersionPolicy.AUTO if tls else HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE
    kw: dict[str, Any] = {"tls": trusting()} if tls else {}
    async with (
        running(seen, tls=acceptor_data() if tls else None) as srv,
        HttpClient(version_policy=policy, **kw) as c,
    ):
        # the very first requests race a connection that does not exist yet
        rs = await asyncio.gather(*(c.get(f"{srv.url}/{i}").send() for i in range(20)))
        texts = await asyncio.gather(*(r.text() for r in rs))
        assert sorted(texts) == sorted(f"HTTP/2 /{i} 0" for i in range(20))
        assert {r.version for r in rs} == {Version.HTTP_2}
        assert len({local_port(r) for r in rs}) == 1
        assert len(seen.peers) == 1
        stats = c.service.stats()  # type: ignore[attr-defined]
        assert stats.h2_connections == 1
        assert stats.http1.open == 0
        if tls:
            neg = rs[0].extensions.get(NegotiatedTls)
            assert neg is not None
            assert neg.alpn == "h2"


async def test_h2_requests_beyond_max_concurrent_streams_wait_for_a_stream() -> None:
    from pyrama_http_core import H2ServerConfig

    active = 0
    peak = 0
    seen = PeerCounter()

    async def handler(req: Request) -> Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.02)
        active -= 1
        return await seen(req)

    server = HttpServer.auto(h2_config=H2ServerConfig(max_concurrent_streams=3))
    async with (
        running(handler, server) as srv,
        HttpClient(version_policy=HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE) as c,
    ):
        await (await c.get(f"{srv.url}/warm")).bytes()  # SETTINGS are known from now on
        rs = await asyncio.gather(*(c.get(f"{srv.url}/{i}").send() for i in range(12)))
        for r in rs:
            assert r.status == 200
            await r.bytes()
        assert peak <= 3
        assert len(seen.peers) == 1


async def test_stale_keep_alive_connection_is_replaced_transparently() -> None:
    server = HttpServer.auto(limits=HttpLimits(keep_alive_timeout=0.1))
    async with running(PeerCounter(), server) as srv, HttpClient() as c:
        r1 = await c.get(f"{srv.url}/a")
        await r1.bytes()
        await asyncio.sleep(0.4)  # the server closes the idle connection meanwhile
        r2 = await c.get(f"{srv.url}/b")
        assert await r2.text() == "HTTP/1.1 /b 0"
        assert local_port(r2) != local_port(r1)


async def test_idle_connections_are_evicted() -> None:
    async with running(PeerCounter()) as srv:
        for policy in (HttpVersionPolicy.HTTP1_ONLY, HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE):
            client = EasyHttpWebClient(version_policy=policy, idle_timeout=0.1)
            async with HttpClient(client) as c:
                await (await c.get(f"{srv.url}/x")).bytes()
                s = client.stats()
                assert s.http1.open + s.h2_connections == 1
                await asyncio.sleep(0.3)
                assert await client.pool.evict_expired() == 1
                s = client.stats()
                assert s.http1.open + s.h2_connections == 0


async def test_closed_client_refuses_requests() -> None:
    async with running(PeerCounter()) as srv:
        client = EasyHttpWebClient()
        await client.close()
        with pytest.raises(ShutdownError):
            await client.serve(Request("GET", f"{srv.url}/"))


# -- streaming ------------------------------------------------------------------------------


async def echo(req: Request) -> Response:
    async def relay() -> AsyncIterator[bytes]:
        async for chunk in req.body:
            yield chunk

    return Response(200, body=Body.from_iter(relay()))


@pytest.mark.parametrize(
    "policy", [HttpVersionPolicy.HTTP1_ONLY, HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE]
)
async def test_full_duplex_streaming_both_ways(policy: HttpVersionPolicy) -> None:
    """Each chunk is sent only after the previous one came back: both bodies truly stream."""
    got = asyncio.Queue[bytes]()

    async def upload() -> AsyncIterator[bytes]:
        for i in range(5):
            part = b"chunk-%d;" % i
            yield part
            echoed = b""
            while len(echoed) < len(part):
                echoed += await asyncio.wait_for(got.get(), GUARD)
            assert echoed == part

    async with running(echo) as srv, HttpClient(version_policy=policy) as c:
        r = await c.post(f"{srv.url}/echo").body(upload()).send()
        assert r.status == 200
        total = b""
        async for chunk in r.stream():
            total += chunk
            await got.put(chunk)
        assert total == b"".join(b"chunk-%d;" % i for i in range(5))
        stats = c.service.stats()  # type: ignore[attr-defined]
        assert stats.http1.leased == 0


async def test_download_streams_before_the_body_ends() -> None:
    more = asyncio.Event()

    async def handler(req: Request) -> Response:
        async def gen() -> AsyncIterator[bytes]:
            yield b"first"
            await asyncio.wait_for(more.wait(), GUARD)
            yield b"second"

        return Response(200, body=Body.from_iter(gen()))

    for policy in (HttpVersionPolicy.HTTP1_ONLY, HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE):
        more.clear()
        async with running(handler) as srv, HttpClient(version_policy=policy) as c:
            r = await c.get(f"{srv.url}/s")
            chunks = []
            async for chunk in r.stream():
                chunks.append(chunk)
                more.set()
            assert b"".join(chunks) == b"firstsecond"
            assert chunks[0] == b"first"


async def test_large_upload_and_download() -> None:
    data = bytes(range(256)) * 8192  # 2 MiB

    async def gen() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    for policy in (HttpVersionPolicy.HTTP1_ONLY, HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE):
        async with running(echo) as srv, HttpClient(version_policy=policy) as c:
            r = await c.put(f"{srv.url}/big").body(gen(), size=len(data)).send()
            assert await r.bytes() == data


# -- timeouts -------------------------------------------------------------------------------


async def sleepy(req: Request) -> Response:
    if req.uri.path == "/sleep":
        await asyncio.sleep(GUARD)
    if req.uri.path == "/stall":

        async def gen() -> AsyncIterator[bytes]:
            yield b"some"
            await asyncio.sleep(GUARD)
            yield b"more"

        return Response(200, body=Body.from_iter(gen()))
    return Response.text("quick")


@pytest.mark.parametrize(
    "policy", [HttpVersionPolicy.HTTP1_ONLY, HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE]
)
async def test_request_timeout_covers_head_and_body(policy: HttpVersionPolicy) -> None:
    async with running(sleepy, deadline=0.5) as srv, HttpClient(version_policy=policy) as c:
        with pytest.raises(RequestTimeoutError):
            await c.get(f"{srv.url}/sleep").timeout(0.2).send()
        r = await c.get(f"{srv.url}/stall").timeout(0.3).send()
        with pytest.raises(RequestTimeoutError):
            await r.bytes()
        # the client is still usable
        r = await c.get(f"{srv.url}/ok").timeout(5).send()
        assert await r.text() == "quick"


async def test_client_level_request_timeout() -> None:
    async with running(sleepy, deadline=0.5) as srv, HttpClient(request_timeout=0.2) as c:
        with pytest.raises(RequestTimeoutError) as info:
            await c.get(f"{srv.url}/sleep")
        assert isinstance(info.value, TimeoutError)
        assert info.value.seconds == 0.2


async def test_timeout_for_any_service() -> None:
    async def never(req: Request) -> Response:
        await asyncio.sleep(GUARD)
        raise AssertionError("unreachable")

    c = HttpClient(service_fn(never), timeout=0.1)
    with pytest.raises(RequestTimeoutError):
        await c.get("http://example.invalid/")


async def test_connect_timeout() -> None:
    class Stuck:
        async def serve(self, target: HttpConnectTarget) -> EstablishedConnection[Any, Any]:
            await asyncio.sleep(GUARD)
            raise AssertionError("unreachable")

    async with HttpClient(transport=Stuck(), connect_timeout=0.1) as c:
        with pytest.raises(ConnectTimeoutError) as info:
            await c.get("http://127.0.0.1:9/")
        assert info.value.port == 9


# -- TLS ------------------------------------------------------------------------------------


async def test_tls_is_verified_by_default() -> None:
    async with running(PeerCounter(), tls=acceptor_data()) as srv:
        async with HttpClient() as c:
            with pytest.raises(CertificateVerifyError):
                await c.get(f"{srv.localhost_url()}/")
        async with HttpClient(insecure=True) as c:
            r = await c.get(f"{srv.localhost_url()}/i")
            assert await r.text() == "HTTP/2 /i 0"
        ca, _ = cert_files()
        async with HttpClient(ca_file=ca) as c:
            r = await c.get(f"{srv.localhost_url()}/ca")
            assert await r.text() == "HTTP/2 /ca 0"


async def test_h2_only_against_an_http1_tls_server_fails_clearly() -> None:
    async with running(PeerCounter(), HttpServer.http1(), tls=acceptor_data()) as srv:
        async with HttpClient(tls=trusting(), version_policy=HttpVersionPolicy.HTTP2_ONLY) as c:
            with pytest.raises(ProtocolNegotiationError):
                await c.get(f"{srv.url}/")
        async with HttpClient(tls=trusting()) as c:  # AUTO falls back to HTTP/1.1
            r = await c.get(f"{srv.url}/fallback")
            assert await r.text() == "HTTP/1.1 /fallback 0"


async def test_per_request_version_overrides_the_policy() -> None:
    async with (
        running(PeerCounter(), tls=acceptor_data()) as srv,
        HttpClient(tls=trusting(), version_policy=HttpVersionPolicy.HTTP1_ONLY) as c,
    ):
        r = await c.get(f"{srv.url}/a")
        assert r.version is Version.HTTP_11
        await r.bytes()
        r = await c.get(f"{srv.url}/b").version(Version.HTTP_2).send()
        assert r.version is Version.HTTP_2
        assert await r.text() == "HTTP/2 /b 0"


# -- the wire -------------------------------------------------------------------------------


class RawServer:
    """A loopback server that records the raw request bytes and answers a fixed response."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RawServer:
        async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head = await r.readuntil(b"\r\n\r\n")
                    self.requests.append(head)
                    w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    await w.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                w.close()

        self._server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()


async def test_header_case_and_order_host_and_user_agent_on_the_wire() -> None:
    async with RawServer() as raw, HttpClient() as c:
        r = await (
            c.get(f"http://localhost:{raw.port}/p?x=1")
            .header("X-Zeta", "1")
            .header("accept", "*/*")
            .header("X-ALPHA", "2")
            .send()
        )
        assert await r.text() == "ok"
        lines = raw.requests[0].decode().split("\r\n")
        assert lines[0] == "GET /p?x=1 HTTP/1.1"
        assert lines[1] == f"Host: localhost:{raw.port}"
        assert lines[2:6] == ["X-Zeta: 1", "accept: */*", "X-ALPHA: 2", "User-Agent: pyrama/0.1"]
        r = await c.get(f"http://localhost:{raw.port}/").header("user-agent", "mine/1").send()
        await r.bytes()
        head = raw.requests[1].decode()
        assert "user-agent: mine/1" in head
        assert "pyrama/0.1" not in head
        r = await c.get(f"http://localhost:{raw.port}/").header("HOST", "virtual.test").send()
        await r.bytes()
        assert raw.requests[2].decode().split("\r\n")[1] == "HOST: virtual.test"


async def test_no_user_agent_when_disabled() -> None:
    async with RawServer() as raw, HttpClient(user_agent=None) as c:
        await (await c.get(f"http://127.0.0.1:{raw.port}/")).bytes()
        assert b"user-agent" not in raw.requests[0].lower()


async def test_invalid_targets() -> None:
    async with EasyHttpWebClient() as client:
        with pytest.raises(InvalidRequestError):
            await client.serve(Request("GET", "/relative"))
        with pytest.raises(InvalidRequestError):
            await client.serve(Request("GET", "ftp://host/x"))


def test_target_modes_and_keys() -> None:
    req = Request("GET", "https://[::1]:8443/x")
    t = HttpConnectTarget.for_request(req, HttpVersionPolicy.AUTO)
    assert (t.host, t.port, t.mode, t.authority) == ("::1", 8443, WireMode.NEGOTIATE, "[::1]:8443")
    plain_req = Request("GET", "http://Example.COM/")
    plain = HttpConnectTarget.for_request(plain_req, HttpVersionPolicy.AUTO)
    assert (plain.host, plain.port, plain.mode) == ("example.com", 80, WireMode.HTTP1)
    h2c = HttpConnectTarget.for_request(
        Request("GET", "http://h/"), HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE
    )
    assert h2c.mode is WireMode.H2
    req.extensions.insert(TargetHttpVersion(Version.HTTP_11))
    assert HttpConnectTarget.for_request(req, HttpVersionPolicy.AUTO).mode is WireMode.HTTP1
    assert t.pool_key != plain.pool_key


def test_config_errors() -> None:
    from pyrama_core.errors import ConfigError

    with pytest.raises(ConfigError):
        RequestTimeout(0)
    with pytest.raises(ConfigError):
        TargetHttpVersion(Version.HTTP_3)
    with pytest.raises(ConfigError):
        EasyHttpWebClient(insecure=True, tls=trusting())
    with pytest.raises(ConfigError):
        EasyHttpWebClient(connect_timeout=0)
    with pytest.raises(ConfigError):
        EasyHttpWebClient(max_retries=-1)
    with pytest.raises(ConfigError):
        EasyHttpWebClient(transport=TcpConnector(), connector=EasyHttpWebClient().connector)


# -- retries and lease bookkeeping ------------------------------------------------------------


async def test_h2_goaway_moves_requests_to_a_new_connection() -> None:
    seen = PeerCounter()
    server = HttpServer.auto(limits=HttpLimits(max_requests_per_connection=3))
    async with (
        running(seen, server) as srv,
        HttpClient(version_policy=HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE, max_retries=3) as c,
    ):
        for i in range(9):
            r = await c.get(f"{srv.url}/{i}")
            assert await r.text() == f"HTTP/2 /{i} 0"
        assert len(seen.peers) >= 3

        async def one(i: int) -> str:
            return await (await c.get(f"{srv.url}/c{i}")).text()

        texts = await asyncio.gather(*(one(i) for i in range(6)))
        assert sorted(texts) == sorted(f"HTTP/2 /c{i} 0" for i in range(6))


class DyingServer:
    """Answers the first request of each connection, then closes on the next one unanswered."""

    def __init__(self) -> None:
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> DyingServer:
        async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await r.readuntil(b"\r\n\r\n")
                w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await w.drain()
                await r.readuntil(b"\r\n\r\n")  # the next request: dropped on the floor
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                w.close()

        self._server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()


async def test_idempotent_request_is_retried_when_a_reused_connection_dies() -> None:
    async with DyingServer() as dying, HttpClient() as c:
        assert await (await c.get(f"http://127.0.0.1:{dying.port}/1")).text() == "ok"
        assert await (await c.get(f"http://127.0.0.1:{dying.port}/2")).text() == "ok"
        assert dying.connections == 2
        # a POST is not repeated: the server may have acted on it
        from pyrama_http_core.errors import ConnectionClosedError

        with pytest.raises(ConnectionClosedError):
            await c.post(f"http://127.0.0.1:{dying.port}/3").body(b"x").send()


async def test_streamed_request_bodies_are_not_retried() -> None:
    async def gen() -> AsyncIterator[bytes]:
        yield b"once"

    async with DyingServer() as dying, HttpClient() as c:
        await (await c.get(f"http://127.0.0.1:{dying.port}/1")).bytes()
        from pyrama_http_core.errors import ConnectionClosedError

        with pytest.raises(ConnectionClosedError):
            await c.put(f"http://127.0.0.1:{dying.port}/2").body(gen()).send()


async def test_dropped_response_gives_its_lease_back() -> None:
    import gc

    async with running(lambda r: _big()) as srv:
        client = EasyHttpWebClient()
        async with HttpClient(client) as c:
            r = await c.get(f"{srv.url}/big")
            assert client.stats().http1.leased == 1
            del r
            gc.collect()
            for _ in range(100):
                if client.stats().http1.leased == 0:
                    break
                await asyncio.sleep(0.01)
            assert client.stats().http1.leased == 0
            assert await (await c.get(f"{srv.url}/big")).bytes() == b"x" * 200_000


async def test_failed_shared_connect_fails_every_waiter() -> None:
    from http_support import free_tcp_port

    from pyrama_net.errors import ConnectError

    port = free_tcp_port()  # nothing listens there
    async with HttpClient(version_policy=HttpVersionPolicy.H2C_PRIOR_KNOWLEDGE) as c:
        results = await asyncio.gather(
            *(c.get(f"http://127.0.0.1:{port}/").send() for _ in range(5)),
            return_exceptions=True,
        )
        assert all(isinstance(x, ConnectError) for x in results), results


async def test_proxy_seam() -> None:
    from http_support import free_tcp_port

    from pyrama_net import ProxyAddress
    from pyrama_net.errors import ConnectError

    proxy = ProxyAddress.parse(f"http://127.0.0.1:{free_tcp_port()}")
    async with running(PeerCounter()) as srv:
        async with HttpClient() as c:
            # the default transport goes through the proxy (nothing listens there)
            with pytest.raises(ConnectError):
                await c.get(f"{srv.url}/").extension(proxy).send()

        seen: list[HttpConnectTarget] = []

        class Recording:
            """A stand-in proxy connector: records the target, connects to the origin."""

            def __init__(self) -> None:
                self.tcp = TcpConnector()

            async def serve(self, target: HttpConnectTarget) -> EstablishedConnection[Any, Any]:
                seen.append(target)
                return await self.tcp.serve(target)

        async with HttpClient(transport=Recording()) as c:
            r = await c.get(f"{srv.url}/via").extension(proxy).send()
            assert await r.text() == "HTTP/1.1 /via 0"
            r = await c.get(f"{srv.url}/direct").send()
            await r.bytes()
        assert [t.proxy for t in seen] == [proxy, None]
        assert seen[0].pool_key != seen[1].pool_key


async def test_client_certificate_for_mutual_tls() -> None:
    from pyrama_tls import CertificateAuthority, ClientAuth
    from pyrama_tls.errors import TlsError

    ca = CertificateAuthority.generate("test client CA")
    client_cert = ca.issue_leaf(["client.test"], server_auth=False, client_auth=True)

    async def who(req: Request) -> Response:
        neg = req.extensions.get(NegotiatedTls)
        assert neg is not None
        leaf = neg.peer_certificate
        assert leaf is not None
        return Response.text(leaf.subject.rfc4514_string())

    data = acceptor_data(client_auth=ClientAuth.REQUIRED, client_ca=[ca.cert])
    async with running(who, tls=data) as srv:
        ca_file, _ = cert_files()
        async with HttpClient(ca_file=ca_file, client_certificate=client_cert) as c:
            r = await c.get(f"{srv.localhost_url()}/")
            assert "client.test" in await r.text()
        # (HTTP/1.1 here: over TLS 1.3 the refusal arrives after the client's handshake, as
        # a read error, which the HTTP/2 client engine does not yet turn into a failed stream)
        policy = HttpVersionPolicy.HTTP1_ONLY
        async with HttpClient(ca_file=ca_file, version_policy=policy) as c:
            with pytest.raises((TlsError, ConnectionError)):
                await (await c.get(f"{srv.localhost_url()}/")).bytes()
