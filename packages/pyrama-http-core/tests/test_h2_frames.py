"""HTTP/2 preface detection, hand-encoded frames and configuration validation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hyperframe.frame import (
    Frame,
    GoAwayFrame,
    PingFrame,
    PriorityFrame,
    SettingsFrame,
    WindowUpdateFrame,
)
from hypothesis import given
from hypothesis import strategies as st

from pyrama_core.errors import ConfigError
from pyrama_http_core import (
    H2_PREFACE,
    H2ClientConfig,
    H2ServerConfig,
    HttpLimits,
    is_h2_preface,
    may_be_h2_preface,
)
from pyrama_http_core._h2_frames import (
    encode_goaway,
    encode_ping,
    encode_priority,
    encode_settings,
    encode_window_update,
)
from pyrama_http_types import AkamaiH2Fingerprint, H2Priority


def _parse(data: bytes) -> Frame:
    frame, length = Frame.parse_frame_header(memoryview(data[:9]))
    assert len(data) == 9 + length
    frame.parse_body(memoryview(data[9:]))
    return frame


def test_preface_detection() -> None:
    assert is_h2_preface(H2_PREFACE)
    assert is_h2_preface(H2_PREFACE + b"\x00\x00\x00\x04")
    assert not is_h2_preface(H2_PREFACE[:-1])
    assert not is_h2_preface(b"GET / HTTP/1.1\r\n\r\n")
    assert may_be_h2_preface(b"")
    assert may_be_h2_preface(b"PRI * HT")
    assert may_be_h2_preface(H2_PREFACE + b"more")
    assert not may_be_h2_preface(b"PRX")
    assert not may_be_h2_preface(b"GET / HTTP/1.1\r\n")


@given(st.binary(max_size=64))
def test_preface_predicates_agree(data: bytes) -> None:
    full = is_h2_preface(data)
    maybe = may_be_h2_preface(data)
    assert full == data.startswith(H2_PREFACE)
    assert maybe == (H2_PREFACE.startswith(data) or data.startswith(H2_PREFACE))
    if full:
        assert maybe
    if len(data) >= len(H2_PREFACE):
        assert full == maybe


@given(
    st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1)), min_size=0, max_size=20)
)
def test_settings_frames_round_trip_in_order(entries: list[tuple[int, int]]) -> None:
    data = encode_settings(entries)
    frame = _parse(data)
    assert isinstance(frame, SettingsFrame)
    assert len(data) == 9 + 6 * len(entries)
    # hyperframe keeps a dict (last value wins, first position): compare against that
    expected: dict[int, int] = {}
    for k, v in entries:
        expected[k] = v
    assert list(frame.settings.items()) == list(expected.items())


def test_other_frames() -> None:
    f = _parse(encode_settings((), ack=True))
    assert isinstance(f, SettingsFrame)
    assert "ACK" in f.flags
    f = _parse(encode_window_update(0, 15_663_105))
    assert isinstance(f, WindowUpdateFrame)
    assert f.window_increment == 15_663_105
    f = _parse(encode_goaway(7, 11, b"calm"))
    assert isinstance(f, GoAwayFrame)
    assert (f.last_stream_id, f.error_code, f.additional_data) == (7, 11, b"calm")
    f = _parse(encode_ping(b"12345678", ack=True))
    assert isinstance(f, PingFrame)
    assert f.opaque_data == b"12345678"
    assert "ACK" in f.flags
    f = _parse(encode_priority(3, depends_on=0, weight=201, exclusive=False))
    assert isinstance(f, PriorityFrame)
    assert (f.stream_id, f.depends_on, f.stream_weight, f.exclusive) == (3, 0, 200, False)
    f = _parse(encode_priority(5, depends_on=3, weight=1, exclusive=True))
    assert isinstance(f, PriorityFrame)
    assert (f.depends_on, f.stream_weight, f.exclusive) == (3, 0, True)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: encode_settings([(0x10000, 1)]), "identifier"),
        (lambda: encode_settings([(1, 2**32)]), "value"),
        (lambda: encode_window_update(0, 0), "increment"),
        (lambda: encode_window_update(0, 2**31), "increment"),
        (lambda: encode_goaway(2**31, 0), "last stream id"),
        (lambda: encode_ping(b"short"), "8 bytes"),
        (lambda: encode_priority(0, depends_on=0, weight=16, exclusive=False), "stream id"),
        (lambda: encode_priority(1, depends_on=0, weight=0, exclusive=False), "weight"),
        (lambda: encode_priority(1, depends_on=0, weight=257, exclusive=False), "weight"),
    ],
)
def test_frame_encoders_reject_bad_values(call: Callable[[], bytes], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_server_config_validation_and_settings() -> None:
    cfg = H2ServerConfig(limits=HttpLimits(max_header_size=32_000), max_concurrent_streams=7)
    assert cfg.advertised_settings() == [(3, 7), (4, 1 << 20), (6, 32_000)]
    cfg = H2ServerConfig(header_table_size=0, max_frame_size=32_768, extra_settings=((8, 1),))
    assert cfg.advertised_settings() == [
        (1, 0),
        (3, 100),
        (4, 1 << 20),
        (5, 32_768),
        (6, 65536),
        (8, 1),
    ]
    assert H2ServerConfig().header_block_limit == 65536
    assert H2ServerConfig(max_header_block_size=4096).header_block_limit == 4096
    for bad in (
        {"max_concurrent_streams": 0},
        {"initial_window_size": 2**31},
        {"connection_window_size": 1000},
        {"max_frame_size": 1000},
        {"max_frame_size": 2**24},
        {"max_resets": 0},
        {"max_control_frames": 0},
        {"reset_window": 0},
        {"graceful_timeout": -1},
        {"max_header_block_size": 10},
        {"limits": "no"},
    ):
        with pytest.raises(ConfigError):
            H2ServerConfig(**bad)


def test_client_config_validation() -> None:
    cfg = H2ClientConfig(settings=[(1, 65536), (6, 262_144)])  # type: ignore[arg-type]
    assert cfg.settings == ((1, 65536), (6, 262_144))
    assert cfg.decoded_header_limit == 262_144
    assert H2ClientConfig(settings=()).decoded_header_limit == 256 * 1024
    assert cfg.setting(1) == 65536
    assert cfg.setting(3) is None
    for bad in (
        {"settings": ((4, 2**31),)},
        {"settings": ((5, 100),)},
        {"settings": ((2, 2),)},
        {"settings": ((70000, 1),)},
        {"connection_window_increment": 0},
        {"pseudo_header_order": (":method", ":method")},
        {"pseudo_header_order": (":status",)},
        {"priority_frames": (H2Priority(0, False, 0, 16),)},
        {"keepalive_interval": 0},
        {"max_header_list_size": 10},
    ):
        with pytest.raises(ConfigError):
            H2ClientConfig(**bad)


def test_client_config_from_akamai() -> None:
    fp = AkamaiH2Fingerprint.parse("1:65536;4:131072;5:16384|12517377|3:0:0:201,5:0:0:101|m,p,a,s")
    cfg = H2ClientConfig.from_akamai(fp, keepalive_interval=5.0)
    assert cfg.settings == ((1, 65536), (4, 131072), (5, 16384))
    assert cfg.connection_window_increment == 12517377
    assert [str(p) for p in cfg.priority_frames] == ["3:0:0:201", "5:0:0:101"]
    assert cfg.pseudo_header_order == (":method", ":path", ":authority", ":scheme")
    assert cfg.keepalive_interval == 5.0
    no_wu = H2ClientConfig.from_akamai(AkamaiH2Fingerprint.parse("2:0|00|0|m,s,p,a"))
    assert no_wu.connection_window_increment is None
