from __future__ import annotations

import struct
from typing import Any

import pytest
from client_hello_support import (
    ext,
    handshake,
    hello_body,
    hello_records,
    record,
    require_vector,
    unique_vector_bytes,
    vector_params,
)

from pyrama_core.errors import LimitError, ProtocolError, Side
from pyrama_tls import (
    DEFAULT_MAX_CLIENT_HELLO_SIZE,
    GREASE_VALUES,
    ClientHello,
    ClientHelloExtension,
    ClientHelloReader,
    ExtensionType,
    KeyShareEntry,
    cipher_suite_name,
    encode_client_hello,
    encode_client_hello_handshake,
    extension_name,
    is_grease,
    parse_client_hello,
)
from pyrama_tls.errors import ClientHelloError, ClientHelloTooLargeError, NotTlsError, TlsError

CURVEBALL_HEX = (
    "1603010200010001fc0303c5b08a8a5a1a1f31e5bcd0853b6f59944dfec2900a712a2a6059b827c58cf48020"
    "078a389ef1767da304d9e10cc7a9441a734513694d3a353ed9522ac47f9c8aa40022aaaa130113021303c02b"
    "c02fc02cc030cca9cca8c013c014009c009d002f0035000a010001914a4a00000000001a0018000015626164"
    "2e637572766562616c6c746573742e636f6d00170000ff01000100000a000a0008caca001d00170018000b00"
    "020100002300000010000e000c02683208687474702f312e31000500050100000000000d0014001204030804"
    "0401050308050501080606010201001200000033002b0029caca000100001d0020ec9c731ae0f83a315ec38e"
    "d8cc94912502ab3ca913a29b7d037d7c0ae6a6e81a002d00020101002b000b0a2a2a0304030303020301001b"
    "00030200027a7a000100001500c3" + "00" * 0xC3
)


# ---------------------------------------------------------------------------------------------
# the published vectors
@pytest.mark.parametrize("vector", vector_params())
def test_vector_parses_with_its_sni_and_round_trips(vector: dict[str, Any] | None) -> None:
    v = require_vector(vector)
    raw = bytes.fromhex(v["client_hello_hex"])
    ch = parse_client_hello(raw)
    assert ch.server_name == v["sni"]
    assert encode_client_hello(ch) == raw
    assert parse_client_hello(encode_client_hello(ch, record_size=97)) == ch


def test_curveball_views() -> None:
    ch = parse_client_hello(bytes.fromhex(CURVEBALL_HEX))
    assert ch.record_version == 0x0301
    assert ch.legacy_version == 0x0303
    assert len(ch.random) == 32
    assert len(ch.session_id) == 32
    assert ch.cipher_suites[:2] == (0xAAAA, 0x1301)
    assert len(ch.cipher_suites) == 17
    assert ch.compression_methods == (0,)
    assert ch.extension_types[0] == 0x4A4A
    assert ch.extension_types[-2:] == (0x7A7A, ExtensionType.PADDING)
    assert ch.server_name == "bad.curveballtest.com"
    assert ch.alpn == ("h2", "http/1.1")
    assert ch.supported_groups == (0xCACA, 0x001D, 0x0017, 0x0018)
    assert ch.ec_point_formats == (0,)
    assert ch.signature_algorithms[:3] == (0x0403, 0x0804, 0x0401)
    assert ch.supported_versions == (0x2A2A, 0x0304, 0x0303, 0x0302, 0x0301)
    assert ch.max_version == 0x0304
    assert ch.psk_key_exchange_modes == (1,)
    assert ch.certificate_compression_algorithms == (2,)
    assert [k.group for k in ch.key_shares] == [0xCACA, 0x001D]
    assert ch.key_shares[0].key_exchange == b"\x00"
    assert len(ch.key_shares[1].key_exchange) == 32
    assert ch.record_size_limit is None
    assert not ch.has_ech
    assert not ch.has_alps
    assert not ch.has_pre_shared_key
    assert not ch.has_early_data
    sni = ch.extension(ExtensionType.SERVER_NAME)
    assert sni is not None
    assert sni.name == "server_name"
    assert ch.extension(0x1234) is None
    assert "bad.curveballtest.com" in repr(ch)


def test_vectors_cover_alps() -> None:
    found = [parse_client_hello(b) for b in unique_vector_bytes()]
    if not found:
        pytest.skip("vectors missing (the vector tests report it)")
    assert any(ch.has_alps for ch in found)


# ---------------------------------------------------------------------------------------------
# the model and builder
def _model(**kw: Any) -> ClientHello:
    base: dict[str, Any] = {
        "cipher_suites": (0x0A0A, 0x1301, 0x1302),
        "random": bytes(range(32)),
        "session_id": b"\x01" * 32,
        "extensions": (
            ClientHelloExtension(0x1A1A),
            ClientHelloExtension.server_name("Example.COM"),
            ClientHelloExtension.alpn(["h2", "http/1.1"]),
            ClientHelloExtension.supported_versions([0x2A2A, 0x0304, 0x0303]),
            ClientHelloExtension.supported_groups([0x001D, 0x0017]),
            ClientHelloExtension.signature_algorithms([0x0403, 0x0804]),
            ClientHelloExtension.ec_point_formats(),
            ClientHelloExtension.key_share([(0x001D, b"k" * 32), KeyShareEntry(0x11EC, b"m")]),
            ClientHelloExtension.psk_key_exchange_modes(),
            ClientHelloExtension.compress_certificate([2, 3]),
            ClientHelloExtension.record_size_limit(16385),
            ClientHelloExtension(ExtensionType.ENCRYPTED_CLIENT_HELLO, b"\x00"),
            ClientHelloExtension(ExtensionType.APPLICATION_SETTINGS, b"\x00\x03\x02h2"),
            ClientHelloExtension(ExtensionType.EARLY_DATA),
            ClientHelloExtension.padding(10),
            ClientHelloExtension(ExtensionType.PRE_SHARED_KEY, b"\x00"),
        ),
    }
    base.update(kw)
    return ClientHello(**base)


def test_builder_round_trip_and_views() -> None:
    ch = _model()
    wire = encode_client_hello(ch)
    assert wire[:3] == b"\x16\x03\x01"
    back = parse_client_hello(wire)
    assert back == ch
    assert back.server_name == "Example.COM"
    assert back.alpn == ("h2", "http/1.1")
    assert back.supported_versions == (0x2A2A, 0x0304, 0x0303)
    assert back.key_shares == (KeyShareEntry(0x001D, b"k" * 32), KeyShareEntry(0x11EC, b"m"))
    assert back.certificate_compression_algorithms == (2, 3)
    assert back.record_size_limit == 16385
    assert back.has_ech
    assert back.has_alps
    assert back.has_early_data
    assert back.has_pre_shared_key
    assert encode_client_hello_handshake(ch) == wire[5:]
    assert hash(back) == hash(ch)


def test_hello_without_extensions_block() -> None:
    raw = hello_records(hello_body(extensions=None))
    ch = parse_client_hello(raw)
    assert ch.extensions == ()
    assert ch.server_name is None
    assert ch.max_version == 0x0303
    assert encode_client_hello(ch) == raw


def test_empty_extensions_block_is_accepted() -> None:
    ch = parse_client_hello(hello_records(hello_body(extensions=b"")))
    assert ch.extensions == ()


def test_model_validation_is_local() -> None:
    with pytest.raises(ClientHelloError, match="duplicate extension") as ei:
        _model(extensions=(ClientHelloExtension(5), ClientHelloExtension(5)))
    assert ei.value.side is Side.LOCAL
    with pytest.raises(ClientHelloError, match="pre_shared_key must be the last"):
        _model(extensions=(ClientHelloExtension(41, b"\x00"), ClientHelloExtension(5)))
    with pytest.raises(ClientHelloError, match="random"):
        _model(random=b"short")
    with pytest.raises(ClientHelloError, match="session_id"):
        _model(session_id=bytes(33))
    with pytest.raises(ClientHelloError, match="cipher suites"):
        _model(cipher_suites=())
    with pytest.raises(ClientHelloError, match="16-bit"):
        _model(cipher_suites=(0x10000,))
    with pytest.raises(ClientHelloError, match="compression_methods"):
        _model(compression_methods=())
    with pytest.raises(ClientHelloError, match="legacy_version"):
        _model(legacy_version=-1)
    with pytest.raises(ClientHelloError, match="server_name"):
        _model(extensions=(ClientHelloExtension(0, b"\x00"),))
    with pytest.raises(ClientHelloError, match="not a ClientHelloExtension"):
        _model(extensions=((0, b""),))


def test_extension_validation() -> None:
    with pytest.raises(ValueError, match="16-bit"):
        ClientHelloExtension(0x10000)
    with pytest.raises(ValueError, match="65535"):
        ClientHelloExtension(1, bytes(0x10000))
    assert ClientHelloExtension(1, bytearray(b"ab")).data == b"ab"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="record_size_limit"):
        ClientHelloExtension.record_size_limit(10)
    with pytest.raises(ValueError, match="ALPN"):
        ClientHelloExtension.alpn([""])
    with pytest.raises(ValueError, match="key share"):
        KeyShareEntry(1, b"")
    with pytest.raises(ValueError, match="16-bit"):
        ClientHelloExtension.supported_groups([70000])
    with pytest.raises(ValueError, match="at most 127"):
        ClientHelloExtension.supported_versions(range(200))
    assert "server_name" in repr(ClientHelloExtension.server_name("a.b"))
    assert ClientHelloExtension(0x0A0A).is_grease


def test_names_and_grease() -> None:
    assert extension_name(0) == "server_name"
    assert extension_name(16) == "application_layer_protocol_negotiation"
    assert extension_name(0x44CD) == "application_settings"
    assert extension_name(0x4469) == "application_settings_old"
    assert extension_name(0xDADA) == "GREASE"
    assert extension_name(0x7777) is None
    assert cipher_suite_name(0x1301) == "TLS_AES_128_GCM_SHA256"
    assert cipher_suite_name(0x2A2A) == "GREASE"
    assert cipher_suite_name(0x7777) is None
    assert len(GREASE_VALUES) == 16
    assert all(is_grease(v) for v in GREASE_VALUES)
    assert not any(is_grease(v) for v in (0x0A0B, 0x0B0A, 0x0000, 0xFFFF, 0x1A2A))


# ---------------------------------------------------------------------------------------------
# rejections, with where they happen
def _err(data: bytes, match: str, **kw: Any) -> ClientHelloError:
    with pytest.raises(ClientHelloError, match=match) as ei:
        parse_client_hello(data, **kw)
    err = ei.value
    assert isinstance(err, TlsError)
    assert isinstance(err, ProtocolError)
    assert err.side is Side.REMOTE
    return err


def test_plain_http_is_not_tls() -> None:
    err = _err(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not TLS")
    assert isinstance(err, NotTlsError)
    assert err.offset == 0
    assert err.hint is None


def test_not_tls_detected_from_the_first_byte() -> None:
    r = ClientHelloReader()
    with pytest.raises(NotTlsError):
        r.feed(b"G")
    with pytest.raises(NotTlsError):  # stays failed
        r.feed(b"ET")


def test_handshake_byte_without_tls_version_is_not_tls() -> None:
    r = ClientHelloReader()
    assert r.feed(b"\x16") is None
    with pytest.raises(NotTlsError) as ei:
        r.feed(b"\x05")
    assert ei.value.offset == 1


def test_other_tls_record_types_are_protocol_errors() -> None:
    err = _err(record(b"\x02\x28", ctype=21), "alert record")
    assert not isinstance(err, NotTlsError)
    assert isinstance(_err(b"\x15\x00abc", "not TLS"), NotTlsError)


def test_sslv2_hello_is_refused() -> None:
    err = _err(b"\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10", "SSLv2")
    assert not isinstance(err, NotTlsError)
    assert isinstance(_err(b"\x80\x2e\x07", "not TLS"), NotTlsError)


def test_record_checks() -> None:
    good = hello_records(hello_body())
    _err(b"\x16\x03\x01\x00\x00" + good, "empty handshake record")
    _err(b"\x16\x03\x01\x40\x01" + bytes(0x4001), "more than the 16384")
    # second record of another type before the hello is complete
    msg = handshake(hello_body())
    err = _err(record(msg[:10]) + record(msg[10:], ctype=20), "change_cipher_spec")
    assert err.offset == 15
    err = _err(record(msg[:10]) + record(msg[10:], version=0x0201), "version 0x0201")
    assert err.offset == 16


def test_wrong_handshake_type() -> None:
    err = _err(record(handshake(hello_body(), msg_type=2)), "expected 1")
    assert err.offset == 5


def test_trailing_bytes_inside_the_record() -> None:
    msg = handshake(hello_body())
    err = _err(record(msg + b"\x00\x00"), "2 byte\\(s\\) follow the ClientHello inside")
    assert err.offset == 5 + len(msg)


def test_trailing_bytes_after_the_records() -> None:
    good = hello_records(hello_body())
    err = _err(good + b"\x17\x03\x03", "3 byte\\(s\\) follow the ClientHello records")
    assert err.offset == len(good)


def test_truncated_input_says_what_is_missing() -> None:
    good = hello_records(hello_body())
    err = _err(good[:-1], "truncated")
    assert err.offset == len(good) - 1
    _err(b"", "waiting for a TLS record header")


def test_body_length_checks() -> None:
    _err(hello_records(hello_body(session_id=bytes(33))), "session_id length 33")
    _err(hello_records(hello_body(ciphers=b"\x00\x03\x13\x01\x00")), "odd")
    _err(hello_records(hello_body(ciphers=b"\x00\x00")), "zero")
    _err(hello_records(hello_body(compression=b"\x00")), "compression_methods list")
    _err(hello_records(hello_body()[:20]), "truncated: legacy_version")
    _err(hello_records(hello_body(ciphers=b"\x00\x40\x13\x01", extensions=None)), "truncated")
    body = hello_body(extensions=None) + b"\x00"
    _err(hello_records(body), "extensions length")


def test_extensions_length_must_match_exactly() -> None:
    body = hello_body(extensions=ext(23))
    err = _err(hello_records(body + b"\x00"), "extensions length 4")
    assert err.offset == 5 + 4 + len(hello_body(extensions=None))
    body = hello_body(extensions=ext(23, b"abc"))
    broken = body[:-5] + struct.pack(">H", 9) + body[-3:]  # data length overruns the block
    _err(hello_records(broken), "announces 9 bytes")
    _err(hello_records(hello_body(extensions=b"\x00\x17\x00")), "truncated: extension header")


def test_duplicate_extension_is_rejected() -> None:
    exts = ext(23) + ext(0xFF01, b"\x00") + ext(23)
    err = _err(hello_records(hello_body(extensions=exts)), "duplicate extension 0x0017")
    assert err.hint == 47
    assert err.offset == 5 + 4 + len(hello_body(extensions=None)) + 2 + 4 + 5


def test_duplicate_grease_extension_is_rejected_too() -> None:
    exts = ext(0x0A0A) + ext(0x0A0A)
    _err(hello_records(hello_body(extensions=exts)), "duplicate extension 0x0a0a")


def test_pre_shared_key_must_be_last() -> None:
    exts = ext(41, b"\x00") + ext(23)
    _err(hello_records(hello_body(extensions=exts)), "follows pre_shared_key")


@pytest.mark.parametrize(
    ("exts", "match"),
    [
        (ext(0, b"\x00\x06\x00\x00\x02ab"), "server_name: length field says 6"),
        (ext(0, b"\x00\x00"), "server_name: the server name list is empty"),
        (ext(0, b"\x00\x03\x00\x00\x00"), "empty host name"),
        (ext(0, b"\x00\x05\x00\x00\x05ab"), "runs past"),
        (ext(0, b"\x00\x05\x00\x00\x02a "), "control characters or spaces"),
        (ext(0, b"\x00\x05\x00\x00\x02a\x00"), "control characters"),
        (ext(0, b"\x00\x05\x00\x00\x02a\xff"), "not ASCII"),
        (ext(0, b"\x00\x0a\x00\x00\x02ab\x00\x00\x02cd"), "more than one name of type 0"),
        (ext(0, b"\x00\x01\x00"), "truncated entry header"),
        (ext(16, b"\x00\x03\x00ab"), "empty protocol name"),
        (ext(16, b"\x00\x03\x05ab"), "runs past"),
        (ext(16, b"\x00\x00"), "protocol list is empty"),
        (ext(16, b"\x00"), "too short"),
        (ext(43, b"\x03\x03\x04\x03"), "odd list length"),
        (ext(43, b"\x00"), "list is empty"),
        (ext(43, b""), "expected a 1-byte length"),
        (ext(10, b"\x00\x00"), "list is empty"),
        (ext(13, b"\x00\x03\x04\x03\x05"), "odd"),
        (ext(11, b"\x00"), "list is empty"),
        (ext(45, b"\x02\x01"), "length field says 2"),
        (ext(51, b"\x00\x04\x00\x1d\x00\x00"), "empty key share"),
        (ext(51, b"\x00\x03\x00\x1d\x00"), "truncated entry header"),
        (ext(51, b"\x00\x06\x00\x1d\x00\x05ab"), "runs past"),
        (ext(51, b"\x00\x0a\x00\x1d\x00\x01a\x00\x1d\x00\x01b"), "two key shares"),
        (ext(28, b"\x00\x3f"), "below the minimum of 64"),
        (ext(28, b"\x40"), "expected 2"),
        (ext(27, b"\x02\x00"), "length field says 2"),
        (ext(0x44CD, b"\x00\x00"), "application_settings"),
    ],
)
def test_malformed_extension_data(exts: bytes, match: str) -> None:
    data = hello_records(hello_body(extensions=ext(23) + exts))
    err = _err(data, match)
    # the offset points into the bad extension's data (or at its start)
    ext_data_start = 5 + 4 + len(hello_body(extensions=None)) + 2 + 4 + 4
    assert err.offset is not None
    assert ext_data_start <= err.offset <= len(data)


def test_sni_without_host_name_entry() -> None:
    # a name type other than host_name (0) is carried but yields no server name
    ch = parse_client_hello(hello_records(hello_body(extensions=ext(0, b"\x00\x04\x07\x00\x01x"))))
    assert ch.server_name is None
    assert ch.has_extension(0)


# ---------------------------------------------------------------------------------------------
# limits
def test_max_size_limit_is_enforced_from_the_header() -> None:
    body = hello_body(extensions=ext(21, bytes(3000)))
    data = hello_records(body)
    assert parse_client_hello(data, max_size=4 + len(body)).extensions[0].type == 21
    r = ClientHelloReader(max_size=4 + len(body) - 1)
    with pytest.raises(ClientHelloTooLargeError) as ei:
        r.feed(data[:9])  # record header + handshake header: the body has not arrived
    assert ei.value.limit == 4 + len(body) - 1
    assert isinstance(ei.value, LimitError)
    assert ei.value.offset == 6


def test_default_max_size() -> None:
    small = hello_body(extensions=None)
    pad = DEFAULT_MAX_CLIENT_HELLO_SIZE - 4 - len(small) - 2 - 4
    body = hello_body(extensions=ext(21, bytes(pad)))
    msg = handshake(body)
    assert len(msg) == DEFAULT_MAX_CLIENT_HELLO_SIZE
    wire = b"".join(record(msg[i : i + 16384]) for i in range(0, len(msg), 16384))
    assert parse_client_hello(wire).extensions[0].type == 21
    body = hello_body(extensions=ext(21, bytes(pad + 1)))
    msg = handshake(body)
    wire = b"".join(record(msg[i : i + 16384]) for i in range(0, len(msg), 16384))
    with pytest.raises(ClientHelloTooLargeError, match="exceeds the limit"):
        parse_client_hello(wire)


def test_max_records_limit() -> None:
    ch = _model()
    msg_len = len(encode_client_hello_handshake(ch))
    wire = encode_client_hello(ch, record_size=10)
    n_records = -(-msg_len // 10)
    assert parse_client_hello(wire, max_records=n_records) == ch
    with pytest.raises(ClientHelloTooLargeError, match=f"more than {n_records - 1} records"):
        parse_client_hello(wire, max_records=n_records - 1)


def test_limit_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="max_size"):
        ClientHelloReader(max_size=3)
    with pytest.raises(ValueError, match="max_records"):
        ClientHelloReader(max_records=0)
    with pytest.raises(ValueError, match="record_size"):
        encode_client_hello(_model(), record_size=0)


# ---------------------------------------------------------------------------------------------
# the incremental reader
def test_reader_byte_by_byte() -> None:
    ch = _model()
    wire = encode_client_hello(ch, record_size=100)
    r = ClientHelloReader()
    for i in range(len(wire) - 1):
        assert r.feed(wire[i : i + 1]) is None
        assert not r.done
    assert r.feed(wire[-1:]) == ch
    assert r.done
    assert r.consumed == len(wire)
    assert r.feed(b"more") == ch


def test_reader_leaves_bytes_after_the_hello() -> None:
    wire = encode_client_hello(_model())
    r = ClientHelloReader()
    assert r.feed(wire + b"\x17\x03\x03\x00\x01x") == _model()
    assert r.consumed == len(wire)


def test_reader_describes_what_is_missing() -> None:
    wire = encode_client_hello(_model(), record_size=50)
    r = ClientHelloReader()
    assert r.describe_missing() == "a TLS record header"
    r.feed(wire[:20])
    assert "record body" in r.describe_missing()
    r.feed(wire[20:55])
    assert "handshake message" in r.describe_missing()
