"""examples/socks5_bind_proxy.py: BIND from a hand-written RFC 1928 client and from pyrama's.

Neither PySocks nor python-socks implements BIND, so the peer here is a blocking socket
speaking the RFC's bytes directly: greeting, BIND request, first reply (where the proxy
listens), an inbound connection, second reply (who connected), then relayed bytes.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import struct
from collections.abc import Callable

from itsupport import Spawn

from pyrama_net import Authority, read_exact
from pyrama_socks5 import socks5_bind
from pyrama_tcp import TcpConnector

HANG = 20.0


def recv_exact(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        assert chunk, f"closed after {out!r}"
        out += chunk
    return out


def read_reply(sock: socket.socket) -> tuple[int, str, int]:
    ver, rep, rsv, atyp = recv_exact(sock, 4)
    assert (ver, rsv, atyp) == (5, 0, 1), (ver, rep, rsv, atyp)
    ip = socket.inet_ntoa(recv_exact(sock, 4))
    (port,) = struct.unpack("!H", recv_exact(sock, 2))
    return rep, ip, port


def test_bind_with_raw_rfc1928_bytes(spawn: Spawn, example: Callable[[str], list[str]]) -> None:
    proxy = spawn(example("socks5_bind_proxy"), env={"PORT": "0"})
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=HANG) as control:
        control.sendall(b"\x05\x01\x00")
        assert recv_exact(control, 2) == b"\x05\x00"
        control.sendall(b"\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x00")  # BIND, peer 127.0.0.1
        rep, ip, port = read_reply(control)
        assert rep == 0
        assert ip == "127.0.0.1"
        with socket.create_connection((ip, port), timeout=HANG) as inbound:
            rep, peer_ip, peer_port = read_reply(control)
            assert rep == 0
            assert (peer_ip, peer_port) == inbound.getsockname()
            inbound.sendall(b"hello from the inbound side")
            assert recv_exact(control, 27) == b"hello from the inbound side"
            control.sendall(b"and back")
            control.shutdown(socket.SHUT_WR)
            assert recv_exact(inbound, 8) == b"and back"
            assert inbound.recv(10) == b""  # half-close was relayed
    proxy.signal(signal.SIGTERM)
    assert proxy.wait_exit() == 0


async def test_bind_with_pyrama_client(spawn: Spawn, example: Callable[[str], list[str]]) -> None:
    proxy = spawn(example("socks5_bind_proxy"), env={"PORT": "0"})
    control = await TcpConnector().connect("127.0.0.1", proxy.port)
    binding = await socks5_bind(control, Authority.parse("0.0.0.0:0"))
    inbound = await TcpConnector().connect(str(binding.bound.host), binding.bound.port)
    peer = await asyncio.wait_for(binding.accept(), HANG)
    assert peer == inbound.local_addr.to_authority()
    control.write(b"ping")
    await control.drain()
    assert await asyncio.wait_for(read_exact(inbound, 4), HANG) == b"ping"
    await inbound.close()
    assert await asyncio.wait_for(control.read(), HANG) == b""
    await control.close()
