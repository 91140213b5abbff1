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

__all__: list[str] = [
    "DEFAULT_HEADER_READ_TIMEOUT",
    "DEFAULT_KEEP_ALIVE_TIMEOUT",
    "DEFAULT_MAX_HEADERS",
    "DEFAULT_MAX_HEADER_SIZE",
    "NEED_DATA",
    "PAUSED",
    "BodyData",
    "ClientEvent",
    "CodecError",
    "CodecSignal",
    "ConnectionClosed",
    "ContinueMode",
    "EndOfMessage",
    "H11ClientCodec",
    "H11ServerCodec",
    "Http1ClientCodec",
    "Http1ClientConfig",
    "Http1Config",
    "Http1ServerCodec",
    "HttpLimits",
    "InformationalHead",
    "RawHeaders",
    "RequestHead",
    "ResponseHead",
    "ServerEvent",
]

__version__ = "0.1.0"
