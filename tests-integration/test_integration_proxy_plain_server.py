"""curl -x through a plain ``HttpServer.auto().listen(addr, HttpProxy())``: no TunnelKeeper,
no ``http_proxy_service``; the server itself keeps the connection open for the CONNECT tunnel."""

from __future__ import annotations

import asyncio
from typing import Any

from pyrama_core import Shutdown, service_fn
from pyrama_http import HttpServer
from pyrama_http.proxy import HttpProxy
from pyrama_http_types import Request, Response
from pyrama_testing import require_peer

GUARD = 20.0


async def _listen(server: HttpServer, service: Any, sd: Shutdown) -> tuple[int, asyncio.Task[Any]]:
    bound: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        server.listen("127.0.0.1:0", service, shutdown=sd, on_listening=bound.set_result)
    )
    addr = await asyncio.wait_for(asyncio.shield(bound), GUARD)
    return addr.port, task


async def _curl(*args: str) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        require_peer("curl"),
        "-sS",
        "--max-time",
        "15",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), GUARD)
    assert proc.returncode is not None
    return proc.returncode, out, err


async def test_curl_connect_through_plain_http_server_listen() -> None:
    big = bytes(range(256)) * 4096  # 1 MiB: many reads and writes through the tunnel

    async def origin(req: Request) -> Response:
        return Response.binary(big) if req.uri.path == "/big" else Response.text("hello\n")

    sd = Shutdown(deadline=5.0)
    proxy = HttpProxy()
    origin_port, origin_task = await _listen(HttpServer.auto(), service_fn(origin), sd)
    proxy_port, proxy_task = await _listen(HttpServer.auto(), proxy, sd)
    try:
        base = f"http://127.0.0.1:{origin_port}"
        # -p: curl tunnels plain http:// through CONNECT, two requests on one tunnel
        code, out, err = await _curl(
            "-p", "-x", f"http://127.0.0.1:{proxy_port}", f"{base}/", f"{base}/"
        )
        assert code == 0, err.decode(errors="replace")
        assert out == b"hello\nhello\n"
        code, out, err = await _curl("-p", "-x", f"http://127.0.0.1:{proxy_port}", f"{base}/big")
        assert code == 0, err.decode(errors="replace")
        assert out == big
    finally:
        sd.trigger("test over")
        await asyncio.wait_for(asyncio.gather(origin_task, proxy_task), GUARD)
        await proxy.close()
