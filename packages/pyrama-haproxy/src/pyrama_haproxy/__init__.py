"""pyrama-haproxy: HAProxy PROXY protocol v1 and v2: sans-IO codec, server and client layers.

* Codec: :class:`ProxyHeader` (with :class:`Tlv`, :class:`SslTlv`) encodes itself;
  :func:`decode_header` turns bytes into :class:`Decoded` or :class:`NeedMore`, or raises
  :class:`~pyrama_haproxy.errors.ProxyHeaderError`. :func:`crc32c` is the checksum of the
  v2 ``CRC32C`` TLV.
* Server: :class:`HaProxyLayer` reads the header of each accepted stream and records the
  original client (:class:`ProxyProtocolInfo`, and a rewritten ``SocketInfo``).
* Client: :class:`HaProxyClientLayer` wraps a connector to send a header first.
"""

from pyrama_haproxy._client import (
    HaProxyClientLayer,
    HaProxyClientService,
    header_for_stream,
    write_proxy_header,
)
from pyrama_haproxy._crc32c import crc32c
from pyrama_haproxy._decode import (
    DEFAULT_MAX_V2_PAYLOAD,
    Decoded,
    NeedMore,
    decode_header,
    detect_header,
)
from pyrama_haproxy._header import (
    MAX_UNIQUE_ID_LENGTH,
    MAX_V1_HEADER_LENGTH,
    MAX_V2_PAYLOAD_LENGTH,
    UNIX_PATH_LENGTH,
    V2_SIGNATURE,
    ProxyCommand,
    ProxyFamily,
    ProxyHeader,
    ProxyTransport,
    ProxyVersion,
    SslClientFlags,
    SslSubType,
    SslTlv,
    Tlv,
    TlvType,
)
from pyrama_haproxy._server import (
    DEFAULT_HEADER_TIMEOUT,
    HaProxyLayer,
    HaProxyService,
    ProxyProtocolInfo,
)

__all__ = [
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_V2_PAYLOAD",
    "MAX_UNIQUE_ID_LENGTH",
    "MAX_V1_HEADER_LENGTH",
    "MAX_V2_PAYLOAD_LENGTH",
    "UNIX_PATH_LENGTH",
    "V2_SIGNATURE",
    "Decoded",
    "HaProxyClientLayer",
    "HaProxyClientService",
    "HaProxyLayer",
    "HaProxyService",
    "NeedMore",
    "ProxyCommand",
    "ProxyFamily",
    "ProxyHeader",
    "ProxyProtocolInfo",
    "ProxyTransport",
    "ProxyVersion",
    "SslClientFlags",
    "SslSubType",
    "SslTlv",
    "Tlv",
    "TlvType",
    "crc32c",
    "decode_header",
    "detect_header",
    "header_for_stream",
    "write_proxy_header",
]

__version__ = "0.1.0"
