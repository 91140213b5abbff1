"""HTTP request matchers: method, path, domain, header, peer socket address, version, URI."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote

from pyrama_core import Extensions
from pyrama_core.matcher import BaseMatcher
from pyrama_http.web._params import PathParams
from pyrama_http.web._router import _Param, parse_pattern
from pyrama_http_types import Method, Request, Version
from pyrama_net import SocketInfo

__all__ = [
    "DomainMatcher",
    "HeaderMatcher",
    "MethodMatcher",
    "PathMatcher",
    "SocketAddressMatcher",
    "UriMatcher",
    "VersionMatcher",
    "request_host",
]


class MethodMatcher(BaseMatcher[Request]):
    """Matches requests whose method is one of the given ones."""

    __slots__ = ("methods",)

    def __init__(self, *methods: str) -> None:
        """Match any of *methods* (validated tokens, case-sensitive)."""
        if not methods:
            raise ValueError("MethodMatcher needs at least one method")
        self.methods = frozenset(str(Method(m)) for m in methods)

    def matches(self, input: Request, extensions: Extensions | None = None, /) -> bool:
        """Whether the request method is one of ours."""
        return input.method in self.methods

    def __repr__(self) -> str:
        return f"MethodMatcher({', '.join(sorted(self.methods))})"


class PathMatcher(BaseMatcher[Request]):
    """Matches the request path against a route pattern (``/users/{id}``, ``/files/{*rest}``).

    The captured parameters go into the match's extensions as
    :class:`~pyrama_http.web.PathParams` (on top of parameters captured before).
    """

    __slots__ = ("_parts", "_static", "pattern")

    def __init__(self, pattern: str) -> None:
        """Compile *pattern* (same syntax as :class:`~pyrama_http.web.Router`)."""
        self.pattern = pattern
        self._parts = parse_pattern(pattern)
        self._static = all(isinstance(p, str) for p in self._parts)

    def captures(self, path: str) -> dict[str, str] | None:
        """The parameters *path* gives the pattern, or ``None`` if it does not match."""
        if self._static:
            return {} if path == self.pattern else None
        if not path.startswith("/"):
            return None
        segs = path[1:].split("/")
        out: dict[str, str] = {}
        for i, part in enumerate(self._parts):
            if isinstance(part, _Param) and part.wildcard:
                if i >= len(segs):
                    return None
                rest = "/".join(segs[i:])
                out[part.name] = unquote(rest) if "%" in rest else rest
                return out
            if i >= len(segs):
                return None
            seg = segs[i]
            if isinstance(part, str):
                if seg != part:
                    return None
            else:
                if not seg:
                    return None
                out[part.name] = unquote(seg) if "%" in seg else seg
        return out if len(segs) == len(self._parts) else None

    def matches(self, input: Request, extensions: Extensions | None = None, /) -> bool:
        """Whether the path matches; the parameters go into *extensions*."""
        found = self.captures(input.uri.path)
        if found is None:
            return False
        if extensions is not None and found:
            old = input.extensions.get(PathParams)
            merged = {**old, **found} if old else found
            extensions.insert(PathParams(merged))
        return True

    def __repr__(self) -> str:
        return f"PathMatcher({self.pattern!r})"


def request_host(request: Request) -> str | None:
    """The host a request is for: an absolute URI's host, else the ``Host`` header's.

    Lowercase, without port, brackets or a trailing dot; ``None`` when neither is present.
    """
    host = request.uri.host
    if host is not None:
        text = str(host)
    else:
        raw = request.headers.get_raw("host")
        if raw is None:
            return None
        text = raw.decode("latin-1").strip()
        if text.startswith("["):
            end = text.find("]")
            text = text[1:end] if end > 0 else text
        else:
            text = text.rsplit(":", 1)[0] if text.count(":") == 1 else text
    return text.strip("[]").rstrip(".").lower() or None


class DomainMatcher(BaseMatcher[Request]):
    """Matches the request's host (:func:`request_host`) against a domain.

    ``DomainMatcher("example.com")`` matches only that name;
    ``DomainMatcher.sub("example.com")`` also every subdomain (``api.example.com``).
    """

    __slots__ = ("_dotted", "domain", "include_subdomains")

    def __init__(self, domain: str, *, include_subdomains: bool = False) -> None:
        """Match *domain* (case-insensitive), and its subdomains when asked."""
        self.domain = domain.rstrip(".").lower()
        if not self.domain:
            raise ValueError("DomainMatcher needs a domain")
        self.include_subdomains = include_subdomains
        self._dotted = "." + self.domain

    @classmethod
    def sub(cls, domain: str) -> DomainMatcher:
        """Match *domain* and every subdomain of it."""
        return cls(domain, include_subdomains=True)

    def matches(self, input: Request, extensions: Extensions | None = None, /) -> bool:
        """Whether the request is for our domain (or a subdomain)."""
        host = request_host(input)
        if host is None:
            return False
        if host == self.domain:
            return True
        return self.include_subdomains and host.endswith(self._dotted)

    def __repr__(self) -> str:
        kind = "sub" if self.include_subdomains else "exact"
        return f"DomainMatcher({self.domain!r}, {kind})"


class HeaderMatcher(BaseMatcher[Request]):
    """Matches on a header: :meth:`present`, :meth:`equals` or :meth:`contains`.

    ``equals`` compares a whole value (case-sensitive; any of the header's values may match);
    ``contains`` looks for an element of a comma-separated list, case-insensitively
    (``Connection: keep-alive, Upgrade`` contains ``upgrade``).
    """

    __slots__ = ("mode", "name", "value")

    def __init__(self, name: str, value: str | None = None, *, mode: str = "equals") -> None:
        """Prefer the named constructors; *mode* is ``present``, ``equals`` or ``contains``."""
        if mode not in ("present", "equals", "contains"):
            raise ValueError(f"unknown HeaderMatcher mode {mode!r}")
        if mode != "present" and value is None:
            raise ValueError(f"HeaderMatcher {mode} needs a value")
        self.name = name
        self.mode = mode
        raw = None if value is None else value.encode("latin-1")
        self.value = raw.lower() if raw is not None and mode == "contains" else raw

    @classmethod
    def present(cls, name: str) -> HeaderMatcher:
        """Match when header *name* is present."""
        return cls(name, mode="present")

    @classmethod
    def equals(cls, name: str, value: str) -> HeaderMatcher:
        """Match when a value of header *name* is exactly *value*."""
        return cls(name, value, mode="equals")

    @classmethod
    def contains(cls, name: str, value: str) -> HeaderMatcher:
        """Match when header *name*'s list has the element *value* (case-insensitive)."""
        return cls(name, value, mode="contains")

    def matches(self, input: Request, extensions: Extensions | None = None, /) -> bool:
        """Whether the header condition holds."""
        if self.mode == "present":
            return self.name in input.headers
        values = input.headers.get_all_raw(self.name)
        if self.mode == "equals":
            return self.value in values
        want = self.value
        for v in values:
            for element in v.split(b","):
                if element.strip(b" \t").lower() == want:
                    return True
        return False

    def __repr__(self) -> str:
        return f"HeaderMatcher.{self.mode}({self.name!r}, {self.value!r})"


class SocketAddressMatcher(BaseMatcher[Request]):
    """Matches the peer's socket address (from :class:`~pyrama_net.SocketInfo`).

    :meth:`ip` (one address), :meth:`network` (CIDR), :meth:`port`, :meth:`loopback`,
    :meth:`exact` (``ip:port``). Requests without socket info (Unix sockets, tests) do not
    match.
    """

    __slots__ = ("network_", "port_")

    def __init__(
        self,
        network: str | ipaddress.IPv4Network | ipaddress.IPv6Network | None = None,
        port: int | None = None,
    ) -> None:
        """Match peers in *network* (if given) with *port* (if given)."""
        self.network_ = None if network is None else ipaddress.ip_network(network, strict=False)
        self.port_ = port

    @classmethod
    def ip(cls, ip: str) -> SocketAddressMatcher:
        """Match peers with IP *ip*."""
        addr = ipaddress.ip_address(ip)
        return cls(ipaddress.ip_network(addr))

    @classmethod
    def network(cls, cidr: str) -> SocketAddressMatcher:
        """Match peers inside *cidr* (``10.0.0.0/8``, ``fd00::/8``)."""
        return cls(cidr)

    @classmethod
    def port(cls, port: int) -> SocketAddressMatcher:
        """Match peers connecting from *port*."""
        return cls(None, port)

    @classmethod
    def exact(cls, address: str) -> SocketAddressMatcher:
        """Match the peer ``ip:port`` (``[v6]:port`` for IPv6)."""
        host, _, port = address.rpartition(":")
        return cls(ipaddress.ip_network(ipaddress.ip_address(host.strip("[]"))), int(port))

    @classmethod
    def loopback(cls) -> BaseMatcher[Request]:
        """Match peers on a loopback address (``127.0.0.0/8`` or ``::1``)."""
        return cls("127.0.0.0/8") | cls("::1/128")

    def matches(self, input: Request, extensions: Extensions | None = None, /) -> bool:
        """Whether the peer address is in our network / has our port."""
        info = input.extensions.get(SocketInfo)
        if info is None or not isinstance(info.peer, tuple):
            return False
        if self.port_ is not None and info.peer[1] != self.port_:
            return False
        if self.network_ is None:
            return True
        try:
            ip = ipaddress.ip_address(info.peer[0].split("%", 1)[0])
        except ValueError:
            return False
        if (
            isinstance(ip, ipaddress.IPv6Address)
            and ip.ipv4_mapped is not None
            and self.network_.version == 4
        ):
            ip = ip.ipv4_mapped
        return ip.version == self.network_.version and ip in self.network_

    def __repr__(self) -> str:
        return f"SocketAddressMatcher({self.network_}, port={self.port_})"


class VersionMatcher(BaseMatcher[Request]):
    """Matches requests of the given HTTP versions."""

    __slots__ = ("versions",)

    def __init__(self, *versions: Version) -> None:
        """Match any of *versions*."""
        if not versions:
            raise ValueError("VersionMatcher needs at least one version")
        self.versions = frozenset(versions)

    def matches(self, input: Request, extensions: Extensions | None = None, /) -> bool:
        """Whether the request's version is one of ours."""
        return input.version in self.versions

    def __repr__(self) -> str:
        return f"VersionMatcher({', '.join(str(v) for v in self.versions)})"


class UriMatcher(BaseMatcher[Request]):
    """Matches the request URI (as received) against a regular expression (``search``)."""

    __slots__ = ("regex",)

    def __init__(self, pattern: str | re.Pattern[str]) -> None:
        """Compile *pattern*."""
        self.regex = re.compile(pattern) if isinstance(pattern, str) else pattern

    def matches(self, input: Request, extensions: Extensions | None = None, /) -> bool:
        """Whether the regex finds a match in the URI."""
        return self.regex.search(str(input.uri)) is not None

    def __repr__(self) -> str:
        return f"UriMatcher({self.regex.pattern!r})"
