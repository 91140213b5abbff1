"""pyrama-http-core."""

from pyrama_http_core._codec import (
    NEED_DATA,
    PAUSED,
    BodyData,
    ClientEvent,
    CodecError,
    CodecSignal,
    ConnectionClosed,
    EndOfMessage,
    Http1ClientCodec,
    Http1ServerCodec,
    InformationalHead,
    RawHeaders,
    RequestHead,
    ResponseHead,
    ServerEvent,
)
from pyrama_http_core._codec_h11 import H11ClientCodec, H11ServerCodec
from pyrama_http_core._codec_httptools import HTTPTOOLS_AVAILABLE, HttptoolsServerCodec
from pyrama_http_core._codec_httptools_client import HttptoolsClientCodec
from pyrama_http_core._config import (
    DEFAULT_HEADER_READ_TIMEOUT,
    DEFAULT_KEEP_ALIVE_TIMEOUT,
    DEFAULT_MAX_HEADER_SIZE,
    DEFAULT_MAX_HEADERS,
    ContinueMode,
    Http1ClientConfig,
    Http1Config,
    HttpLimits,
)
from pyrama_http_core._h1_client import Http1ClientConnection
from pyrama_http_core._h1_server import Http1ServerConnection, serve_http1
from pyrama_http_core._h1_upgrade import OnUpgrade, Upgraded
from pyrama_http_core._h2_client import H2ClientConnection
from pyrama_http_core._h2_config import DEFAULT_CLIENT_SETTINGS, H2ClientConfig, H2ServerConfig
from pyrama_http_core._h2_fingerprint import H2ClientFingerprintData, H2PseudoHeaderOrder
from pyrama_http_core._h2_frames import (
    H2_PREFACE,
    H2ErrorCode,
    H2SettingCode,
    is_h2_preface,
    may_be_h2_preface,
)
from pyrama_http_core._h2_server import H2ServerConnection, serve_h2
from pyrama_http_core._h2_stream_io import H2StreamIo

__all__: list[str] = [
    "DEFAULT_CLIENT_SETTINGS",
    "DEFAULT_HEADER_READ_TIMEOUT",
    "DEFAULT_KEEP_ALIVE_TIMEOUT",
    "DEFAULT_MAX_HEADERS",
    "DEFAULT_MAX_HEADER_SIZE",
    "H2_PREFACE",
    "HTTPTOOLS_AVAILABLE",
    "NEED_DATA",
    "PAUSED",
    "BodyData",
    "ClientEvent",
    "CodecError",
    "CodecSignal",
    "ConnectionClosed",
    "ContinueMode",
    "EndOfMessage",
    "H2ClientConfig",
    "H2ClientConnection",
    "H2ClientFingerprintData",
    "H2ErrorCode",
    "H2PseudoHeaderOrder",
    "H2ServerConfig",
    "H2ServerConnection",
    "H2SettingCode",
    "H2StreamIo",
    "H11ClientCodec",
    "H11ServerCodec",
    "Http1ClientCodec",
    "Http1ClientConfig",
    "Http1ClientConnection",
    "Http1Config",
    "Http1ServerCodec",
    "Http1ServerConnection",
    "HttpLimits",
    "HttptoolsClientCodec",
    "HttptoolsServerCodec",
    "InformationalHead",
    "OnUpgrade",
    "RawHeaders",
    "RequestHead",
    "ResponseHead",
    "ServerEvent",
    "Upgraded",
    "is_h2_preface",
    "may_be_h2_preface",
    "serve_h2",
    "serve_http1",
]

__version__ = "0.1.0"
