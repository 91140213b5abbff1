from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from pyrama_tls import ClientHello, ClientHelloExtension, PeetPrint, parse_client_hello, peetprint

_CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "peetprint_vectors.json").read_text()
)["cases"]


def _records(body: bytes) -> bytes:
    msg = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(msg).to_bytes(2, "big") + msg


@pytest.mark.parametrize("case", _CASES, ids=[c["pcap"] for c in _CASES])
def test_published_peetprints(case: dict[str, Any]) -> None:
    ch = parse_client_hello(_records(bytes.fromhex(case["client_hello_body_hex"])))
    fp = peetprint(ch)
    assert fp.string == case["string"]
    assert fp.hash == case["hash"]
    assert str(fp) == fp.hash
    assert isinstance(fp, PeetPrint)


def test_fields() -> None:
    E = ClientHelloExtension
    ch = ClientHello(
        cipher_suites=(0x0A0A, 0x1301, 0x002F),
        extensions=(
            E(0xBABA),
            E.supported_versions([0x2A2A, 0x0304]),
            E.alpn(["h3", "HTTP/1.1", "h2", "http/1.0", "spdy/3"]),
            E.supported_groups([0x1A1A, 29]),
            E.signature_algorithms([0x0403, 0x3A3A]),
            E.psk_key_exchange_modes([0, 1]),
            E.compress_certificate([2, 3]),
            E.server_name("x.test"),
            E(5, b"\x01\x00\x00\x00\x00"),
        ),
    )
    fp = peetprint(ch)
    assert fp.string == (
        "GREASE-772|1.1-2-1.0|GREASE-29|1027-GREASE|0|2-3|GREASE-4865-47|"
        "0-10-13-16-27-43-45-5-GREASE"
    )
    assert fp.hash == hashlib.md5(fp.string.encode()).hexdigest()


def test_absent_extensions_give_empty_fields_and_psk_mode_0() -> None:
    fp = peetprint(ClientHello(cipher_suites=(0x002F,)))
    assert fp.string == "||||0||47|"
