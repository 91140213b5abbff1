"""Helpers for the pyrama-http tests: a loopback HttpServer, a test certificate, raw peers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pyrama_core import Service, Shutdown, ShutdownResult, service_fn
from pyrama_http import HttpServer
from pyrama_http_types import Request, Response
from pyrama_tls import CertifiedKey, TlsAcceptorData, TlsConnectorData, self_signed_leaf

GUARD = 15.0

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@cache
def cert() -> CertifiedKey:
    """A self-signed certificate for localhost and 127.0.0.1 (made once per test run)."""
    return self_signed_leaf(["localhost", "127.0.0.1"])


@cache
def cert_files() -> tuple[str, str]:
    """(certificate PEM path, key PEM path) of :func:`cert`."""
    d = tempfile.mkdtemp(prefix="pyrama-http-test-")
    c = Path(d, "cert.pem")
    k = Path(d, "key.pem")
    c.write_bytes(cert().chain_pem())
    k.write_bytes(cert().key_pem())
    os.chmod(k, 0o600)
    return str(c), str(k)


def acceptor_data(**kw: Any) -> TlsAcceptorData:
    return TlsAcceptorData(certified_key=cert(), **kw)


def trusting() -> TlsConnectorData:
    """Client TLS settings that trust :func:`cert`."""
    return TlsConnectorData(ca_certificates=[cert().leaf])


@dataclass
class Running:
    """A running HttpServer.listen: its port, shutdown and task."""

    port: int
    shutdown: Shutdown
    task: asyncio.Task[ShutdownResult]
    tls: bool

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def localhost_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://localhost:{self.port}"


@contextlib.asynccontextmanager
async def running(
    handler: Handler | Service[Request, Response],
    server: HttpServer | None = None,
    *,
    tls: TlsAcceptorData | None = None,
    deadline: float = 5.0,
) -> AsyncIterator[Running]:
    """``HttpServer.listen`` on an ephemeral loopback port for the duration of the block."""
    svc = handler if isinstance(handler, Service) else service_fn(handler)
    srv = HttpServer.auto() if server is None else server
    sd = Shutdown(deadline=deadline)
    bound: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        srv.listen("127.0.0.1:0", svc, tls=tls, shutdown=sd, on_listening=bound.set_result)
    )
    try:
        addr = await asyncio.wait_for(asyncio.shield(bound), GUARD)
    except BaseException:
        task.cancel()
        raise
    run = Running(addr.port, sd, task, tls is not None)
    try:
        yield run
    finally:
        sd.trigger("test over")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, GUARD)


async def raw_exchange(port: int, data: bytes, *, read_until_close: bool = True) -> bytes:
    """Send *data* on a fresh TCP connection; read until the server closes."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        w.write(data)
        await w.drain()
        return await asyncio.wait_for(r.read(), GUARD)
    finally:
        w.close()


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def run_tool(*argv: str, guard: float = GUARD) -> subprocess.CompletedProcess[bytes]:
    """Run a command line tool without blocking the event loop."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), guard)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


async def wait_port(port: int, proc: asyncio.subprocess.Process | None = None) -> None:
    """Wait until something listens on 127.0.0.1:*port*."""
    for _ in range(300):
        if proc is not None and proc.returncode is not None:
            raise RuntimeError(f"the peer exited early with {proc.returncode}")
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        w.close()
        return
    raise TimeoutError(f"nothing listens on {port}")


PYTHON = sys.executable
