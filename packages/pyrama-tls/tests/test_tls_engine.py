"""The memory-BIO data path (cffi and pyOpenSSL-methods versions) and TlsStream's half-close."""

from __future__ import annotations

import contextlib
import errno
import os

import pytest
from OpenSSL import SSL
from tls_support import memory_pair_contexts, read_all

from pyrama_testing import MockStream, mock_stream_pair
from pyrama_tls import TlsStream
from pyrama_tls._openssl_ext import (
    READ_CLOSE_NOTIFY,
    READ_MORE,
    SCRATCH_SIZE,
    MemoryBioIo,
    memory_bio_io,
)


def _engines(fast: bool) -> tuple[SSL.Connection, SSL.Connection, MemoryBioIo, MemoryBioIo]:
    """A handshaken (server, client) pair of memory-BIO connections and their data paths."""
    sctx, cctx = memory_pair_contexts()
    server = SSL.Connection(sctx, None)
    server.set_accept_state()
    client = SSL.Connection(cctx, None)
    client.set_connect_state()
    client.set_tlsext_host_name(b"localhost")
    sio, cio = memory_bio_io(server, fast=fast), memory_bio_io(client, fast=fast)
    for _ in range(6):
        for conn, out, into in ((client, cio, sio), (server, sio, cio)):
            with contextlib.suppress(SSL.WantReadError):
                conn.do_handshake()
            data = out.take()
            if data:
                into.put(data)
    return server, client, sio, cio


@pytest.fixture(params=[True, False], ids=["cffi", "public"])
def fast(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def test_the_cffi_version_is_used_when_the_bindings_allow() -> None:
    server, _, sio, _ = _engines(True)
    assert type(sio) is not MemoryBioIo
    assert type(memory_bio_io(server, fast=False)) is MemoryBioIo

    class NotAConnection:
        pass

    # without pyOpenSSL's internals: the public-methods version
    assert type(memory_bio_io(NotAConnection())) is MemoryBioIo  # type: ignore[arg-type]


def test_nothing_to_read_asks_for_more(fast: bool) -> None:
    _, _, sio, _ = _engines(fast)
    assert sio.read(1000) == (b"", READ_MORE)
    assert sio.take() == b""


def test_several_records_come_back_in_one_read_up_to_max_bytes(fast: bool) -> None:
    _, _, sio, cio = _engines(fast)
    payload = os.urandom(100_000)  # seven records
    cio.write(payload)
    sio.put(cio.take())
    first, status = sio.read(70_000)
    assert status == READ_MORE
    assert first == payload[:70_000]
    rest, status = sio.read(1 << 20)
    assert (rest, status) == (payload[70_000:], READ_MORE)
    assert sio.read(10) == (b"", READ_MORE)


def test_one_read_returns_at_most_the_scratch_size(fast: bool) -> None:
    _, _, sio, cio = _engines(fast)
    payload = os.urandom(SCRATCH_SIZE + 5000)
    cio.write(payload)
    sio.put(cio.take())
    first, _ = sio.read(10 * SCRATCH_SIZE)
    assert first == payload[:SCRATCH_SIZE]
    second, _ = sio.read(10 * SCRATCH_SIZE)
    assert second == payload[SCRATCH_SIZE:]


def test_close_notify_ends_the_data_with_its_status(fast: bool) -> None:
    _, client, sio, cio = _engines(fast)
    cio.write(b"last words")
    client.shutdown()
    sio.put(cio.take())
    data, status = sio.read(1000)
    assert data == b"last words"
    assert status == READ_CLOSE_NOTIFY


def test_small_and_large_ciphertext_is_taken_whole(fast: bool) -> None:
    _, _, sio, cio = _engines(fast)
    for size in (10, 16_000, 200_000):
        payload = os.urandom(size)
        cio.write(payload)
        if fast:
            assert cio.pending() > size
        out = cio.take()
        assert len(out) > size  # record headers and tags
        assert cio.take() == b""
        sio.put(out)
        got = b""
        while len(got) < size:
            chunk, status = sio.read(1 << 20)
            assert status == READ_MORE
            got += chunk
        assert got == payload


def test_a_corrupted_record_raises_the_openssl_error(fast: bool) -> None:
    _, _, sio, cio = _engines(fast)
    cio.write(b"x" * 100)
    wire = bytearray(cio.take())
    wire[-1] ^= 0xFF  # break the authentication tag
    sio.put(bytes(wire))
    with pytest.raises(SSL.Error) as info:
        sio.read(1000)
    assert not isinstance(info.value, SSL.WantReadError)
    # the alert the engine queued for the peer can be taken (TLS 1.3: an encrypted record)
    assert sio.take()[:1] == b"\x17"


class _GoneOnWriteEof(MockStream):
    """A transport whose half-close fails as a socket's does once the peer is gone."""

    def __init__(self, error: OSError) -> None:
        super().__init__()
        self.error = error

    def write_eof(self) -> None:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOTCONN, "Transport endpoint is not connected"),
        BrokenPipeError(errno.EPIPE, "Broken pipe"),
        ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
    ],
    ids=["ENOTCONN", "EPIPE", "ECONNRESET"],
)
async def test_write_eof_to_a_peer_that_is_gone_is_not_an_error(error: OSError) -> None:
    server, client = await _tls_pair_over(_GoneOnWriteEof(error))
    client.write(b"bye")
    client.write_eof()  # close_notify is queued; the half-close finds nobody: no error
    assert await read_all(server) == b"bye"
    assert server.close_notify_received


async def test_write_eof_reports_other_transport_errors() -> None:
    _, client = await _tls_pair_over(_GoneOnWriteEof(OSError(errno.EACCES, "denied")))
    with pytest.raises(OSError, match="denied"):
        client.write_eof()


async def _tls_pair_over(client_inner: MockStream) -> tuple[TlsStream, TlsStream]:
    import asyncio

    server_inner, _ = mock_stream_pair()
    server_inner.peer, client_inner.peer = client_inner, server_inner
    sctx, cctx = memory_pair_contexts()
    server = TlsStream(server_inner, SSL.Connection(sctx, None), role="server")
    client = TlsStream(
        client_inner, SSL.Connection(cctx, None), role="client", server_name="localhost"
    )
    await asyncio.gather(server.handshake(5), client.handshake(5))
    return server, client
