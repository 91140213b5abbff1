"""The pieces behind the TLS commands, in process: flag parsing, configuration, reporting."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrama.cli import build_parser
from pyrama.cli._probe import _sni, _target, certificate_facts
from pyrama.cli._tls_options import (
    DEFAULT_CERT_NAMES,
    alpn_list,
    client_tls,
    reject_server_tls_flags,
    server_tls,
)
from pyrama_core.errors import ConfigError
from pyrama_tls import CertificateAuthority, ClientAuth, self_signed_leaf, spki_sha256_of

_NAME = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters=","),
    min_size=1,
    max_size=40,
)


@given(st.lists(_NAME, min_size=1, max_size=6))
def test_alpn_list_round_trips_any_comma_separated_names(names: list[str]) -> None:
    assert alpn_list(",".join(names)) == names


@pytest.mark.parametrize("text", ["", ",", "h2,", ",h2", "h2,,http/1.1", "h 2", "h2\x00", "é"])
def test_alpn_list_refuses_empty_or_non_printable_names(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        alpn_list(text)


def test_alpn_list_limits_a_name_to_255_bytes() -> None:
    assert alpn_list("x" * 255) == ["x" * 255]
    with pytest.raises(argparse.ArgumentTypeError):
        alpn_list("x" * 256)


def _echo_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", "echo", *argv])


def test_server_tls_self_signed_defaults() -> None:
    args = _echo_args("--mode", "tls", "--alpn", "h2", "--alpn", "http/1.1")
    tls = server_tls(args)
    assert tls.details["certificate"] == "self-signed for " + ", ".join(DEFAULT_CERT_NAMES)
    assert tls.details["alpn"] == "h2,http/1.1"
    assert tls.details["spki_sha256"] == str(tls.certified_key.spki_sha256())
    assert tls.data.alpn == (b"h2", b"http/1.1")
    assert tls.data.handshake_timeout == 10.0
    assert tls.data.client_auth is ClientAuth.NONE
    assert tls.certified_key.dns_names() == ["localhost"]


def test_server_tls_peeks_the_client_hello_unless_told_not_to() -> None:
    args = _echo_args("--mode", "tls")
    assert server_tls(args).data.peek_client_hello is True  # echo reads it (fingerprints)
    # a pure terminator (stunnel exit) has no use for it
    assert server_tls(args, peek_client_hello=False).data.peek_client_hello is False


def test_server_tls_names_client_ca_and_timeout(tmp_path: object) -> None:
    args = _echo_args(
        "--mode",
        "tls",
        "--cert-name",
        "a.test",
        "--cert-name",
        "10.0.0.1",
        "--client-ca",
        "/some/ca.pem",
        "--handshake-timeout",
        "2.5",
    )
    tls = server_tls(args)
    assert tls.certified_key.dns_names() == ["a.test"]
    assert tls.details["certificate"] == "self-signed for a.test, 10.0.0.1"
    assert tls.data.client_auth is ClientAuth.REQUIRED
    assert tls.data.client_ca_file == "/some/ca.pem"
    assert tls.data.handshake_timeout == 2.5


def test_server_tls_refuses_cert_name_with_cert() -> None:
    args = _echo_args("--mode", "tls", "--cert", "x.pem", "--cert-name", "a.test")
    with pytest.raises(ConfigError, match="--cert-name"):
        server_tls(args)


def test_reject_server_tls_flags_names_every_given_flag() -> None:
    reject_server_tls_flags(_echo_args("--mode", "tcp"), "tcp")  # nothing given: fine
    args = _echo_args("--mode", "tcp", "--cert", "c.pem", "--handshake-timeout", "1")
    with pytest.raises(ConfigError, match=r"--cert, --handshake-timeout: only with --mode tls"):
        reject_server_tls_flags(args, "tcp")


def test_client_tls_maps_every_flag() -> None:
    args = build_parser().parse_args(
        [
            "probe",
            "tls",
            "example.com",
            "--ca",
            "/ca.pem",
            "--server-name",
            "other.test",
            "--alpn",
            "h2,http/1.1",
            "--pin",
            "ab" * 32,
            "--handshake-timeout",
            "3",
        ]
    )
    data = client_tls(args)
    assert data.ca_file == "/ca.pem"
    assert data.server_name == "other.test"
    assert data.alpn == (b"h2", b"http/1.1")
    assert data.pins == (bytes.fromhex("ab" * 32),)
    assert data.handshake_timeout == 3.0
    assert data.insecure is False
    assert data.session_resumption is False
    assert data.trusts_system_store is False


def test_client_tls_bad_pin_is_a_config_error() -> None:
    args = build_parser().parse_args(["probe", "tls", "example.com", "--pin", "nope"])
    with pytest.raises(ConfigError, match="pin"):
        client_tls(args)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.com", "example.com:443"),
        ("example.com:8443", "example.com:8443"),
        ("127.0.0.1", "127.0.0.1:443"),
        ("[::1]:9443", "[::1]:9443"),
        ("https://example.com/path?q", "example.com:443"),
        ("https://user@example.com:8443/", "example.com:8443"),
    ],
)
def test_probe_target_forms(text: str, expected: str) -> None:
    assert str(_target(text)) == expected


@pytest.mark.parametrize("text", ["http://example.com/", "example.com:0x1", "", "https:///"])
def test_probe_target_refuses_bad_forms(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        _target(text)


def test_sni_is_none_for_ip_literals() -> None:
    assert _sni("example.com") == "example.com"
    assert _sni("127.0.0.1") is None
    assert _sni("::1") is None
    assert _sni("[::1]") is None
    assert _sni(None) is None


def test_certificate_facts_of_a_ca_issued_leaf() -> None:
    ca = CertificateAuthority.generate("facts CA")
    leaf = ca.issue_leaf(["a.test", "10.1.2.3"], validity=dt.timedelta(days=30)).leaf
    now = dt.datetime.now(dt.UTC)
    facts = certificate_facts(leaf, now)
    assert facts["subject"] == "CN=a.test"
    assert facts["issuer"] == "CN=facts CA"
    assert facts["sans"] == ["DNS:a.test", "IP:10.1.2.3"]
    assert facts["days_left"] in (29, 30)
    assert facts["expired"] is False
    assert facts["not_yet_valid"] is False
    assert facts["is_ca"] is False
    assert facts["self_signed"] is False
    assert facts["key"] == "EC secp256r1"
    assert facts["spki_sha256_hex"] == spki_sha256_of(leaf).hex()
    assert facts["serial"] == format(leaf.serial_number, "x")
    # later than notAfter: expired, negative days left
    later = certificate_facts(leaf, now + dt.timedelta(days=40))
    assert later["expired"] is True
    assert later["days_left"] < 0
    assert certificate_facts(ca.cert, now)["is_ca"] is True
    assert certificate_facts(self_signed_leaf(["x.test"]).leaf, now)["self_signed"] is True


def test_pyrama_tls_is_pyrama_tls() -> None:
    import pyrama
    import pyrama_tls

    assert pyrama.tls is pyrama_tls
    from pyrama.tls import TlsAcceptorLayer

    assert TlsAcceptorLayer is pyrama_tls.TlsAcceptorLayer
