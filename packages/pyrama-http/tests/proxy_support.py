"""Helpers for the proxy tests: a running proxy, a header-echo origin, a TCP echo target."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from http_support import GUARD

from pyrama_core import Service, Shutdown
from pyrama_http.proxy import http_proxy_server
from pyrama_http_types import Request, Response
from pyrama_tls import TlsAcceptorData


@dataclass
class RunningProxy:
    """A proxy listening on 127.0.0.1:port."""

    port: int
    tls: bool

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def proxy_running(
    service: Service[Request, Response] | None = None, *, tls: TlsAcceptorData | None = None
) -> AsyncIterator[RunningProxy]:
    """``http_proxy_server`` on an ephemeral loopback port for the duration of the block."""
    sd = Shutdown(deadline=5.0)
    bound: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        http_proxy_server(
            "127.0.0.1:0", service, tls=tls, shutdown=sd, on_listening=bound.set_result
        )
    )
    try:
        addr = await asyncio.wait_for(asyncio.shield(bound), GUARD)
    except BaseException:
        task.cancel()
        raise
    try:
        yield RunningProxy(addr.port, tls is not None)
    finally:
        sd.trigger("test over")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, GUARD)


async def header_echo(req: Request) -> Response:
    """Origin: answers with the request line and its header fields exactly as received."""
    lines = [f"{req.method} {req.uri}"]
    lines += [f"{n.decode('latin-1')}: {v.decode('latin-1')}" for n, v in req.headers.raw_items()]
    body = await req.body.collect()
    resp = Response.text("\n".join(lines) + "\n", 200)
    resp.headers.add("X-Body-Len", str(len(body)))
    resp.headers.add("Connection", "X-Secret")
    resp.headers.add("X-Secret", "hop")
    resp.headers.add("Keep-Alive", "timeout=5")
    return resp


@contextlib.asynccontextmanager
async def tcp_echo() -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 that echoes every byte; yields its port."""

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
            w.write_eof()
        except OSError:
            pass
        finally:
            w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def read_head(r: asyncio.StreamReader) -> bytes:
    """Read one HTTP response head."""
    return await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), GUARD)
