"""pyrama-tls: TLS over any stream, certificates, ClientHello parsing and fingerprints."""

from pyrama_tls._acceptor import TlsAcceptor, TlsAcceptorLayer, TlsAcceptorService
from pyrama_tls._ca import DEFAULT_CA_VALIDITY, CertificateAuthority
from pyrama_tls._cert_names import CertName
from pyrama_tls._certified_key import CertifiedKey, SpkiSha256
from pyrama_tls._certs import DEFAULT_LEAF_VALIDITY, self_signed_leaf
from pyrama_tls._client_hello import ClientHello, ClientHelloExtension, KeyShareEntry
from pyrama_tls._client_hello_encode import encode_client_hello, encode_client_hello_handshake
from pyrama_tls._client_hello_parser import (
    DEFAULT_MAX_CLIENT_HELLO_RECORDS,
    DEFAULT_MAX_CLIENT_HELLO_SIZE,
    ClientHelloReader,
    parse_client_hello,
)
from pyrama_tls._config import (
    DEFAULT_HANDSHAKE_TIMEOUT,
    CertificateIssuer,
    ClientAuth,
    TlsAcceptorData,
    TlsConnectorData,
)
from pyrama_tls._connector import TlsConnector, TlsConnectorLayer, TlsConnectorService, tls_connect
from pyrama_tls._grease import GREASE_VALUES, is_grease
from pyrama_tls._hostname import certificate_matches_host
from pyrama_tls._issuer import DEFAULT_ISSUER_CACHE_SIZE, DynamicIssuer, IssuerStats, ServerName
from pyrama_tls._ja3 import Ja3, ja3
from pyrama_tls._ja4 import Ja4, ja4
from pyrama_tls._keylog import KEYLOG_ENV
from pyrama_tls._keys import DEFAULT_KEY_KIND, KeyKind, PrivateKey, generate_private_key
from pyrama_tls._negotiated import NegotiatedTls, TlsRole
from pyrama_tls._peek_client_hello import DEFAULT_PEEK_TIMEOUT, peek_client_hello
from pyrama_tls._peetprint import PeetPrint, peetprint
from pyrama_tls._pem import certified_key_from_pem, load_certified_key, save_certified_key
from pyrama_tls._pinning import PinLike, normalize_pin, spki_sha256_of
from pyrama_tls._sni_router import SniRoute, SniRouter
from pyrama_tls._tls_ids import ExtensionType, cipher_suite_name, extension_name
from pyrama_tls._tls_stream import TlsStream
from pyrama_tls._trust import VerifyPaths, ca_bundle_path, default_verify_paths
from pyrama_tls._versions import TlsVersion

__all__ = [
    "DEFAULT_CA_VALIDITY",
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "DEFAULT_ISSUER_CACHE_SIZE",
    "DEFAULT_KEY_KIND",
    "DEFAULT_LEAF_VALIDITY",
    "DEFAULT_MAX_CLIENT_HELLO_RECORDS",
    "DEFAULT_MAX_CLIENT_HELLO_SIZE",
    "DEFAULT_PEEK_TIMEOUT",
    "GREASE_VALUES",
    "KEYLOG_ENV",
    "CertName",
    "CertificateAuthority",
    "CertificateIssuer",
    "CertifiedKey",
    "ClientAuth",
    "ClientHello",
    "ClientHelloExtension",
    "ClientHelloReader",
    "DynamicIssuer",
    "ExtensionType",
    "IssuerStats",
    "Ja3",
    "Ja4",
    "KeyKind",
    "KeyShareEntry",
    "NegotiatedTls",
    "PeetPrint",
    "PinLike",
    "PrivateKey",
    "ServerName",
    "SniRoute",
    "SniRouter",
    "SpkiSha256",
    "TlsAcceptor",
    "TlsAcceptorData",
    "TlsAcceptorLayer",
    "TlsAcceptorService",
    "TlsConnector",
    "TlsConnectorData",
    "TlsConnectorLayer",
    "TlsConnectorService",
    "TlsRole",
    "TlsStream",
    "TlsVersion",
    "VerifyPaths",
    "ca_bundle_path",
    "certificate_matches_host",
    "certified_key_from_pem",
    "cipher_suite_name",
    "default_verify_paths",
    "encode_client_hello",
    "encode_client_hello_handshake",
    "extension_name",
    "generate_private_key",
    "is_grease",
    "ja3",
    "ja4",
    "load_certified_key",
    "normalize_pin",
    "parse_client_hello",
    "peek_client_hello",
    "peetprint",
    "save_certified_key",
    "self_signed_leaf",
    "spki_sha256_of",
    "tls_connect",
]

__version__ = "0.1.0"
