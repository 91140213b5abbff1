"""Bad input against a running `pyrama serve echo` (HTTP mode), over loopback.

Each attack gets its answer (an error status, a GOAWAY, a closed connection), and then the
same server must still answer a normal request: HTTP/1.1 request smuggling shapes (CL+TE,
differing Content-Length fields), an oversized head (431), invalid header bytes (400), a
slowloris client (closed after the header timeout), and on HTTP/2 a rapid-reset flood, an
HPACK bomb and a CONTINUATION flood made of hand-crafted frames.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import time
from collections.abc import Callable, Iterator

import h2.config
import h2.connection
import h2.events
import pytest
from itsupport import PEER_TIMEOUT, Running, Spawn

ENHANCE_YOUR_CALM = 0xB
GOAWAY = 0x7
HEADER_TIMEOUT = 1.0


@pytest.fixture
def echo(spawn: Spawn, pyrama_cli: list[str]) -> Iterator[Running]:
    r = spawn(
        [*pyrama_cli, "serve", "echo", "--bind", "127.0.0.1:0",
         "--header-timeout", str(HEADER_TIMEOUT), "--max-header-bytes", "16k",
         "--max-body-bytes", "64k"]
    )  # fmt: skip
    yield r
    # the attack is over: the same process still serves an ordinary request
    assert_serves(r.port)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=PEER_TIMEOUT)


def read_to_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset counts as a close)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    return data


def assert_serves(port: int) -> None:
    with connect(port) as s:
        s.sendall(b"GET /still-ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_to_close(s)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), data[:200]
    assert json.loads(body)["path"] == "/still-ok"


def statuses(data: bytes) -> list[int]:
    """The status codes of every HTTP/1.1 response in *data*."""
    return [int(m) for m in _status_lines(data)]


def _status_lines(data: bytes) -> list[bytes]:
    out = []
    for line in data.split(b"\r\n"):
        if line.startswith(b"HTTP/1.1 "):
            out.append(line.split(b" ")[1])
    return out


# -- HTTP/1.1 -------------------------------------------------------------------------------


def test_content_length_with_transfer_encoding_is_refused(echo: Running) -> None:
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    body = b"0\r\n\r\n" + smuggled
    with connect(echo.port) as s:
        s.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" % len(body) + body
        )
        data = read_to_close(s)
    assert statuses(data) == [400]  # one answer, and no second request hidden in the body
    assert b"/smuggled" not in data


def test_differing_content_lengths_are_refused(echo: Running) -> None:
    with connect(echo.port) as s:
        s.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 11\r\n\r\n"
            b"hello world"
        )
        data = read_to_close(s)
    assert statuses(data) == [400]


def test_oversized_head_is_431(echo: Running) -> None:
    with connect(echo.port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 32768 + b"\r\n\r\n")
        data = read_to_close(s)
    assert statuses(data) == [431]


@pytest.mark.parametrize(
    "bad",
    [
        b"Bad Name: x\r\n",  # a space in a field name
        b"X-Nul: a\x00b\r\n",  # NUL in a value
        b"X-Ctl: a\x01b\r\n",  # a control character in a value
        b"(paren): x\r\n",  # a separator in a field name
        b" folded: x\r\n",  # obs-fold continuation of the request line
    ],
)
def test_invalid_header_bytes_are_400(echo: Running, bad: bytes) -> None:
    with connect(echo.port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + bad + b"\r\n")
        data = read_to_close(s)
    assert statuses(data) == [400]


def test_invalid_request_line_is_400(echo: Running) -> None:
    with connect(echo.port) as s:
        s.sendall(b"GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n")
        data = read_to_close(s)
    assert statuses(data) == [400]


def test_slowloris_is_closed_after_the_header_timeout(echo: Running) -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(200))
    sent = 0
    closed = False
    data = b""
    with connect(echo.port) as s:
        s.settimeout(0.2)
        deadline = time.monotonic() + PEER_TIMEOUT  # a hang guard, not a timing assertion
        while time.monotonic() < deadline:
            try:
                s.sendall(head[sent : sent + 3])  # a few bytes at a time, never the end
                sent += 3
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            data += chunk
        with contextlib.suppress(OSError):
            s.settimeout(PEER_TIMEOUT)
            data += read_to_close(s)
    assert closed, "the server kept a dribbling client past its header timeout"
    assert sent < len(head)  # it was cut off before the head could complete
    assert statuses(data) == [408]


# -- HTTP/2 ---------------------------------------------------------------------------------


class H2Raw:
    """A blocking HTTP/2 client on the h2 state machine, for crafting abuse."""

    def __init__(self, port: int) -> None:
        self.sock = connect(port)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.conn.initiate_connection()
        self.flush()
        self.events: list[h2.events.Event] = []
        self.raw = b""
        self.eof = False

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            with contextlib.suppress(OSError):
                self.sock.sendall(data)

    def pump(self) -> bool:
        """Read once and feed h2; False at EOF."""
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.raw += data
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self.events.extend(self.conn.receive_data(data))
        self.flush()
        return True

    def until(self, cond: Callable[[h2.events.Event], bool]) -> h2.events.Event | None:
        seen = 0
        while True:
            for ev in self.events[seen:]:
                if cond(ev):
                    return ev
            seen = len(self.events)
            if not self.pump():
                return None

    def close(self) -> None:
        self.sock.close()


def request_headers(path: str = "/") -> list[tuple[bytes, bytes]]:
    return [
        (b":method", b"GET"),
        (b":scheme", b"http"),
        (b":authority", b"x"),
        (b":path", path.encode()),
    ]


def goaway_codes(raw: bytes) -> list[int]:
    """Error codes of the GOAWAY frames in a server's raw byte stream (after its preface)."""
    codes = []
    i = 0
    while i + 9 <= len(raw):
        length = int.from_bytes(raw[i : i + 3], "big")
        ftype = raw[i + 3]
        payload = raw[i + 9 : i + 9 + length]
        if ftype == GOAWAY and len(payload) >= 8:
            codes.append(int.from_bytes(payload[4:8], "big"))
        i += 9 + length
    return codes


def test_h2_normal_request_works(echo: Running) -> None:
    c = H2Raw(echo.port)
    c.conn.send_headers(1, request_headers("/h2"), end_stream=True)
    c.flush()
    ev = c.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 1)
    assert ev is not None
    c.close()


def test_h2_rapid_reset_gets_enhance_your_calm(echo: Running) -> None:
    c = H2Raw(echo.port)
    stream_id = 1
    for _ in range(1000):
        c.conn.send_headers(stream_id, request_headers(), end_stream=True)
        c.conn.reset_stream(stream_id, error_code=0x8)  # CANCEL
        stream_id += 2
    c.flush()
    ev = c.until(lambda e: isinstance(e, h2.events.ConnectionTerminated))
    assert isinstance(ev, h2.events.ConnectionTerminated)
    assert ev.error_code == ENHANCE_YOUR_CALM
    c.close()


def test_h2_hpack_bomb_ends_the_connection(echo: Running) -> None:
    c = H2Raw(echo.port)
    big = (b"x-bomb", b"b" * 4000)
    c.conn.send_headers(1, [*request_headers("/first"), big], end_stream=True)  # indexed now
    c.flush()
    assert c.until(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == 1)
    # 500 one-byte references to the 4 KB table entry: 2 MB decoded from ~500 bytes
    c.conn.send_headers(3, [*request_headers("/bomb"), *([big] * 500)], end_stream=True)
    c.flush()
    ev = c.until(lambda e: isinstance(e, h2.events.ConnectionTerminated))
    assert isinstance(ev, h2.events.ConnectionTerminated)
    assert ev.error_code != 0
    assert not any(isinstance(e, h2.events.ResponseReceived) and e.stream_id == 3 for e in c.events)
    c.close()


def _frame(ftype: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes([ftype, flags])
        + struct.pack(">I", stream_id)
        + payload
    )


@pytest.mark.parametrize(("payload", "frames"), [(16_000, 500), (0, 20_000)])
def test_h2_continuation_flood_is_cut(echo: Running, payload: int, frames: int) -> None:
    c = H2Raw(echo.port)
    # HEADERS without END_HEADERS, then CONTINUATION frames that never end the block:
    # 8 MB of header block, or 20000 empty frames
    out = bytearray(_frame(0x1, 0x0, 1, b"\x82"))
    chunk = b"\x00" * payload
    cut = False
    for _ in range(frames):
        out += _frame(0x9, 0x0, 1, chunk)
        if len(out) >= 256 * 1024:
            try:
                c.sock.sendall(out)
            except (BrokenPipeError, ConnectionResetError):
                cut = True
                break
            out.clear()
    if not cut:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            c.sock.sendall(out)
    while c.pump():
        pass
    assert c.eof  # the server ended the connection
    codes = goaway_codes(c.raw)
    assert codes, "no GOAWAY before the close"
    assert codes[-1] != 0
    c.close()
