"""Configuration of the HTTP connection drivers: shared limits and HTTP/1.1 settings.

:class:`HttpLimits` holds the limits every HTTP version enforces (head size, header count,
request body size, timeouts, requests per connection); the HTTP/1.1 and HTTP/2 drivers both
take it. :class:`Http1Config` adds what only HTTP/1.1 needs.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyrama_core.errors import ConfigError

if TYPE_CHECKING:
    from pyrama_http_core._codec import Http1ClientCodec, Http1ServerCodec

__all__ = [
    "DEFAULT_HEADER_READ_TIMEOUT",
    "DEFAULT_KEEP_ALIVE_TIMEOUT",
    "DEFAULT_MAX_HEADERS",
    "DEFAULT_MAX_HEADER_SIZE",
    "ContinueMode",
    "Http1ClientConfig",
    "Http1Config",
    "HttpLimits",
]

DEFAULT_MAX_HEADER_SIZE = 64 * 1024
"""Default bound on the bytes of a request head (request line + header fields)."""

DEFAULT_MAX_HEADERS = 100
"""Default bound on the number of header fields in one head (or trailer section)."""

DEFAULT_HEADER_READ_TIMEOUT = 30.0
"""Default seconds a peer gets to deliver a complete head once it started one."""

DEFAULT_KEEP_ALIVE_TIMEOUT = 60.0
"""Default seconds an idle keep-alive connection waits for the next request."""


def _check_positive_int(name: str, value: int | None, *, allow_none: bool) -> None:
    if value is None:
        if not allow_none:
            raise ConfigError(f"{name} must be set")
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive int, got {value!r}")


def _check_seconds(name: str, value: float | None, *, allow_none: bool = True) -> None:
    if value is None:
        if not allow_none:
            raise ConfigError(f"{name} must be set")
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}")
    if not (value > 0 and math.isfinite(value)):  # also rejects NaN
        raise ConfigError(f"{name} must be > 0 seconds, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpLimits:
    """Limits an HTTP connection driver enforces on its peer (shared by HTTP/1.1 and HTTP/2).

    * ``max_header_size``: bytes of one head (HTTP/1.1: request/status line plus header
      fields; HTTP/2: the decoded header list). Exceeding it answers ``431`` (server side).
    * ``max_headers``: number of header fields in one head or trailer section (``431``).
    * ``max_body_size``: bytes of one request body the server accepts, checked as the body
      arrives (a declared ``Content-Length`` above it is refused before the service runs);
      ``413``. ``None`` (the default) means unlimited: bodies stream, nothing buffers them,
      so a forward proxy passes uploads of any size unless this is set.
    * ``header_read_timeout``: seconds a client gets to deliver a complete head once its first
      byte arrived (slowloris protection); the connection is then closed. ``None`` disables.
    * ``keep_alive_timeout``: seconds an idle connection waits for the next request before
      it is closed. ``None`` waits forever.
    * ``max_requests_per_connection``: after this many requests the server answers the last
      one with ``Connection: close``. ``None`` (the default) means no limit.
    """

    max_header_size: int = DEFAULT_MAX_HEADER_SIZE
    max_headers: int = DEFAULT_MAX_HEADERS
    max_body_size: int | None = None
    header_read_timeout: float | None = DEFAULT_HEADER_READ_TIMEOUT
    keep_alive_timeout: float | None = DEFAULT_KEEP_ALIVE_TIMEOUT
    max_requests_per_connection: int | None = None

    def __post_init__(self) -> None:
        _check_positive_int("max_header_size", self.max_header_size, allow_none=False)
        _check_positive_int("max_headers", self.max_headers, allow_none=False)
        if self.max_body_size is not None and (
            isinstance(self.max_body_size, bool)
            or not isinstance(self.max_body_size, int)
            or self.max_body_size < 0
        ):
            raise ConfigError(f"max_body_size must be an int >= 0, got {self.max_body_size!r}")
        _check_seconds("header_read_timeout", self.header_read_timeout)
        _check_seconds("keep_alive_timeout", self.keep_alive_timeout)
        _check_positive_int(
            "max_requests_per_connection", self.max_requests_per_connection, allow_none=True
        )


class ContinueMode(enum.Enum):
    """When an HTTP/1.1 server answers ``Expect: 100-continue`` with ``100 Continue``.

    * ``ON_READ``: only once the service starts reading the request body (a service that
      answers without reading it spares the client the upload).
    * ``IMMEDIATE``: as soon as the request head has been parsed.
    """

    ON_READ = "on_read"
    IMMEDIATE = "immediate"


_server_codec_type: Callable[[HttpLimits], Http1ServerCodec] | None = None


def _default_server_codec(config: Http1Config) -> Http1ServerCodec:
    """Httptools' codec when httptools is installed, else h11's."""
    global _server_codec_type
    if _server_codec_type is None:
        from pyrama_http_core._codec_httptools import HTTPTOOLS_AVAILABLE, HttptoolsServerCodec

        if HTTPTOOLS_AVAILABLE:
            _server_codec_type = HttptoolsServerCodec
        else:  # pragma: no cover - the tests run with httptools installed
            from pyrama_http_core._codec_h11 import H11ServerCodec

            _server_codec_type = H11ServerCodec
    return _server_codec_type(config.limits)


_client_codec_type: Callable[..., Http1ClientCodec] | None = None

# Http1Config.push_reads' default (the tests run the driver both ways by switching it)
_push_reads_default = True


def _default_client_codec(config: Http1ClientConfig) -> Http1ClientCodec:
    """Httptools' client codec when httptools is installed, else h11's."""
    global _client_codec_type
    if _client_codec_type is None:
        from pyrama_http_core._codec_httptools import HTTPTOOLS_AVAILABLE

        if HTTPTOOLS_AVAILABLE:
            from pyrama_http_core._codec_httptools_client import HttptoolsClientCodec

            _client_codec_type = HttptoolsClientCodec
        else:  # pragma: no cover - the tests run with httptools installed
            from pyrama_http_core._codec_h11 import H11ClientCodec

            _client_codec_type = H11ClientCodec
    return _client_codec_type(
        max_header_size=config.max_header_size, max_headers=config.max_headers
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Http1Config:
    """Settings of the HTTP/1.1 server connection driver (:func:`serve_http1`).

    * ``limits``: the :class:`HttpLimits` enforced on clients.
    * ``continue_mode``: when ``100 Continue`` is sent (see :class:`ContinueMode`).
    * ``max_discard_size``: when the service answered without reading the whole request body,
      up to this many body bytes are read and dropped to keep the connection alive; a larger
      (or unknown-length, still unfinished) remainder closes the connection instead.
    * ``send_408_on_header_timeout``: answer ``408 Request Timeout`` before closing when
      ``header_read_timeout`` fires in the middle of a head (off: just close, like nginx).
    * ``date_header``: give every response without a ``Date`` field one (the current time,
      RFC 9110 6.6.1: an origin server with a clock must); off leaves heads as the service
      made them (plus framing).
    * ``server_header``: a ``Server`` field value for responses without one; ``None`` (the
      default) sends none.
    * ``codec_factory``: builds the :class:`~pyrama_http_core.Http1ServerCodec` for each
      connection; the default is :class:`~pyrama_http_core.HttptoolsServerCodec` when
      httptools is installed (``pyrama-http-core[fast]``), else the pure-Python
      :class:`~pyrama_http_core.H11ServerCodec`. Both accept, frame and reject requests the
      same way; pass ``lambda cfg: H11ServerCodec(cfg.limits)`` to pick h11.
    * ``push_reads``: on a stream that can push its bytes (a plain TCP or Unix socket, see
      :class:`~pyrama_net.PushStream`), parse each chunk in the transport's data callback and
      run the service right there; only a request whose service (or body) has to wait moves
      to the connection's task. A hello-world request then costs no task wake-up and no
      future. Services see no difference (``asyncio.current_task()`` is the connection's
      task in both cases). Off: every read goes through the connection's task. Needs a
      codec with ``buffered()`` and ``receive_next()`` (the built-in ones, see
      ``ServerReader``); with another codec every read goes through the task.
    """

    limits: HttpLimits = field(default_factory=HttpLimits)
    continue_mode: ContinueMode = ContinueMode.ON_READ
    max_discard_size: int = 64 * 1024
    send_408_on_header_timeout: bool = False
    date_header: bool = True
    server_header: str | None = None
    codec_factory: Callable[[Http1Config], Http1ServerCodec] = _default_server_codec
    push_reads: bool = field(default_factory=lambda: _push_reads_default)

    def __post_init__(self) -> None:
        if not isinstance(self.push_reads, bool):
            raise ConfigError(f"push_reads must be a bool, got {self.push_reads!r}")
        if not isinstance(self.limits, HttpLimits):
            raise ConfigError(f"limits must be HttpLimits, got {self.limits!r}")
        if not isinstance(self.continue_mode, ContinueMode):
            raise ConfigError(f"continue_mode must be ContinueMode, got {self.continue_mode!r}")
        if (
            isinstance(self.max_discard_size, bool)
            or not isinstance(self.max_discard_size, int)
            or self.max_discard_size < 0
        ):
            raise ConfigError(
                f"max_discard_size must be an int >= 0, got {self.max_discard_size!r}"
            )
        if not isinstance(self.date_header, bool):
            raise ConfigError(f"date_header must be a bool, got {self.date_header!r}")
        server = self.server_header
        if server is not None:
            if not isinstance(server, str) or not server.isprintable() or not server.strip():
                raise ConfigError(f"server_header must be a printable str, got {server!r}")
            try:
                server.encode("latin-1")
            except UnicodeEncodeError as exc:
                raise ConfigError(f"server_header must be Latin-1, got {server!r}") from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class Http1ClientConfig:
    """Settings of the HTTP/1.1 client connection driver (:class:`Http1ClientConnection`).

    * ``max_header_size`` / ``max_headers``: bounds on a response head (and trailers).
    * ``expect_continue_timeout``: after sending a head with ``Expect: 100-continue``, how
      long to wait for ``100 Continue`` (or a final response) before sending the body anyway.
    * ``response_header_timeout``: seconds to wait for the response head once the request
      has been sent; ``None`` (the default) waits as long as the caller does.
    * ``codec_factory``: builds the :class:`~pyrama_http_core.Http1ClientCodec`; the default
      is :class:`~pyrama_http_core.HttptoolsClientCodec` when httptools is installed
      (``pyrama-http-core[fast]``), else the pure-Python
      :class:`~pyrama_http_core.H11ClientCodec`. Both frame and refuse responses the same
      way; pass ``lambda cfg: H11ClientCodec()`` to pick h11.
    """

    max_header_size: int = DEFAULT_MAX_HEADER_SIZE
    max_headers: int = DEFAULT_MAX_HEADERS
    expect_continue_timeout: float = 1.0
    response_header_timeout: float | None = None
    codec_factory: Callable[[Http1ClientConfig], Http1ClientCodec] = _default_client_codec

    def __post_init__(self) -> None:
        _check_positive_int("max_header_size", self.max_header_size, allow_none=False)
        _check_positive_int("max_headers", self.max_headers, allow_none=False)
        _check_seconds("expect_continue_timeout", self.expect_continue_timeout, allow_none=False)
        _check_seconds("response_header_timeout", self.response_header_timeout)
