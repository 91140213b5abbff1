"""A stream's SocketInfo asked of its transport only when first read, and then a plain one."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import pickle
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from pyrama_net import SocketInfo, SocketStream, open_socket_stream


@pytest.fixture
async def dialed() -> AsyncIterator[tuple[SocketStream, socket.socket]]:
    """A stream over a TCP connection made without a SocketInfo given, and its peer socket."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    peer, _ = listener.accept()
    listener.close()
    stream = await open_socket_stream(client)
    try:
        yield stream, peer
    finally:
        await stream.close()
        peer.close()


def _expected(stream: SocketStream) -> SocketInfo:
    sock = stream.transport.get_extra_info("socket")
    return SocketInfo(sock.getsockname(), sock.getpeername(), socket.AF_INET)


async def test_fields_are_what_the_os_reports(
    dialed: tuple[SocketStream, socket.socket],
) -> None:
    stream, peer = dialed
    info = stream.extensions.require(SocketInfo)
    assert isinstance(info, SocketInfo)
    assert info.peer == peer.getsockname()
    assert info.local == peer.getpeername()
    assert info.family is socket.AF_INET
    assert type(info) is SocketInfo  # once read, a plain SocketInfo
    assert info == _expected(stream)


READS: dict[str, Callable[[SocketInfo, SocketInfo], Any]] = {
    "eq": lambda info, want: info == want,
    "eq-reflected": lambda info, want: want == info,
    "hash": lambda info, want: hash(info) == hash(want),
    "repr": lambda info, want: repr(info) == repr(want),
    "copy": lambda info, want: copy.copy(info) == want,
    "deepcopy": lambda info, want: copy.deepcopy(info) == want,
    "pickle": lambda info, want: pickle.loads(pickle.dumps(info)) == want,
    "replace": lambda info, want: (
        dataclasses.replace(info, peer=None) == SocketInfo(want.local, None, want.family)
    ),
    "replace-all": lambda info, want: (
        dataclasses.replace(info, local=want.peer, peer=want.local, family=want.family)
        == SocketInfo(want.peer, want.local, want.family)
    ),
    "asdict": lambda info, want: dataclasses.asdict(info) == dataclasses.asdict(want),
    "peer_address": lambda info, want: info.peer_address == want.peer_address,
}


@pytest.mark.parametrize("read", list(READS), ids=list(READS))
async def test_every_first_read_sees_a_plain_socket_info(
    dialed: tuple[SocketStream, socket.socket], read: str
) -> None:
    stream, _ = dialed
    info = stream.extensions.require(SocketInfo)
    assert READS[read](info, _expected(stream)) is True
    if read != "replace-all":  # (given every field, replace reads none of the old ones)
        assert type(info) is SocketInfo
    assert info == _expected(stream)


async def test_read_after_the_stream_closed(dialed: tuple[SocketStream, socket.socket]) -> None:
    stream, _ = dialed
    want = _expected(stream)
    await stream.close()
    # the loop kept the addresses it learnt when the connection was made
    assert stream.extensions.require(SocketInfo) == want


async def test_still_frozen(dialed: tuple[SocketStream, socket.socket]) -> None:
    stream, _ = dialed
    info = stream.extensions.require(SocketInfo)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.peer = None  # type: ignore[misc]
    assert info.peer is not None


async def test_a_given_socket_info_is_kept_as_it_is() -> None:
    from pyrama_net import SocketStreamProtocol

    loop = asyncio.get_running_loop()
    given = SocketInfo(("10.0.0.1", 1), ("10.0.0.2", 2), socket.AF_INET)
    a, b = socket.socketpair()
    try:
        _, proto = await loop.connect_accepted_socket(
            lambda: SocketStreamProtocol(loop, info=given), a
        )
        stream = proto.take_stream()
        assert stream.extensions.require(SocketInfo) is given
        await stream.close()
    finally:
        b.close()
