"""PEM load/save: round trips, atomic 0600 key files, and clear loading errors."""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed448
from cryptography.x509.oid import NameOID

from pyrama_testing import require_peer
from pyrama_tls import (
    CertificateAuthority,
    CertifiedKey,
    certified_key_from_pem,
    generate_private_key,
    load_certified_key,
    save_certified_key,
    self_signed_leaf,
)
from pyrama_tls._certs import random_serial, utc_now
from pyrama_tls._pem import MAX_PEM_FILE_SIZE, parse_certificates, parse_private_key
from pyrama_tls.errors import (
    CertificateError,
    CertificateFileError,
    KeyMismatchError,
    KeyPasswordError,
    PemError,
    TlsError,
    UnsupportedKeyError,
)


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.generate("pem test CA")


@pytest.fixture(scope="module")
def leaf(ca: CertificateAuthority) -> CertifiedKey:
    return ca.issue_leaf(["pem.example"], ["127.0.0.1"])


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def mode_of(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def same(a: CertifiedKey, b: CertifiedKey) -> bool:
    return a.chain == b.chain and a.key.public_key() == b.key.public_key()


def test_save_and_load_round_trip(tmp_path: Path, leaf: CertifiedKey) -> None:
    cert, key = tmp_path / "leaf.pem", tmp_path / "leaf-key.pem"
    save_certified_key(leaf, cert, key)
    loaded = load_certified_key(cert, key)
    assert same(loaded, leaf)
    assert cert.read_bytes() == leaf.chain_pem()
    assert mode_of(key) == 0o600
    assert mode_of(cert) == 0o644


def test_round_trip_with_password(tmp_path: Path, leaf: CertifiedKey) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    save_certified_key(leaf, cert, key, password="hunter2")
    assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
    assert same(load_certified_key(cert, key, password="hunter2"), leaf)
    assert same(load_certified_key(cert, key, password=b"hunter2"), leaf)


@pytest.mark.parametrize("mask", [0o000, 0o002, 0o077, 0o277])
@pytest.mark.usefixtures("umask")
def test_key_file_is_0600_whatever_the_umask(tmp_path: Path, leaf: CertifiedKey, mask: int) -> None:
    os.umask(mask)
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    save_certified_key(leaf, cert, key)
    assert mode_of(key) == 0o600
    assert mode_of(cert) == 0o644


@pytest.mark.usefixtures("umask")
def test_key_file_never_exists_with_wider_mode(
    tmp_path: Path, leaf: CertifiedKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.umask(0o000)
    real_open = os.open
    seen: list[tuple[str, int, int]] = []

    def spying_open(path: Any, flags: int, mode: int = 0o777, *args: Any, **kw: Any) -> int:
        fd = real_open(path, flags, mode, *args, **kw)
        if str(path).startswith(str(tmp_path)) and flags & os.O_CREAT:
            # Right after creation, before any data or chmod: already 0600.
            seen.append((str(path), flags, stat.S_IMODE(os.fstat(fd).st_mode)))
        return fd

    monkeypatch.setattr(os, "open", spying_open)
    key = tmp_path / "k.pem"
    save_certified_key(leaf, tmp_path / "c.pem", key)
    monkeypatch.undo()
    key_creations = [s for s in seen if Path(s[0]).name.startswith(".k.pem.")]
    assert len(key_creations) == 1
    _, flags, created_mode = key_creations[0]
    assert flags & os.O_EXCL
    assert created_mode == 0o600
    # The temporary file was renamed over the target: nothing else left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pem", "k.pem"]


def test_overwriting_a_world_readable_key_file_makes_it_0600(
    tmp_path: Path, leaf: CertifiedKey
) -> None:
    key = tmp_path / "k.pem"
    key.write_bytes(b"old")
    key.chmod(0o666)
    save_certified_key(leaf, tmp_path / "c.pem", key)
    assert mode_of(key) == 0o600
    assert b"PRIVATE KEY" in key.read_bytes()


def test_write_into_missing_directory_raises_file_error(tmp_path: Path, leaf: CertifiedKey) -> None:
    missing = tmp_path / "nope" / "k.pem"
    with pytest.raises(CertificateFileError, match="cannot write") as info:
        save_certified_key(leaf, tmp_path / "c.pem", missing)
    assert info.value.path == str(missing)
    assert isinstance(info.value.__cause__, OSError)


def test_key_and_chain_in_one_file(tmp_path: Path, leaf: CertifiedKey) -> None:
    both = tmp_path / "both.pem"
    both.write_bytes(leaf.chain_pem() + leaf.key_pem())
    assert same(load_certified_key(both), leaf)
    key_first = tmp_path / "key-first.pem"
    key_first.write_bytes(leaf.key_pem() + leaf.chain_pem())
    assert same(load_certified_key(key_first), leaf)


def make_intermediate(root: CertificateAuthority) -> CertificateAuthority:
    key = generate_private_key()
    now = utc_now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intermediate")]))
        .issuer_name(root.cert.subject)
        .public_key(key.public_key())
        .serial_number(random_serial())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root.key, hashes.SHA256())
    )
    return CertificateAuthority(cert, key)


def test_chain_order_is_kept(tmp_path: Path, ca: CertificateAuthority) -> None:
    inter = make_intermediate(ca)
    assert not inter.is_root
    ck = inter.issue_leaf(["deep.example"])
    assert ck.chain == (ck.leaf, inter.cert)
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    save_certified_key(ck, cert, key)
    assert load_certified_key(cert, key).chain == ck.chain


def test_mismatched_key_is_detected(tmp_path: Path, leaf: CertifiedKey) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    save_certified_key(leaf, cert, key)
    other = self_signed_leaf(["other.example"])
    key.write_bytes(other.key_pem())
    with pytest.raises(KeyMismatchError, match="does not match"):
        load_certified_key(cert, key)
    with pytest.raises(KeyMismatchError):
        certified_key_from_pem(leaf.chain_pem(), other.key_pem())


def test_wrong_password(tmp_path: Path, leaf: CertifiedKey) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    save_certified_key(leaf, cert, key, password="right")
    with pytest.raises(KeyPasswordError, match="wrong password"):
        load_certified_key(cert, key, password="wrong")
    with pytest.raises(KeyPasswordError, match="password is needed"):
        load_certified_key(cert, key)


def test_password_for_a_plain_key_is_refused(tmp_path: Path, leaf: CertifiedKey) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    save_certified_key(leaf, cert, key)
    with pytest.raises(KeyPasswordError, match="plain"):
        load_certified_key(cert, key, password="pw")


def test_traditional_openssl_keys_load(leaf: CertifiedKey) -> None:
    rsa_leaf = self_signed_leaf(["rsa.example"], key_kind="rsa-2048")
    plain = rsa_leaf.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert plain.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert same(certified_key_from_pem(rsa_leaf.chain_pem(), plain), rsa_leaf)
    encrypted = rsa_leaf.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"pw"),
    )
    assert b"Proc-Type: 4,ENCRYPTED" in encrypted
    assert same(certified_key_from_pem(rsa_leaf.chain_pem(), encrypted, b"pw"), rsa_leaf)
    with pytest.raises(KeyPasswordError):
        certified_key_from_pem(rsa_leaf.chain_pem(), encrypted)
    with pytest.raises(KeyPasswordError):
        certified_key_from_pem(rsa_leaf.chain_pem(), encrypted, b"nope")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n",
    ],
)
def test_bad_certificate_pem(data: bytes) -> None:
    with pytest.raises(PemError):
        parse_certificates(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
    ],
)
def test_bad_key_pem(data: bytes) -> None:
    with pytest.raises(PemError):
        parse_private_key(data)


def test_key_file_without_key(tmp_path: Path, leaf: CertifiedKey) -> None:
    cert = tmp_path / "c.pem"
    cert.write_bytes(leaf.chain_pem())
    with pytest.raises(PemError, match="no PEM private key"):
        load_certified_key(cert)
    key_only = tmp_path / "k.pem"
    key_only.write_bytes(leaf.key_pem())
    with pytest.raises(PemError, match="no valid PEM certificate"):
        load_certified_key(key_only, key_only)


def test_unsupported_key_type_is_refused(leaf: CertifiedKey) -> None:
    pem = ed448.Ed448PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(UnsupportedKeyError):
        parse_private_key(pem)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CertificateFileError, match="cannot read") as info:
        load_certified_key(tmp_path / "absent.pem", tmp_path / "absent-key.pem")
    assert info.value.path == str(tmp_path / "absent.pem")
    assert isinstance(info.value.__cause__, FileNotFoundError)
    assert isinstance(info.value, CertificateError)
    assert isinstance(info.value, TlsError)


def test_oversized_file_is_refused(tmp_path: Path, leaf: CertifiedKey) -> None:
    big = tmp_path / "big.pem"
    big.write_bytes(leaf.chain_pem() + b"#" * MAX_PEM_FILE_SIZE)
    with pytest.raises(PemError, match="larger than"):
        load_certified_key(big, big)
    # Exactly at the limit still loads.
    fits = tmp_path / "fits.pem"
    body = leaf.chain_pem() + leaf.key_pem()
    fits.write_bytes(body + b"\n" * (MAX_PEM_FILE_SIZE - len(body)))
    assert same(load_certified_key(fits), leaf)


def test_ca_save_and_load_directory(tmp_path: Path, ca: CertificateAuthority) -> None:
    directory = tmp_path / "ca"
    cert_path, key_path = ca.save(directory)
    assert Path(cert_path) == directory / "ca-cert.pem"
    assert Path(key_path) == directory / "ca-key.pem"
    assert mode_of(key_path) == 0o600
    assert mode_of(cert_path) == 0o644
    assert mode_of(directory) & 0o077 == 0
    loaded = CertificateAuthority.load(directory)
    assert loaded.cert == ca.cert
    assert loaded.key.public_key() == ca.key.public_key()
    # The loaded CA issues leaves that chain to the original.
    loaded.issue_leaf(["again.example"]).leaf.verify_directly_issued_by(ca.cert)


def test_ca_save_and_load_paths_with_password(tmp_path: Path, ca: CertificateAuthority) -> None:
    cert, key = tmp_path / "my-ca.crt", tmp_path / "my-ca.key"
    ca.save(cert, key, password="pw")
    assert mode_of(key) == 0o600
    assert CertificateAuthority.load(cert, key, password="pw").cert == ca.cert
    with pytest.raises(KeyPasswordError):
        CertificateAuthority.load(cert, key, password="bad")


def test_ca_load_refuses_a_leaf(tmp_path: Path, leaf: CertifiedKey) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    save_certified_key(leaf, cert, key)
    with pytest.raises(CertificateError, match="not a CA"):
        CertificateAuthority.load(cert, key)


def test_ca_load_refuses_a_mismatched_key(tmp_path: Path, ca: CertificateAuthority) -> None:
    directory = tmp_path / "ca"
    ca.save(directory)
    (directory / "ca-key.pem").write_bytes(CertificateAuthority.generate().key_pem())
    with pytest.raises(KeyMismatchError):
        CertificateAuthority.load(directory)


def test_ca_load_or_generate_persists(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "ca"
    first = CertificateAuthority.load_or_generate(directory, "persisted CA")
    assert (directory / "ca-key.pem").exists()
    second = CertificateAuthority.load_or_generate(directory, "ignored name")
    assert second.cert == first.cert
    assert "persisted CA" in second.cert.subject.rfc4514_string()


def test_ca_load_or_generate_refuses_half_a_ca(tmp_path: Path, ca: CertificateAuthority) -> None:
    directory = tmp_path / "ca"
    ca.save(directory)
    (directory / "ca-key.pem").unlink()
    with pytest.raises(CertificateFileError, match=r"ca-key\.pem"):
        CertificateAuthority.load_or_generate(directory)
    assert not (directory / "ca-key.pem").exists()  # nothing was overwritten or generated


def test_openssl_reads_saved_files(tmp_path: Path, leaf: CertifiedKey) -> None:
    openssl = require_peer("openssl")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    save_certified_key(leaf, cert, key, password="pw")
    out = subprocess.run(
        [openssl, "pkey", "-in", str(key), "-passin", "pass:pw", "-pubout"],
        capture_output=True,
        check=True,
    ).stdout
    assert serialization.load_pem_public_key(out) == leaf.key.public_key()
    text = subprocess.run(
        [openssl, "x509", "-in", str(cert), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    assert "DNS:pem.example" in text
    assert "IP Address:127.0.0.1" in text
