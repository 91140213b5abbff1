"""The ClientHello model: what a TLS client offers in its first flight.

:class:`ClientHello` keeps every field in wire order, GREASE included, so fingerprints (JA3,
JA4, PeetPrint) and re-encoding see exactly what the client sent. The extensions pyrama-tls
understands are decoded once, at construction, into typed views (:attr:`ClientHello.server_name`,
:attr:`ClientHello.alpn`, ...); malformed extension data fails construction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pyrama_core.errors import Side
from pyrama_tls._client_hello_extensions import (
    ExtensionDataError,
    KeyShareEntry,
    decode_alpn,
    decode_key_shares,
    decode_record_size_limit,
    decode_server_name,
    decode_u8_list,
    decode_u8_prefixed_u16_list,
    decode_u16_list,
    encode_alpn,
    encode_key_shares,
    encode_server_name,
    encode_u8_list,
    encode_u8_prefixed_u16_list,
    encode_u16_list,
)
from pyrama_tls._grease import is_grease
from pyrama_tls._tls_ids import ExtensionType, extension_name
from pyrama_tls.errors import ClientHelloError

__all__ = [
    "ClientHello",
    "ClientHelloExtension",
    "ExtensionViewError",
    "KeyShareEntry",
    "trusted_client_hello",
    "trusted_extension",
]

_set = object.__setattr__

_ET = ExtensionType


class ExtensionViewError(ClientHelloError):
    """Internal refinement of :class:`ClientHelloError`: extension *index* has bad data.

    :attr:`index` is the extension's position in :attr:`ClientHello.extensions` and
    :attr:`data_offset` the offset inside its data; the parser turns them into an absolute
    offset.
    """

    def __init__(self, message: str, *, index: int, data_offset: int) -> None:
        super().__init__(message, side=Side.LOCAL)
        self.index = index
        self.data_offset = data_offset


@dataclass(frozen=True, slots=True)
class ClientHelloExtension:
    """One ClientHello extension as sent: its type and its raw ``extension_data``.

    The class methods (:meth:`server_name`, :meth:`alpn`, ...) build the common extensions from
    typed values, for constructing ClientHellos (tests, emulation profiles).
    """

    type: int
    """The extension type (see :class:`~pyrama_tls.ExtensionType`); GREASE values included."""
    data: bytes = b""
    """The raw ``extension_data`` (0 to 65535 bytes)."""

    def __post_init__(self) -> None:
        if not 0 <= self.type <= 0xFFFF:
            raise ValueError(f"extension type {self.type} is not a 16-bit value")
        data: object = self.data
        if not isinstance(data, bytes):
            object.__setattr__(self, "data", bytes(self.data))
        if len(self.data) > 0xFFFF:
            raise ValueError(f"extension data of {len(self.data)} bytes exceeds 65535")

    @property
    def name(self) -> str | None:
        """The IANA name (``"server_name"``), ``"GREASE"``, or ``None`` for an unknown type."""
        return extension_name(self.type)

    @property
    def is_grease(self) -> bool:
        """Whether the type is a GREASE value."""
        return is_grease(self.type)

    def __repr__(self) -> str:
        name = self.name or "unknown"
        return f"ClientHelloExtension(0x{self.type:04x} {name}, {len(self.data)} bytes)"

    # builders --------------------------------------------------------------------------------
    @classmethod
    def server_name(cls, host: str) -> ClientHelloExtension:
        """A ``server_name`` (SNI) extension naming *host* (ASCII, sent as given)."""
        return cls(_ET.SERVER_NAME, encode_server_name(host))

    @classmethod
    def alpn(cls, protocols: Iterable[str | bytes]) -> ClientHelloExtension:
        """An ALPN extension offering *protocols* in order (``["h2", "http/1.1"]``)."""
        return cls(_ET.APPLICATION_LAYER_PROTOCOL_NEGOTIATION, encode_alpn(protocols))

    @classmethod
    def supported_versions(cls, versions: Iterable[int]) -> ClientHelloExtension:
        """A ``supported_versions`` extension (``[0x0304, 0x0303]``)."""
        return cls(_ET.SUPPORTED_VERSIONS, encode_u8_prefixed_u16_list(versions))

    @classmethod
    def supported_groups(cls, groups: Iterable[int]) -> ClientHelloExtension:
        """A ``supported_groups`` extension (``[0x001d, 0x0017]``)."""
        return cls(_ET.SUPPORTED_GROUPS, encode_u16_list(groups))

    @classmethod
    def signature_algorithms(cls, schemes: Iterable[int]) -> ClientHelloExtension:
        """A ``signature_algorithms`` extension (``[0x0403, 0x0804]``)."""
        return cls(_ET.SIGNATURE_ALGORITHMS, encode_u16_list(schemes))

    @classmethod
    def ec_point_formats(cls, formats: Iterable[int] = (0,)) -> ClientHelloExtension:
        """An ``ec_point_formats`` extension (default: uncompressed only)."""
        return cls(_ET.EC_POINT_FORMATS, encode_u8_list(formats))

    @classmethod
    def key_share(
        cls, entries: Iterable[KeyShareEntry | tuple[int, bytes]]
    ) -> ClientHelloExtension:
        """A ``key_share`` extension with the given ``(group, key_exchange)`` entries."""
        return cls(_ET.KEY_SHARE, encode_key_shares(entries))

    @classmethod
    def psk_key_exchange_modes(cls, modes: Iterable[int] = (1,)) -> ClientHelloExtension:
        """A ``psk_key_exchange_modes`` extension (default: ``psk_dhe_ke``)."""
        return cls(_ET.PSK_KEY_EXCHANGE_MODES, encode_u8_list(modes))

    @classmethod
    def compress_certificate(cls, algorithms: Iterable[int]) -> ClientHelloExtension:
        """A ``compress_certificate`` extension (RFC 8879; ``1`` zlib, ``2`` brotli, ``3`` zstd)."""
        return cls(_ET.COMPRESS_CERTIFICATE, encode_u8_prefixed_u16_list(algorithms))

    @classmethod
    def record_size_limit(cls, limit: int) -> ClientHelloExtension:
        """A ``record_size_limit`` extension (RFC 8449; 64 to 65535)."""
        if not 64 <= limit <= 0xFFFF:
            raise ValueError(f"record_size_limit {limit} is out of range (64..65535)")
        return cls(_ET.RECORD_SIZE_LIMIT, limit.to_bytes(2, "big"))

    @classmethod
    def padding(cls, length: int) -> ClientHelloExtension:
        """A ``padding`` extension (RFC 7685) of *length* zero bytes."""
        return cls(_ET.PADDING, bytes(length))


def _u16s(values: Iterable[int], what: str) -> tuple[int, ...]:
    out = tuple(values)
    for v in out:
        if not isinstance(v, int) or not 0 <= v <= 0xFFFF:
            raise ClientHelloError(f"{what}: {v!r} is not a 16-bit value", side=Side.LOCAL)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientHello:
    """A parsed (or locally built) TLS ClientHello.

    Every list keeps wire order and GREASE values; lists are tuples so the model is immutable
    and hashable. Build one with keyword arguments (``ClientHello(cipher_suites=(0x1301,),
    extensions=(ClientHelloExtension.server_name("example.com"),))``) and encode it with
    :func:`~pyrama_tls.encode_client_hello`; parse one with
    :func:`~pyrama_tls.parse_client_hello`.

    Construction validates the structure (field ranges, no duplicate extension type,
    ``pre_shared_key`` last) and decodes the known extensions into the read-only views below;
    invalid input raises :class:`~pyrama_tls.errors.ClientHelloError`.
    """

    cipher_suites: tuple[int, ...]
    """Offered cipher suites, wire order, GREASE and signalling values included."""
    extensions: tuple[ClientHelloExtension, ...] = ()
    """Extensions in wire order, GREASE included."""
    legacy_version: int = 0x0303
    """``ClientHello.legacy_version`` (``0x0303`` for TLS 1.2 and 1.3 clients)."""
    random: bytes = bytes(32)
    """The 32-byte client random."""
    session_id: bytes = b""
    """``legacy_session_id`` (0 to 32 bytes)."""
    compression_methods: tuple[int, ...] = (0,)
    """``legacy_compression_methods`` (``(0,)``, the null method, for every modern client)."""
    record_version: int = 0x0301
    """The version field of the first record header that carried the ClientHello."""

    # decoded views (derived from the extensions; not part of equality)
    server_name: str | None = field(init=False, compare=False, repr=False)
    """The SNI host name, as sent (case kept), or ``None`` without SNI."""
    alpn: tuple[str, ...] = field(init=False, compare=False, repr=False)
    """ALPN protocol names in order (latin-1 decoded: ``"h2"``, ``"http/1.1"``); empty if none."""
    supported_versions: tuple[int, ...] = field(init=False, compare=False, repr=False)
    """``supported_versions`` in order, GREASE included; empty when the extension is absent."""
    supported_groups: tuple[int, ...] = field(init=False, compare=False, repr=False)
    """``supported_groups`` (named groups) in order, GREASE included."""
    ec_point_formats: tuple[int, ...] = field(init=False, compare=False, repr=False)
    """``ec_point_formats`` in order."""
    signature_algorithms: tuple[int, ...] = field(init=False, compare=False, repr=False)
    """``signature_algorithms`` in order, GREASE included."""
    key_shares: tuple[KeyShareEntry, ...] = field(init=False, compare=False, repr=False)
    """``key_share`` entries in order, GREASE included."""
    psk_key_exchange_modes: tuple[int, ...] = field(init=False, compare=False, repr=False)
    """``psk_key_exchange_modes`` in order."""
    certificate_compression_algorithms: tuple[int, ...] = field(
        init=False, compare=False, repr=False
    )
    """``compress_certificate`` algorithms in order (RFC 8879)."""
    record_size_limit: int | None = field(init=False, compare=False, repr=False)
    """The ``record_size_limit`` value (RFC 8449), or ``None``."""

    def __post_init__(self) -> None:
        def bad(msg: str) -> ClientHelloError:
            return ClientHelloError(msg, side=Side.LOCAL)

        sa = object.__setattr__
        sa(self, "cipher_suites", _u16s(self.cipher_suites, "cipher_suites"))
        if not 1 <= len(self.cipher_suites) <= 0x7FFF:
            raise bad(f"{len(self.cipher_suites)} cipher suites, expected 1 to 32767")
        comp = tuple(self.compression_methods)
        if not 1 <= len(comp) <= 0xFF or any(not 0 <= c <= 0xFF for c in comp):
            raise bad(f"compression_methods {comp!r}: expected 1 to 255 byte values")
        sa(self, "compression_methods", comp)
        for name in ("legacy_version", "record_version"):
            v = getattr(self, name)
            if not isinstance(v, int) or not 0 <= v <= 0xFFFF:
                raise bad(f"{name} {v!r} is not a 16-bit value")
        random = bytes(self.random)
        if len(random) != 32:
            raise bad(f"random is {len(random)} bytes, expected 32")
        sa(self, "random", random)
        sid = bytes(self.session_id)
        if len(sid) > 32:
            raise bad(f"session_id is {len(sid)} bytes, at most 32")
        sa(self, "session_id", sid)
        exts = tuple(self.extensions)
        sa(self, "extensions", exts)
        types: set[int] = set()
        for i, ext in enumerate(exts):
            if not isinstance(ext, ClientHelloExtension):
                raise bad(f"extensions[{i}] is a {type(ext).__name__}, not a ClientHelloExtension")
            if ext.type in types:
                raise bad(f"duplicate extension 0x{ext.type:04x} ({ext.name or 'unknown'})")
            types.add(ext.type)
        if _ET.PRE_SHARED_KEY in types and exts[-1].type != _ET.PRE_SHARED_KEY:
            raise bad("pre_shared_key must be the last extension")
        self._decode_views()

    def _decode_views(self) -> None:
        sa = object.__setattr__
        server_name: str | None = None
        alpn: tuple[str, ...] = ()
        versions: tuple[int, ...] = ()
        groups: tuple[int, ...] = ()
        points: tuple[int, ...] = ()
        sigs: tuple[int, ...] = ()
        shares: tuple[KeyShareEntry, ...] = ()
        psk_modes: tuple[int, ...] = ()
        compression: tuple[int, ...] = ()
        rsl: int | None = None
        index = 0
        try:
            for index, ext in enumerate(self.extensions):  # noqa: B007 - used in the handler
                t = ext.type
                d = ext.data
                if t == 0:
                    server_name = decode_server_name(d)
                elif t == 16:
                    alpn = decode_alpn(d)
                elif t == 43:
                    versions = decode_u8_prefixed_u16_list(d, "supported_versions")
                elif t == 10:
                    groups = decode_u16_list(d, "supported_groups")
                elif t == 11:
                    points = decode_u8_list(d, "ec_point_formats")
                elif t == 13:
                    sigs = decode_u16_list(d, "signature_algorithms")
                elif t == 51:
                    shares = decode_key_shares(d)
                elif t == 45:
                    psk_modes = decode_u8_list(d, "psk_key_exchange_modes")
                elif t == 27:
                    compression = decode_u8_prefixed_u16_list(d, "compress_certificate")
                elif t == 28:
                    rsl = decode_record_size_limit(d)
                elif t in (0x4469, 0x44CD):
                    decode_alpn(d, "application_settings")
        except ExtensionDataError as exc:
            raise ExtensionViewError(
                f"extension #{index} {exc.message}", index=index, data_offset=exc.offset
            ) from None
        sa(self, "server_name", server_name)
        sa(self, "alpn", alpn)
        sa(self, "supported_versions", versions)
        sa(self, "supported_groups", groups)
        sa(self, "ec_point_formats", points)
        sa(self, "signature_algorithms", sigs)
        sa(self, "key_shares", shares)
        sa(self, "psk_key_exchange_modes", psk_modes)
        sa(self, "certificate_compression_algorithms", compression)
        sa(self, "record_size_limit", rsl)

    # look-ups --------------------------------------------------------------------------------
    def extension(self, ext_type: int) -> ClientHelloExtension | None:
        """The extension of type *ext_type*, or ``None``."""
        for ext in self.extensions:
            if ext.type == ext_type:
                return ext
        return None

    def has_extension(self, ext_type: int) -> bool:
        """Whether the client sent an extension of type *ext_type*."""
        return any(ext.type == ext_type for ext in self.extensions)

    @property
    def extension_types(self) -> tuple[int, ...]:
        """Extension types in wire order, GREASE included."""
        return tuple(ext.type for ext in self.extensions)

    @property
    def max_version(self) -> int:
        """The highest version offered.

        The largest non-GREASE ``supported_versions`` entry, else :attr:`legacy_version`.
        """
        offered = [v for v in self.supported_versions if not is_grease(v)]
        return max(offered) if offered else self.legacy_version

    @property
    def has_ech(self) -> bool:
        """Whether the client sent ``encrypted_client_hello`` (``0xfe0d``)."""
        return self.has_extension(_ET.ENCRYPTED_CLIENT_HELLO)

    @property
    def has_alps(self) -> bool:
        """Whether the client sent ALPS (``application_settings``, ``0x4469`` or ``0x44cd``)."""
        return self.has_extension(_ET.APPLICATION_SETTINGS) or self.has_extension(
            _ET.APPLICATION_SETTINGS_OLD
        )

    @property
    def has_pre_shared_key(self) -> bool:
        """Whether the client offered a PSK (session resumption in TLS 1.3)."""
        return self.has_extension(_ET.PRE_SHARED_KEY)

    @property
    def has_early_data(self) -> bool:
        """Whether the client announced 0-RTT ``early_data``."""
        return self.has_extension(_ET.EARLY_DATA)

    def __repr__(self) -> str:
        return (
            f"ClientHello(server_name={self.server_name!r}, alpn={list(self.alpn)!r}, "
            f"max_version=0x{self.max_version:04x}, cipher_suites={len(self.cipher_suites)}, "
            f"extensions={[f'0x{t:04x}' for t in self.extension_types]})"
        )


def trusted_extension(ext_type: int, data: bytes) -> ClientHelloExtension:
    """Internal fast path: an extension from values a parser has already checked."""
    ext = object.__new__(ClientHelloExtension)
    _set(ext, "type", ext_type)
    _set(ext, "data", data)
    return ext


def trusted_client_hello(
    *,
    cipher_suites: tuple[int, ...],
    extensions: tuple[ClientHelloExtension, ...],
    legacy_version: int,
    random: bytes,
    session_id: bytes,
    compression_methods: tuple[int, ...],
    record_version: int,
) -> ClientHello:
    """Internal fast path: a ClientHello from parts a parser has already checked.

    Skips the structural checks of ``__init__`` (field ranges, duplicate types,
    ``pre_shared_key`` last) but decodes the extension views, which raises
    :class:`ExtensionViewError` for malformed extension data.
    """
    ch = object.__new__(ClientHello)
    _set(ch, "cipher_suites", cipher_suites)
    _set(ch, "extensions", extensions)
    _set(ch, "legacy_version", legacy_version)
    _set(ch, "random", random)
    _set(ch, "session_id", session_id)
    _set(ch, "compression_methods", compression_methods)
    _set(ch, "record_version", record_version)
    ch._decode_views()
    return ch
