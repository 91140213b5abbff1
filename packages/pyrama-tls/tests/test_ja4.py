from __future__ import annotations

from typing import Any

import pytest
from client_hello_support import require_vector, vector_params

from pyrama_tls import (
    ClientHello,
    ClientHelloExtension,
    ExtensionType,
    Ja4,
    ja4,
    parse_client_hello,
)


@pytest.mark.parametrize("vector", vector_params())
def test_ja4_matches_the_published_vector(vector: dict[str, Any] | None) -> None:
    v = require_vector(vector)
    fp = ja4(parse_client_hello(bytes.fromhex(v["client_hello_hex"])))
    assert fp.ja4_r == v["ja4_r"]
    assert fp.ja4_ro == v["ja4_ro"]
    assert fp.ja4 == v["ja4"]
    assert fp.ja4_o == v["ja4_o"]


SPEC_CIPHERS = (
    0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9,
    0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035,
)  # fmt: skip
SPEC_SIGS = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)


def _spec_example(*, grease: bool = False) -> ClientHello:
    """The ClientHello of the JA4 specification's worked example (technical_details/JA4.md)."""
    E = ClientHelloExtension
    exts = [
        E.compress_certificate([2]),
        E.server_name("example.com"),
        E.key_share([(0x001D, b"k" * 32)]),
        E.alpn(["h2", "http/1.1"]),
        E(0x4469, b"\x00\x03\x02h2"),
        E(0x0017),
        E.psk_key_exchange_modes([1]),
        E.signature_algorithms(SPEC_SIGS),
        E(0x0005, b"\x01\x00\x00\x00\x00"),
        E(0x0023),
        E(0x0012),
        E.supported_versions([0x0304, 0x0303]),
        E(0xFF01, b"\x00"),
        E.ec_point_formats([0]),
        E.supported_groups([0x001D, 0x0017, 0x0018]),
        E.padding(8),
    ]
    ciphers: tuple[int, ...] = SPEC_CIPHERS
    if grease:
        exts.insert(0, E(0x0A0A))
        exts.insert(9, E(0xFAFA, b"\x00"))
        ciphers = (0x8A8A, *ciphers)
    return ClientHello(cipher_suites=ciphers, extensions=tuple(exts))


def test_the_specification_example() -> None:
    fp = ja4(_spec_example())
    assert fp.ja4 == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert fp.ja4_r == (
        "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_"
        "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_"
        "0403,0804,0401,0503,0805,0501,0806,0601"
    )
    assert fp.ja4_ro == (
        "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_"
        "001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015_"
        "0403,0804,0401,0503,0805,0501,0806,0601"
    )
    assert fp.ja4_o == "t13d1516h2_acb858a92679_18f69afefd3d"
    assert str(fp) == fp.ja4
    assert isinstance(fp, Ja4)


def test_grease_is_ignored_everywhere() -> None:
    assert ja4(_spec_example(grease=True)) == ja4(_spec_example())


def test_grease_signature_algorithms_are_ignored() -> None:
    base = _spec_example()
    exts = tuple(
        ClientHelloExtension.signature_algorithms((0x1A1A, *SPEC_SIGS))
        if e.type == ExtensionType.SIGNATURE_ALGORITHMS
        else e
        for e in base.extensions
    )
    assert ja4(ClientHello(cipher_suites=base.cipher_suites, extensions=exts)) == ja4(base)


def _hello(*exts: ClientHelloExtension, ciphers: tuple[int, ...] = (0x1301,), **kw: Any) -> str:
    return ja4(ClientHello(cipher_suites=ciphers, extensions=exts, **kw)).ja4


@pytest.mark.parametrize(
    ("alpn", "chars"),
    [
        (b"h2", "h2"),
        (b"http/1.1", "h1"),
        (b"x", "xx"),
        (b"\xab", "ab"),
        (b"\x20", "20"),
        (b"\xab\xcd", "ad"),
        (b"\x20\x61", "21"),
        (b"\x30\xab", "3b"),
        (b"\x61\x20", "60"),
        (b"\x30\x31\xab\xcd", "3d"),
        (b"\x30\xab\xcd\x31", "01"),
    ],
)
def test_alpn_characters(alpn: bytes, chars: str) -> None:
    assert _hello(ClientHelloExtension.alpn([alpn, b"h2"]))[8:10] == chars


def test_no_alpn_is_00_and_no_sni_is_i() -> None:
    assert _hello()[:10] == "t12i0100" + "00"


def test_version_from_supported_versions_or_legacy() -> None:
    sv = ClientHelloExtension.supported_versions
    assert _hello(sv([0x2A2A, 0x0303, 0x0304]))[1:3] == "13"
    assert _hello(sv([0x3A3A]))[1:3] == "12"  # only GREASE: fall back to legacy_version
    assert _hello(legacy_version=0x0301)[1:3] == "10"
    assert _hello(legacy_version=0x0300)[1:3] == "s3"
    assert _hello(legacy_version=0xFEFD)[1:3] == "d2"
    assert _hello(legacy_version=0x0305)[1:3] == "00"


def test_counts_are_capped_at_99() -> None:
    ciphers = tuple(range(1, 121))
    exts = [ClientHelloExtension(0x1000 + i) for i in range(105)]
    fp = _hello(*exts, ciphers=ciphers)
    assert fp[4:8] == "9999"


def test_empty_lists_hash_to_zeros() -> None:
    fp = ja4(ClientHello(cipher_suites=(0x0A0A,), extensions=(ClientHelloExtension(0x1A1A),)))
    assert fp.ja4 == "t12i000000_000000000000_000000000000"
    assert fp.ja4_r == "t12i000000__"
    assert fp.ja4_o == "t12i000000_000000000000_000000000000"
    assert fp.ja4_ro == "t12i000000__"


def test_sni_and_alpn_alone_give_zeros_in_original_order_too() -> None:
    fp = ja4(
        ClientHello(
            cipher_suites=(0x1301,),
            extensions=(ClientHelloExtension.server_name("a.b"), ClientHelloExtension.alpn(["h2"])),
        )
    )
    assert fp.ja4_r.endswith("_")
    assert fp.ja4_ro.endswith("_0000,0010")
    assert fp.ja4_o.endswith("_000000000000")


def test_transport_prefix() -> None:
    ch = _spec_example()
    assert ja4(ch, "q").ja4.startswith("q13d")
    assert ja4(ch, "d").ja4_r.startswith("d13d")
    with pytest.raises(ValueError, match="transport"):
        ja4(ch, "x")  # type: ignore[arg-type]
