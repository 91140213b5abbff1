"""The client side: EasyHttpWebClient / HttpProxyConnector through our proxy (http and https)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from http_support import GUARD, acceptor_data, free_tcp_port, running, trusting
from proxy_support import header_echo, proxy_running, tcp_echo

from pyrama_core import layers
from pyrama_core.errors import ConfigError
from pyrama_http import (
    EasyHttpWebClient,
    HttpClient,
    HttpProxyConnector,
    ProxyConnectError,
    ProxyConnector,
)
from pyrama_http.proxy import HttpProxy, ProxyAuthLayer, TunnelTarget
from pyrama_http_types import Request, Response
from pyrama_net import Basic, EstablishedConnection, ProxyAddress
from pyrama_net.errors import ConnectError


def auth_proxy() -> object:
    return layers(ProxyAuthLayer(Basic("u", "p:w"))).into(HttpProxy())


async def test_plain_http_goes_absolute_form_with_proxy_authorization() -> None:
    seen: list[Request] = []

    async def origin(req: Request) -> Response:
        return await header_echo(req)

    class Spy:
        def __init__(self) -> None:
            self.inner = auth_proxy()

        async def serve(self, req: Request) -> Response:
            seen.append(req)
            return await self.inner.serve(req)  # type: ignore[attr-defined,no-any-return]

    async with running(origin) as srv, proxy_running(Spy()) as proxy:
        url = f"http://u:p%3Aw@127.0.0.1:{proxy.port}"
        async with HttpClient(proxy=url, trust_env=False) as c:
            r = await c.get(f"{srv.url}/x?y=1").header("X-Case", "Kept").send()
            text = await r.text()
            assert r.status == 200
            r2 = await c.get(f"{srv.url}/again").send()
            await r2.bytes()
    assert text.splitlines()[0] == "GET /x?y=1"
    assert "X-Case: Kept" in text
    assert "proxy-authorization" not in text.lower()  # the proxy took it off
    assert str(seen[0].uri) == f"{srv.url}/x?y=1"  # absolute form on the wire
    assert seen[0].method == "GET"


async def test_https_goes_through_connect() -> None:
    async def origin(req: Request) -> Response:
        return Response.text(f"secure {req.uri.path}")

    async with (
        running(origin, tls=acceptor_data()) as srv,
        proxy_running(auth_proxy()) as proxy,  # type: ignore[arg-type]
    ):
        async with HttpClient(
            proxy=f"http://u:p%3Aw@127.0.0.1:{proxy.port}", tls=trusting(), trust_env=False
        ) as c:
            r = await c.get(f"{srv.url}/s").send()
            assert await r.text() == "secure /s"
            assert r.version.value == "HTTP/2"  # ALPN inside the tunnel
        async with HttpClient(proxy=f"http://u:bad@127.0.0.1:{proxy.port}", tls=trusting()) as c:
            with pytest.raises(ProxyConnectError) as info:
                await c.get(f"{srv.url}/s").send()
            assert info.value.status == 407


async def test_https_proxy() -> None:
    async with (
        running(header_echo) as srv,
        tcp_echo() as echo_port,
        proxy_running(tls=acceptor_data()) as proxy,
    ):
        async with HttpClient(proxy=proxy.url, proxy_tls=trusting(), trust_env=False) as c:
            r = await c.get(f"{srv.url}/via-tls").send()
            assert (await r.text()).startswith("GET /via-tls")
        # a CONNECT tunnel over the TLS connection to the proxy, HTTP/1.1 and HTTP/2
        for version in ("HTTP/1.1", "HTTP/2"):
            from pyrama_http_types import Version

            connector = HttpProxyConnector(proxy.url, tls=trusting(), version=Version(version))
            est = await connector.serve(("127.0.0.1", echo_port))
            try:
                est.conn.write(b"tunnel " + version.encode())
                await est.conn.drain()
                got = b""
                while len(got) < 7 + len(version):
                    got += await asyncio.wait_for(est.conn.read(), GUARD)
                assert got == b"tunnel " + version.encode()
            finally:
                await est.conn.close()


async def test_request_extension_wins_and_no_proxy_bypasses() -> None:
    async with running(header_echo) as srv:
        dead = free_tcp_port()
        # the configured proxy is dead: only bypassed requests work
        async with HttpClient(
            proxy=f"http://127.0.0.1:{dead}", no_proxy="localhost", trust_env=False
        ) as c:
            with pytest.raises(ConnectError):
                await c.get(f"{srv.url}/").send()
            r = await c.get(f"{srv.localhost_url()}/direct").send()
            assert (await r.text()).startswith("GET /direct")
        async with proxy_running() as proxy, HttpClient(trust_env=False) as c:
            r = await c.get(f"{srv.url}/ext").extension(ProxyAddress.parse(proxy.url)).send()
            assert (await r.text()).startswith("GET /ext")


async def test_env_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    async with running(header_echo) as srv, proxy_running() as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv("NO_PROXY", "example.invalid")
        async with HttpClient() as c:
            r = await c.get(f"{srv.url}/env").send()
            assert (await r.text()).startswith("GET /env")
            key = next(iter(c.service.pool._h1._idle))  # type: ignore[attr-defined]
            assert key[4] == ProxyAddress.parse(proxy.url)
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{free_tcp_port()}")
        async with HttpClient() as c:
            with pytest.raises(ConnectError):
                await c.get(f"{srv.url}/env").send()
        async with HttpClient(trust_env=False) as c:  # opt-out
            r = await c.get(f"{srv.url}/direct").send()
            assert (await r.text()).startswith("GET /direct")
        async with HttpClient(no_proxy="127.0.0.1") as c:  # replaces NO_PROXY
            r = await c.get(f"{srv.url}/given").send()
            assert (await r.text()).startswith("GET /given")
        monkeypatch.setenv("NO_PROXY", "127.0.0.0/8")
        async with HttpClient() as c:
            r = await c.get(f"{srv.url}/bypass").send()
            assert (await r.text()).startswith("GET /bypass")
        monkeypatch.setenv("http_proxy", "http://[broken")
        with pytest.raises(ConfigError, match="http_proxy"):
            EasyHttpWebClient()


async def test_proxy_chaining_via_request_extension() -> None:
    """An HttpProxy whose CONNECT targets carry an upstream ProxyAddress chains through it."""
    async with tcp_echo() as port, proxy_running() as upstream:
        connector = ProxyConnector()
        target = TunnelTarget("127.0.0.1", port, ProxyAddress.parse(upstream.url))
        est = await connector.serve(target)
        try:
            est.conn.write(b"chained")
            await est.conn.drain()
            got = b""
            while len(got) < 7:
                got += await asyncio.wait_for(est.conn.read(), GUARD)
            assert got == b"chained"
        finally:
            await est.conn.close()


def test_connector_config_errors() -> None:
    with pytest.raises(ConfigError):
        HttpProxyConnector("socks5://127.0.0.1:1080")
    with pytest.raises(ConfigError):
        HttpProxyConnector("http://[bad")
    with pytest.raises(ConfigError):
        EasyHttpWebClient(proxy="nonsense://")
    with pytest.raises(ConfigError):
        EasyHttpWebClient(proxy_tls=trusting(), transport=ProxyConnector())


async def test_unknown_proxy_scheme_is_refused() -> None:
    with pytest.raises(ConfigError, match="unsupported proxy scheme"):
        await ProxyConnector().serve(
            TunnelTarget("127.0.0.1", 1, ProxyAddress.parse("ftp://127.0.0.1:21"))
        )


async def test_socks5_and_socks5h_proxies() -> None:
    from pyrama_socks5 import Socks5Acceptor
    from pyrama_socks5.errors import Socks5AuthError
    from pyrama_tcp import TcpListener

    targets: list[str] = []

    class Recording:
        def __init__(self) -> None:
            from pyrama_tcp import TcpConnector

            self.tcp = TcpConnector()

        async def serve(self, target: Any) -> EstablishedConnection[Any, Any]:
            targets.append(str(target.host))
            return await self.tcp.serve(target)

    async def authorize(cred: Basic) -> bool:
        return cred.username == "u" and cred.password == "p"

    acceptor = Socks5Acceptor(authorizer=authorize, connector=Recording())
    listener = await TcpListener.bind("127.0.0.1:0")
    task = asyncio.create_task(listener.serve(acceptor))
    try:
        port = listener.local_addr.port
        async with running(header_echo) as srv, running(header_echo, tls=acceptor_data()) as tls:
            for scheme in ("socks5", "socks5h"):
                async with HttpClient(
                    proxy=f"{scheme}://u:p@127.0.0.1:{port}", tls=trusting(), trust_env=False
                ) as c:
                    r = await c.get(f"http://localhost:{srv.port}/{scheme}").send()
                    assert (await r.text()).startswith(f"GET /{scheme}")
                    r = await c.get(f"{tls.localhost_url()}/{scheme}-tls").send()
                    first = (await r.text()).splitlines()[0]  # h2: an absolute URI
                    assert first == f"GET {tls.localhost_url()}/{scheme}-tls"
            async with HttpClient(proxy=f"socks5h://u:x@127.0.0.1:{port}", trust_env=False) as c:
                with pytest.raises(Socks5AuthError):
                    await c.get(f"{srv.url}/").send()
    finally:
        await listener.close()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
    # socks5: resolved here (an IP goes to the proxy); socks5h: the proxy gets the name
    assert targets[:2] in (["127.0.0.1", "127.0.0.1"], ["::1", "::1"])
    assert targets[2:] == ["localhost", "localhost"]


async def test_refusal_detail_is_bounded() -> None:
    async def refuse(req: Request) -> Response:
        return Response.text("no! " * 10_000, 403)

    async with running(refuse) as srv:
        connector = HttpProxyConnector(f"http://127.0.0.1:{srv.port}")
        with pytest.raises(ProxyConnectError) as info:
            await connector.serve(("example.test", 443))
    assert info.value.status == 403
    assert "(no! no!" in str(info.value)
    assert len(str(info.value)) < 400  # only the start of the body is quoted


async def test_h2_connect_needs_an_h2_proxy() -> None:
    from pyrama_http_types import Version

    async with proxy_running(tls=acceptor_data(alpn=["http/1.1"])) as proxy:
        connector = HttpProxyConnector(proxy.url, tls=trusting(), version=Version.HTTP_2)
        with pytest.raises(ProxyConnectError, match="HTTP/2"):
            await connector.serve(("127.0.0.1", 1))
