"""Leaf certificates: self-signed and CA-issued, their extensions, keys and pins."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import SSL, crypto

from pyrama_net import Domain
from pyrama_tls import (
    CertificateAuthority,
    CertifiedKey,
    generate_private_key,
    self_signed_leaf,
)
from pyrama_tls.errors import (
    CertificateError,
    CertificateNameError,
    KeyMismatchError,
    TlsError,
    UnsupportedKeyError,
)


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.generate("pyrama test CA")


def ext(
    cert: x509.Certificate, cls: type[x509.ExtensionType]
) -> x509.Extension[x509.ExtensionType]:
    return cert.extensions.get_extension_for_class(cls)


def san_of(cert: x509.Certificate) -> x509.SubjectAlternativeName:
    value = ext(cert, x509.SubjectAlternativeName).value
    assert isinstance(value, x509.SubjectAlternativeName)
    return value


def verify_server(
    ca: CertificateAuthority, ck: CertifiedKey, name: x509.DNSName | x509.IPAddress
) -> list[x509.Certificate]:
    store = verification.Store([ca.cert])
    verifier = verification.PolicyBuilder().store(store).build_server_verifier(name)
    return verifier.verify(ck.leaf, list(ck.chain[1:]))


def test_generate_private_key_kinds() -> None:
    assert isinstance(generate_private_key(), ec.EllipticCurvePrivateKey)
    p256 = generate_private_key("ec-p256")
    assert isinstance(p256, ec.EllipticCurvePrivateKey)
    assert p256.curve.name == "secp256r1"
    p384 = generate_private_key("ec-p384")
    assert isinstance(p384, ec.EllipticCurvePrivateKey)
    assert p384.curve.name == "secp384r1"
    rsa_key = generate_private_key("rsa-2048")
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    assert rsa_key.key_size == 2048
    assert isinstance(generate_private_key("ed25519"), ed25519.Ed25519PrivateKey)


def test_unknown_key_kind_is_refused() -> None:
    with pytest.raises(UnsupportedKeyError, match="unknown key kind"):
        generate_private_key("dsa-1024")  # type: ignore[arg-type]


def test_weak_or_foreign_keys_are_refused(ca: CertificateAuthority) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(UnsupportedKeyError, match="too weak"):
        ca.issue_leaf(["a.example"], key=weak)
    with pytest.raises(UnsupportedKeyError, match="curve"):
        ca.issue_leaf(["a.example"], key=ec.generate_private_key(ec.SECP256K1()))


def test_ca_certificate_extensions(ca: CertificateAuthority) -> None:
    cert = ca.cert
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical
    assert bc.value == x509.BasicConstraints(ca=True, path_length=0)
    ku = ext(cert, x509.KeyUsage)
    assert ku.critical
    assert isinstance(ku.value, x509.KeyUsage)
    assert ku.value.key_cert_sign
    assert ku.value.crl_sign
    assert not ku.value.digital_signature
    ski = ext(cert, x509.SubjectKeyIdentifier).value
    aki = ext(cert, x509.AuthorityKeyIdentifier).value
    assert isinstance(ski, x509.SubjectKeyIdentifier)
    assert isinstance(aki, x509.AuthorityKeyIdentifier)
    assert aki.key_identifier == ski.digest
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "pyrama test CA"
    assert ca.is_root


def test_leaf_extensions(ca: CertificateAuthority) -> None:
    ck = ca.issue_leaf(["www.example.com", "example.com"], ["192.0.2.7", "2001:db8::1"])
    leaf = ck.leaf
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "www.example.com"
    assert leaf.issuer == ca.cert.subject
    bc = ext(leaf, x509.BasicConstraints)
    assert bc.critical
    assert bc.value == x509.BasicConstraints(ca=False, path_length=None)
    ku = ext(leaf, x509.KeyUsage).value
    assert isinstance(ku, x509.KeyUsage)
    assert ku.digital_signature
    assert not ku.key_encipherment  # ECDSA
    assert not ku.key_cert_sign
    eku = ext(leaf, x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]  # type: ignore[call-overload]
    san = san_of(leaf)
    assert san.get_values_for_type(x509.DNSName) == ["www.example.com", "example.com"]
    assert san.get_values_for_type(x509.IPAddress) == [
        IPv4Address("192.0.2.7"),
        IPv6Address("2001:db8::1"),
    ]
    aki = ext(leaf, x509.AuthorityKeyIdentifier).value
    ca_ski = ext(ca.cert, x509.SubjectKeyIdentifier).value
    assert isinstance(aki, x509.AuthorityKeyIdentifier)
    assert isinstance(ca_ski, x509.SubjectKeyIdentifier)
    assert aki.key_identifier == ca_ski.digest
    # A root CA is not sent: the chain is the leaf alone.
    assert ck.chain == (leaf,)
    assert ck.dns_names() == ["www.example.com", "example.com"]


def test_leaf_serial_is_random_and_128_bit(ca: CertificateAuthority) -> None:
    serials = {ca.issue_leaf(["a.example"]).leaf.serial_number for _ in range(8)}
    assert len(serials) == 8
    for s in serials:
        assert 0 < s < 2**127


def test_leaf_validity_window(ca: CertificateAuthority) -> None:
    before = dt.datetime.now(dt.UTC)
    ck = ca.issue_leaf(["a.example"], validity=dt.timedelta(days=30))
    leaf = ck.leaf
    assert leaf.not_valid_before_utc < before - dt.timedelta(minutes=30)
    assert leaf.not_valid_before_utc >= ca.cert.not_valid_before_utc
    delta = leaf.not_valid_after_utc - before
    assert dt.timedelta(days=29, hours=23) < delta <= dt.timedelta(days=30, seconds=5)


def test_leaf_never_outlives_its_ca() -> None:
    short = CertificateAuthority.generate("short CA", validity=dt.timedelta(days=2))
    ck = short.issue_leaf(["a.example"], validity=dt.timedelta(days=365))
    assert ck.leaf.not_valid_after_utc == short.cert.not_valid_after_utc


def test_bad_validity_is_refused(ca: CertificateAuthority) -> None:
    with pytest.raises(CertificateError, match="positive timedelta"):
        ca.issue_leaf(["a.example"], validity=dt.timedelta(0))
    with pytest.raises(CertificateError, match="positive timedelta"):
        CertificateAuthority.generate(validity=dt.timedelta(days=-1))


def test_rsa_leaf_has_key_encipherment(ca: CertificateAuthority) -> None:
    ck = ca.issue_leaf(["rsa.example"], key_kind="rsa-2048")
    ku = ext(ck.leaf, x509.KeyUsage).value
    assert isinstance(ku, x509.KeyUsage)
    assert ku.digital_signature
    assert ku.key_encipherment


def test_client_auth_option(ca: CertificateAuthority) -> None:
    both = ca.issue_leaf(["client.example"], client_auth=True)
    eku = ext(both.leaf, x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}  # type: ignore[call-overload]
    client_only = ca.issue_leaf(["client.example"], server_auth=False, client_auth=True)
    eku2 = ext(client_only.leaf, x509.ExtendedKeyUsage).value
    assert list(eku2) == [ExtendedKeyUsageOID.CLIENT_AUTH]  # type: ignore[call-overload]
    with pytest.raises(CertificateError, match="server_auth, client_auth"):
        ca.issue_leaf(["x.example"], server_auth=False)


def test_client_cert_verifies_with_client_verifier(ca: CertificateAuthority) -> None:
    ck = ca.issue_leaf(["client.example"], server_auth=False, client_auth=True)
    verifier = (
        verification.PolicyBuilder().store(verification.Store([ca.cert])).build_client_verifier()
    )
    verified = verifier.verify(ck.leaf, [])
    assert verified.chain[-1] == ca.cert


@pytest.mark.parametrize(
    "name",
    [x509.DNSName("www.example.com"), x509.DNSName("example.com")],
)
def test_leaf_verifies_for_dns_names(ca: CertificateAuthority, name: x509.DNSName) -> None:
    ck = ca.issue_leaf(["www.example.com", "example.com"])
    chain = verify_server(ca, ck, name)
    assert chain == [ck.leaf, ca.cert]


@pytest.mark.parametrize("ip", ["127.0.0.1", "::1", "192.0.2.1"])
def test_leaf_verifies_for_ips(ca: CertificateAuthority, ip: str) -> None:
    ck = ca.issue_leaf(["localhost", "127.0.0.1"], ["::1", "192.0.2.1"])
    chain = verify_server(ca, ck, x509.IPAddress(ip_address(ip)))
    assert chain[0] == ck.leaf


def test_leaf_does_not_verify_for_other_names(ca: CertificateAuthority) -> None:
    ck = ca.issue_leaf(["www.example.com"], ["127.0.0.1"])
    with pytest.raises(verification.VerificationError):
        verify_server(ca, ck, x509.DNSName("evil.example.com"))
    with pytest.raises(verification.VerificationError):
        verify_server(ca, ck, x509.IPAddress(ip_address("127.0.0.2")))


def test_leaf_does_not_verify_against_another_ca(ca: CertificateAuthority) -> None:
    other = CertificateAuthority.generate("other CA")
    ck = other.issue_leaf(["www.example.com"])
    with pytest.raises(verification.VerificationError):
        verify_server(ca, ck, x509.DNSName("www.example.com"))


def test_leaf_cannot_act_as_a_ca(ca: CertificateAuthority) -> None:
    leaf = ca.issue_leaf(["sub.example"])
    with pytest.raises(CertificateError, match="not a CA"):
        CertificateAuthority(leaf.leaf, leaf.key)


def test_wildcard_leaf_verifies_for_one_label(ca: CertificateAuthority) -> None:
    ck = ca.issue_leaf(["*.example.com"])
    assert verify_server(ca, ck, x509.DNSName("a.example.com"))[0] == ck.leaf
    with pytest.raises(verification.VerificationError):
        verify_server(ca, ck, x509.DNSName("a.b.example.com"))


def test_unicode_names_become_a_labels(ca: CertificateAuthority) -> None:
    ck = ca.issue_leaf(["bücher.example", Domain("Straße.example")])
    names = ck.dns_names()
    assert names[0] == "xn--bcher-kva.example"
    assert names[1].endswith(".example")
    assert names[1].isascii()


def test_names_are_deduplicated_and_ip_text_goes_to_ip_entries(ca: CertificateAuthority) -> None:
    ck = ca.issue_leaf(["A.example", "a.example.", "10.0.0.1", "[::1]"], ["10.0.0.1", "::1%lo"])
    san = san_of(ck.leaf)
    assert san.get_values_for_type(x509.DNSName) == ["a.example"]
    assert san.get_values_for_type(x509.IPAddress) == [ip_address("10.0.0.1"), ip_address("::1")]


def test_ip_only_leaf_uses_ip_as_common_name(ca: CertificateAuthority) -> None:
    ck = ca.issue_leaf(ips=["127.0.0.1"])
    assert ck.leaf.subject.rfc4514_string() == "CN=127.0.0.1"
    assert ck.dns_names() == []


def test_long_name_has_no_cn_and_a_critical_san(ca: CertificateAuthority) -> None:
    long_name = "a" * 60 + ".example.com"
    ck = ca.issue_leaf([long_name])
    assert len(ck.leaf.subject) == 0
    san = ext(ck.leaf, x509.SubjectAlternativeName)
    assert san.critical
    assert verify_server(ca, ck, x509.DNSName(long_name))[0] == ck.leaf
    short = ca.issue_leaf(["short.example"])
    assert not ext(short.leaf, x509.SubjectAlternativeName).critical


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "exa mple.com",
        "-bad.example",
        "a..b",
        "*.com",
        "*",
        "a.*.example",
        "1.2.3.999",
        "x" * 300,
    ],
)
def test_invalid_names_are_refused(ca: CertificateAuthority, bad: str) -> None:
    with pytest.raises(CertificateNameError):
        ca.issue_leaf([bad])


def test_invalid_ip_is_refused(ca: CertificateAuthority) -> None:
    with pytest.raises(CertificateNameError, match="IP address"):
        ca.issue_leaf(["a.example"], ["not-an-ip"])


def test_no_names_is_refused(ca: CertificateAuthority) -> None:
    with pytest.raises(CertificateNameError, match="at least one"):
        ca.issue_leaf([])
    assert issubclass(CertificateNameError, TlsError)


def test_self_signed_leaf() -> None:
    ck = self_signed_leaf(["localhost", "127.0.0.1"], ["::1"])
    leaf = ck.leaf
    assert leaf.subject == leaf.issuer
    assert leaf.subject.rfc4514_string() == "CN=localhost"
    bc = ext(leaf, x509.BasicConstraints).value
    assert isinstance(bc, x509.BasicConstraints)
    assert not bc.ca
    leaf.verify_directly_issued_by(leaf)
    san = san_of(leaf)
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ip_address("127.0.0.1"), ip_address("::1")]
    aki = ext(leaf, x509.AuthorityKeyIdentifier).value
    ski = ext(leaf, x509.SubjectKeyIdentifier).value
    assert isinstance(aki, x509.AuthorityKeyIdentifier)
    assert isinstance(ski, x509.SubjectKeyIdentifier)
    assert aki.key_identifier == ski.digest


def test_self_signed_leaf_default_and_given_key() -> None:
    key = generate_private_key("rsa-2048")
    ck = self_signed_leaf(key=key)
    assert ck.key is key
    assert ck.dns_names() == ["localhost"]
    long_only = self_signed_leaf(["b" * 62 + ".example"])
    assert long_only.leaf.subject.rfc4514_string() == "CN=pyrama self-signed"


@pytest.mark.parametrize("kind", ["ec-p256", "ec-p384", "rsa-2048", "ed25519"])
def test_key_kinds_sign_and_certify(kind: str) -> None:
    authority = CertificateAuthority.generate("kind CA", key_kind=kind)  # type: ignore[arg-type]
    ck = authority.issue_leaf(["kind.example"], key_kind=kind)  # type: ignore[arg-type]
    ck.leaf.verify_directly_issued_by(authority.cert)


def test_certified_key_checks_the_key_matches(ca: CertificateAuthority) -> None:
    ck = ca.issue_leaf(["a.example"])
    other = generate_private_key()
    with pytest.raises(KeyMismatchError, match="does not match"):
        CertifiedKey([ck.leaf], other)
    with pytest.raises(CertificateError, match="at least one"):
        CertifiedKey([], ck.key)
    with pytest.raises(CertificateError, match=r"x509\.Certificate"):
        CertifiedKey([b"not a cert"], ck.key)  # type: ignore[list-item]


def test_ca_checks_the_key_matches(ca: CertificateAuthority) -> None:
    with pytest.raises(KeyMismatchError):
        CertificateAuthority(ca.cert, generate_private_key())


def test_pem_accessors(ca: CertificateAuthority) -> None:
    ck = ca.issue_leaf(["a.example"])
    assert ck.cert_pem().startswith(b"-----BEGIN CERTIFICATE-----")
    assert x509.load_pem_x509_certificate(ck.cert_pem()) == ck.leaf
    assert ck.chain_pem() == ck.cert_pem()
    key = serialization.load_pem_private_key(ck.key_pem(), None)
    assert key.public_key() == ck.key.public_key()
    encrypted = ck.key_pem("s3cret")
    assert b"ENCRYPTED PRIVATE KEY" in encrypted
    assert serialization.load_pem_private_key(encrypted, b"s3cret").public_key() == (
        ck.key.public_key()
    )
    with pytest.raises(CertificateError, match="empty password"):
        ck.key_pem("")
    assert x509.load_pem_x509_certificate(ca.cert_pem()) == ca.cert
    assert b"PRIVATE KEY" in ca.key_pem()


def test_spki_sha256_pins(ca: CertificateAuthority) -> None:
    ck = ca.issue_leaf(["a.example"])
    der = ck.leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(der).digest()
    pin = ck.spki_sha256()
    assert pin.digest == digest
    assert pin.hex == digest.hex()
    assert base64.b64decode(pin.base64) == digest
    assert str(pin) == "sha256//" + pin.base64
    assert ca.spki_sha256().digest != digest


def test_to_pyopenssl(ca: CertificateAuthority) -> None:
    ck = ca.issue_leaf(["a.example"])
    certs, pkey = ck.to_pyopenssl()
    assert isinstance(pkey, crypto.PKey)
    assert [c.to_cryptography() for c in certs] == list(ck.chain)
    assert ck.to_pyopenssl() is ck.to_pyopenssl()  # converted once
    back = pkey.to_cryptography_key()
    assert isinstance(back, ec.EllipticCurvePrivateKey)
    assert back.public_key() == ck.key.public_key()


def test_use_in_context(ca: CertificateAuthority) -> None:
    ck = ca.issue_leaf(["a.example"])
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ck.use_in_context(ctx)


def test_repr_names_subject(ca: CertificateAuthority) -> None:
    ck = ca.issue_leaf(["a.example"])
    assert "CN=a.example" in repr(ck)
    assert "pyrama test CA" in repr(ca)
