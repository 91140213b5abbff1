from __future__ import annotations

import hashlib
from typing import Any

import pytest
from client_hello_support import require_vector, vector_params

from pyrama_tls import ClientHello, ClientHelloExtension, Ja3, ja3, parse_client_hello


@pytest.mark.parametrize("vector", vector_params())
def test_ja3_matches_the_published_vector(vector: dict[str, Any] | None) -> None:
    v = require_vector(vector)
    fp = ja3(parse_client_hello(bytes.fromhex(v["client_hello_hex"])))
    assert fp.string == v["ja3_full"]
    assert fp.hash == v["ja3"]


def test_ja3_fields_and_grease_removal() -> None:
    ch = ClientHello(
        legacy_version=0x0303,
        cipher_suites=(0x2A2A, 0x1301, 0xC02F),
        extensions=(
            ClientHelloExtension(0x3A3A),
            ClientHelloExtension.server_name("a.example"),
            ClientHelloExtension.supported_groups([0x4A4A, 29, 23]),
            ClientHelloExtension.ec_point_formats([0, 1]),
            ClientHelloExtension.supported_versions([0x0304, 0x0303]),
        ),
    )
    fp = ja3(ch)
    assert fp.string == "771,4865-49199,0-10-11-43,29-23,0-1"
    assert fp.hash == hashlib.md5(fp.string.encode()).hexdigest()
    assert str(fp) == fp.hash
    assert isinstance(fp, Ja3)


def test_ja3_without_groups_or_point_formats() -> None:
    ch = ClientHello(legacy_version=0x0301, cipher_suites=(0x002F,))
    assert ja3(ch).string == "769,47,,,"
