"""TlsConnectorLayer / tls_connect: verification, names, insecure, pins, sessions, config."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from structlog.testing import capture_logs
from tls_support import (
    client_data,
    connect,
    echo,
    pki,
    read_all,
    server_data,
    tls_server,
)

from pyrama_core import service_fn
from pyrama_core.errors import ConfigError, Side
from pyrama_net import EstablishedConnection, SocketInfo, Stream
from pyrama_tcp import TcpConnector
from pyrama_tls import (
    NegotiatedTls,
    TlsConnector,
    TlsConnectorData,
    TlsConnectorLayer,
    TlsStream,
    TlsVersion,
    self_signed_leaf,
    spki_sha256_of,
    tls_connect,
)
from pyrama_tls.errors import CertificateVerifyError, PinMismatchError, TlsHandshakeError


async def _ping(tls: TlsStream) -> bytes:
    tls.write(b"ping")
    tls.write_eof()
    out = await read_all(tls)
    await tls.close()
    return out


async def test_connector_returns_established_tls_connection() -> None:
    async with tls_server(server_data()) as listener:
        svc = TlsConnectorLayer(client_data()).layer(TcpConnector())
        target = ("localhost", listener.local_addr.port)
        est = await svc.serve(target)
        assert isinstance(est, EstablishedConnection)
        assert est.target == target
        assert isinstance(est.conn, TlsStream)
        assert est.extensions is est.conn.extensions
        assert est.extensions.get(SocketInfo) is not None
        assert est.extensions.require(NegotiatedTls).role == "client"
        assert await _ping(est.conn) == b"ping"


async def test_wrong_hostname_is_rejected() -> None:
    async with tls_server(server_data()) as listener:
        # the certificate is for localhost / *.example.test / 127.0.0.1 / ::1, not this name
        with pytest.raises(CertificateVerifyError) as info:
            await connect(listener, client_data(server_name="wrong.test"))
        assert info.value.verify_code == 62  # X509_V_ERR_HOSTNAME_MISMATCH
        assert info.value.side is Side.LOCAL
        assert "hostname mismatch" in str(info.value)
        # a wildcard covers exactly one label
        with pytest.raises(CertificateVerifyError):
            await connect(listener, client_data(server_name="a.b.example.test"))
        tls = await connect(listener, client_data(server_name="www.example.test"))
        assert await _ping(tls) == b"ping"


async def test_wrong_hostname_is_rejected_by_the_post_handshake_check_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # without OpenSSL's in-handshake host check, our own check after the handshake still fails
    import pyrama_tls._connector as connector_mod

    monkeypatch.setattr(connector_mod, "set_verify_host", lambda conn, host: False)
    async with tls_server(server_data()) as listener:
        with pytest.raises(CertificateVerifyError) as info:
            await connect(listener, client_data(server_name="wrong.test"))
        assert info.value.reason == "hostname mismatch"
        assert info.value.verify_code == 62
        with pytest.raises(CertificateVerifyError) as info:
            await connect(listener, client_data(server_name="10.0.0.1"))
        assert info.value.verify_code == 64
        tls = await connect(listener, client_data())
        assert await _ping(tls) == b"ping"


async def test_ip_literal_sends_no_sni_and_verifies_the_ip() -> None:
    seen: list[NegotiatedTls] = []

    async def handler(stream: Stream) -> None:
        seen.append(stream.extensions.require(NegotiatedTls))
        await echo(stream)

    async with tls_server(server_data(), handler) as listener:
        tls = await connect(listener, client_data(), host="127.0.0.1")
        assert tls.extensions.require(NegotiatedTls).server_name == "127.0.0.1"
        assert await _ping(tls) == b"ping"
        # an IP the certificate does not list is refused
        with pytest.raises(CertificateVerifyError):
            await connect(listener, client_data(server_name="127.0.0.2"))
    assert seen[0].server_name is None  # no SNI on the wire


async def test_ipv6_loopback() -> None:
    try:
        ctx = tls_server(server_data(), host="::1")
        listener = await ctx.__aenter__()
    except OSError as exc:  # pragma: no cover - IPv6 disabled on this host
        pytest.skip(f"no IPv6 loopback: {exc}")
    try:
        tls = await connect(listener, client_data(), host="::1")
        assert await _ping(tls) == b"ping"
    finally:
        await ctx.__aexit__(None, None, None)


async def test_untrusted_server_is_rejected_by_default_trust() -> None:
    # the default trust store (system, or certifi) does not know our test CA
    async with tls_server(server_data()) as listener:
        data = TlsConnectorData(keylog_from_env=False)
        with pytest.raises(CertificateVerifyError) as info:
            await connect(listener, data)
        assert info.value.verify_code in (19, 20)
        assert TlsConnector(data).verify_paths is not None


async def test_insecure_accepts_anything_and_warns() -> None:
    stranger = self_signed_leaf(["nobody.test"])
    with capture_logs() as log_events:
        async with tls_server(server_data(certified_key=stranger)) as listener:
            tls = await connect(listener, client_data(insecure=True, ca_certificates=()))
            assert tls.extensions.require(NegotiatedTls).peer_certificate == stranger.leaf
            assert await _ping(tls) == b"ping"
    warnings = [e for e in log_events if "verification is disabled" in str(e.get("event"))]
    assert warnings
    assert warnings[0]["log_level"] == "warning"


async def test_pins_accept_the_pinned_key_and_refuse_others() -> None:
    server = pki().server
    async with tls_server(server_data()) as listener:
        for pin in (
            server.spki_sha256(),
            str(server.spki_sha256()),
            server.spki_sha256().hex,
            spki_sha256_of(server.leaf),
        ):
            tls = await connect(listener, client_data(pins=[pin]))
            assert await _ping(tls) == b"ping"
        other = self_signed_leaf(["x.test"]).spki_sha256()
        with pytest.raises(PinMismatchError) as info:
            await connect(listener, client_data(pins=[other]))
        assert info.value.actual == server.spki_sha256().digest
        assert info.value.pins == (other.digest,)
        assert isinstance(info.value, CertificateVerifyError)


async def test_insecure_with_pins_trusts_exactly_the_pinned_key() -> None:
    stranger = self_signed_leaf(["nobody.test"])
    async with tls_server(server_data(certified_key=stranger)) as listener:
        data = client_data(insecure=True, pins=[stranger.spki_sha256()])
        tls = await connect(listener, data, host="127.0.0.1")
        assert await _ping(tls) == b"ping"
        with pytest.raises(PinMismatchError):
            await connect(listener, client_data(insecure=True, pins=[pki().server.spki_sha256()]))


@pytest.mark.parametrize("version", [TlsVersion.TLS1_2, TlsVersion.TLS1_3])
async def test_session_resumption(version: TlsVersion) -> None:
    async with tls_server(server_data()) as listener:
        svc = TlsConnectorLayer(client_data(max_version=version)).layer(TcpConnector())
        target = ("localhost", listener.local_addr.port)
        first = await svc.serve(target)
        assert first.conn.extensions.require(NegotiatedTls).session_reused is False
        assert await _ping(first.conn) == b"ping"  # reading processes TLS 1.3 tickets
        assert svc.connector.cached_sessions() == 1
        second = await svc.serve(target)
        n = second.conn.extensions.require(NegotiatedTls)
        assert n.session_reused is True
        assert n.version == version.value
        assert n.peer_certificate == pki().server.leaf  # still known on resumption
        assert await _ping(second.conn) == b"ping"


async def test_session_resumption_can_be_disabled() -> None:
    async with tls_server(server_data()) as listener:
        svc = TlsConnectorLayer(client_data(session_resumption=False)).layer(TcpConnector())
        target = ("localhost", listener.local_addr.port)
        for _ in range(2):
            est = await svc.serve(target)
            assert est.conn.extensions.require(NegotiatedTls).session_reused is False
            assert await _ping(est.conn) == b"ping"
        assert svc.connector.cached_sessions() == 0


async def test_session_cache_is_bounded() -> None:
    async with tls_server(server_data()) as listener:
        svc = TlsConnectorLayer(client_data(max_sessions=1)).layer(TcpConnector())
        port = listener.local_addr.port
        for host in ("localhost", "127.0.0.1"):
            est = await svc.serve((host, port))
            assert await _ping(est.conn) == b"ping"
        assert svc.connector.cached_sessions() == 1


async def test_tls_connect_over_any_stream() -> None:
    async with tls_server(server_data(alpn=["h2"])) as listener:
        est = await TcpConnector().serve(("127.0.0.1", listener.local_addr.port))
        data = client_data(alpn=["h2"])
        tls = await tls_connect(est.conn, "localhost", data)
        assert tls.extensions.require(NegotiatedTls).alpn == "h2"
        assert await _ping(tls) == b"ping"
        # the connector is cached on the data object
        assert data._cache["connector"] is data._cache["connector"]


async def test_tls_connect_needs_a_name_to_verify() -> None:
    async with tls_server(server_data()) as listener:
        est = await TcpConnector().serve(("127.0.0.1", listener.local_addr.port))
        with pytest.raises(ConfigError, match="server's name"):
            await tls_connect(est.conn, None, client_data())
        assert est.conn.is_closing()


async def test_tls_connect_default_data_verifies_against_the_system() -> None:
    async with tls_server(server_data()) as listener:
        est = await TcpConnector().serve(("127.0.0.1", listener.local_addr.port))
        with pytest.raises(CertificateVerifyError):
            await tls_connect(est.conn, "localhost")
        assert est.conn.is_closing()


async def test_target_without_host_needs_configured_server_name() -> None:
    async with tls_server(server_data()) as listener:
        port = listener.local_addr.port

        async def by_label(label: str) -> EstablishedConnection[str, Stream]:
            est = await TcpConnector().serve(("127.0.0.1", port))
            return EstablishedConnection(conn=est.conn, target=label, extensions=est.extensions)

        inner = service_fn(by_label)
        with pytest.raises(ConfigError, match="server name"):
            await TlsConnectorLayer(client_data()).layer(inner).serve("backend-1")
        svc = TlsConnectorLayer(client_data(server_name="localhost")).layer(inner)
        est = await svc.serve("backend-1")
        assert est.target == "backend-1"
        assert await _ping(est.conn) == b"ping"


async def test_handshake_failure_closes_the_transport() -> None:
    async with tls_server(server_data(min_version="1.3")) as listener:
        est = await TcpConnector().serve(("127.0.0.1", listener.local_addr.port))
        with pytest.raises(TlsHandshakeError):
            await tls_connect(est.conn, "localhost", client_data(max_version="1.2"))
        assert est.conn.is_closing()


async def test_signature_algorithms_are_applied() -> None:
    async with tls_server(server_data()) as listener:
        # the server key is ECDSA P-256: offering only RSA-PSS leaves nothing to sign with
        with pytest.raises(TlsHandshakeError):
            await connect(listener, client_data(signature_algorithms=["RSA-PSS+SHA256"]))
        tls = await connect(listener, client_data(signature_algorithms="ECDSA+SHA256"))
        assert await _ping(tls) == b"ping"


def test_config_validation(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="server_name"):
        TlsConnectorData(server_name="")
    with pytest.raises(ConfigError, match="ca_certificates"):
        TlsConnectorData(ca_certificates=["not a cert"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="client_certificate"):
        TlsConnectorData(client_certificate="nope")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="single pin"):
        TlsConnectorData(pins="sha256//AAAA")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="bad pin"):
        TlsConnectorData(pins=["sha256//AAAA"])
    with pytest.raises(ConfigError, match="max_sessions"):
        TlsConnectorData(max_sessions=0)
    with pytest.raises(ConfigError, match="ciphersuites"):
        TlsConnectorData(ciphersuites="A B")
    with pytest.raises(ConfigError, match="OpenSSL refused"):
        TlsConnector(TlsConnectorData(ciphersuites="TLS_NOPE"))
    with pytest.raises(ConfigError, match="signature algorithms"):
        TlsConnector(TlsConnectorData(signature_algorithms="NOPE+SHA1"))
    with pytest.raises(TypeError):
        TlsConnectorLayer(object())  # type: ignore[arg-type]
    data = client_data(alpn=["h2"])
    again = dataclasses.replace(data, server_name="x.test")
    assert again.alpn == (b"h2",)
    assert again.server_name == "x.test"
    assert again._cache == {}
    assert data.trusts_system_store is False
    assert TlsConnectorData().trusts_system_store is True
    assert TlsConnectorData(ca_file=tmp_path / "x.pem", use_system_trust=True).trusts_system_store


def test_system_trust_honours_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pki().ca.cert_pem())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    paths = TlsConnector(TlsConnectorData()).verify_paths
    assert paths is not None
    assert paths.cafile == str(bundle)
    assert paths.source == "env"
    # custom CAs replace the system store unless asked for both
    assert TlsConnector(client_data()).verify_paths is None
    assert TlsConnector(client_data(use_system_trust=True)).verify_paths is not None


async def test_environment_trust_is_used_for_verification(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pki().ca.cert_pem())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    async with tls_server(server_data()) as listener:
        tls = await connect(listener, TlsConnectorData(keylog_from_env=False))
        assert await _ping(tls) == b"ping"


async def test_connector_loads_whatever_store_the_trust_helper_picks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the search order (env, system, certifi) is the trust helper's; the connector loads its pick
    import certifi

    import pyrama_tls._contexts as contexts
    from pyrama_tls._trust import VerifyPaths

    certifi_paths = VerifyPaths(cafile=certifi.where(), capath=None, source="certifi")
    monkeypatch.setattr(contexts, "default_verify_paths", lambda: certifi_paths)
    data = TlsConnectorData(keylog_from_env=False)
    assert TlsConnector(data).verify_paths is certifi_paths
    async with tls_server(server_data()) as listener:
        with pytest.raises(CertificateVerifyError):  # Mozilla's roots do not know our test CA
            await connect(listener, data)
