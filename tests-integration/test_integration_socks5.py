"""SOCKS5 interop: pyrama's client through Dante, third-party clients through pyrama's server.

* pyrama's client (CONNECT by IP and by name, BIND, UDP ASSOCIATE, error replies) against a
  real Dante server (``danted``, run in the foreground with its config in tmp_path);
* python-socks (CONNECT with username/password, ``socks5`` and ``socks5h``) and PySocks
  (UDP ASSOCIATE with username/password) against :class:`~pyrama_socks5.Socks5Acceptor`.

curl (``--socks5``, ``--socks5-hostname``, ``--proxy-user``) is in
test_example_socks5_connect_proxy.py, BIND with raw RFC 1928 bytes in
test_example_socks5_bind_proxy.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import socks  # type: ignore[import-untyped]  # PySocks
from itsupport import Spawn
from python_socks import ProxyError
from python_socks.async_.asyncio import Proxy

from pyrama_net import Authority, Basic, ProxyAddress, Stream, read_exact
from pyrama_socks5 import (
    ReplyCode,
    Socks5Acceptor,
    Socks5ProxyConnector,
    Socks5UdpClient,
    socks5_bind,
    socks5_connect,
    static_authorizer,
)
from pyrama_socks5.errors import Socks5AuthError, Socks5ReplyError
from pyrama_tcp import TcpConnector, TcpListener
from pyrama_testing import free_port, require_peer
from pyrama_udp import UdpSocket

HANG = 20.0
USER = Basic("john", "s3cret")


@pytest.fixture
def http_origin(spawn: Spawn, tmp_path: Path) -> int:
    """A plain HTTP origin on 127.0.0.1 serving /index.txt; returns its port."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.txt").write_bytes(b"hello through socks5\n")
    port = free_port()
    spawn(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        ready=r"Serving HTTP",
        cwd=root,
    )
    return port


async def http_get(stream: Stream, host: str) -> bytes:
    stream.write(f"GET /index.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    await stream.drain()
    out = bytearray()
    async with asyncio.timeout(HANG):
        while chunk := await stream.read():
            out += chunk
    return bytes(out)


def ok(response: bytes) -> bool:
    return response.startswith(b"HTTP/1.0 200") and response.endswith(b"hello through socks5\n")


# -- Dante ---------------------------------------------------------------------------------------


def start_dante(spawn: Spawn, tmp_path: Path, method: str) -> int:
    danted = require_peer("danted")
    port = free_port()
    conf = tmp_path / f"danted-{method}.conf"
    conf.write_text(
        f"""
logoutput: stderr
internal: 127.0.0.1 port = {port}
external: 127.0.0.1
socksmethod: {method}
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {{
    from: 127.0.0.0/8 to: 0.0.0.0/0
}}
socks pass {{
    from: 127.0.0.0/8 to: 0.0.0.0/0
    command: connect bind udpassociate bindreply udpreply
}}
"""
    )
    # foreground (no -D), one process, its own pid file
    spawn(
        [danted, "-f", str(conf), "-N", "1", "-p", str(tmp_path / f"danted-{method}.pid")],
        ready=r"running",
    )
    return port


async def test_our_client_through_dante(spawn: Spawn, tmp_path: Path, http_origin: int) -> None:
    dante = start_dante(spawn, tmp_path, "none")
    connector = TcpConnector()

    # CONNECT by IP, then by name (Dante resolves it: socks5h)
    for host in ("127.0.0.1", "localhost"):
        stream = await connector.connect("127.0.0.1", dante)
        bound = await socks5_connect(stream, Authority.parse(f"{host}:{http_origin}"))
        assert str(bound.host) == "127.0.0.1"
        assert ok(await http_get(stream, f"{host}:{http_origin}"))
        await stream.close()

    # the connector, with credentials offered (Dante picks "no authentication")
    via = Socks5ProxyConnector(ProxyAddress.parse(f"socks5h://john:x@127.0.0.1:{dante}"))
    conn = await via.serve(Authority.parse(f"localhost:{http_origin}"))
    assert ok(await http_get(conn.conn, f"localhost:{http_origin}"))
    await conn.conn.close()

    # a closed port: Dante replies 0x05 and our client raises it
    stream = await connector.connect("127.0.0.1", dante)
    with pytest.raises(Socks5ReplyError) as info:
        await socks5_connect(stream, Authority.parse(f"127.0.0.1:{free_port()}"))
    assert info.value.reply is ReplyCode.CONNECTION_REFUSED
    await stream.close()


async def test_our_bind_and_udp_client_through_dante(spawn: Spawn, tmp_path: Path) -> None:
    dante = start_dante(spawn, tmp_path, "none")
    connector = TcpConnector()

    control = await connector.connect("127.0.0.1", dante)
    binding = await socks5_bind(control, Authority.parse("127.0.0.1:0"))
    inbound = await connector.connect(str(binding.bound.host), binding.bound.port)
    peer = await asyncio.wait_for(binding.accept(), HANG)
    assert peer == inbound.local_addr.to_authority()
    inbound.write(b"from the inbound side")
    await inbound.drain()
    assert await asyncio.wait_for(read_exact(control, 21), HANG) == b"from the inbound side"
    await inbound.close()
    await control.close()

    echo = await UdpSocket.bind()

    async def answer() -> None:
        while True:
            data, src = await echo.recv_from()
            await echo.send_to(b"echo:" + data, src)

    task = asyncio.create_task(answer())
    try:
        control = await connector.connect("127.0.0.1", dante)
        async with await Socks5UdpClient.associate(control) as udp:
            await udp.send_to(b"datagram", echo.local_addr.to_authority())
            data, source = await asyncio.wait_for(udp.recv_from(), HANG)
            assert data == b"echo:datagram"
            assert source == echo.local_addr.to_authority()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await echo.close()


async def test_dante_username_method_refusals(spawn: Spawn, tmp_path: Path) -> None:
    # Dante checks "username" against the system's password database; a made-up user is
    # refused with an RFC 1929 failure status, and a client without credentials gets 0xFF.
    dante = start_dante(spawn, tmp_path, "username")
    connector = TcpConnector()
    stream = await connector.connect("127.0.0.1", dante)
    with pytest.raises(Socks5AuthError, match="refused the credentials"):
        await socks5_connect(
            stream, Authority.parse("127.0.0.1:9"), credentials=Basic("no-such-user", "pw")
        )
    await stream.close()
    stream = await connector.connect("127.0.0.1", dante)
    with pytest.raises(Socks5AuthError, match="none of the offered"):
        await socks5_connect(stream, Authority.parse("127.0.0.1:9"))
    await stream.close()


# -- third-party clients against pyrama's server ------------------------------------------------


@contextlib.asynccontextmanager
async def pyrama_proxy(acceptor: Socks5Acceptor) -> AsyncIterator[int]:
    listener = await TcpListener.bind()
    task = asyncio.create_task(listener.serve(acceptor))
    try:
        yield listener.local_addr.port
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await listener.close()


async def sock_get(sock: socket.socket, host: str) -> bytes:
    loop = asyncio.get_running_loop()
    req = f"GET /index.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    await loop.sock_sendall(sock, req)
    out = bytearray()
    async with asyncio.timeout(HANG):
        while chunk := await loop.sock_recv(sock, 65536):
            out += chunk
    return bytes(out)


async def test_python_socks_through_our_server(http_origin: int) -> None:
    acceptor = Socks5Acceptor(authorizer=static_authorizer(USER))
    async with pyrama_proxy(acceptor) as port:
        for scheme, rdns in (("socks5", False), ("socks5", True)):
            proxy = Proxy.from_url(f"{scheme}://john:s3cret@127.0.0.1:{port}", rdns=rdns)
            sock = await proxy.connect("localhost", http_origin, timeout=HANG)
            try:
                assert ok(await sock_get(sock, f"localhost:{http_origin}"))
            finally:
                sock.close()
        wrong = Proxy.from_url(f"socks5://john:nope@127.0.0.1:{port}")
        with pytest.raises(ProxyError):
            await wrong.connect("127.0.0.1", http_origin, timeout=HANG)
        anonymous = Proxy.from_url(f"socks5://127.0.0.1:{port}")
        with pytest.raises(ProxyError):
            await anonymous.connect("127.0.0.1", http_origin, timeout=HANG)


def pysocks_udp_roundtrip(proxy_port: int, echo_port: int, password: str) -> bytes:
    s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
    s.set_proxy(socks.SOCKS5, "127.0.0.1", proxy_port, username="john", password=password)
    s.settimeout(HANG)
    try:
        s.sendto(b"udp with auth", ("127.0.0.1", echo_port))
        data: bytes = s.recvfrom(4096)[0]
        return data
    finally:
        s.close()


async def test_pysocks_udp_associate_with_auth() -> None:
    echo = await UdpSocket.bind()

    async def answer() -> None:
        while True:
            data, src = await echo.recv_from()
            await echo.send_to(b"echo:" + data, src)

    task = asyncio.create_task(answer())
    acceptor = Socks5Acceptor(authorizer=static_authorizer(USER), udp_associate=True)
    try:
        async with pyrama_proxy(acceptor) as port:
            echo_port = echo.local_addr.port
            got = await asyncio.to_thread(pysocks_udp_roundtrip, port, echo_port, "s3cret")
            assert got == b"echo:udp with auth"
            with pytest.raises(socks.SOCKS5AuthError):
                await asyncio.to_thread(pysocks_udp_roundtrip, port, echo_port, "wrong")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await echo.close()
