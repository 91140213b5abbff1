"""Trust store discovery: environment, system locations, certifi fallback."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi
import pytest
from OpenSSL import SSL

from pyrama_tls import CertificateAuthority, ca_bundle_path, default_verify_paths
from pyrama_tls import _trust as trust
from pyrama_tls.errors import CertificateError


@pytest.fixture(scope="module")
def ca_pem() -> bytes:
    return CertificateAuthority.generate("trust test CA").cert_pem()


@pytest.fixture
def no_system_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Pretend the machine has no trust store at all."""
    missing = str(tmp_path / "missing")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setattr(
        ssl,
        "get_default_verify_paths",
        lambda: ssl.DefaultVerifyPaths(
            missing, missing, "SSL_CERT_FILE", missing, "SSL_CERT_DIR", missing
        ),
    )
    monkeypatch.setattr(trust, "_WELL_KNOWN_FILES", (missing,))
    monkeypatch.setattr(trust, "_dir_has_certs", lambda path: False)


def test_env_file_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ca_pem: bytes) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"# my roots\n" + ca_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    paths = default_verify_paths()
    assert paths.cafile == str(bundle)
    assert paths.capath is None
    assert paths.source == "env"
    assert ca_bundle_path() == str(bundle)


def test_env_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ca_pem: bytes) -> None:
    hashed = tmp_path / "certs"
    hashed.mkdir()
    (hashed / "README").write_text("not a cert")
    (hashed / "1a2b3c4d.0").write_bytes(ca_pem)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", str(hashed))
    paths = default_verify_paths()
    assert (paths.cafile, paths.capath, paths.source) == (None, str(hashed), "env")


def test_env_without_certs_falls_through(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_system_store: None
) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    paths = default_verify_paths()
    assert paths.source == "certifi"
    assert paths.cafile == certifi.where()


def test_certifi_fallback(no_system_store: None) -> None:
    paths = default_verify_paths()
    assert paths == trust.VerifyPaths(cafile=certifi.where(), capath=None, source="certifi")
    assert ca_bundle_path() == certifi.where()


def test_system_store_is_used_when_it_has_certs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ca_pem: bytes, no_system_store: None
) -> None:
    system = tmp_path / "system.pem"
    system.write_bytes(ca_pem)
    monkeypatch.setattr(trust, "_WELL_KNOWN_FILES", (str(tmp_path / "nope"), str(system)))
    paths = default_verify_paths()
    assert (paths.cafile, paths.source) == (str(system), "system")


def test_hashed_dir_only_store_gives_certifi_bundle_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ca_pem: bytes, no_system_store: None
) -> None:
    monkeypatch.setattr(trust, "_dir_has_certs", lambda path: path == "/etc/ssl/certs")
    paths = default_verify_paths()
    assert (paths.cafile, paths.capath, paths.source) == (None, "/etc/ssl/certs", "system")
    assert ca_bundle_path() == certifi.where()


def test_real_machine_store_has_certificates() -> None:
    paths = default_verify_paths()
    assert paths.cafile or paths.capath
    bundle = ca_bundle_path()
    assert b"-----BEGIN CERTIFICATE-----" in Path(bundle).read_bytes()


def test_load_into_pyopenssl_context(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ca_pem: bytes
) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(ca_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    default_verify_paths().load_into(ctx)
    store = ctx.get_cert_store()
    assert store is not None
    broken = trust.VerifyPaths(cafile=str(tmp_path / "absent.pem"), capath=None, source="env")
    with pytest.raises(CertificateError, match="cannot load trusted certificates"):
        broken.load_into(ctx)


def test_ssl_context(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ca_pem: bytes) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(ca_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    ctx = default_verify_paths().ssl_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname
    assert len(ctx.get_ca_certs()) == 1
