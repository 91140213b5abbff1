"""pyrama-tls: TLS over any stream, certificates, ClientHello parsing and fingerprints."""

from pyrama_tls._ca import DEFAULT_CA_VALIDITY, CertificateAuthority
from pyrama_tls._cert_names import CertName
from pyrama_tls._certified_key import CertifiedKey, SpkiSha256
from pyrama_tls._certs import DEFAULT_LEAF_VALIDITY, self_signed_leaf
from pyrama_tls._keys import DEFAULT_KEY_KIND, KeyKind, PrivateKey, generate_private_key
from pyrama_tls._pem import certified_key_from_pem, load_certified_key, save_certified_key

__all__ = [
    "DEFAULT_CA_VALIDITY",
    "DEFAULT_KEY_KIND",
    "DEFAULT_LEAF_VALIDITY",
    "CertName",
    "CertificateAuthority",
    "CertifiedKey",
    "KeyKind",
    "PrivateKey",
    "SpkiSha256",
    "certified_key_from_pem",
    "generate_private_key",
    "load_certified_key",
    "save_certified_key",
    "self_signed_leaf",
]

__version__ = "0.1.0"
