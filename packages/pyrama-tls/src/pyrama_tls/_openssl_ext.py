"""OpenSSL features pyOpenSSL does not wrap, reached through its cffi bindings when present.

pyOpenSSL's public API has no call for: the verifier's host/IP check
(``X509_VERIFY_PARAM_set1_host``), ``SSL_session_reused``, the key-exchange group list
(``SSL_CTX_set1_groups_list``, bound as ``SSL_CTX_set1_curves_list``, its older alias), the
signature algorithm list (``SSL_CTX_set1_sigalgs_list``) and verify error strings. The
``cryptography`` bindings pyOpenSSL uses export them; each helper here checks that the symbol
exists and says so (``False``/``None``) when it does not, so callers can fall back or refuse
the setting with a clear error instead of crashing on a future binding change.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from OpenSSL import SSL

__all__ = [
    "can_set_groups",
    "can_set_sigalgs",
    "session_reused",
    "set_groups",
    "set_sigalgs",
    "set_verify_host",
    "verify_error_string",
]

try:
    from OpenSSL._util import ffi as _ffi
    from OpenSSL._util import lib as _lib
except ImportError:  # pragma: no cover - pyOpenSSL moved its bindings
    _ffi = None
    _lib = None


def _has(name: str) -> bool:
    return _lib is not None and hasattr(_lib, name)


_X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS = 0x4

# the common X509_V_ERR_* codes, for when the binding has no X509_verify_cert_error_string
_VERIFY_ERRORS: dict[int, str] = {
    2: "unable to get issuer certificate",
    7: "certificate signature failure",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    23: "certificate revoked",
    24: "invalid CA certificate",
    26: "unsupported certificate purpose",
    62: "hostname mismatch",
    64: "IP address mismatch",
}


def verify_error_string(code: int) -> str:
    """OpenSSL's text for an ``X509_V_ERR_*`` code."""
    if _ffi is not None and _has("X509_verify_cert_error_string"):
        text = _ffi.string(_lib.X509_verify_cert_error_string(code))
        if isinstance(text, bytes):
            return text.decode("utf-8", "replace")
    return _VERIFY_ERRORS.get(code, f"X509 verify error {code}")


def set_verify_host(conn: SSL.Connection, host: str) -> bool:
    """Make the handshake's certificate verification also check *host* (a name or an IP).

    Returns ``False`` when the binding is missing; the caller then checks the name itself after
    the handshake.
    """
    if _ffi is None or not _has("SSL_get0_param"):
        return False
    param = _lib.SSL_get0_param(conn._ssl)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        if not _has("X509_VERIFY_PARAM_set1_ip"):
            return False
        packed = ip.packed
        return bool(_lib.X509_VERIFY_PARAM_set1_ip(param, packed, len(packed)) == 1)
    if not _has("X509_VERIFY_PARAM_set1_host"):
        return False
    if _has("X509_VERIFY_PARAM_set_hostflags"):
        _lib.X509_VERIFY_PARAM_set_hostflags(param, _X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS)
    encoded = host.encode("ascii")
    return bool(_lib.X509_VERIFY_PARAM_set1_host(param, encoded, len(encoded)) == 1)


def session_reused(conn: SSL.Connection) -> bool:
    """Whether *conn*'s handshake resumed a session (``False`` when it cannot tell)."""
    if not _has("SSL_session_reused"):
        return False
    return bool(_lib.SSL_session_reused(conn._ssl))


def can_set_groups() -> bool:
    """Whether :func:`set_groups` is available."""
    return _has("SSL_CTX_set1_curves_list")


def set_groups(ctx: SSL.Context, groups: str) -> bool:
    """Set the key-exchange groups (``"X25519:P-256"``); ``False`` if OpenSSL refused them."""
    ctx_ptr: Any = ctx._context
    return bool(_lib.SSL_CTX_set1_curves_list(ctx_ptr, groups.encode("ascii")) == 1)


def can_set_sigalgs() -> bool:
    """Whether :func:`set_sigalgs` is available."""
    return _has("SSL_CTX_set1_sigalgs_list")


def set_sigalgs(ctx: SSL.Context, sigalgs: str) -> bool:
    """Set the signature algorithms (``"ECDSA+SHA256:RSA-PSS+SHA256"``); ``False`` if refused."""
    ctx_ptr: Any = ctx._context
    return bool(_lib.SSL_CTX_set1_sigalgs_list(ctx_ptr, sigalgs.encode("ascii")) == 1)
