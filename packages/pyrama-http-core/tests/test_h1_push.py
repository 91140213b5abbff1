"""Push reads: requests answered in the transport's callback, and the hand-over to the task.

Every test runs over a real loopback socket (only socket streams push) with push reads on, and
checks what a service can observe: the current task, its context variables, cancellation and
timeouts, request bodies arriving later, pipelined requests, and the connection deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from pyrama_core import service_fn
from pyrama_http_core import Http1Config, Http1ServerConnection, HttpLimits
from pyrama_http_types import Request, Response
from pyrama_net import SocketStreamProtocol

GUARD = 10.0
GET = b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n"

pytestmark = pytest.mark.usefixtures("each_server_codec")

Handler = Callable[[Request], Awaitable[Response]]


class Conns:
    def __init__(self) -> None:
        self.port = 0
        self.conns: list[Http1ServerConnection] = []
        self.tasks: list[asyncio.Task[None]] = []


@contextlib.asynccontextmanager
async def serving(handler: Handler, config: Http1Config | None = None) -> AsyncIterator[Conns]:
    loop = asyncio.get_running_loop()
    out = Conns()
    svc = service_fn(handler)
    cfg = config or Http1Config(push_reads=True)

    def on_connect(stream: object) -> None:
        conn = Http1ServerConnection(stream, svc, cfg)  # type: ignore[arg-type]
        out.conns.append(conn)
        out.tasks.append(loop.create_task(conn.run()))

    server = await loop.create_server(
        lambda: SocketStreamProtocol(loop, on_connect=on_connect), "127.0.0.1", 0
    )
    out.port = server.sockets[0].getsockname()[1]
    try:
        yield out
    finally:
        server.close()
        for t in out.tasks:
            t.cancel()
        await asyncio.gather(*out.tasks, return_exceptions=True)
        await server.wait_closed()


async def read_response(r: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), GUARD)
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await asyncio.wait_for(r.readexactly(length), GUARD)
    return status, body


async def test_requests_answered_in_the_callback_see_the_connection_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[asyncio.Task[object] | None] = []
    in_callback: list[bool] = []
    receive = Http1ServerConnection._receive

    def counting(self: Http1ServerConnection, data: bytes) -> None:
        if data:  # a request pushed by the transport (not the EOF at the end)
            in_callback.append(True)
        receive(self, data)

    monkeypatch.setattr(Http1ServerConnection, "_receive", counting)

    async def handler(req: Request) -> Response:
        seen.append(asyncio.current_task())
        return Response.text(req.uri.path)

    async with serving(handler) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        for i in range(5):
            w.write(GET % i)
            assert await read_response(r) == (200, f"/{i}".encode())
        w.close()
        assert srv.conns[0].requests_served == 5
        # every request, the ones answered in the data callback included, ran "in" the
        # connection's task, as they do without push reads
        assert seen == [srv.tasks[0]] * 5
        # each request was answered in the transport's data callback
        assert len(in_callback) == 5


async def test_a_service_that_waits_is_handed_to_the_task_and_keeps_its_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    after: list[str] = []

    async def handler(req: Request) -> Response:
        token = var.set(req.uri.path)
        await asyncio.sleep(0.01)  # suspends: the rest runs from the connection's task
        after.append(var.get())
        var.reset(token)  # a token from before the hand-over still belongs to this context
        return Response.text("slept " + req.uri.path)

    async with serving(handler) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        for i in range(3):
            w.write(GET % i)
            assert await read_response(r) == (200, f"slept /{i}".encode())
        w.close()
    assert after == ["/0", "/1", "/2"]


async def test_asyncio_timeout_inside_a_service_works_on_both_sides_of_the_hand_over() -> None:
    async def handler(req: Request) -> Response:
        try:
            async with asyncio.timeout(0.05):
                await asyncio.sleep(5)
        except TimeoutError:
            return Response.text("timed out")
        return Response.text("not reached")

    async with serving(handler) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        for i in range(2):
            w.write(GET % i)
            assert await read_response(r) == (200, b"timed out")
        w.close()


async def test_pipelined_requests_with_a_slow_one_are_answered_in_order() -> None:
    async def handler(req: Request) -> Response:
        if req.uri.path == "/1":
            await asyncio.sleep(0.02)
        return Response.text(req.uri.path)

    async with serving(handler) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(b"".join(GET % i for i in range(6)))
        for i in range(6):
            assert await read_response(r) == (200, f"/{i}".encode())
        # after the slow one, the connection went back to push reads and still answers
        w.write(GET % 9)
        assert await read_response(r) == (200, b"/9")
        w.close()


async def test_a_request_body_arriving_later_is_read_from_the_task() -> None:
    async def handler(req: Request) -> Response:
        return Response.text("got " + (await req.body.collect()).decode())

    async with serving(handler) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
        await asyncio.sleep(0.05)
        w.write(b"world")
        assert await read_response(r) == (200, b"got helloworld")
        w.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        assert await read_response(r) == (200, b"got abc")
        w.close()


async def test_a_head_split_over_reads_is_completed_by_the_task() -> None:
    async def handler(req: Request) -> Response:
        return Response.text(req.headers.get("x-long", ""))

    async with serving(handler) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(GET % 0)
        assert await read_response(r) == (200, b"")
        w.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Lo")
        await asyncio.sleep(0.05)
        w.write(b"ng: yes\r\n\r\n")
        assert await read_response(r) == (200, b"yes")
        w.close()


async def test_keep_alive_timeout_closes_an_idle_pushing_connection() -> None:
    async def handler(req: Request) -> Response:
        return Response.text("ok")

    cfg = Http1Config(push_reads=True, limits=HttpLimits(keep_alive_timeout=0.2))
    async with serving(handler, cfg) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(GET % 0)
        assert await read_response(r) == (200, b"ok")
        assert await asyncio.wait_for(r.read(), GUARD) == b""  # closed by the server
        await asyncio.wait_for(srv.tasks[0], GUARD)
        w.close()


async def test_graceful_shutdown_ends_an_idle_pushing_connection() -> None:
    async def handler(req: Request) -> Response:
        return Response.text("ok")

    async with serving(handler) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(GET % 0)
        assert await read_response(r) == (200, b"ok")
        srv.conns[0].graceful_shutdown()
        assert await asyncio.wait_for(r.read(), GUARD) == b""
        await asyncio.wait_for(srv.tasks[0], GUARD)
        w.close()


async def test_cancelling_the_connection_reaches_a_handed_over_service() -> None:
    cancelled = asyncio.Event()
    entered = asyncio.Event()

    async def handler(req: Request) -> Response:
        entered.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return Response.text("not reached")

    async with serving(handler) as srv:
        _r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(GET % 0)
        await asyncio.wait_for(entered.wait(), GUARD)
        srv.tasks[0].cancel()
        await asyncio.wait_for(cancelled.wait(), GUARD)
        with pytest.raises(asyncio.CancelledError):
            await srv.tasks[0]
        w.close()


async def test_the_client_leaving_ends_the_pushing_connection() -> None:
    async def handler(req: Request) -> Response:
        return Response.text("ok")

    async with serving(handler) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(GET % 0)
        assert await read_response(r) == (200, b"ok")
        w.close()
        await asyncio.wait_for(srv.tasks[0], GUARD)
        assert srv.tasks[0].exception() is None


async def test_a_service_error_in_the_callback_answers_500_and_keeps_the_connection() -> None:
    async def handler(req: Request) -> Response:
        if req.uri.path == "/0":
            raise ValueError("boom")
        return Response.text("fine")

    async with serving(handler) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(GET % 0)
        assert (await read_response(r))[0] == 500
        w.write(GET % 1)
        assert await read_response(r) == (200, b"fine")
        w.close()


async def test_upgrade_after_push_reads_hands_a_buffering_stream_to_the_taker() -> None:
    from pyrama_http_core import OnUpgrade

    got: list[bytes] = []

    async def handler(req: Request) -> Response:
        on_upgrade = req.extensions.get(OnUpgrade)
        if on_upgrade is None:
            return Response.text("plain")

        async def take() -> None:
            upgraded = await on_upgrade
            data = await upgraded.stream.read(100)
            got.append(data)
            upgraded.stream.write(b"echo:" + data)
            await upgraded.stream.close()

        asyncio.get_running_loop().create_task(take())
        return Response(101, headers={"upgrade": "test", "connection": "upgrade"})

    async with serving(handler) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(GET % 0)
        assert await read_response(r) == (200, b"plain")
        w.write(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\nConnection: upgrade\r\n\r\n")
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), GUARD)
        assert head.startswith(b"HTTP/1.1 101")
        w.write(b"raw bytes")
        assert await asyncio.wait_for(r.read(), GUARD) == b"echo:raw bytes"
        w.close()
    assert got == [b"raw bytes"]


async def test_after_a_service_waited_the_task_reads_for_a_while_then_pushes_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pushed: list[int] = []
    receive = Http1ServerConnection._receive

    def counting(self: Http1ServerConnection, data: bytes) -> None:
        if data:  # a request pushed by the transport (not the EOF at the end)
            pushed.append(self.requests_served + 1)  # the request about to be answered
        receive(self, data)

    monkeypatch.setattr(Http1ServerConnection, "_receive", counting)

    async def handler(req: Request) -> Response:
        if req.uri.path == "/1":
            await asyncio.sleep(0)  # only the first request waits
        return Response.text(req.uri.path)

    async with serving(handler) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        for i in range(1, 31):
            w.write(GET % i)
            assert await read_response(r) == (200, f"/{i}".encode())
        w.close()
    # request 1 came by push and waited; the next 16 were read by the task (a handed-over
    # request costs ~10% more than a task read, so a waiting service is not pushed every
    # time); from request 18 on, push reads again
    assert pushed == [1, *range(18, 31)]


@pytest.mark.parametrize(
    "last",
    [
        b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /last HTTP/1.0\r\nHost: x\r\n\r\n",
    ],
)
async def test_a_request_that_ends_the_connection_is_the_last_one_answered(last: bytes) -> None:
    # answered in the callback, then the codec cannot go on: the connection ends after the
    # response, and a request pipelined behind it is never served
    seen: list[str] = []

    async def handler(req: Request) -> Response:
        seen.append(req.uri.path)
        return Response.text("ok")

    async with serving(handler) as srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(GET % 0)
        assert await read_response(r) == (200, b"ok")
        w.write(last + GET % 1)
        assert await read_response(r) == (200, b"ok")
        assert await asyncio.wait_for(r.read(), GUARD) == b""  # closed, nothing more sent
        await asyncio.wait_for(srv.tasks[0], GUARD)
        assert srv.conns[0].requests_served == 2
        w.close()
    assert seen == ["/0", "/last"]
