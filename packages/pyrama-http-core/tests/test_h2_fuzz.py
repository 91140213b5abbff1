"""Property tests: arbitrary frames never crash the HTTP/2 server driver or leak errors."""

from __future__ import annotations

import asyncio
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrama_core import service_fn
from pyrama_http_core import H2_PREFACE, H2ServerConfig, serve_h2
from pyrama_http_core._h2_frames import encode_settings
from pyrama_http_types import Request, Response
from pyrama_testing import mock_stream_pair


async def handler(req: Request) -> Response:
    """Reads the body, answers with its length."""
    data = await req.body.collect()
    return Response.text(str(len(data)))


def frame(ftype: int, flags: int, sid: int, payload: bytes) -> bytes:
    """One raw frame."""
    return struct.pack(">IBI", (len(payload) << 8) | ftype, flags, sid) + payload


frames = st.lists(
    st.builds(
        frame,
        st.integers(0, 12),
        st.integers(0, 255),
        st.sampled_from([0, 1, 2, 3, 5, 7, 2**31 - 1]),
        st.binary(max_size=40),
    ),
    max_size=12,
)

# a valid request (HEADERS on stream 1, END_STREAM|END_HEADERS): ':method GET', ':path /',
# ':scheme http' from the static table, ':authority a' as a literal
VALID_REQUEST = frame(1, 0x5, 1, b"\x82\x84\x86\x41\x01a")


def _parse_frames(raw: bytes) -> list[int]:
    types = []
    i = 0
    while i + 9 <= len(raw):
        length = int.from_bytes(raw[i : i + 3], "big")
        types.append(raw[i + 3])
        i += 9 + length
    assert i == len(raw), "the server wrote a truncated frame"
    return types


async def _exchange(data: bytes) -> bytes:
    client, server = mock_stream_pair()
    cfg = H2ServerConfig(max_resets=5, max_control_frames=5)
    task = asyncio.create_task(serve_h2(server, service_fn(handler), cfg))
    client.write(H2_PREFACE + encode_settings([]) + data)
    for _ in range(20):
        await asyncio.sleep(0)
    client.write_eof()
    await asyncio.wait_for(task, 10)  # returns: no exception escapes the driver
    out = b"".join(client.peer.written if client.peer else [])
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames, st.booleans())
def test_random_frames_never_crash_the_server(data: list[bytes], with_request: bool) -> None:
    payload = (VALID_REQUEST if with_request else b"") + b"".join(data)
    out = asyncio.run(_exchange(payload))
    types = _parse_frames(out)
    assert types[0] == 4  # our SETTINGS always comes first


def test_valid_request_frame_is_served() -> None:
    out = asyncio.run(_exchange(VALID_REQUEST))
    types = _parse_frames(out)
    assert 1 in types  # HEADERS (the response)
    assert 0 in types  # DATA ("0")
