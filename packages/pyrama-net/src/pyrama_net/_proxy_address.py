"""ProxyAddress: where an upstream proxy is and how to talk to it."""

from __future__ import annotations

from dataclasses import dataclass

from pyrama_net._address_util import Invalid, address_error, parse_port, split_host_port
from pyrama_net._authority import Authority
from pyrama_net._credentials import Basic
from pyrama_net._host import Host, host_value
from pyrama_net._protocol import Protocol
from pyrama_net.errors import AddressError

__all__ = ["ProxyAddress"]

_HEX = "0123456789abcdefABCDEF"
# RFC 3986 unreserved and sub-delims: what may appear raw in userinfo besides ':' and '%'.
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=")
_SAFE_BYTES = frozenset(c.encode("ascii")[0] for c in _SAFE)


def _redact(text: str) -> str:
    """*text* with any userinfo replaced by ``***``, for error messages."""
    at = text.rfind("@")
    if at < 0:
        return text
    scheme_end = text.find("://")
    start = scheme_end + 3 if 0 <= scheme_end < at else 0
    return text[:start] + "***" + text[at:]


def _pct_decode(text: str) -> str:
    out = bytearray()
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "%":
            pair = text[i + 1 : i + 3]
            if len(pair) != 2 or pair[0] not in _HEX or pair[1] not in _HEX:
                raise Invalid("a '%' in the userinfo is not followed by two hex digits")
            out.append(int(pair, 16))
            i += 3
        else:
            if c not in _SAFE and c != ":":
                raise Invalid(
                    "the userinfo has a character that must be percent-encoded "
                    '(only letters, digits, "-._~!$&\'()*+,;=" may appear raw)'
                )
            out.append(ord(c))
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid("the percent-decoded userinfo is not UTF-8") from exc


def _pct_encode(text: str) -> str:
    return "".join(chr(b) if b in _SAFE_BYTES else f"%{b:02X}" for b in text.encode("utf-8"))


def _parse_userinfo(userinfo: str) -> Basic:
    if not userinfo:
        raise Invalid("there is an '@' but no credentials before it")
    user_raw, _, pass_raw = userinfo.partition(":")
    username = _pct_decode(user_raw)
    password = _pct_decode(pass_raw)
    try:
        return Basic(username, password)
    except AddressError as exc:
        raise Invalid(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class ProxyAddress:
    """An upstream proxy: protocol, authority and optional Basic credentials.

    Text form: ``[scheme://][user[:password]@]host[:port][/]``, for example
    ``socks5h://user:pass@proxy.example:1080`` or ``127.0.0.1:8080``.

    * The scheme defaults to ``http``; the port to the scheme's default port (a scheme without
      one, such as ``ftp``, needs an explicit port).
    * Userinfo is percent-decoded (UTF-8); raw characters other than RFC 3986 unreserved and
      sub-delims must be percent-encoded. Username and password are split at the first ``:``.
    * Nothing may follow the authority except a single ``/``: paths, queries and fragments are
      refused.

    ``str()`` is the canonical form (always with scheme and port, userinfo percent-encoded), and
    it **includes the password**, since it is meant to be read back with :meth:`parse`.
    ``repr()`` redacts the password, and so do error messages.
    """

    protocol: Protocol
    """How to talk to the proxy."""
    authority: Authority
    """Where the proxy is."""
    credential: Basic | None = None
    """Credentials to present, or ``None``."""

    def __post_init__(self) -> None:
        if not isinstance(self.protocol, Protocol):
            raise AddressError("a proxy address's protocol must be a Protocol")
        if not isinstance(self.authority, Authority):
            raise AddressError("a proxy address's authority must be an Authority")
        if self.credential is not None and not isinstance(self.credential, Basic):
            raise AddressError("a proxy address's credential must be Basic or None")

    @classmethod
    def parse(cls, text: str) -> ProxyAddress:
        """Parse a proxy address (see the class docs for the accepted form)."""
        if not isinstance(text, str):
            raise AddressError(f"a proxy address must be a str, got {type(text).__name__}")
        try:
            return cls._parse(text)
        except Invalid as exc:
            raise address_error("proxy address", _redact(text), exc.reason) from exc.__cause__

    @classmethod
    def _parse(cls, text: str) -> ProxyAddress:
        if not text:
            raise Invalid("it is empty")
        scheme_end = text.find("://")
        if scheme_end >= 0:
            try:
                protocol = Protocol(text[:scheme_end])
            except AddressError as exc:
                raise Invalid(str(exc)) from exc
            rest = text[scheme_end + 3 :]
        else:
            protocol = Protocol.HTTP
            rest = text
        end = len(rest)
        for c in "/?#":
            i = rest.find(c)
            if 0 <= i < end:
                end = i
        if rest[end:] not in ("", "/"):
            raise Invalid("a proxy address has no path, query or fragment (only a lone '/')")
        authority_text = rest[:end]
        userinfo, at, hostport = authority_text.rpartition("@")
        credential = _parse_userinfo(userinfo) if at else None
        host_text, port_text = split_host_port(hostport)
        host = Host(host_value(host_text))
        if port_text is not None:
            port = parse_port(port_text)
        elif protocol.default_port is not None:
            port = protocol.default_port
        else:
            raise Invalid(f"scheme {protocol.scheme!r} has no default port, so one is required")
        return cls(protocol, Authority(host, port), credential)

    def __str__(self) -> str:
        out = f"{self.protocol}://"
        cred = self.credential
        if cred is not None:
            out += _pct_encode(cred.username)
            if cred.password or not cred.username:
                out += ":" + _pct_encode(cred.password)
            out += "@"
        return out + str(self.authority)
