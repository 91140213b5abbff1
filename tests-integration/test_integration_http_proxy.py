"""HTTP proxies against real peers: our client through squid, env proxies, chaining to squid.

squid runs from a config in tmp_path (``http_port 127.0.0.1:N``, ``http_access allow`` for
loopback only, ``cache deny all``, foreground ``-N``, its own service name so its shared
memory segments do not clash). Run as root, squid insists on dropping to an unprivileged
user, so its pid and log files then go to a world-writable temporary directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from itsupport import Peers, Poll, Running, Spawn, make_pki

from pyrama_core import Service, Shutdown
from pyrama_http import HttpClient, ProxyConnectError
from pyrama_http.proxy import HttpProxy, http_proxy_server
from pyrama_http_types import Request, Response
from pyrama_net import ProxyAddress
from pyrama_testing import free_port, require_peer
from pyrama_tls import TlsConnectorData

GUARD = 30.0


@dataclass
class Squid:
    """A running squid."""

    port: int
    files: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def squid(spawn: Spawn, tmp_path: Path, poll: Poll) -> Iterator[Squid]:
    exe = require_peer("squid")
    port = free_port()
    user_line = ""
    own_files = os.geteuid() == 0
    if own_files:
        files = Path(tempfile.mkdtemp(prefix="pyrama-squid-"))
        os.chmod(files, 0o777)  # squid drops root for an unprivileged user
        for candidate in ("proxy", "nobody"):
            with contextlib.suppress(KeyError):
                pwd.getpwnam(candidate)
                user_line = f"cache_effective_user {candidate}"
                break
    else:
        files = tmp_path
    name = f"pyrama{port}"
    conf = tmp_path / "squid.conf"
    conf.write_text(
        f"http_port 127.0.0.1:{port}\n"
        "acl loopback src 127.0.0.1/32 ::1\n"
        "http_access allow loopback\n"
        "http_access deny all\n"
        "cache deny all\n"
        f"pid_filename {files}/squid.pid\n"
        f"access_log stdio:{files}/access.log\n"
        f"cache_log {files}/cache.log\n"
        "cache_store_log none\n"
        f"coredump_dir {files}\n"
        "shutdown_lifetime 1 seconds\n"
        f"{user_line}\n"
    )
    proc: Running = spawn([exe, "-n", name, "-N", "-f", str(conf)], ready=None)
    try:
        poll.tcp_listening(port)
        yield Squid(port, files)
    finally:
        proc.stop()
        log = files / "cache.log"
        if log.exists():
            print(log.read_text(errors="replace")[-4000:])
        for leftover in Path("/dev/shm").glob(f"{name}-*"):
            with contextlib.suppress(OSError):
                leftover.unlink()
        if own_files:
            shutil.rmtree(files, ignore_errors=True)


@pytest.fixture
def origins(spawn: Spawn, pyrama_cli: list[str], tmp_path: Path) -> tuple[int, int, Path]:
    """(plain echo port, TLS echo port, CA file) of two ``pyrama serve echo`` origins."""
    pki = make_pki(tmp_path / "pki")
    plain = spawn([*pyrama_cli, "serve", "echo", "--bind", "127.0.0.1:0"])
    secure = spawn(
        [*pyrama_cli, "serve", "echo", "--secure", *pki.server_flags, "--bind", "127.0.0.1:0"]
    )
    return plain.port, secure.port, pki.ca


@contextlib.asynccontextmanager
async def our_proxy(service: Service[Request, Response] | None = None) -> AsyncIterator[int]:
    sd = Shutdown(deadline=5.0)
    bound: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        http_proxy_server("127.0.0.1:0", service, shutdown=sd, on_listening=bound.set_result)
    )
    try:
        addr = await asyncio.wait_for(asyncio.shield(bound), GUARD)
        yield addr.port
    finally:
        sd.trigger("test over")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, GUARD)


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def _access_log_with(squid: Squid, *lines: str) -> str:
    """squid's access log once it holds every one of *lines* (or as it is at the deadline)."""
    deadline = asyncio.get_running_loop().time() + 15.0
    while True:
        path = squid.files / "access.log"
        access = path.read_text() if path.exists() else ""
        if all(line in access for line in lines) or asyncio.get_running_loop().time() > deadline:
            return access
        await asyncio.sleep(0.1)


async def test_our_client_through_squid(squid: Squid, origins: tuple[int, int, Path]) -> None:
    plain, secure, ca = origins
    tls = TlsConnectorData(ca_file=str(ca))
    async with HttpClient(proxy=squid.url, tls=tls, trust_env=False) as c:
        # plain http: absolute-form to squid, which adds its Via
        r = await c.get(f"http://127.0.0.1:{plain}/plain").header("X-Case", "Kept").send()
        seen = json.loads(await r.bytes())
        assert seen["uri"] == "/plain"
        headers = dict(seen["headers"])
        assert "squid" in headers.get("Via", "")
        assert headers["X-Case"] == "Kept"
        # https: a CONNECT tunnel through squid, TLS (and ALPN h2) inside it
        r = await c.get(f"https://127.0.0.1:{secure}/tunneled").send()
        seen = json.loads(await r.bytes())
        assert seen["path"] == "/tunneled"
        assert r.version.value == "HTTP/2"
        # squid answers CONNECT to a dead port itself: the error names its status
        with pytest.raises(ProxyConnectError) as info:
            await c.get(f"https://127.0.0.1:{_dead_port()}/").send()
        assert info.value.status is not None
        assert info.value.status >= 500
    # squid logs a CONNECT once the tunnel has ended, a moment after our client closed it
    access = await _access_log_with(
        squid, f"GET http://127.0.0.1:{plain}/plain", f"CONNECT 127.0.0.1:{secure}"
    )
    assert f"GET http://127.0.0.1:{plain}/plain" in access
    assert f"CONNECT 127.0.0.1:{secure}" in access


async def test_chaining_our_proxy_to_squid(
    squid: Squid, origins: tuple[int, int, Path], peers: Peers
) -> None:
    """curl -> our HttpProxy -> squid -> origin: the upstream comes from a request extension."""
    plain, secure, ca = origins
    upstream = ProxyAddress.parse(squid.url)

    class Upstream:
        def __init__(self, inner: Service[Request, Response]) -> None:
            self.inner = inner

        async def serve(self, request: Request) -> Response:
            request.extensions.insert(upstream)
            return await self.inner.serve(request)

    proxy = HttpProxy(via="pyrama")
    try:
        async with our_proxy(Upstream(proxy)) as port:
            fetch = peers.curl
            body = await asyncio.to_thread(
                fetch, f"http://127.0.0.1:{plain}/chained", "-x", f"http://127.0.0.1:{port}"
            )
            headers = dict(json.loads(body)["headers"])
            assert headers["Via"].startswith("1.1 pyrama")
            assert "squid" in headers["Via"]
            body = await asyncio.to_thread(
                fetch, f"https://127.0.0.1:{secure}/chained-tls", "-x",
                f"http://127.0.0.1:{port}", "--cacert", str(ca),
            )  # fmt: skip
            assert json.loads(body)["path"] == "/chained-tls"
    finally:
        await proxy.close()
    access = await _access_log_with(
        squid, f"CONNECT 127.0.0.1:{secure}", f"GET http://127.0.0.1:{plain}/chained"
    )
    assert f"CONNECT 127.0.0.1:{secure}" in access
    assert f"GET http://127.0.0.1:{plain}/chained" in access


async def test_env_proxies(
    origins: tuple[int, int, Path], peers: Peers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY / HTTPS_PROXY / NO_PROXY, honoured by curl and by our client alike."""
    plain, secure, ca = origins
    seen: list[str] = []

    class Record:
        def __init__(self, inner: Service[Request, Response]) -> None:
            self.inner = inner

        async def serve(self, request: Request) -> Response:
            seen.append(f"{request.method} {request.uri}")
            return await self.inner.serve(request)

    proxy = HttpProxy()
    curl = require_peer("curl")
    try:
        async with our_proxy(Record(proxy)) as port:
            env = {
                "PATH": os.environ.get("PATH", ""),
                "http_proxy": f"http://127.0.0.1:{port}",
                "HTTPS_PROXY": f"http://127.0.0.1:{port}",
            }
            for url in (f"http://127.0.0.1:{plain}/env-curl", f"https://127.0.0.1:{secure}/e"):
                out = await asyncio.to_thread(
                    _run_env, [curl, "-sS", "--fail", "--cacert", str(ca), url], env
                )
                assert json.loads(out)["path"] in ("/env-curl", "/e")
            assert seen == [
                f"GET http://127.0.0.1:{plain}/env-curl",
                f"CONNECT 127.0.0.1:{secure}",
            ]
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            async with HttpClient(ca_file=str(ca)) as c:
                r = await c.get(f"http://127.0.0.1:{plain}/env-client").send()
                assert json.loads(await r.bytes())["path"] == "/env-client"
                r = await c.get(f"https://127.0.0.1:{secure}/env-client-tls").send()
                assert json.loads(await r.bytes())["path"] == "/env-client-tls"
            assert seen[2:] == [
                f"GET http://127.0.0.1:{plain}/env-client",
                f"CONNECT 127.0.0.1:{secure}",
            ]
            monkeypatch.setenv("NO_PROXY", "127.0.0.1")
            async with HttpClient(ca_file=str(ca)) as c:
                r = await c.get(f"http://127.0.0.1:{plain}/direct").send()
                assert json.loads(await r.bytes())["path"] == "/direct"
            out = await asyncio.to_thread(
                _run_env, [curl, "-sS", "--fail", f"http://127.0.0.1:{plain}/direct-curl"],
                {**env, "NO_PROXY": "127.0.0.1"},
            )  # fmt: skip
            assert json.loads(out)["path"] == "/direct-curl"
            assert len(seen) == 4  # neither bypassed request reached the proxy
    finally:
        await proxy.close()


def _run_env(argv: list[str], env: dict[str, str]) -> bytes:
    import subprocess

    out = subprocess.run(argv, capture_output=True, env=env, timeout=60, check=False)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return out.stdout
