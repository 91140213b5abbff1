"""Configuration of the HTTP/2 server and client connection drivers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from pyrama_core.errors import ConfigError
from pyrama_http_core._config import HttpLimits
from pyrama_http_core._h2_frames import H2SettingCode
from pyrama_http_types import AkamaiH2Fingerprint, H2Priority

__all__ = [
    "DEFAULT_CLIENT_SETTINGS",
    "H2ClientConfig",
    "H2ServerConfig",
]

_MAX_WINDOW: Final = 2**31 - 1
_MIN_FRAME: Final = 16_384
_MAX_FRAME: Final = 2**24 - 1
_DEFAULT_CONN_WINDOW: Final = 65_535

DEFAULT_CLIENT_SETTINGS: Final[tuple[tuple[int, int], ...]] = (
    (H2SettingCode.ENABLE_PUSH, 0),
    (H2SettingCode.INITIAL_WINDOW_SIZE, 1 << 20),
    (H2SettingCode.MAX_HEADER_LIST_SIZE, 256 * 1024),
)
"""The SETTINGS a :class:`H2ClientConfig` sends unless told otherwise (in this order)."""

_PSEUDO_REQUEST: Final = frozenset({":method", ":scheme", ":authority", ":path"})


def _positive(name: str, value: int | float, *, minimum: int | float = 1) -> None:
    if not value >= minimum:  # also rejects NaN
        raise ConfigError(f"{name} must be >= {minimum}, got {value!r}")


def _frame_size(name: str, value: int) -> None:
    if not _MIN_FRAME <= value <= _MAX_FRAME:
        raise ConfigError(f"{name} must be within {_MIN_FRAME}..{_MAX_FRAME}, got {value!r}")


def _window(name: str, value: int) -> None:
    if not 0 <= value <= _MAX_WINDOW:
        raise ConfigError(f"{name} must be within 0..{_MAX_WINDOW}, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class H2ServerConfig:
    """Settings and limits of an HTTP/2 server connection (:func:`serve_h2`).

    * ``limits``: the :class:`~pyrama_http_core.HttpLimits` shared with HTTP/1.1. For HTTP/2,
      ``max_header_size`` bounds the decoded header list (advertised as
      SETTINGS_MAX_HEADER_LIST_SIZE; a larger list is answered ``431``, one over twice the
      limit ends the connection: HPACK bomb), ``max_headers`` the field count (``431``),
      ``max_body_size`` each request body (``413`` when Content-Length says so, else the
      service's body read fails and the stream is cut), ``keep_alive_timeout`` how long a
      connection without streams stays open (then a graceful GOAWAY),
      ``max_requests_per_connection`` the streams served before a graceful GOAWAY.
      ``header_read_timeout`` does not apply (HTTP/2 has no slow head to wait for).
    * ``max_concurrent_streams``: advertised and enforced; a stream above it is refused with
      RST_STREAM(REFUSED_STREAM) (the client may retry it).
    * ``initial_window_size``: per-stream receive window = the most request-body bytes
      buffered per stream before the service reads them.
    * ``connection_window_size``: the connection receive window, raised from 65,535 by a
      WINDOW_UPDATE right after the SETTINGS frame; bounds buffered body bytes per connection.
    * ``max_frame_size``, ``header_table_size``: advertised SETTINGS.
    * ``max_header_block_size``: cap on the *encoded* header block collected from HEADERS and
      CONTINUATION frames (CONTINUATION flood defence); ``None`` means
      ``limits.max_header_size`` (at least 16 KiB).
    * ``max_resets`` per ``reset_window`` seconds: streams the client resets before their
      response head went out, plus streams we must refuse; above it the connection ends with
      GOAWAY(ENHANCE_YOUR_CALM) (rapid reset, CVE-2023-44487).
    * ``max_control_frames`` per ``reset_window``: PING and SETTINGS frames that make us
      answer; above it GOAWAY(ENHANCE_YOUR_CALM) (ping/settings floods).
    * ``graceful_timeout``: after a graceful GOAWAY, in-flight streams get this long.
    * ``extra_settings``: more (identifier, value) pairs to advertise, in order.
    * ``date_header``: give every response without a ``date`` field one (the current time,
      formatted at most once per second), like HTTP/1.1's ``Http1Config.date_header``.
    * ``hpack_dynamic_table``: HPACK-encode responses with the dynamic table (h2's encoder:
      smaller HEADERS frames when responses repeat large fields, more CPU per response). Off
      by default: every field goes out as a static-table index or a literal without
      indexing, and the encoded blocks are cached (much cheaper; a few more bytes).
    """

    limits: HttpLimits = field(default_factory=HttpLimits)
    max_concurrent_streams: int = 100
    initial_window_size: int = 1 << 20
    connection_window_size: int = 4 << 20
    max_frame_size: int = _MIN_FRAME
    header_table_size: int = 4096
    max_header_block_size: int | None = None
    max_resets: int = 200
    max_control_frames: int = 2000
    reset_window: float = 30.0
    graceful_timeout: float = 30.0
    extra_settings: tuple[tuple[int, int], ...] = ()
    date_header: bool = True
    hpack_dynamic_table: bool = False

    def __post_init__(self) -> None:
        _positive("max_concurrent_streams", self.max_concurrent_streams)
        for flag in ("date_header", "hpack_dynamic_table"):
            value = getattr(self, flag)
            if not isinstance(value, bool):
                raise ConfigError(f"{flag} must be a bool, got {value!r}")
        _window("initial_window_size", self.initial_window_size)
        _window("connection_window_size", self.connection_window_size)
        if self.connection_window_size < _DEFAULT_CONN_WINDOW:
            raise ConfigError("connection_window_size must be >= 65535 (the protocol default)")
        _frame_size("max_frame_size", self.max_frame_size)
        if not isinstance(self.limits, HttpLimits):
            raise ConfigError(f"limits must be HttpLimits, got {self.limits!r}")
        _positive("header_table_size", self.header_table_size, minimum=0)
        if self.max_header_block_size is not None:
            _positive("max_header_block_size", self.max_header_block_size, minimum=1024)
        _positive("max_resets", self.max_resets)
        _positive("max_control_frames", self.max_control_frames)
        _positive("reset_window", self.reset_window, minimum=0.001)
        _positive("graceful_timeout", self.graceful_timeout, minimum=0)
        object.__setattr__(self, "extra_settings", tuple(self.extra_settings))

    @property
    def header_block_limit(self) -> int:
        """The effective cap on encoded header block bytes."""
        if self.max_header_block_size is None:
            return max(self.limits.max_header_size, 16_384)
        return self.max_header_block_size

    def advertised_settings(self) -> list[tuple[int, int]]:
        """The SETTINGS entries this server sends, in order."""
        out: list[tuple[int, int]] = []
        if self.header_table_size != 4096:
            out.append((H2SettingCode.HEADER_TABLE_SIZE, self.header_table_size))
        out.append((H2SettingCode.MAX_CONCURRENT_STREAMS, self.max_concurrent_streams))
        out.append((H2SettingCode.INITIAL_WINDOW_SIZE, self.initial_window_size))
        if self.max_frame_size != _MIN_FRAME:
            out.append((H2SettingCode.MAX_FRAME_SIZE, self.max_frame_size))
        out.append((H2SettingCode.MAX_HEADER_LIST_SIZE, self.limits.max_header_size))
        out.extend(self.extra_settings)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class H2ClientConfig:
    """Settings and behaviour of an HTTP/2 client connection (:class:`H2ClientConnection`).

    Built so a user-agent emulation can reproduce a browser's HTTP/2 (Akamai) fingerprint:

    * ``settings``: the SETTINGS frame entries, sent exactly in this order, nothing added.
    * ``connection_window_increment``: the WINDOW_UPDATE sent on stream 0 right after the
      SETTINGS frame (``None`` sends none).
    * ``priority_frames``: PRIORITY frames sent after that, before any request (requests
      then use stream ids above the highest one these name, as Firefox did).
    * ``pseudo_header_order``: the order of ``:method``, ``:authority``, ``:scheme``,
      ``:path`` in every request's HEADERS.
    * ``headers_priority``: when set, every HEADERS frame carries these priority fields
      (its ``stream_id`` is ignored).

    :meth:`from_akamai` builds the fingerprint-relevant part from an
    :class:`~pyrama_http_types.AkamaiH2Fingerprint`.

    Limits: ``max_header_list_size`` caps the decoded response header list when ``settings``
    does not advertise MAX_HEADER_LIST_SIZE (when it does, the advertised value is used);
    ``max_header_block_size`` caps the encoded header block (CONTINUATION flood).
    ``keepalive_interval`` sends a PING after that many idle seconds and closes the
    connection when no answer comes within ``keepalive_timeout``.
    """

    settings: tuple[tuple[int, int], ...] = DEFAULT_CLIENT_SETTINGS
    connection_window_increment: int | None = (4 << 20) - _DEFAULT_CONN_WINDOW
    priority_frames: tuple[H2Priority, ...] = ()
    pseudo_header_order: tuple[str, ...] = (":method", ":authority", ":scheme", ":path")
    headers_priority: H2Priority | None = None
    max_header_list_size: int = 256 * 1024
    max_header_block_size: int | None = None
    keepalive_interval: float | None = None
    keepalive_timeout: float = 20.0

    def __post_init__(self) -> None:
        settings = tuple((int(k), int(v)) for k, v in self.settings)
        object.__setattr__(self, "settings", settings)
        for k, v in settings:
            if not 0 <= k <= 0xFFFF or not 0 <= v <= 2**32 - 1:
                raise ConfigError(f"invalid setting ({k}, {v})")
            if k == H2SettingCode.INITIAL_WINDOW_SIZE:
                _window("INITIAL_WINDOW_SIZE", v)
            elif k == H2SettingCode.MAX_FRAME_SIZE:
                _frame_size("MAX_FRAME_SIZE", v)
            elif k == H2SettingCode.ENABLE_PUSH and v not in (0, 1):
                raise ConfigError(f"ENABLE_PUSH must be 0 or 1, got {v}")
        if self.connection_window_increment is not None and not (
            1 <= self.connection_window_increment <= _MAX_WINDOW - _DEFAULT_CONN_WINDOW
        ):
            raise ConfigError(
                f"connection_window_increment must be within 1..{_MAX_WINDOW - 65535}"
            )
        object.__setattr__(self, "priority_frames", tuple(self.priority_frames))
        for p in self.priority_frames:
            if not isinstance(p, H2Priority) or p.stream_id <= 0:
                raise ConfigError(
                    f"a PRIORITY frame needs an H2Priority with a stream id > 0: {p!r}"
                )
        order = tuple(self.pseudo_header_order)
        object.__setattr__(self, "pseudo_header_order", order)
        if len(order) != len(set(order)) or not set(order) <= _PSEUDO_REQUEST:
            raise ConfigError(
                "pseudo_header_order may only name :method, :authority, :scheme and :path, "
                f"each at most once; got {order!r}"
            )
        _positive("max_header_list_size", self.max_header_list_size, minimum=1024)
        if self.max_header_block_size is not None:
            _positive("max_header_block_size", self.max_header_block_size, minimum=1024)
        if self.keepalive_interval is not None:
            _positive("keepalive_interval", self.keepalive_interval, minimum=0.001)
        _positive("keepalive_timeout", self.keepalive_timeout, minimum=0.001)

    @classmethod
    def from_akamai(cls, fingerprint: AkamaiH2Fingerprint, **overrides: Any) -> H2ClientConfig:
        """A config whose first frames reproduce *fingerprint* (other fields: *overrides*)."""
        names = {"m": ":method", "a": ":authority", "s": ":scheme", "p": ":path"}
        order = tuple(names[x] for x in fingerprint.pseudo_header_order)
        for name in (":method", ":authority", ":scheme", ":path"):
            if name not in order:
                order += (name,)
        values: dict[str, Any] = {
            "settings": fingerprint.settings,
            "connection_window_increment": fingerprint.window_update or None,
            "priority_frames": fingerprint.priorities,
            "pseudo_header_order": order,
        }
        values.update(overrides)
        return cls(**values)

    def setting(self, code: int, default: int | None = None) -> int | None:
        """The last value ``settings`` gives *code*, else *default*."""
        value = default
        for k, v in self.settings:
            if k == code:
                value = v
        return value

    @property
    def decoded_header_limit(self) -> int:
        """The cap on the decoded response header list."""
        adv = self.setting(H2SettingCode.MAX_HEADER_LIST_SIZE)
        return self.max_header_list_size if adv is None else adv

    @property
    def header_block_limit(self) -> int:
        """The cap on encoded header block bytes."""
        if self.max_header_block_size is None:
            return max(self.decoded_header_limit, 16_384)
        return self.max_header_block_size
