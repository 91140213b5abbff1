"""Cheaper HPACK for the HTTP/2 server: a stateless cached encoder and a caching decoder.

Both plug into an ``h2.connection.H2Connection`` in place of its ``encoder`` / ``decoder``
(h2 only calls ``encode(headers)`` and sets ``header_table_size`` on the encoder; it calls
``decode(block, raw=True)`` and sets ``max_header_list_size`` / ``max_allowed_table_size`` on
the decoder).

* :class:`StaticHpackEncoder` never uses the dynamic table: every field is sent as a
  static-table index or as a literal *without indexing* (RFC 7541 6.1, 6.2.2), which every
  decoder must accept. The first block starts with a dynamic table size update to 0, so
  a peer that later lowers SETTINGS_HEADER_TABLE_SIZE never expects one from us. The block
  for a field list is then a pure function of the list and is cached process-wide (bounded):
  a server answers the same head over and over. Credentials (``authorization``,
  ``proxy-authorization``, ``cookie``, ``set-cookie``) are sent *never indexed* and neither
  their fields nor blocks holding them are cached.
* :class:`CachingHpackDecoder` wraps h2's decoder. A header block made only of indexed
  field representations (RFC 7541 6.1) does not change the dynamic table, so its decoded
  list is a function of its bytes and the table; such blocks are remembered (bounded) and
  answered from memory while the table stays the same. Any other block (literals with
  incremental indexing, size updates) or a failed decode may change the table and empties
  the memory, as does a change of the decoder's limits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final, Protocol

__all__ = [
    "STATIC_TABLE",
    "CachingHpackDecoder",
    "StaticHpackEncoder",
    "all_indexed",
    "encode_integer",
]

STATIC_TABLE: Final[tuple[tuple[bytes, bytes], ...]] = (
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
)
"""The HPACK static table (RFC 7541 Appendix A); entry *i* has index *i* + 1."""

_FULL_INDEX: Final[dict[tuple[bytes, bytes], int]] = {}
_NAME_INDEX: Final[dict[bytes, int]] = {}
for _i, (_name, _value) in enumerate(STATIC_TABLE, 1):
    _NAME_INDEX.setdefault(_name, _i)
    if _value:
        _FULL_INDEX[(_name, _value)] = _i

SENSITIVE: Final = frozenset({b"authorization", b"proxy-authorization", b"cookie", b"set-cookie"})
"""Fields sent *never indexed* (RFC 7541 7.1.3) and never cached."""

_FIELD_CACHE_MAX: Final = 4096
_BLOCK_CACHE_MAX: Final = 1024
_CACHED_VALUE_MAX: Final = 256
_DECODE_CACHE_MAX: Final = 256
_DECODE_KEY_MAX: Final = 1024

_TABLE_SIZE_ZERO: Final = b"\x20"  # dynamic table size update to 0 (RFC 7541 6.3)

_fields: dict[tuple[bytes, bytes], bytes] = {}
_blocks: dict[tuple[tuple[bytes, bytes], ...], bytes] = {}


def encode_integer(value: int, prefix_bits: int, first: int = 0) -> bytes:
    """*value* as an HPACK integer with an *prefix_bits*-bit prefix (RFC 7541 5.1).

    *first* holds the bits above the prefix in the first byte (the representation's pattern).
    """
    if value < 0:
        raise ValueError(f"an HPACK integer cannot be negative: {value}")
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string(data: bytes) -> bytes:
    return encode_integer(len(data), 7) + data  # raw octets, no Huffman (H = 0)


def _encode_field(name: bytes, value: bytes) -> bytes:
    index = _FULL_INDEX.get((name, value))
    if index is not None:
        return bytes((0x80 | index,))  # indexed field (6.1); all static indices < 127
    pattern = 0x10 if name in SENSITIVE else 0x00  # never indexed / without indexing
    name_index = _NAME_INDEX.get(name)
    if name_index is not None:
        return encode_integer(name_index, 4, pattern) + _string(value)
    return bytes((pattern,)) + _string(name) + _string(value)


def _field(name: bytes, value: bytes) -> bytes:
    key = (name, value)
    rep = _fields.get(key)
    if rep is None:
        rep = _encode_field(name, value)
        if len(value) <= _CACHED_VALUE_MAX and name not in SENSITIVE:
            if len(_fields) >= _FIELD_CACHE_MAX:
                _fields.clear()
            _fields[key] = rep
    return rep


def encode_block(headers: Sequence[tuple[bytes, bytes]]) -> bytes:
    """The HPACK block for *headers* without the dynamic table (cached, see the module docs)."""
    key = tuple(headers)
    block = _blocks.get(key)
    if block is not None:
        return block
    cacheable = True
    parts = []
    for name, value in key:
        if name in SENSITIVE or len(value) > _CACHED_VALUE_MAX:
            cacheable = False
        parts.append(_field(name, value))
    block = b"".join(parts)
    if cacheable:
        if len(_blocks) >= _BLOCK_CACHE_MAX:
            _blocks.clear()
        _blocks[key] = block
    return block


class StaticHpackEncoder:
    """An HPACK encoder for one connection that never adds to the dynamic table.

    Drop-in for the ``encoder`` of an ``h2.connection.H2Connection``: ``encode`` takes the
    ``(name, value)`` byte pairs h2 hands it (names already lowercase, validated by the
    caller) and returns the header block. The first block announces a dynamic table size
    of 0; after that every block is the cached, stateless encoding of its fields.
    """

    __slots__ = ("_started", "header_table_size")

    def __init__(self) -> None:
        self._started = False
        self.header_table_size = 4096
        """The peer's SETTINGS_HEADER_TABLE_SIZE (h2 sets it; we use no dynamic table)."""

    def encode(self, headers: Iterable[tuple[bytes, bytes]], huffman: bool = True) -> bytes:
        """The header block for *headers* (*huffman* is accepted and ignored)."""
        block = encode_block(headers if isinstance(headers, (list, tuple)) else list(headers))
        if not self._started:
            self._started = True
            return _TABLE_SIZE_ZERO + block
        return block


def all_indexed(block: bytes) -> bool:
    """Whether *block* consists only of indexed field representations (RFC 7541 6.1).

    Such a block reads the tables but never changes the dynamic one. A truncated integer
    makes it ``False`` (the real decoder reports the error).
    """
    i = 0
    n = len(block)
    while i < n:
        b = block[i]
        if not b & 0x80:
            return False
        i += 1
        if b & 0x7F == 0x7F:  # the index continues in more bytes
            while True:
                if i >= n:
                    return False
                c = block[i]
                i += 1
                if not c & 0x80:
                    break
    return True


class _Decoder(Protocol):
    max_header_list_size: int
    max_allowed_table_size: int

    def decode(self, data: bytes, raw: bool = ...) -> Iterable[Any]: ...


class CachingHpackDecoder:
    """Wraps an HPACK decoder; answers repeated all-indexed blocks from memory.

    See the module docs for when a remembered result is valid. The wrapped decoder does all
    real work (and raises its own errors); limits set on this object are passed through.
    """

    __slots__ = ("_cache", "_inner")

    def __init__(self, inner: _Decoder) -> None:
        self._inner = inner
        self._cache: dict[bytes, tuple[Any, ...]] = {}

    @property
    def inner(self) -> _Decoder:
        """The wrapped decoder."""
        return self._inner

    @property
    def max_header_list_size(self) -> int:
        """The wrapped decoder's cap on the decoded header list."""
        return self._inner.max_header_list_size

    @max_header_list_size.setter
    def max_header_list_size(self, value: int) -> None:
        self._cache.clear()
        self._inner.max_header_list_size = value

    @property
    def max_allowed_table_size(self) -> int:
        """The wrapped decoder's cap on the dynamic table size (our SETTINGS value)."""
        return self._inner.max_allowed_table_size

    @max_allowed_table_size.setter
    def max_allowed_table_size(self, value: int) -> None:
        self._cache.clear()
        self._inner.max_allowed_table_size = value

    def decode(self, data: bytes, raw: bool = False) -> list[Any]:
        """Decode *data* (a complete header block) like the wrapped decoder."""
        cache = self._cache
        if raw:
            hit = cache.get(data)
            if hit is not None:
                return list(hit)
        try:
            headers = list(self._inner.decode(data, raw))
        except BaseException:
            cache.clear()  # a half-decoded block may have changed the table
            raise
        if raw and len(data) <= _DECODE_KEY_MAX and all_indexed(data):
            if len(cache) >= _DECODE_CACHE_MAX:
                cache.clear()
            cache[bytes(data)] = tuple(headers)
        elif cache and not all_indexed(data):
            cache.clear()
        return headers

    def __getattr__(self, name: str) -> Any:
        # anything else h2 or a test reads (header_table, header_table_size...) is the inner's
        return getattr(self._inner, name)
