"""Measure pyrama-tls handshakes/s and bulk MB/s over loopback TCP (a script, not a test).

Run: ``.venv/bin/python packages/pyrama-tls/scripts/bench_tls.py [--loop uvloop] [--mib 256]``.
Connections go to 127.0.0.1 (SNI and verification use the name ``localhost``), so no DNS
lookup or happy-eyeballs race is timed. Both ends run in this one process (one core does the
client's and the server's crypto), so the figures are a lower bound for a server whose
clients live elsewhere. For reference the same transfer runs over the standard library's
asyncio SSL (``ssl=`` on streams).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator

from pyrama_core import service_fn
from pyrama_net import Stream
from pyrama_tcp import TcpConnector, TcpListener
from pyrama_tls import (
    CertificateAuthority,
    TlsAcceptorData,
    TlsAcceptorLayer,
    TlsConnectorData,
    TlsConnectorLayer,
    TlsVersion,
)

CHUNK = 256 * 1024


async def discard(stream: Stream) -> None:
    """Read until EOF, then answer with the byte count."""
    total = 0
    while data := await stream.read(1 << 20):
        total += len(data)
    stream.write(total.to_bytes(8, "big"))
    await stream.drain()


@contextlib.asynccontextmanager
async def server(data: TlsAcceptorData) -> AsyncIterator[int]:
    """Serve *discard* behind TLS on an ephemeral loopback port."""
    listener = await TcpListener.bind("127.0.0.1:0")
    task = asyncio.create_task(listener.serve(TlsAcceptorLayer(data).layer(service_fn(discard))))
    try:
        yield listener.local_addr.port
    finally:
        await listener.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def handshakes(port: int, client: TlsConnectorData, seconds: float) -> tuple[float, bool]:
    """Connect, exchange EOF/count, close, as often as fits in *seconds*."""
    svc = TlsConnectorLayer(client).layer(TcpConnector())
    n = 0
    reused = False
    end = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < end:
        est = await svc.serve(("127.0.0.1", port))
        est.conn.write_eof()
        await est.conn.read()  # the server's count: also lets TLS 1.3 tickets in
        reused = est.conn.negotiated is not None and est.conn.negotiated.session_reused
        await est.conn.close()
        n += 1
    return n / (time.perf_counter() - start), reused


async def bulk(port: int, client: TlsConnectorData, total: int) -> float:
    """Send *total* bytes over one TLS connection; return MB/s."""
    svc = TlsConnectorLayer(client).layer(TcpConnector())
    est = await svc.serve(("127.0.0.1", port))
    tls = est.conn
    block = b"\xa5" * CHUNK
    start = time.perf_counter()
    sent = 0
    while sent < total:
        tls.write(block)
        sent += CHUNK
        await tls.drain()
    tls.write_eof()
    got = int.from_bytes(await tls.read(), "big")
    elapsed = time.perf_counter() - start
    await tls.close()
    assert got == sent, (got, sent)
    return sent / elapsed / 1e6


async def stdlib_bulk(ca_pem: bytes, chain_pem: bytes, key_pem: bytes, total: int) -> float:
    """The same transfer over asyncio's own SSL; return MB/s."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        cert = Path(d) / "c.pem"
        key = Path(d) / "k.pem"
        cert.write_bytes(chain_pem)
        key.write_bytes(key_pem)
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(cert, key)
    cctx = ssl.create_default_context(cadata=ca_pem.decode())

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        want = int.from_bytes(await r.readexactly(8), "big")  # no write_eof over asyncio SSL
        n = 0
        while n < want and (data := await r.read(1 << 20)):
            n += len(data)
        w.write(n.to_bytes(8, "big"))
        await w.drain()
        w.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=sctx)
    port = srv.sockets[0].getsockname()[1]
    r, w = await asyncio.open_connection("127.0.0.1", port, ssl=cctx, server_hostname="localhost")
    block = b"\xa5" * CHUNK
    start = time.perf_counter()
    sent = 0
    w.write(((total + CHUNK - 1) // CHUNK * CHUNK).to_bytes(8, "big"))
    while sent < total:
        w.write(block)
        sent += CHUNK
        await w.drain()
    got = int.from_bytes(await r.readexactly(8), "big")
    elapsed = time.perf_counter() - start
    w.close()
    srv.close()
    assert got == sent
    return sent / elapsed / 1e6


async def main(args: argparse.Namespace) -> None:
    """Run every measurement and print one line each."""
    ca = CertificateAuthority.generate("bench CA")
    leaf = ca.issue_leaf(["localhost"])
    total = args.mib * 1024 * 1024
    for version in (TlsVersion.TLS1_3, TlsVersion.TLS1_2):
        sdata = TlsAcceptorData(certified_key=leaf, max_version=version, keylog_from_env=False)
        async with server(sdata) as port:
            for resume in (False, True):
                cdata = TlsConnectorData(
                    server_name="localhost",
                    ca_certificates=[ca.cert],
                    session_resumption=resume,
                    keylog_from_env=False,
                )
                rate, reused = await handshakes(port, cdata, args.seconds)
                kind = "resumed" if reused else "full"
                print(f"{version}: {rate:8.0f} handshakes/s ({kind}, client+server in-process)")
            cdata = TlsConnectorData(
                server_name="localhost", ca_certificates=[ca.cert], keylog_from_env=False
            )
            mbps = await bulk(port, cdata, total)
            print(f"{version}: {mbps:8.0f} MB/s bulk one-way ({args.mib} MiB, one connection)")
    mbps = await stdlib_bulk(ca.cert_pem(), leaf.chain_pem(), leaf.key_pem(), total)
    print(f"stdlib asyncio ssl: {mbps:8.0f} MB/s bulk one-way (reference, TLSv1.3)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=3.0)
    ns = parser.parse_args()
    if ns.loop == "uvloop":
        import uvloop

        uvloop.run(main(ns))
    else:
        asyncio.run(main(ns))
