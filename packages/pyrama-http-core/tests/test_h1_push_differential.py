"""Push reads against task reads: the same bytes, cut anywhere, get the same answers.

A transport double delivers a random sequence of pipelined requests (bodiless, Content-Length
and chunked bodies, some whose service waits) in random pieces to the protocol's
``data_received``, from loop callbacks the way a real transport does. The connection runs once
with push reads and once without; what it writes must be the same, and must answer every
request in order.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrama_core import service_fn
from pyrama_http_core import Http1Config, Http1ServerConnection
from pyrama_http_types import Request, Response
from pyrama_net import SocketStreamProtocol

# with each HTTP/1.1 server codec as the driver default (conftest.py)
pytestmark = pytest.mark.usefixtures("each_server_codec")


class _Transport:
    """Just enough of an asyncio transport for SocketStreamProtocol and the driver."""

    def __init__(self, loop: asyncio.AbstractEventLoop, proto: SocketStreamProtocol) -> None:
        self.loop = loop
        self.proto = proto
        self.out = bytearray()
        self.closing = False

    def write(self, data: bytes) -> None:
        self.out += data

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            self.loop.call_soon(self.proto.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass


async def _handler(req: Request) -> Response:
    body = await req.body.collect()
    if req.uri.path.startswith("/wait"):
        await asyncio.sleep(0)
    return Response.text(f"{req.method} {req.uri.path} {len(body)}")


def _request(i: int, kind: int, size: int) -> bytes:
    path = f"/{'wait' if kind % 2 else 'now'}{i}"
    if kind < 2:
        return f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    body = b"b" * size
    if kind < 4:
        return f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode() + body
    chunked = (f"{size:x}\r\n".encode() + body + b"\r\n" if size else b"") + b"0\r\n\r\n"
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode() + (
        chunked
    )


async def _serve(data: bytes, cuts: list[int], push: bool) -> bytes:
    loop = asyncio.get_running_loop()
    conns: list[asyncio.Task[None]] = []
    svc = service_fn(_handler)
    cfg = Http1Config(push_reads=push, date_header=False)  # the two runs may straddle a second

    def on_connect(stream: object) -> None:
        conn = Http1ServerConnection(stream, svc, cfg)  # type: ignore[arg-type]
        conns.append(loop.create_task(conn.run()))

    proto = SocketStreamProtocol(loop, on_connect=on_connect)
    transport = _Transport(loop, proto)
    proto.connection_made(transport)  # type: ignore[arg-type]
    await asyncio.sleep(0)
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True) if b > a]
    for piece in pieces:
        # from a loop callback, as a transport calls it (never from inside a task)
        loop.call_soon(proto.data_received, piece)
        for _ in range(3):
            await asyncio.sleep(0)
    loop.call_soon(proto.eof_received)
    await asyncio.wait_for(conns[0], 10)
    return bytes(transport.out)


requests = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 40)), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(reqs=requests, data=st.data())
def test_push_and_task_reads_answer_the_same(
    reqs: list[tuple[int, int]], data: st.DataObject
) -> None:
    wire = b"".join(_request(i, kind, size) for i, (kind, size) in enumerate(reqs))
    cuts = sorted(
        set(data.draw(st.lists(st.integers(1, max(1, len(wire) - 1)), max_size=8), label="cuts"))
    )

    async def both() -> tuple[bytes, bytes]:
        return await _serve(wire, cuts, True), await _serve(wire, cuts, False)

    pushed, tasked = asyncio.run(both())
    assert pushed == tasked
    answers = [
        f"{'GET' if kind < 2 else 'POST'} /{'wait' if kind % 2 else 'now'}{i} "
        f"{0 if kind < 2 else size}".encode()
        for i, (kind, size) in enumerate(reqs)
    ]
    at = 0
    for answer in answers:  # every request answered, in order
        found = pushed.find(answer, at)
        assert found >= 0, (answer, pushed)
        at = found + len(answer)
    assert pushed.count(b"HTTP/1.1 200 OK") == len(reqs)
