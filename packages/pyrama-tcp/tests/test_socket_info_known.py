"""The SocketInfo of accepted and dialed TCP streams: what the OS reports, without asking it."""

from __future__ import annotations

import asyncio
import socket

import pytest

from pyrama_net import SocketInfo
from pyrama_tcp import TcpConnector, TcpListener


@pytest.mark.parametrize("bind", ["127.0.0.1:0", "0.0.0.0:0"], ids=["one-address", "wildcard"])
async def test_accepted_and_dialed_streams_know_their_addresses(bind: str) -> None:
    listener = await TcpListener.bind(bind)
    port = listener.local_addr.port
    seen: asyncio.Future[SocketInfo] = asyncio.get_running_loop().create_future()

    class Service:
        async def serve(self, stream: object) -> None:
            seen.set_result(stream.extensions.require(SocketInfo))  # type: ignore[attr-defined]

    serving = asyncio.create_task(listener.serve(Service()))
    try:
        est = await TcpConnector().serve(("127.0.0.1", port))
        dialed = est.extensions.require(SocketInfo)
        accepted = await asyncio.wait_for(seen, 10)
        sock = est.conn.transport.get_extra_info("socket")
        assert dialed == SocketInfo(
            local=sock.getsockname(), peer=sock.getpeername(), family=socket.AF_INET
        )
        # the two ends of one connection
        assert accepted == SocketInfo(local=dialed.peer, peer=dialed.local, family=socket.AF_INET)
        assert type(accepted.family) is socket.AddressFamily
        await est.conn.close()
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await listener.close()


def test_accepted_socket_class_answers_family_and_type_as_enums() -> None:
    from pyrama_tcp._listener import _accepted_class

    cls = _accepted_class(socket.AF_INET, socket.SOCK_STREAM)
    assert cls is _accepted_class(int(socket.AF_INET), int(socket.SOCK_STREAM))  # made once
    a, b = socket.socketpair()
    with b:
        s = cls(socket.AF_INET, socket.SOCK_STREAM, 0, fileno=a.detach())
        with s:
            assert isinstance(s, socket.socket)
            assert s.family is socket.AF_INET
            assert s.type is socket.SOCK_STREAM
