"""Version: the HTTP protocol version of a message."""

from __future__ import annotations

from enum import Enum

from pyrama_http_types.errors import InvalidVersionError

__all__ = ["Version"]


class Version(Enum):
    """An HTTP version: HTTP/0.9, HTTP/1.0, HTTP/1.1, HTTP/2 or HTTP/3.

    ``str(version)`` is the protocol name as written in an HTTP/1 start line
    (``"HTTP/1.1"``, ``"HTTP/2"``); :attr:`alpn` is the TLS ALPN protocol id (``b"h2"``).
    Versions are ordered (``Version.HTTP_10 < Version.HTTP_2``).
    """

    HTTP_09 = "HTTP/0.9"
    """HTTP/0.9 (request line only, no headers)."""
    HTTP_10 = "HTTP/1.0"
    """HTTP/1.0."""
    HTTP_11 = "HTTP/1.1"
    """HTTP/1.1."""
    HTTP_2 = "HTTP/2"
    """HTTP/2."""
    HTTP_3 = "HTTP/3"
    """HTTP/3."""

    @classmethod
    def parse(cls, text: str | bytes) -> Version:
        """Parse ``HTTP/1.1``, ``HTTP/2``, ``HTTP/2.0``, ... (exact case, as on the wire)."""
        raw = text if isinstance(text, bytes) else text.encode("latin-1", "replace")
        version = _BY_TEXT.get(raw)
        if version is None:
            raise InvalidVersionError(f"unknown HTTP version {text!r}")
        return version

    @classmethod
    def from_alpn(cls, alpn: str | bytes) -> Version:
        """The version for an ALPN protocol id (``h2``, ``http/1.1``, ...)."""
        raw = alpn if isinstance(alpn, bytes) else alpn.encode("latin-1", "replace")
        version = _BY_ALPN.get(raw)
        if version is None:
            raise InvalidVersionError(f"ALPN id {alpn!r} is not an HTTP version")
        return version

    @property
    def alpn(self) -> bytes:
        """The ALPN protocol id: ``http/0.9``, ``http/1.0``, ``http/1.1``, ``h2`` or ``h3``."""
        return _ALPN[self]

    @property
    def alpn_str(self) -> str:
        """:attr:`alpn` as text."""
        return _ALPN[self].decode("ascii")

    @property
    def major(self) -> int:
        """The major version number."""
        return _NUMBERS[self][0]

    @property
    def minor(self) -> int:
        """The minor version number (``0`` for HTTP/2 and HTTP/3)."""
        return _NUMBERS[self][1]

    @property
    def is_http1(self) -> bool:
        """Whether this is HTTP/0.9, HTTP/1.0 or HTTP/1.1 (the text-based framing)."""
        return _NUMBERS[self][0] < 2

    def as_bytes(self) -> bytes:
        """The HTTP/1 start-line form (``b"HTTP/1.1"``)."""
        return _AS_BYTES[self]

    def __str__(self) -> str:
        return self.value

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return _NUMBERS[self] < _NUMBERS[other]

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return _NUMBERS[self] <= _NUMBERS[other]

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return _NUMBERS[self] > _NUMBERS[other]

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return _NUMBERS[self] >= _NUMBERS[other]


_NUMBERS: dict[Version, tuple[int, int]] = {
    Version.HTTP_09: (0, 9),
    Version.HTTP_10: (1, 0),
    Version.HTTP_11: (1, 1),
    Version.HTTP_2: (2, 0),
    Version.HTTP_3: (3, 0),
}
_ALPN: dict[Version, bytes] = {
    Version.HTTP_09: b"http/0.9",
    Version.HTTP_10: b"http/1.0",
    Version.HTTP_11: b"http/1.1",
    Version.HTTP_2: b"h2",
    Version.HTTP_3: b"h3",
}
_AS_BYTES: dict[Version, bytes] = {v: v.value.encode("ascii") for v in Version}
_BY_TEXT: dict[bytes, Version] = {v.value.encode("ascii"): v for v in Version}
_BY_TEXT[b"HTTP/2.0"] = Version.HTTP_2
_BY_TEXT[b"HTTP/3.0"] = Version.HTTP_3
_BY_ALPN: dict[bytes, Version] = {a: v for v, a in _ALPN.items()}
