"""bridge(), buffered path: forwarding EOF to a side whose peer is gone already is no failure."""

from __future__ import annotations

import errno

import pytest

from pyrama_net import BridgeError, bridge
from pyrama_testing import MockStream


class _HalfCloseFails(MockStream):
    """A stream whose ``write_eof`` fails like a socket's does (the peer is gone, or worse)."""

    def __init__(self, error: OSError) -> None:
        super().__init__()
        self.error = error

    def write_eof(self) -> None:
        raise self.error


def _ended(stream: MockStream, data: bytes = b"") -> MockStream:
    if data:
        stream.feed(data)
    stream.feed_eof()
    return stream


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOTCONN, "Transport endpoint is not connected"),
        BrokenPipeError(errno.EPIPE, "Broken pipe"),
        ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
    ],
    ids=["ENOTCONN", "EPIPE", "ECONNRESET"],
)
async def test_eof_to_a_peer_that_is_gone_ends_the_relay_normally(error: OSError) -> None:
    a = _ended(MockStream(), b"request")
    b = _ended(_HalfCloseFails(error), b"response")
    stats = await bridge(a, b)
    assert (stats.a_to_b, stats.b_to_a) == (7, 8)
    assert b.written == [b"request"]
    assert a.written == [b"response"]


async def test_other_half_close_errors_still_fail_the_relay() -> None:
    a = _ended(MockStream(), b"x")
    b = _ended(_HalfCloseFails(OSError(errno.EACCES, "denied")))
    with pytest.raises(BridgeError) as info:
        await bridge(a, b)
    assert info.value.side == "b"
    assert isinstance(info.value.__cause__, OSError)
