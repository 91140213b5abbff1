"""pyrama-socks5: SOCKS5 (RFC 1928 + RFC 1929) server and client: CONNECT, BIND, UDP ASSOCIATE.

* Protocol (sans-IO): :class:`ClientGreeting`, :class:`MethodSelection`,
  :class:`UsernamePasswordRequest`, :class:`UsernamePasswordResponse`, :class:`Request`,
  :class:`Reply`, :class:`UdpPacket` with the enums :class:`AuthMethod`, :class:`Command`,
  :class:`AddressType` and :class:`ReplyCode`.
* Server: :class:`Socks5Acceptor` (also named :data:`Socks5ProxyService`), a
  ``Service[Stream, None]``.
* Client: :func:`socks5_connect`, :func:`socks5_bind`, :class:`Socks5UdpClient` and the
  connector :class:`Socks5ProxyConnector`.
"""

from pyrama_socks5._client import (
    Socks5Binding,
    Socks5ProxyConnector,
    Socks5UdpClient,
    socks5_bind,
    socks5_connect,
)
from pyrama_socks5._proto import (
    MAX_FIELD_LEN,
    SOCKS5_VERSION,
    USERPASS_VERSION,
    AddressType,
    AuthMethod,
    ClientGreeting,
    Command,
    MethodSelection,
    Reply,
    ReplyCode,
    Request,
    UdpPacket,
    UsernamePasswordRequest,
    UsernamePasswordResponse,
    decode_address,
    encode_address,
    reply_code_name,
)
from pyrama_socks5._server import (
    DEFAULT_HANDSHAKE_TIMEOUT,
    Socks5Acceptor,
    Socks5Authorizer,
    Socks5ConnectTarget,
    Socks5ProxyService,
    reply_code_for,
    static_authorizer,
)

__all__ = [
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "MAX_FIELD_LEN",
    "SOCKS5_VERSION",
    "USERPASS_VERSION",
    "AddressType",
    "AuthMethod",
    "ClientGreeting",
    "Command",
    "MethodSelection",
    "Reply",
    "ReplyCode",
    "Request",
    "Socks5Acceptor",
    "Socks5Authorizer",
    "Socks5Binding",
    "Socks5ConnectTarget",
    "Socks5ProxyConnector",
    "Socks5ProxyService",
    "Socks5UdpClient",
    "UdpPacket",
    "UsernamePasswordRequest",
    "UsernamePasswordResponse",
    "decode_address",
    "encode_address",
    "reply_code_for",
    "reply_code_name",
    "socks5_bind",
    "socks5_connect",
    "static_authorizer",
]

__version__ = "0.1.0"
