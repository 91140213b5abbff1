"""Helpers shared by the HTTP/2 tests: connected driver pairs, a loopback server, raw peers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import h2.config
import h2.connection
import h2.events

from pyrama_core import Service, Shutdown, service_fn
from pyrama_http_core import H2ClientConfig, H2ClientConnection, H2ServerConfig, serve_h2
from pyrama_http_types import Request, Response
from pyrama_net import SocketStream, SocketStreamProtocol, open_socket_stream

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


async def socket_pair() -> tuple[SocketStream, SocketStream]:
    """Two connected socket streams (a real socketpair, so backpressure is real)."""
    a, b = socket.socketpair()
    return await open_socket_stream(a), await open_socket_stream(b)


async def tcp_client_stream(port: int) -> SocketStream:
    """A socket stream connected to 127.0.0.1:*port*."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    return await open_socket_stream(sock)


@contextlib.asynccontextmanager
async def h2_pair(
    handler: Handler | Service[Request, Response],
    server_config: H2ServerConfig | None = None,
    client_config: H2ClientConfig | None = None,
) -> AsyncIterator[tuple[H2ClientConnection, asyncio.Task[None]]]:
    """Our client connected to our server over a socketpair; yields (client, server task)."""
    svc = handler if isinstance(handler, Service) else service_fn(handler)
    cs, ss = await socket_pair()
    server = asyncio.create_task(serve_h2(ss, svc, server_config))
    client = H2ClientConnection(cs, client_config, default_scheme="http")
    try:
        yield client, server
    finally:
        await client.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(server, 10)
        if not server.done():
            server.cancel()


class LoopbackServer:
    """serve_h2 behind a listening socket on 127.0.0.1 (for real peers)."""

    def __init__(self, svc: Service[Request, Response], config: H2ServerConfig | None) -> None:
        self.svc = svc
        self.config = config
        self.port = 0
        self.connections = 0
        self.shutdown = Shutdown(deadline=10)
        self._server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on an ephemeral loopback port."""
        loop = asyncio.get_running_loop()

        def on_connect(stream: SocketStream) -> None:
            self.connections += 1
            guard = self.shutdown.guard()
            task = guard.spawn_task(serve_h2(stream, self.svc, self.config, guard=guard))
            guard.release()
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

        self._server = await loop.create_server(
            lambda: SocketStreamProtocol(loop, on_connect=on_connect), "127.0.0.1", 0
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening, close connections gracefully."""
        if self._server is not None:
            self._server.close()
        self.shutdown.trigger("test over")
        await self.shutdown.wait_complete(5)
        if self._server is not None:
            await self._server.wait_closed()


@contextlib.asynccontextmanager
async def loopback_server(
    handler: Handler | Service[Request, Response], config: H2ServerConfig | None = None
) -> AsyncIterator[LoopbackServer]:
    """A running :class:`LoopbackServer`."""
    svc = handler if isinstance(handler, Service) else service_fn(handler)
    srv = LoopbackServer(svc, config)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


class RawClient:
    """A hand-driven h2 client (the h2 library) over a raw socket, for attack tests."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.events: list[h2.events.Event] = []
        self.eof = False

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        """Connect to 127.0.0.1:*port* and send the preface."""
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        self = cls(sock)
        self.conn.initiate_connection()
        await self.flush()
        return self

    async def flush(self) -> None:
        """Send what h2 prepared."""
        data = self.conn.data_to_send()
        if data:
            await self.send_raw(data)

    async def send_raw(self, data: bytes) -> None:
        """Send raw bytes (ignoring a peer that already closed)."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(OSError):
            await loop.sock_sendall(self.sock, data)

    async def pump(self, wait_s: float = 5.0) -> list[h2.events.Event]:
        """Read once (waiting up to *wait_s*), feed h2, answer; return the new events."""
        loop = asyncio.get_running_loop()
        try:
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 1 << 20), wait_s)
        except TimeoutError:
            return []
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return []
        evs = self.conn.receive_data(data)
        self.events.extend(evs)
        await self.flush()
        return evs

    async def until(
        self, pred: Callable[[h2.events.Event], bool], wait_s: float = 10.0
    ) -> h2.events.Event:
        """Pump until an event matching *pred* arrives (or EOF / *wait_s*: AssertionError)."""
        for ev in self.events:
            if pred(ev):
                return ev
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while not self.eof and loop.time() < deadline:
            for ev in await self.pump(max(0.01, deadline - loop.time())):
                if pred(ev):
                    return ev
        raise AssertionError(f"no matching event; got {self.events!r}")

    async def read_until_eof(self, wait_s: float = 10.0) -> bytes:
        """Read raw bytes until the peer closes (without feeding h2), at most *wait_s*."""
        loop = asyncio.get_running_loop()
        out = bytearray()
        deadline = loop.time() + wait_s
        while loop.time() < deadline:
            try:
                data = await asyncio.wait_for(
                    loop.sock_recv(self.sock, 1 << 20), deadline - loop.time()
                )
            except (TimeoutError, OSError):
                break
            if not data:
                self.eof = True
                break
            out += data
        return bytes(out)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


async def eventually(pred: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until *pred* holds, polling (a hang guard, not a timing assertion)."""
    for _ in range(int(within / 0.005)):
        if pred():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


def request_headers(path: str = "/", method: str = "GET") -> list[tuple[str, str]]:
    """A minimal request header list."""
    return [(":method", method), (":path", path), (":scheme", "http"), (":authority", "t")]
