"""Bulk sanity: 100 MiB through TLS over loopback TCP arrive intact (checksummed)."""

from __future__ import annotations

import asyncio
import hashlib
import os

from tls_support import client_data, connect, server_data, tls_server

from pyrama_net import Stream

TOTAL = 100 * 1024 * 1024
CHUNK = 256 * 1024


async def test_100_mib_over_tls_arrive_intact() -> None:
    async def digest_service(stream: Stream) -> None:
        h = hashlib.sha256()
        n = 0
        while data := await stream.read(1 << 20):
            h.update(data)
            n += len(data)
        stream.write(n.to_bytes(8, "big") + h.digest())
        await stream.drain()

    block = os.urandom(CHUNK)
    expected = hashlib.sha256()
    async with tls_server(server_data(), digest_service) as listener:
        tls = await connect(listener, client_data())
        sent = 0
        i = 0
        while sent < TOTAL:
            # vary the bytes so a dropped or repeated chunk changes the digest
            piece = i.to_bytes(4, "big") + block[4:]
            tls.write(piece)
            expected.update(piece)
            sent += len(piece)
            i += 1
            await tls.drain()
        tls.write_eof()
        reply = b""
        async with asyncio.timeout(60):
            while chunk := await tls.read():
                reply += chunk
        await tls.close()
    assert int.from_bytes(reply[:8], "big") == TOTAL
    assert reply[8:] == expected.digest()
