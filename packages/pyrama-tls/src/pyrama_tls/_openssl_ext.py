"""OpenSSL features pyOpenSSL does not wrap, reached through its cffi bindings when present.

pyOpenSSL's public API has no call for: the verifier's host/IP check
(``X509_VERIFY_PARAM_set1_host``), ``SSL_session_reused``, the key-exchange group list
(``SSL_CTX_set1_groups_list``, bound as ``SSL_CTX_set1_curves_list``, its older alias), the
signature algorithm list (``SSL_CTX_set1_sigalgs_list``), verify error strings and a server
name callback that may refuse a name with an alert of its choosing. The ``cryptography``
bindings pyOpenSSL uses export them; each helper here checks that the symbol exists and says
so (``False``/``None``) when it does not, so callers can fall back or refuse the setting with a
clear error instead of crashing on a future binding change.

:func:`memory_bio_io` is the data path of a memory-BIO connection: pyOpenSSL's ``recv``,
``bio_read`` and ``bio_write`` allocate a buffer and raise an exception per call (one per
TLS record read, one per empty BIO), which dominates a bulk relay in Python. The helper calls
``SSL_read``/``SSL_write``/``BIO_read``/``BIO_write`` directly, decrypts several records into
one reusable buffer and asks the BIO how much ciphertext it holds instead of reading until it
fails. Without the bindings it falls back to pyOpenSSL's public methods, with the same
results.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from typing import Any, Final

from OpenSSL import SSL

__all__ = [
    "READ_CLOSE_NOTIFY",
    "READ_MORE",
    "READ_RAGGED_EOF",
    "SSL_AD_INTERNAL_ERROR",
    "SSL_AD_MISSING_EXTENSION",
    "SSL_AD_UNRECOGNIZED_NAME",
    "MemoryBioIo",
    "can_set_groups",
    "can_set_sigalgs",
    "memory_bio_io",
    "session_reused",
    "set_groups",
    "set_servername_callback",
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


# -- server name callback ------------------------------------------------------------------

SSL_AD_INTERNAL_ERROR: Final = 80
"""TLS alert ``internal_error``."""
SSL_AD_MISSING_EXTENSION: Final = 109
"""TLS alert ``missing_extension`` (TLS 1.3; OpenSSL sends it for TLS 1.2 too)."""
SSL_AD_UNRECOGNIZED_NAME: Final = 112
"""TLS alert ``unrecognized_name``."""


def set_servername_callback(
    ctx: SSL.Context, callback: Callable[[SSL.Connection], int | None]
) -> Any:
    """Install a server name (SNI) callback that may refuse the handshake with an alert.

    *callback* gets the pyOpenSSL connection and returns ``None`` to go on or a TLS alert
    number (:data:`SSL_AD_UNRECOGNIZED_NAME`, :data:`SSL_AD_INTERNAL_ERROR`) to end the
    handshake with that fatal alert. An exception it raises ends the handshake with
    ``internal_error`` (nothing is printed). pyOpenSSL's own ``set_tlsext_servername_callback``
    can only go on (or print a traceback and send ``unrecognized_name``).

    Returns the cffi callback handle, which must stay referenced as long as *ctx* is used;
    ``None`` when the binding lacks what this needs: the caller then falls back to
    ``set_tlsext_servername_callback``.
    """
    if (
        _ffi is None
        or not _has("SSL_CTX_set_tlsext_servername_callback")
        or not _has("SSL_TLSEXT_ERR_ALERT_FATAL")
    ):
        return None
    mapping: Any = getattr(SSL.Connection, "_reverse_mapping", None)
    ctx_ptr: Any = getattr(ctx, "_context", None)
    if mapping is None or ctx_ptr is None:
        return None
    ok = int(_lib.SSL_TLSEXT_ERR_OK)
    fatal = int(_lib.SSL_TLSEXT_ERR_ALERT_FATAL)

    def wrapper(ssl: Any, alert: Any, arg: Any) -> int:
        try:
            conn = mapping[ssl]
            refusal = callback(conn)
        except Exception:
            refusal = SSL_AD_INTERNAL_ERROR
        if refusal is None:
            return ok
        alert[0] = refusal
        return fatal

    handle = _ffi.callback("int (*)(SSL *, int *, void *)", wrapper)
    _lib.SSL_CTX_set_tlsext_servername_callback(ctx_ptr, handle)
    return handle


# -- the data path of a memory-BIO connection -----------------------------------------------

READ_MORE: Final = 0
""":meth:`MemoryBioIo.read` status: the engine needs more ciphertext (or gave all it had)."""
READ_CLOSE_NOTIFY: Final = 1
""":meth:`MemoryBioIo.read` status: the peer's ``close_notify`` arrived; no more data."""
READ_RAGGED_EOF: Final = 2
""":meth:`MemoryBioIo.read` status: the engine saw the end of the ciphertext without one."""

SCRATCH_SIZE: Final = 262144
"""Largest plaintext one :meth:`MemoryBioIo.read` returns (bytes)."""

# ciphertext up to this size is pulled through the scratch buffer; more into a fresh bytearray
_SMALL_PULL = 16384


class MemoryBioIo:
    """The data path of a memory-BIO ``SSL.Connection``, through pyOpenSSL's public methods.

    :func:`memory_bio_io` returns the faster cffi version when the bindings allow; both
    behave the same. Errors are pyOpenSSL's (``SSL.Error`` and its subclasses).
    """

    __slots__ = ("_conn",)

    def __init__(self, conn: SSL.Connection) -> None:
        self._conn = conn

    def put(self, data: bytes | bytearray | memoryview) -> None:
        """Hand ciphertext received from the peer to the engine."""
        self._conn.bio_write(data)

    def pending(self) -> int:
        """How much ciphertext the engine has produced (``1`` when unknown but some may be)."""
        return 1

    def take(self) -> bytes | bytearray:
        """All ciphertext the engine has produced so far (``b""`` when none)."""
        conn = self._conn
        parts: list[bytes] = []
        while True:
            try:
                parts.append(conn.bio_read(SCRATCH_SIZE))
            except SSL.WantReadError:
                break
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read(self, max_bytes: int) -> tuple[bytes, int]:
        """Decrypt up to *max_bytes* (at most :data:`SCRATCH_SIZE`) from what was put in.

        Returns ``(data, status)``: *status* is :data:`READ_MORE` when the engine ran out of
        ciphertext or *max_bytes* was reached, :data:`READ_CLOSE_NOTIFY` at the peer's
        ``close_notify`` and :data:`READ_RAGGED_EOF` when the engine reports an EOF without
        one. *data* may be empty with any status.
        """
        conn = self._conn
        limit = min(max_bytes, SCRATCH_SIZE)
        parts: list[bytes] = []
        got = 0
        status = READ_MORE
        while got < limit:
            try:
                chunk = conn.recv(min(limit - got, 16384))
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                status = READ_CLOSE_NOTIFY
                break
            except SSL.SysCallError:
                status = READ_RAGGED_EOF
                break
            parts.append(chunk)
            got += len(chunk)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        return data, status

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt all of *data* (the context must not allow partial writes)."""
        self._conn.send(data)

    def handshake_step(self) -> bool:
        """Advance the handshake: ``True`` once done, ``False`` while it waits for the peer.

        Failures raise pyOpenSSL's errors (including exceptions our callbacks raised).
        """
        try:
            self._conn.do_handshake()
        except SSL.WantReadError:
            return False
        return True


class _CffiMemoryBioIo(MemoryBioIo):
    """:class:`MemoryBioIo` straight through the cffi bindings: no exception per call."""

    __slots__ = ("_rbio", "_ssl", "_wbio")

    def __init__(self, conn: SSL.Connection, ssl: Any, rbio: Any, wbio: Any) -> None:
        super().__init__(conn)
        self._ssl = ssl
        self._rbio = rbio
        self._wbio = wbio

    def put(self, data: bytes | bytearray | memoryview) -> None:
        n = len(data)
        if not n:
            return
        with _ffi.from_buffer(data) as ptr:
            # a memory BIO takes everything (it grows); <= 0 only when it cannot allocate
            if _lib.BIO_write(self._rbio, ptr, n) != n:
                raise SSL.Error([("BIO routines", "", "memory BIO refused the ciphertext")])

    def pending(self) -> int:
        return int(_lib.BIO_get_mem_data(self._wbio, _ffi.NULL))

    def take(self) -> bytes | bytearray:
        wbio = self._wbio
        n = int(_lib.BIO_get_mem_data(wbio, _ffi.NULL))
        if n <= 0:
            return b""
        if n <= _SMALL_PULL:
            scratch = _scratch()
            got = _lib.BIO_read(wbio, scratch, n)
            return _ffi.buffer(scratch, got)[:] if got > 0 else b""
        out = bytearray(n)
        with _ffi.from_buffer(out) as ptr:
            got = _lib.BIO_read(wbio, ptr, n)
        if got != n:  # pragma: no cover - a memory BIO hands out what it said it holds
            del out[max(got, 0) :]
        return out

    def read(self, max_bytes: int) -> tuple[bytes, int]:
        ssl = self._ssl
        scratch = _scratch()
        limit = min(max_bytes, SCRATCH_SIZE)
        ssl_read = _lib.SSL_read
        got = 0
        status = READ_MORE
        _lib.ERR_clear_error()  # SSL_get_error needs an empty queue to be reliable
        while got < limit:
            r = ssl_read(ssl, scratch + got, limit - got)
            if r > 0:
                got += r
                continue
            err = _lib.SSL_get_error(ssl, r)
            if err == _WANT_READ:
                break
            if err == _ZERO_RETURN:
                status = READ_CLOSE_NOTIFY
                break
            if err == _SYSCALL:
                _lib.ERR_clear_error()
                status = READ_RAGGED_EOF
                break
            self._raise(r)  # a fatal alert or a bad record: what was decrypted is moot
        if not got:
            return b"", status
        return _ffi.buffer(scratch, got)[:], status

    def write(self, data: bytes | bytearray | memoryview) -> None:
        n = len(data)
        if not n:
            return
        _lib.ERR_clear_error()
        with _ffi.from_buffer(data) as ptr:
            r = _lib.SSL_write(self._ssl, ptr, n)
        if r != n:
            self._raise(r)

    def handshake_step(self) -> bool:
        ssl = self._ssl
        _lib.ERR_clear_error()
        r = _lib.SSL_do_handshake(ssl)
        if r == 1:
            return True
        if _lib.SSL_get_error(ssl, r) == _WANT_READ:
            return False
        self._raise(r)  # pyOpenSSL's error, or the exception one of our callbacks raised
        return False  # pragma: no cover - _raise always raises

    def _raise(self, result: int) -> None:
        raise_error: Any = getattr(self._conn, "_raise_ssl_error", None)
        if callable(raise_error):
            raise_error(self._ssl, result)
        code = _lib.SSL_get_error(self._ssl, result)
        if code == _WANT_READ:
            raise SSL.WantReadError()
        raise SSL.Error([("SSL routines", "", f"SSL error {code}")])


_WANT_READ = int(getattr(_lib, "SSL_ERROR_WANT_READ", 2))
_ZERO_RETURN = int(getattr(_lib, "SSL_ERROR_ZERO_RETURN", 6))
_SYSCALL = int(getattr(_lib, "SSL_ERROR_SYSCALL", 5))

_FAST_IO = _ffi is not None and all(
    _has(name)
    for name in (
        "SSL_read",
        "SSL_write",
        "SSL_do_handshake",
        "SSL_get_error",
        "BIO_read",
        "BIO_write",
        "BIO_get_mem_data",
        "ERR_clear_error",
    )
)

_local = threading.local()


def _scratch() -> Any:
    """The decrypt buffer of the running thread (reads never await while they use it)."""
    buf = getattr(_local, "buf", None)
    if buf is None:
        buf = _local.buf = _ffi.new_allocator(should_clear_after_alloc=False)(
            "char[]", SCRATCH_SIZE
        )
    return buf


def memory_bio_io(conn: SSL.Connection, *, fast: bool = True) -> MemoryBioIo:
    """The data path of *conn*, made with ``SSL.Connection(context, None)``.

    The cffi version when *fast* and the bindings (and pyOpenSSL's internals) allow, else one
    over pyOpenSSL's public methods.
    """
    if fast and _FAST_IO:
        ssl = getattr(conn, "_ssl", None)
        rbio = getattr(conn, "_into_ssl", None)
        wbio = getattr(conn, "_from_ssl", None)
        if ssl is not None and rbio is not None and wbio is not None:
            return _CffiMemoryBioIo(conn, ssl, rbio, wbio)
    return MemoryBioIo(conn)
