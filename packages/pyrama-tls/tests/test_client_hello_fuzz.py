"""Property tests of the ClientHello parser: truncation, random bytes, mutations, round trips."""

from __future__ import annotations

import contextlib
import os
import struct

import pytest
from client_hello_support import unique_vector_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrama_tls import (
    ClientHello,
    ClientHelloExtension,
    ClientHelloReader,
    KeyShareEntry,
    encode_client_hello,
    encode_client_hello_handshake,
    ja3,
    ja4,
    parse_client_hello,
    peetprint,
)
from pyrama_tls.errors import ClientHelloError, TlsError

VECTORS = unique_vector_bytes()
FUZZ = settings(
    max_examples=int(os.environ.get("PYRAMA_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _vectors() -> list[bytes]:
    if not VECTORS:
        pytest.skip("vectors missing (test_client_hello reports it)")
    return VECTORS


# ---------------------------------------------------------------------------------------------
# truncation at every cut point
def test_every_truncation_of_every_vector_is_a_client_hello_error() -> None:
    for raw in _vectors():
        for cut in range(len(raw)):
            with pytest.raises(ClientHelloError, match="truncated"):
                parse_client_hello(raw[:cut])


def test_every_prefix_of_every_vector_needs_more_in_the_reader() -> None:
    for raw in _vectors():
        for cut in range(0, len(raw), 7):
            r = ClientHelloReader()
            assert r.feed(raw[:cut]) is None
            assert r.feed(raw[cut:]) == parse_client_hello(raw)


# ---------------------------------------------------------------------------------------------
# random and mutated input
@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_tls_errors(data: bytes) -> None:
    with contextlib.suppress(TlsError):
        parse_client_hello(data)


@FUZZ
@given(st.binary(max_size=400), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFF))
def test_random_bodies_behind_valid_headers_raise_only_tls_errors(
    body: bytes, record_len_delta: int, hs_len: int
) -> None:
    msg = b"\x01" + (len(body) if hs_len % 3 else hs_len).to_bytes(3, "big") + body
    rec_len = len(msg) if record_len_delta % 4 else record_len_delta
    data = struct.pack(">BHH", 22, 0x0301, rec_len) + msg
    try:
        ch = parse_client_hello(data)
    except TlsError:
        return
    assert parse_client_hello(encode_client_hello(ch)) == ch


@FUZZ
@given(st.data())
def test_mutated_vectors_raise_client_hello_error_or_round_trip(data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from(_vectors())))
    n = data.draw(st.integers(1, 4))
    for _ in range(n):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    try:
        ch = parse_client_hello(bytes(raw))
    except ClientHelloError:
        return
    again = parse_client_hello(encode_client_hello(ch))
    assert again == ch
    # fingerprints never fail on a hello the parser accepted
    ja3(ch)
    ja4(ch)
    peetprint(ch)


@FUZZ
@given(st.data())
def test_mutated_length_fields(data: st.DataObject) -> None:
    """Add or subtract small amounts to the 16/24-bit length fields of a vector."""
    raw = bytearray(data.draw(st.sampled_from(_vectors())))
    # record length (3..5), handshake length (6..9), extensions length etc.: pick any 2 bytes
    pos = data.draw(st.sampled_from([3, 6, 7, 43, 44, data.draw(st.integers(0, len(raw) - 2))]))
    (value,) = struct.unpack_from(">H", raw, pos)
    delta = data.draw(st.integers(-3, 3).filter(bool))
    struct.pack_into(">H", raw, pos, (value + delta) & 0xFFFF)
    try:
        ch = parse_client_hello(bytes(raw))
    except ClientHelloError:
        return
    assert parse_client_hello(encode_client_hello(ch)) == ch


# ---------------------------------------------------------------------------------------------
# generated valid hellos round-trip
u16 = st.integers(0, 0xFFFF)
u8 = st.integers(0, 0xFF)
_host = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40
)
_alpn = st.lists(st.binary(min_size=1, max_size=12), min_size=1, max_size=5)


@st.composite
def _known_extension(draw: st.DrawFn, ext_type: int) -> ClientHelloExtension:
    E = ClientHelloExtension
    if ext_type == 0:
        return E.server_name(draw(_host))
    if ext_type == 16:
        return E.alpn(draw(_alpn))
    if ext_type in (0x4469, 0x44CD):
        return E(ext_type, E.alpn(draw(_alpn)).data)
    if ext_type == 43:
        return E.supported_versions(draw(st.lists(u16, min_size=1, max_size=10)))
    if ext_type == 10:
        return E.supported_groups(draw(st.lists(u16, min_size=1, max_size=10)))
    if ext_type == 13:
        return E.signature_algorithms(draw(st.lists(u16, min_size=1, max_size=10)))
    if ext_type == 11:
        return E.ec_point_formats(draw(st.lists(u8, min_size=1, max_size=4)))
    if ext_type == 45:
        return E.psk_key_exchange_modes(draw(st.lists(u8, min_size=1, max_size=3)))
    if ext_type == 27:
        return E.compress_certificate(draw(st.lists(u16, min_size=1, max_size=4)))
    if ext_type == 28:
        return E.record_size_limit(draw(st.integers(64, 0xFFFF)))
    if ext_type == 51:
        groups = draw(st.lists(u16, max_size=4, unique=True))
        return E.key_share(
            [KeyShareEntry(g, draw(st.binary(min_size=1, max_size=40))) for g in groups]
        )
    return E(ext_type, draw(st.binary(max_size=40)))


_KNOWN = [0, 16, 0x4469, 0x44CD, 43, 10, 13, 11, 45, 27, 28, 51]


@st.composite
def client_hellos(draw: st.DrawFn) -> ClientHello:
    types = draw(st.lists(st.one_of(st.sampled_from([*_KNOWN, 41, 21, 0x0A0A]), u16), unique=True))
    if 41 in types:  # pre_shared_key goes last
        types.remove(41)
        types.append(41)
    exts = tuple(draw(_known_extension(t)) for t in types)
    return ClientHello(
        cipher_suites=tuple(draw(st.lists(u16, min_size=1, max_size=40))),
        extensions=exts,
        legacy_version=draw(u16),
        random=draw(st.binary(min_size=32, max_size=32)),
        session_id=draw(st.binary(max_size=32)),
        compression_methods=tuple(draw(st.lists(u8, min_size=1, max_size=4))),
        record_version=draw(st.integers(0x0300, 0x03FF)),
    )


_VIEWS = (
    "server_name",
    "alpn",
    "supported_versions",
    "supported_groups",
    "ec_point_formats",
    "signature_algorithms",
    "key_shares",
    "psk_key_exchange_modes",
    "certificate_compression_algorithms",
    "record_size_limit",
)


@FUZZ
@given(client_hellos(), st.integers(1, 16384), st.data())
def test_generated_hellos_round_trip(
    ch: ClientHello, record_size: int, data: st.DataObject
) -> None:
    msg_len = len(encode_client_hello_handshake(ch))
    record_size = max(record_size, -(-msg_len // 256))  # stay within the records limit
    wire = encode_client_hello(ch, record_size=record_size)
    back = parse_client_hello(wire)
    assert back == ch
    for view in _VIEWS:
        assert getattr(back, view) == getattr(ch, view), view
    # and through the incremental reader, in random chunks
    r = ClientHelloReader()
    pos = 0
    got = None
    while pos < len(wire):
        step = data.draw(st.integers(1, max(1, len(wire) // 3)))
        got = r.feed(wire[pos : pos + step])
        pos += step
        assert (got is not None) == (pos >= len(wire))
    assert got == ch
