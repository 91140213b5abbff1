"""Issued certificates checked by real peers: `openssl verify` and real TLS handshakes."""

from __future__ import annotations

import contextlib
import datetime as dt
import ssl
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL

from pyrama_testing import require_peer
from pyrama_tls import (
    CertificateAuthority,
    CertifiedKey,
    DynamicIssuer,
    default_verify_paths,
    save_certified_key,
    self_signed_leaf,
)
from pyrama_tls._certs import random_serial, utc_now
from pyrama_tls._keys import signature_hash


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.generate("cross-check CA", organization="pyrama tests")


@pytest.fixture
def ca_file(tmp_path: Path, ca: CertificateAuthority) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(ca.cert_pem())
    return path


def openssl_verify(*args: str) -> subprocess.CompletedProcess[str]:
    openssl = require_peer("openssl")
    return subprocess.run(
        [openssl, "verify", "-x509_strict", *args], capture_output=True, text=True, check=False
    )


def write_cert(tmp_path: Path, ck: CertifiedKey, name: str = "leaf.pem") -> Path:
    path = tmp_path / name
    path.write_bytes(ck.chain_pem())
    return path


@pytest.mark.parametrize("kind", ["ec-p256", "ec-p384", "rsa-2048"])
def test_openssl_verifies_dns_and_ip(
    tmp_path: Path, ca_file: Path, ca: CertificateAuthority, kind: str
) -> None:
    ck = ca.issue_leaf(["www.example.com", "127.0.0.1"], ["::1"], key_kind=kind)  # type: ignore[arg-type]
    leaf = write_cert(tmp_path, ck)
    for check in (
        ["-verify_hostname", "www.example.com"],
        ["-verify_ip", "127.0.0.1"],
        ["-verify_ip", "::1"],
    ):
        result = openssl_verify("-CAfile", str(ca_file), "-purpose", "sslserver", *check, str(leaf))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"{leaf}: OK" in result.stdout


def test_openssl_rejects_wrong_names(
    tmp_path: Path, ca_file: Path, ca: CertificateAuthority
) -> None:
    leaf = write_cert(tmp_path, ca.issue_leaf(["www.example.com"], ["127.0.0.1"]))
    bad_host = openssl_verify("-CAfile", str(ca_file), "-verify_hostname", "evil.com", str(leaf))
    assert bad_host.returncode != 0
    assert "hostname mismatch" in bad_host.stdout + bad_host.stderr
    bad_ip = openssl_verify("-CAfile", str(ca_file), "-verify_ip", "127.0.0.2", str(leaf))
    assert bad_ip.returncode != 0


def test_openssl_checks_client_purpose(
    tmp_path: Path, ca_file: Path, ca: CertificateAuthority
) -> None:
    server_only = write_cert(tmp_path, ca.issue_leaf(["s.example"]), "server.pem")
    client = write_cert(
        tmp_path, ca.issue_leaf(["c.example"], server_auth=False, client_auth=True), "client.pem"
    )
    ok = openssl_verify("-CAfile", str(ca_file), "-purpose", "sslclient", str(client))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    refused = openssl_verify("-CAfile", str(ca_file), "-purpose", "sslclient", str(server_only))
    assert refused.returncode != 0


def test_openssl_refuses_a_cert_signed_by_a_leaf(
    tmp_path: Path, ca_file: Path, ca: CertificateAuthority
) -> None:
    leaf = ca.issue_leaf(["leaf.example"])
    now = utc_now()
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "forged")]))
        .issuer_name(leaf.leaf.subject)
        .public_key(leaf.key.public_key())
        .serial_number(random_serial())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("forged.example")]), critical=False
        )
        .sign(leaf.key, signature_hash(leaf.key))
    )
    forged_path = tmp_path / "forged.pem"
    forged_path.write_bytes(forged.public_bytes(serialization.Encoding.PEM))
    untrusted = write_cert(tmp_path, leaf, "untrusted.pem")
    result = openssl_verify("-CAfile", str(ca_file), "-untrusted", str(untrusted), str(forged_path))
    assert result.returncode != 0
    assert "invalid CA certificate" in result.stdout + result.stderr


def test_openssl_accepts_the_ca_itself(tmp_path: Path, ca_file: Path) -> None:
    result = openssl_verify("-CAfile", str(ca_file), "-purpose", "any", str(ca_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_openssl_verifies_self_signed_leaf_as_its_own_anchor(tmp_path: Path) -> None:
    ck = self_signed_leaf(["localhost"], ["127.0.0.1"])
    path = write_cert(tmp_path, ck)
    result = openssl_verify("-CAfile", str(path), "-verify_hostname", "localhost", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_openssl_verifies_issuer_certificates(
    tmp_path: Path, ca_file: Path, ca: CertificateAuthority
) -> None:
    issuer = DynamicIssuer(ca, wildcard=True)
    ck = issuer.certified_key_for("api.shop.example")
    path = write_cert(tmp_path, ck)
    result = openssl_verify(
        "-CAfile", str(ca_file), "-verify_hostname", "www.shop.example", str(path)
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- real TLS handshakes (in memory, no sockets) ------------------------------------------------


def stdlib_handshake(
    client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, server_hostname: str
) -> tuple[ssl.SSLObject, ssl.SSLObject]:
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(20):
        for key, obj in (("c", client), ("s", server)):
            if not done[key]:
                try:
                    obj.do_handshake()
                    done[key] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return client, server
    raise AssertionError("handshake did not finish")


def test_stdlib_client_trusts_issued_certs_via_sni_callback(
    tmp_path: Path, ca_file: Path, ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stdlib server picks the DynamicIssuer's cert per SNI; a stdlib client verifies it."""
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    paths = default_verify_paths()
    assert paths.source == "env"
    issuer = DynamicIssuer(ca)
    contexts: dict[str, ssl.SSLContext] = {}

    def context_for(name: str) -> ssl.SSLContext:
        if name not in contexts:
            ck = issuer.certified_key_for(name)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            save_certified_key(ck, tmp_path / f"{name}.pem", tmp_path / f"{name}.key")
            ctx.load_cert_chain(tmp_path / f"{name}.pem", tmp_path / f"{name}.key")
            contexts[name] = ctx
        return contexts[name]

    def sni_callback(obj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        assert name is not None
        obj.context = context_for(name)

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.sni_callback = sni_callback
    for host in ("shop.example", "api.example.org"):
        client, _ = stdlib_handshake(paths.ssl_context(), server_ctx, host)
        peer = client.getpeercert()
        assert peer is not None
        assert ("DNS", host) in peer["subjectAltName"]
    # A client that does not trust the CA refuses the same certificate.
    other_ca = CertificateAuthority.generate("some other CA")
    untrusting = ssl.create_default_context(cadata=other_ca.cert_pem().decode())
    with pytest.raises(ssl.SSLCertVerificationError):
        stdlib_handshake(untrusting, server_ctx, "shop.example")


def test_stdlib_client_checks_ip_sans(
    tmp_path: Path, ca_file: Path, ca: CertificateAuthority
) -> None:
    ck = ca.issue_leaf(ips=["127.0.0.1"])
    save_certified_key(ck, tmp_path / "c.pem", tmp_path / "k.pem")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    client_ctx = ssl.create_default_context(cafile=str(ca_file))
    stdlib_handshake(client_ctx, server_ctx, "127.0.0.1")
    with pytest.raises(ssl.SSLCertVerificationError):
        stdlib_handshake(client_ctx, server_ctx, "127.0.0.2")


def pyopenssl_handshake(
    client_ctx: SSL.Context, server_ctx: SSL.Context, sni: bytes
) -> SSL.Connection:
    client = SSL.Connection(client_ctx)
    client.set_tlsext_host_name(sni)
    client.set_connect_state()
    server = SSL.Connection(server_ctx)
    server.set_accept_state()
    done = {"c": False, "s": False}
    for _ in range(20):
        for key, conn in (("c", client), ("s", server)):
            if not done[key]:
                try:
                    conn.do_handshake()
                    done[key] = True
                except SSL.WantReadError:
                    pass
        for src, dst in ((client, server), (server, client)):
            with contextlib.suppress(SSL.WantReadError):
                dst.bio_write(src.bio_read(65536))
        if all(done.values()):
            return client
    raise AssertionError("handshake did not finish")


def test_pyopenssl_mtls_with_issued_certs(ca_file: Path, ca: CertificateAuthority) -> None:
    server_ck = ca.issue_leaf(["mtls.example"])
    client_ck = ca.issue_leaf(["client.example"], server_auth=False, client_auth=True)
    verified: list[str] = []

    def on_verify(_c: SSL.Connection, cert: object, _err: int, depth: int, ok: int) -> bool:
        verified.append(f"{depth}:{ok}")
        return bool(ok)

    server_ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    server_ck.use_in_context(server_ctx)
    server_ctx.load_verify_locations(str(ca_file))
    server_ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, on_verify)
    client_ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    client_ck.use_in_context(client_ctx)
    client_ctx.load_verify_locations(str(ca_file))
    client_ctx.set_verify(SSL.VERIFY_PEER, on_verify)
    client = pyopenssl_handshake(client_ctx, server_ctx, b"mtls.example")
    peer = client.get_peer_certificate(as_cryptography=True)
    assert peer == server_ck.leaf
    assert "0:1" in verified
    assert all(v.endswith(":1") for v in verified)
