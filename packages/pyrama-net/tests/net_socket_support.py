"""Socket helpers shared by the relay tests (bridge, push relay, splice, relay paths)."""

from __future__ import annotations

import asyncio
import hashlib
import random
import socket
from collections.abc import Callable


async def recv_all(sock: socket.socket) -> bytes:
    """Read *sock* to EOF."""
    loop = asyncio.get_running_loop()
    out = bytearray()
    while chunk := await loop.sock_recv(sock, 1 << 18):
        out += chunk
    return bytes(out)


async def recv_n(sock: socket.socket, n: int) -> bytes:
    """Read exactly *n* bytes (EOF before that fails the test)."""
    loop = asyncio.get_running_loop()
    out = bytearray()
    while len(out) < n:
        chunk = await loop.sock_recv(sock, n - len(out))
        assert chunk, "EOF too early"
        out += chunk
    return bytes(out)


async def send_stream(sock: socket.socket, seed: int, size: int, chunk: int = 1 << 20) -> str:
    """Send *size* pseudo-random bytes (in *chunk* pieces), half-close; return their sha256."""
    loop = asyncio.get_running_loop()
    rnd = random.Random(seed)
    h = hashlib.sha256()
    left = size
    while left:
        piece = rnd.randbytes(min(left, chunk))
        h.update(piece)
        await loop.sock_sendall(sock, piece)
        left -= len(piece)
    sock.shutdown(socket.SHUT_WR)
    return h.hexdigest()


async def recv_stream(sock: socket.socket) -> tuple[int, str]:
    """Read to EOF: ``(count, sha256)``."""
    loop = asyncio.get_running_loop()
    h = hashlib.sha256()
    n = 0
    buf = bytearray(1 << 18)
    while k := await loop.sock_recv_into(sock, buf):
        h.update(memoryview(buf)[:k])
        n += k
    return n, h.hexdigest()


async def until(condition: Callable[[], bool]) -> None:
    """Poll *condition* (bounded) until it holds."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never became true")
