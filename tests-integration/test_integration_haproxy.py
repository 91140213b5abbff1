"""pyrama-haproxy against real peers: our client layer into nginx and haproxy, and ourselves."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from itsupport import Poll, Spawn

from pyrama_core import service_fn
from pyrama_haproxy import (
    HaProxyClientLayer,
    HaProxyLayer,
    ProxyProtocolInfo,
    ProxyVersion,
    Tlv,
)
from pyrama_net import SocketAddress, SocketInfo, Stream
from pyrama_tcp import TcpConnector, TcpListener, TcpStream
from pyrama_testing import free_port, require_peer

FAKE_CLIENT = SocketAddress.parse("203.0.113.9:4242")
FAKE_FRONT = SocketAddress.parse("198.51.100.7:443")


async def http_get(stream: Stream) -> bytes:
    """Send a GET over *stream*, return the response body (the server closes)."""
    stream.write(b"GET / HTTP/1.1\r\nHost: it.test\r\nConnection: close\r\n\r\n")
    await stream.drain()
    data = b""
    async with asyncio.timeout(20):
        while chunk := await stream.read():
            data += chunk
    await stream.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data
    return body


def start_nginx(spawn: Spawn, tmp_path: Path, port: int) -> None:
    nginx = require_peer("nginx")
    conf = tmp_path / "nginx.conf"
    temp = "".join(
        f"  {kind}_temp_path {tmp_path / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf.write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log stderr info;\n"
        "events { worker_connections 64; }\n"
        f"http {{\n  access_log off;\n{temp}"
        f"  server {{\n    listen 127.0.0.1:{port} proxy_protocol;\n"
        '    location / { return 200 "$proxy_protocol_addr $proxy_protocol_port '
        '$proxy_protocol_server_addr $proxy_protocol_server_port $remote_addr\\n"; }\n'
        "  }\n}\n"
    )
    argv = [nginx, "-e", "stderr", "-p", str(tmp_path), "-c", str(conf)]
    check = subprocess.run([*argv, "-t"], capture_output=True, check=False)
    assert check.returncode == 0, check.stderr
    spawn([*argv, "-g", "daemon off; master_process off;"], ready=None)
    Poll.tcp_listening(port)


def start_haproxy(spawn: Spawn, tmp_path: Path, port: int) -> None:
    haproxy = require_peer("haproxy")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(
        "global\n  log stderr format raw local0 info\n"
        "defaults\n  mode http\n  log global\n  timeout connect 10s\n"
        "  timeout client 30s\n  timeout server 30s\n"
        f"frontend web\n  bind 127.0.0.1:{port} accept-proxy\n"
        '  http-request return status 200 content-type text/plain lf-string "%[src] '
        '%[src_port] %[dst] %[dst_port] %[fc_pp_authority] %[fc_pp_unique_id]\\n"\n'
    )
    check = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    spawn([haproxy, "-db", "-f", str(cfg)], ready=None)
    Poll.tcp_listening(port)


@pytest.mark.parametrize("version", [ProxyVersion.V1, ProxyVersion.V2])
async def test_client_layer_into_nginx(spawn: Spawn, tmp_path: Path, version: ProxyVersion) -> None:
    port = free_port()
    start_nginx(spawn, tmp_path, port)
    # explicit addresses
    tlvs = (Tlv.crc32c(), Tlv.noop(5)) if version is ProxyVersion.V2 else ()
    connector = HaProxyClientLayer(
        version, source=FAKE_CLIENT, destination=FAKE_FRONT, tlvs=tlvs
    ).layer(TcpConnector())
    est = await connector.serve(("127.0.0.1", port))
    body = await http_get(est.conn)
    assert body == b"203.0.113.9 4242 198.51.100.7 443 127.0.0.1\n"
    # addresses taken from the connection itself
    est2 = await HaProxyClientLayer(version).layer(TcpConnector()).serve(("127.0.0.1", port))
    local = est2.conn.local_addr
    assert (
        await http_get(est2.conn) == f"127.0.0.1 {local.port} 127.0.0.1 {port} 127.0.0.1\n".encode()
    )


async def test_client_layer_into_haproxy_accept_proxy(spawn: Spawn, tmp_path: Path) -> None:
    port = free_port()
    start_haproxy(spawn, tmp_path, port)
    v2 = HaProxyClientLayer(
        source=FAKE_CLIENT,
        destination=FAKE_FRONT,
        tlvs=(Tlv.authority("it.example"), Tlv.unique_id(b"req-42"), Tlv.crc32c()),
    ).layer(TcpConnector())
    est = await v2.serve(("127.0.0.1", port))
    body = await http_get(est.conn)
    assert body == b"203.0.113.9 4242 198.51.100.7 443 it.example req-42\n"

    v1 = HaProxyClientLayer(ProxyVersion.V1).layer(TcpConnector())
    est = await v1.serve(("127.0.0.1", port))
    local = est.conn.local_addr
    body = await http_get(est.conn)
    assert body.startswith(f"127.0.0.1 {local.port} 127.0.0.1 {port} ".encode())


@contextlib.asynccontextmanager
async def pyrama_server(strict: bool) -> AsyncIterator[tuple[int, list[object]]]:
    """A TcpListener behind HaProxyLayer that writes back the peer it sees."""
    seen: list[object] = []

    async def answer(stream: Stream) -> None:
        info = stream.extensions.get(SocketInfo)
        seen.append(stream.extensions.get(ProxyProtocolInfo))
        peer = info.peer_address if info is not None else None
        stream.write(f"{peer}\n".encode())
        await stream.drain()

    listener = await TcpListener.bind(("127.0.0.1", 0))
    svc = HaProxyLayer(strict=strict, timeout=5).layer(service_fn(answer))
    task = asyncio.create_task(listener.serve(svc))
    try:
        yield listener.local_addr.port, seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await listener.close()


async def read_all(stream: TcpStream) -> bytes:
    data = b""
    async with asyncio.timeout(20):
        while chunk := await stream.read():
            data += chunk
    await stream.close()
    return data


async def test_pyrama_client_to_pyrama_server_and_bad_headers() -> None:
    async with pyrama_server(strict=True) as (port, seen):
        connector = HaProxyClientLayer(
            source=FAKE_CLIENT, destination=FAKE_FRONT, tlvs=(Tlv.crc32c(),)
        ).layer(TcpConnector())
        est = await connector.serve(("127.0.0.1", port))
        assert await read_all(est.conn) == b"203.0.113.9:4242\n"
        info = seen[-1]
        assert isinstance(info, ProxyProtocolInfo)
        assert info.proxy is not None
        assert info.proxy.peer_address == est.conn.local_addr

        # a bad header and a missing one: closed without an answer, the server goes on
        for junk in (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", b"GET / HTTP/1.1\r\n\r\n"):
            plain = (await TcpConnector().serve(("127.0.0.1", port))).conn
            plain.write(junk)
            with contextlib.suppress(ConnectionResetError):
                assert await read_all(plain) == b""
        est = await connector.serve(("127.0.0.1", port))
        assert await read_all(est.conn) == b"203.0.113.9:4242\n"


async def test_pyrama_lenient_server_mixes_proxied_and_direct_clients() -> None:
    async with pyrama_server(strict=False) as (port, _):
        direct = (await TcpConnector().serve(("127.0.0.1", port))).conn
        direct.write(b"hi")
        local = direct.local_addr
        assert await read_all(direct) == f"{local}\n".encode()
        proxied = HaProxyClientLayer(ProxyVersion.V1, source=FAKE_CLIENT, destination=FAKE_FRONT)
        est = await proxied.layer(TcpConnector()).serve(("127.0.0.1", port))
        assert await read_all(est.conn) == b"203.0.113.9:4242\n"
