"""SPKI pins (forms, matching) and the certificate host-name matcher, with property tests."""

from __future__ import annotations

import base64
import contextlib
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tls_support import pki

from pyrama_tls import (
    certificate_matches_host,
    normalize_pin,
    self_signed_leaf,
    spki_sha256_of,
)
from pyrama_tls._pinning import check_pins
from pyrama_tls.errors import PinMismatchError

digests = st.binary(min_size=32, max_size=32)


@given(digests)
def test_every_pin_form_normalizes_to_the_digest(digest: bytes) -> None:
    b64 = base64.b64encode(digest).decode()
    for form in (digest, f"sha256//{b64}", f"sha256/{b64}", b64, digest.hex(), f" {b64} "):
        assert normalize_pin(form) == digest
    assert normalize_pin(digest.hex().upper()) == digest


@given(st.binary(max_size=64).filter(lambda b: len(b) != 32))
def test_wrong_sized_pins_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError, match="32"):
        normalize_pin(raw)
    with pytest.raises(ValueError, match="32"):
        normalize_pin("sha256//" + base64.b64encode(raw).decode())


@given(st.text(max_size=80))
def test_normalize_pin_never_crashes_on_text(text: str) -> None:
    with contextlib.suppress(ValueError):
        assert len(normalize_pin(text)) == 32


def test_non_pins_are_refused() -> None:
    with pytest.raises(ValueError, match="not a pin"):
        normalize_pin(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="neither base64 nor hex"):
        normalize_pin("sha256//not*base64")


def test_check_pins_matches_the_leaf_key() -> None:
    leaf = pki().server.leaf
    digest = spki_sha256_of(leaf)
    assert digest == pki().server.spki_sha256().digest
    assert check_pins(leaf, [b"\0" * 32, digest]) == digest
    with pytest.raises(PinMismatchError) as info:
        check_pins(leaf, [b"\0" * 32])
    assert info.value.actual == digest
    assert base64.b64encode(digest).decode() in str(info.value)


def test_host_matching_on_the_test_certificate() -> None:
    cert = pki().server.leaf  # localhost, *.example.test, 127.0.0.1, ::1
    yes = ["localhost", "LOCALHOST", "localhost.", "a.example.test", "127.0.0.1", "::1", "[::1]"]
    no = ["example.test", "a.b.example.test", "other", "127.0.0.2", "0:0::2", "", "a..example.test"]
    for host in yes:
        assert certificate_matches_host(cert, host), host
    for host in no:
        assert not certificate_matches_host(cert, host), host


def test_certificates_without_san_match_nothing() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = pki().ca.key
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(pki().ca.cert.not_valid_before_utc)
        .not_valid_after(pki().ca.cert.not_valid_after_utc)
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    assert not certificate_matches_host(cert, "localhost")  # the CN is never used


def test_unicode_names_compare_as_a_labels() -> None:
    cert = self_signed_leaf(["xn--bcher-kva.example"]).leaf
    assert certificate_matches_host(cert, "bücher.example")
    assert certificate_matches_host(cert, "XN--BCHER-KVA.example")


labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


tlds = st.from_regex(r"[a-z]{2,6}", fullmatch=True)


@given(st.lists(labels, min_size=1, max_size=3), tlds, labels)
def test_wildcards_cover_exactly_one_label(parent: list[str], tld: str, head: str) -> None:
    suffix = ".".join([*parent, tld])
    cert = self_signed_leaf([f"*.{suffix}"], key=pki().server.key).leaf
    assert certificate_matches_host(cert, f"{head}.{suffix}")
    assert not certificate_matches_host(cert, suffix)
    assert not certificate_matches_host(cert, f"x.{head}.{suffix}")


@given(st.ip_addresses())
def test_ip_hosts_match_only_ip_entries(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    cert = self_signed_leaf(["ip.test"], [ip], key=pki().server.key).leaf
    assert certificate_matches_host(cert, str(ip))
    other = ip + 1 if int(ip) < (2**ip.max_prefixlen - 1) else ip - 1
    assert not certificate_matches_host(cert, str(other))
