"""PEM files: loading certificates and keys with clear errors, saving them atomically.

Private keys are written with mode 0600 from the moment the file exists: the data goes to a
temporary file created with ``O_CREAT | O_EXCL`` and mode 0600 in the target directory, is
synced, and then renamed over the target with :func:`os.replace`. There is no window in which
the key is readable by others, whatever the process umask, and readers never see half a file.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pyrama_tls._certified_key import CertifiedKey
from pyrama_tls._keys import PrivateKey, check_private_key
from pyrama_tls.errors import (
    CertificateFileError,
    KeyPasswordError,
    PemError,
)

__all__ = [
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "MAX_PEM_FILE_SIZE",
    "ca_paths",
    "certified_key_from_pem",
    "load_certified_key",
    "parse_certificates",
    "parse_private_key",
    "read_certificates",
    "read_private_key",
    "save_certified_key",
    "write_private_file",
    "write_public_file",
]

MAX_PEM_FILE_SIZE = 1 << 20
"""Largest certificate or key file read (1 MiB); larger files are refused with ``PemError``."""

CA_CERT_FILE = "ca-cert.pem"
"""File name of the CA certificate when a CA is saved to a directory."""

CA_KEY_FILE = "ca-key.pem"
"""File name of the CA private key when a CA is saved to a directory."""

_KEY_BLOCK = re.compile(
    rb"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----\r?\n.*?-----END \1-----", re.DOTALL
)

Password = bytes | str | None


def _password_bytes(password: Password) -> bytes | None:
    return password.encode("utf-8") if isinstance(password, str) else password


def parse_certificates(data: bytes, *, source: str = "PEM data") -> list[x509.Certificate]:
    """Every certificate in PEM *data*, in order (other PEM blocks are ignored).

    Raise :class:`~pyrama_tls.errors.PemError` when there is none or one is malformed.
    """
    if b"-----BEGIN" not in data:
        raise PemError(f"{source} holds no PEM certificate")
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise PemError(f"{source} holds no valid PEM certificate: {exc}") from exc


def parse_private_key(
    data: bytes, password: Password = None, *, source: str = "PEM data"
) -> PrivateKey:
    """The (first) private key in PEM *data*, decrypted with *password* when it is encrypted.

    Other PEM blocks (certificates) may surround it. Raise
    :class:`~pyrama_tls.errors.PemError` when there is no valid key,
    :class:`~pyrama_tls.errors.KeyPasswordError` when the key is encrypted and the password is
    missing or wrong, or a password was given for a key that is not encrypted, and
    :class:`~pyrama_tls.errors.UnsupportedKeyError` for a key kind pyrama-tls cannot use.
    """
    match = _KEY_BLOCK.search(data)
    if match is None:
        raise PemError(f"{source} holds no PEM private key")
    block = match.group(0)
    encrypted = match.group(1) == b"ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in block
    pw = _password_bytes(password)
    if encrypted and not pw:
        raise KeyPasswordError(f"the private key in {source} is encrypted; a password is needed")
    if not encrypted and pw is not None:
        raise KeyPasswordError(f"a password was given but the private key in {source} is plain")
    try:
        key = serialization.load_pem_private_key(block, pw)
    except ValueError as exc:
        if encrypted:
            raise KeyPasswordError(
                f"cannot decrypt the private key in {source}: wrong password?"
            ) from exc
        raise PemError(f"{source} holds a malformed private key: {exc}") from exc
    except (TypeError, UnicodeError) as exc:  # pragma: no cover - guarded above
        raise PemError(f"{source}: cannot load the private key: {exc}") from exc
    return check_private_key(key)


def _read(path: str | os.PathLike[str]) -> bytes:
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            data = f.read(MAX_PEM_FILE_SIZE + 1)
    except OSError as exc:
        raise CertificateFileError(f"cannot read {name}: {exc.strerror or exc}", path=name) from exc
    if len(data) > MAX_PEM_FILE_SIZE:
        raise PemError(f"{name} is larger than {MAX_PEM_FILE_SIZE} bytes; not a PEM file?")
    return data


def read_certificates(path: str | os.PathLike[str]) -> list[x509.Certificate]:
    """Every certificate in the PEM file at *path* (see :func:`parse_certificates`)."""
    return parse_certificates(_read(path), source=os.fspath(path))


def read_private_key(path: str | os.PathLike[str], password: Password = None) -> PrivateKey:
    """The private key in the PEM file at *path* (see :func:`parse_private_key`)."""
    return parse_private_key(_read(path), password, source=os.fspath(path))


def certified_key_from_pem(
    chain_pem: bytes, key_pem: bytes | None = None, password: Password = None
) -> CertifiedKey:
    """A :class:`CertifiedKey` from a PEM chain (leaf first) and a PEM key.

    With *key_pem* ``None`` the key is looked for in *chain_pem*. Raise a
    :class:`~pyrama_tls.errors.CertificateError` subclass on bad PEM, a wrong password, or a
    key that does not belong to the leaf (:class:`~pyrama_tls.errors.KeyMismatchError`).
    """
    certs = parse_certificates(chain_pem, source="the certificate PEM")
    key = parse_private_key(
        chain_pem if key_pem is None else key_pem, password, source="the key PEM"
    )
    return CertifiedKey(certs, key)


def load_certified_key(
    cert_path: str | os.PathLike[str],
    key_path: str | os.PathLike[str] | None = None,
    password: Password = None,
) -> CertifiedKey:
    """Load a certificate chain (leaf first) and its private key from PEM files.

    With *key_path* ``None`` the key is read from *cert_path* too. Errors are
    :class:`~pyrama_tls.errors.CertificateError` subclasses: ``CertificateFileError`` (cannot
    read), ``PemError`` (no or bad PEM), ``KeyPasswordError``, ``KeyMismatchError``.
    """
    cert_data = _read(cert_path)
    certs = parse_certificates(cert_data, source=os.fspath(cert_path))
    if key_path is None:
        key = parse_private_key(cert_data, password, source=os.fspath(cert_path))
    else:
        key = read_private_key(key_path, password)
    return CertifiedKey(certs, key)


def save_certified_key(
    certified_key: CertifiedKey,
    cert_path: str | os.PathLike[str],
    key_path: str | os.PathLike[str],
    *,
    password: Password = None,
) -> None:
    """Write the chain PEM to *cert_path* (mode 0644) and the key PEM to *key_path* (mode 0600).

    Both files are replaced atomically; the key is never readable by others, even for a moment.
    """
    write_private_file(key_path, certified_key.key_pem(password))
    write_public_file(cert_path, certified_key.chain_pem())


def write_private_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Atomically write *data* (a secret) to *path*, with mode 0600 from creation on."""
    _atomic_write(os.fspath(path), data, 0o600)


def write_public_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Atomically write *data* (public, e.g. a certificate) to *path* with mode 0644."""
    _atomic_write(os.fspath(path), data, 0o644)


_CREATE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_BINARY", 0)
)


def _atomic_write(path: str, data: bytes, mode: int) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    tmp = ""
    try:
        while True:
            tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
            try:
                # The mode applies at creation: the file never exists with wider permissions.
                fd = os.open(tmp, _CREATE_FLAGS, mode)
                break
            except FileExistsError:
                continue
        try:
            if hasattr(os, "fchmod"):
                # A umask can only narrow the mode; this makes it exactly *mode* either way.
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        tmp = ""
        _fsync_dir(directory)
    except OSError as exc:
        raise CertificateFileError(
            f"cannot write {path}: {exc.strerror or exc}", path=path
        ) from exc
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _fsync_dir(directory: str) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def ca_paths(
    target: str | os.PathLike[str],
    key_path: str | os.PathLike[str] | None,
    *,
    create_dir: bool,
) -> tuple[str, str]:
    """Resolve the ``(cert_path, key_path)`` of a CA from a directory or from two paths."""
    if key_path is not None:
        return os.fspath(target), os.fspath(key_path)
    directory = os.fspath(target)
    if create_dir:
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise CertificateFileError(
                f"cannot create directory {directory}: {exc.strerror or exc}", path=directory
            ) from exc
    return os.path.join(directory, CA_CERT_FILE), os.path.join(directory, CA_KEY_FILE)
