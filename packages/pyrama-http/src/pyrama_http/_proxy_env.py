"""Which proxy a request goes through: a fixed proxy, or HTTP_PROXY / HTTPS_PROXY / NO_PROXY."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from typing import Final

from pyrama_core.errors import ConfigError
from pyrama_net import ProxyAddress
from pyrama_net.errors import AddressError

__all__ = ["NoProxy", "ProxyConfig"]

_IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_MAX_ENTRIES: Final = 1024


def _split_port(entry: str) -> tuple[str, int | None]:
    """``host:port`` / ``[v6]:port`` -> (host, port); anything else -> (entry, None)."""
    if entry.startswith("["):
        close = entry.find("]")
        if close < 0:
            return entry, None
        host, rest = entry[1:close], entry[close + 1 :]
        if rest.startswith(":") and rest[1:].isdigit() and len(rest) <= 6:
            return host, int(rest[1:])
        return host, None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if port.isdigit() and len(port) <= 5:
            return host, int(port)
    return entry, None


class NoProxy:
    """A ``NO_PROXY`` list: the hosts a client reaches directly, not through the proxy.

    Entries are separated by commas (or spaces) and matched case-insensitively:

    * ``*`` alone: no host uses the proxy;
    * a domain (``example.com`` or ``.example.com``): that domain and its subdomains;
    * an IP address (``127.0.0.1``, ``::1``, ``[::1]``) or network (``10.0.0.0/8``): hosts
      given as IP literals inside it (names are not resolved for this);
    * any entry may end in ``:port``: then it matches only that port.

    Entries that are none of these are ignored (as curl and requests do); at most 1024
    entries are kept.
    """

    __slots__ = ("_all", "_domains", "_networks")

    def __init__(self, entries: Iterable[str] = ()) -> None:
        """Build the matcher from single *entries* (see the class docs)."""
        self._all = False
        self._domains: list[tuple[str, int | None]] = []
        self._networks: list[tuple[_IpNetwork, int | None]] = []
        n = 0
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            n += 1
            if n > _MAX_ENTRIES:
                break
            if entry == "*":
                self._all = True
                continue
            host, port = _split_port(entry)
            host = host.strip("[]")
            try:
                self._networks.append((ipaddress.ip_network(host, strict=False), port))
                continue
            except ValueError:
                pass
            domain = host.strip(".")
            if domain and all(c.isalnum() or c in "-._" for c in domain) and domain.isascii():
                self._domains.append((domain, port))

    @classmethod
    def parse(cls, text: str) -> NoProxy:
        """Parse a ``NO_PROXY`` value such as ``localhost,.internal,10.0.0.0/8``."""
        return cls(text.replace(" ", ",").replace("\t", ",").split(","))

    @property
    def matches_all(self) -> bool:
        """Whether the list is ``*``."""
        return self._all

    def __bool__(self) -> bool:
        return self._all or bool(self._domains) or bool(self._networks)

    def matches(self, host: str, port: int | None = None) -> bool:
        """Whether *host* on *port* bypasses the proxy.

        *host* is a name or an IP literal (IPv6 with or without brackets).
        """
        if self._all:
            return True
        h = host.strip("[]").rstrip(".").lower()
        if self._networks:
            try:
                ip = ipaddress.ip_address(h)
            except ValueError:
                pass
            else:
                for net, p in self._networks:
                    if (p is None or p == port) and ip.version == net.version and ip in net:
                        return True
                return False
        for domain, p in self._domains:
            if p is not None and p != port:
                continue
            if h == domain or (h.endswith(domain) and h[-len(domain) - 1] == "."):
                return True
        return False

    def __repr__(self) -> str:
        if self._all:
            return "NoProxy('*')"
        shown = [d if p is None else f"{d}:{p}" for d, p in self._domains]
        shown += [str(n) if p is None else f"{n}:{p}" for n, p in self._networks]
        return f"NoProxy({','.join(shown)!r})"


def _env_proxy(env: Mapping[str, str], *names: str) -> ProxyAddress | None:
    for name in names:
        value = env.get(name, "").strip()
        if not value:
            continue
        try:
            return ProxyAddress.parse(value)
        except AddressError as exc:
            raise ConfigError(f"environment variable {name} is not a proxy address: {exc}") from exc
    return None


class ProxyConfig:
    """Which proxy (if any) a client uses for a target.

    :meth:`fixed` routes every target through one proxy (except those *no_proxy* lists);
    :meth:`from_env` reads the conventional variables:

    * ``http_proxy`` / ``HTTP_PROXY`` for ``http://`` targets, ``https_proxy`` /
      ``HTTPS_PROXY`` for ``https://`` targets, ``all_proxy`` / ``ALL_PROXY`` for both when
      those are unset (the lowercase name wins). ``HTTP_PROXY`` is ignored when
      ``REQUEST_METHOD`` is set (a CGI process, where a client's ``Proxy:`` header would
      become it: "httpoxy").
    * ``no_proxy`` / ``NO_PROXY``: a :class:`NoProxy` list.

    Values are :class:`~pyrama_net.ProxyAddress` text: ``http://``, ``https://``,
    ``socks5://`` or ``socks5h://`` (no scheme means ``http``), credentials as userinfo.
    """

    __slots__ = ("_http", "_https", "_no_proxy")

    def __init__(
        self,
        *,
        http: ProxyAddress | None = None,
        https: ProxyAddress | None = None,
        no_proxy: NoProxy | None = None,
    ) -> None:
        """Use *http* for ``http://`` targets and *https* for ``https://`` targets."""
        self._http = http
        self._https = https
        self._no_proxy = NoProxy() if no_proxy is None else no_proxy

    @classmethod
    def fixed(
        cls, proxy: ProxyAddress | str, no_proxy: NoProxy | str | Iterable[str] | None = None
    ) -> ProxyConfig:
        """Every target through *proxy*, except those in *no_proxy*."""
        if isinstance(proxy, str):
            try:
                proxy = ProxyAddress.parse(proxy)
            except AddressError as exc:
                raise ConfigError(f"proxy: {exc}") from exc
        if not isinstance(proxy, ProxyAddress):
            raise ConfigError(f"proxy must be a ProxyAddress or its text, got {proxy!r}")
        if isinstance(no_proxy, str):
            no_proxy = NoProxy.parse(no_proxy)
        elif no_proxy is not None and not isinstance(no_proxy, NoProxy):
            no_proxy = NoProxy(no_proxy)
        return cls(http=proxy, https=proxy, no_proxy=no_proxy)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ProxyConfig:
        """The proxies the environment names (see the class docs).

        *env* defaults to ``os.environ``. Raises :class:`ConfigError` for a value that is not
        a proxy address.
        """
        if env is None:
            env = os.environ
        cgi = "REQUEST_METHOD" in env
        all_proxy = _env_proxy(env, "all_proxy", "ALL_PROXY")
        http_names = ("http_proxy",) if cgi else ("http_proxy", "HTTP_PROXY")
        http = _env_proxy(env, *http_names) or all_proxy
        https = _env_proxy(env, "https_proxy", "HTTPS_PROXY") or all_proxy
        no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
        return cls(http=http, https=https, no_proxy=NoProxy.parse(no_proxy))

    def with_no_proxy(self, no_proxy: NoProxy) -> ProxyConfig:
        """The same proxies, with *no_proxy* as the list of hosts reached directly."""
        return ProxyConfig(http=self._http, https=self._https, no_proxy=no_proxy)

    @property
    def is_empty(self) -> bool:
        """Whether no target ever goes through a proxy."""
        return (self._http is None and self._https is None) or self._no_proxy.matches_all

    @property
    def no_proxy(self) -> NoProxy:
        """The hosts reached directly."""
        return self._no_proxy

    def select(self, scheme: str, host: str, port: int | None = None) -> ProxyAddress | None:
        """The proxy for a *scheme* (``http``/``https``) target on *host*:*port*, or ``None``."""
        proxy = self._https if scheme in ("https", "wss") else self._http
        if proxy is None or self._no_proxy.matches(host, port):
            return None
        return proxy

    def __repr__(self) -> str:
        return f"ProxyConfig(http={self._http!r}, https={self._https!r}, {self._no_proxy!r})"
