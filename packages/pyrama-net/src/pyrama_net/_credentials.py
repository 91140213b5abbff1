"""Credentials for ``Authorization`` / ``Proxy-Authorization``: Basic and Bearer.

Secrets never appear in ``repr()``/``str()`` or in error messages.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

from pyrama_net.errors import AddressError

__all__ = ["Basic", "Bearer"]

_BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_TOKEN68_CHARS = _BASE64_CHARS | frozenset("-._~")
_REDACTED = "<redacted>"


def _has_ctl(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _split_header_value(value: object, scheme: str) -> str:
    """Return the credentials part of ``<scheme> 1*SP <credentials>`` (scheme case-insensitive)."""
    if not isinstance(value, str):
        raise AddressError(f"a {scheme} header value must be a str, got {type(value).__name__}")
    got, sep, rest = value.partition(" ")
    if not sep or got.lower() != scheme.lower():
        raise AddressError(f"expected a {scheme} credential ('{scheme} <credentials>')")
    rest = rest.lstrip(" ")
    if not rest:
        raise AddressError(f"the {scheme} credential is empty")
    return rest


@dataclass(frozen=True, slots=True, repr=False)
class Basic:
    """HTTP Basic credentials (RFC 7617): a username and a password.

    The username may not contain ``:``; neither part may contain control characters; both may
    be empty. ``repr()`` and ``str()`` show the username but redact the password.
    """

    username: str
    """The user id."""
    password: str = ""
    """The password (never shown by ``repr``)."""

    def __post_init__(self) -> None:
        if not isinstance(self.username, str) or not isinstance(self.password, str):
            raise AddressError("Basic username and password must be str")
        if ":" in self.username:
            raise AddressError("a Basic username may not contain ':'")
        if _has_ctl(self.username) or _has_ctl(self.password):
            raise AddressError("Basic credentials may not contain control characters")

    @classmethod
    def parse(cls, text: str) -> Basic:
        """Parse the clear-text ``username:password`` form (as in ``curl -U``); ``:`` is required.

        The password is everything after the first ``:`` and may itself contain ``:``.
        """
        if not isinstance(text, str):
            raise AddressError(f"Basic credentials must be a str, got {type(text).__name__}")
        username, sep, password = text.partition(":")
        if not sep:
            raise AddressError("Basic credentials must be 'username:password' (no ':' found)")
        return cls(username, password)

    def as_user_pass(self) -> str:
        """The clear-text ``username:password`` form; :meth:`parse` reads it back."""
        return f"{self.username}:{self.password}"

    @classmethod
    def parse_header_value(cls, value: str) -> Basic:
        """Parse an ``Authorization``/``Proxy-Authorization`` value ``Basic <base64>``.

        Strict: the scheme is ``Basic`` (any case) followed by spaces and canonical padded
        base64 of UTF-8 ``username:password``.
        """
        token = _split_header_value(value, "Basic")
        if len(token) % 4 or any(c not in _BASE64_CHARS for c in token.rstrip("=")):
            raise AddressError("the Basic credential is not valid base64")
        if len(token) - len(token.rstrip("=")) > 2:
            raise AddressError("the Basic credential is not valid base64 (too much padding)")
        try:
            raw = binascii.a2b_base64(token, strict_mode=True)
        except binascii.Error as exc:
            raise AddressError("the Basic credential is not valid base64") from exc
        if base64.b64encode(raw).decode("ascii") != token:
            raise AddressError("the Basic credential is not canonical base64")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AddressError("the Basic credential is not UTF-8") from exc
        username, sep, password = text.partition(":")
        if not sep:
            raise AddressError("the Basic credential has no ':' between username and password")
        return cls(username, password)

    def encode_header_value(self) -> str:
        """The header value ``Basic <base64(username:password)>`` (UTF-8, RFC 7617)."""
        raw = self.as_user_pass().encode("utf-8")
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def matches(self, other: Basic) -> bool:
        """Compare with *other* in constant time (for checking credentials a client sent)."""
        return hmac.compare_digest(
            self.as_user_pass().encode("utf-8"), other.as_user_pass().encode("utf-8")
        )

    def __repr__(self) -> str:
        return f"Basic(username={self.username!r}, password={_REDACTED})"


@dataclass(frozen=True, slots=True, repr=False)
class Bearer:
    """An HTTP Bearer token (RFC 6750), validated as a ``token68``.

    ``repr()`` and ``str()`` redact the token.
    """

    token: str
    """The token (never shown by ``repr``)."""

    def __post_init__(self) -> None:
        token: object = self.token
        if not isinstance(token, str):
            raise AddressError(f"a Bearer token must be a str, got {type(token).__name__}")
        body = token.rstrip("=")
        if not body or any(c not in _TOKEN68_CHARS for c in body):
            raise AddressError(
                "a Bearer token must be a token68: letters, digits and '-._~+/', then optional '='"
            )

    @classmethod
    def parse(cls, text: str) -> Bearer:
        """Parse a bare token (without the ``Bearer`` scheme)."""
        return cls(text)

    @classmethod
    def parse_header_value(cls, value: str) -> Bearer:
        """Parse an ``Authorization`` value ``Bearer <token68>`` (scheme in any case)."""
        return cls(_split_header_value(value, "Bearer"))

    def encode_header_value(self) -> str:
        """The header value ``Bearer <token>``."""
        return "Bearer " + self.token

    def matches(self, other: Bearer) -> bool:
        """Compare with *other* in constant time."""
        return hmac.compare_digest(self.token.encode("ascii"), other.token.encode("ascii"))

    def __repr__(self) -> str:
        return f"Bearer(token={_REDACTED})"
