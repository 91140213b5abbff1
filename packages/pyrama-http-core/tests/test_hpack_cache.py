"""The server's HPACK helpers: the stateless cached encoder and the caching decoder.

The encoder's blocks are decoded by the hpack library (another implementation) and must
give back exactly what went in; the caching decoder must agree with a plain decoder on any
sequence of blocks, including ones that change the dynamic table under a remembered block.
Real peers (nghttp, h2load, curl) decoding our blocks are covered by test_h2_peers.py.
"""

from __future__ import annotations

import hpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrama_http_core._hpack_cache import (
    STATIC_TABLE,
    CachingHpackDecoder,
    StaticHpackEncoder,
    all_indexed,
    encode_integer,
)

names = st.one_of(
    st.sampled_from([n for n, _ in STATIC_TABLE]),
    st.binary(min_size=1, max_size=40),
)
values = st.one_of(
    st.sampled_from([v for _, v in STATIC_TABLE]),
    st.binary(max_size=300),
)
field_lists = st.lists(st.tuples(names, values), max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(field_lists, min_size=1, max_size=6))
def test_blocks_decode_to_the_fields_that_went_in(blocks: list[list[tuple[bytes, bytes]]]) -> None:
    encoder = StaticHpackEncoder()
    decoder = hpack.Decoder(max_header_list_size=1 << 24)
    for fields in blocks:
        block = encoder.encode(fields)
        assert [tuple(f) for f in decoder.decode(block, raw=True)] == fields
        assert len(decoder.header_table.dynamic_entries) == 0  # nothing ever indexed


def test_first_block_shrinks_the_peer_table_to_zero() -> None:
    encoder = StaticHpackEncoder()
    first = encoder.encode([(b":status", b"200")])
    second = encoder.encode([(b":status", b"200")])
    assert first == b"\x20\x88"  # size update 0, then static index 8
    assert second == b"\x88"
    decoder = hpack.Decoder()
    decoder.decode(first, raw=True)
    assert decoder.header_table_size == 0


def test_a_peer_that_lowers_its_table_size_later_needs_no_update() -> None:
    encoder = StaticHpackEncoder()
    decoder = hpack.Decoder()
    decoder.decode(encoder.encode([(b":status", b"200")]), raw=True)
    decoder.max_allowed_table_size = 0  # the peer's SETTINGS_HEADER_TABLE_SIZE went to 0
    encoder.header_table_size = 0  # h2 tells the encoder
    assert decoder.decode(encoder.encode([(b":status", b"404")]), raw=True) == [
        (b":status", b"404")
    ]


@pytest.mark.parametrize(
    "name", [b"authorization", b"proxy-authorization", b"cookie", b"set-cookie"]
)
def test_credentials_are_never_indexed(name: bytes) -> None:
    encoder = StaticHpackEncoder()
    encoder.encode([])
    block = encoder.encode([(b":status", b"200"), (name, b"secret")])
    (_, field) = hpack.Decoder().decode(block, raw=True)
    assert isinstance(field, hpack.NeverIndexedHeaderTuple)
    assert tuple(field) == (name, b"secret")


def test_static_table_indices_match_hpack() -> None:
    ours = [(n.decode(), v.decode()) for n, v in STATIC_TABLE]
    theirs = [(n.decode(), v.decode()) for n, v in hpack.table.HeaderTable.STATIC_TABLE]
    assert ours == theirs


@given(st.integers(0, 2**28), st.integers(1, 8))  # hpack reads up to 5 more bytes
def test_integers_round_trip_through_hpack(value: int, prefix: int) -> None:
    data = encode_integer(value, prefix)
    assert hpack.hpack.decode_integer(data, prefix) == (value, len(data))


def test_negative_integer_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        encode_integer(-1, 7)


def test_all_indexed() -> None:
    assert all_indexed(b"")
    assert all_indexed(b"\x82\x84\x86")
    assert all_indexed(b"\xff\x80\x01\x82")  # index 127 + 128 in two more bytes
    assert not all_indexed(b"\xff\x80")  # truncated integer
    assert not all_indexed(b"\x82\x41\x01a")  # a literal with incremental indexing
    assert not all_indexed(b"\x20\x82")  # a table size update first


# -- the caching decoder --------------------------------------------------------------------

SIZE_LIMIT = 1 << 20


def _pair() -> tuple[CachingHpackDecoder, hpack.Decoder]:
    return (
        CachingHpackDecoder(hpack.Decoder(max_header_list_size=SIZE_LIMIT)),
        hpack.Decoder(max_header_list_size=SIZE_LIMIT),
    )


def test_dynamic_entry_replaced_under_a_remembered_block_is_seen() -> None:
    """The stale-table case: the same bytes mean something else once the table changed."""
    enc = hpack.Encoder()
    caching, plain = _pair()
    first = enc.encode([(b"x-token", b"one")])  # literal with indexing: entry 62
    again = enc.encode([(b"x-token", b"one")])  # now fully indexed: b"\xbe"
    assert again == b"\xbe"
    for block in (first, again, again):
        assert caching.decode(block, raw=True) == plain.decode(block, raw=True)
    # a new entry pushes x-token to index 63; index 62 now names the new field
    changed = enc.encode([(b"x-token", b"two")])
    assert caching.decode(changed, raw=True) == plain.decode(changed, raw=True)
    assert (
        caching.decode(again, raw=True) == plain.decode(again, raw=True) == [(b"x-token", b"two")]
    )


def test_table_size_setting_empties_the_memory() -> None:
    enc = hpack.Encoder()
    caching = CachingHpackDecoder(hpack.Decoder())
    caching.decode(enc.encode([(b"x-a", b"1")]), raw=True)
    indexed = enc.encode([(b"x-a", b"1")])
    assert caching.decode(indexed, raw=True) == [(b"x-a", b"1")]
    caching.max_allowed_table_size = 0  # our SETTINGS shrank the table: a size update is due
    with pytest.raises(hpack.InvalidTableSizeError):
        caching.decode(indexed, raw=True)  # the real decoder sees it, not the memory


def test_header_list_limit_applies_to_remembered_blocks() -> None:
    enc = hpack.Encoder()
    caching = CachingHpackDecoder(hpack.Decoder())
    caching.decode(enc.encode([(b"x-a", b"1" * 100)]), raw=True)
    indexed = enc.encode([(b"x-a", b"1" * 100)])
    assert caching.decode(indexed, raw=True) == [(b"x-a", b"1" * 100)]
    caching.max_header_list_size = 50
    assert caching.max_header_list_size == 50
    with pytest.raises(hpack.OversizedHeaderListError):
        caching.decode(indexed, raw=True)


def test_remembered_results_are_fresh_lists() -> None:
    caching = CachingHpackDecoder(hpack.Decoder())
    a = caching.decode(b"\x82\x84", raw=True)
    a.append((b"x", b"y"))
    assert caching.decode(b"\x82\x84", raw=True) == [(b":method", b"GET"), (b":path", b"/")]


def test_a_failed_decode_empties_the_memory() -> None:
    enc = hpack.Encoder()
    caching, _ = _pair()
    caching.decode(enc.encode([(b"x-a", b"1")]), raw=True)
    caching.decode(b"\xbe", raw=True)
    with pytest.raises(hpack.HPACKError):
        caching.decode(b"\x40\x85", raw=True)  # truncated literal
    assert caching._cache == {}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.sampled_from([b"x-a", b"x-b", b"x-c", b":path", b"user-agent"]),
                st.sampled_from([b"1", b"2", b"/", b"/x", b"h2load"]),
            ),
            max_size=5,
        ),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from([64, 128, 4096]),
)
def test_caching_decoder_agrees_with_a_plain_one(
    blocks: list[list[tuple[bytes, bytes]]], table_size: int
) -> None:
    # a small table evicts often, so indices move under remembered blocks
    enc = hpack.Encoder()
    enc.header_table_size = table_size
    caching, plain = _pair()
    for fields in blocks:
        block = enc.encode(fields, huffman=False)
        assert caching.decode(block, raw=True) == plain.decode(block, raw=True) == fields
