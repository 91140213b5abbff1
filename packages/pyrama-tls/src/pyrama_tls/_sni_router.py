"""SniRouter: dispatch whole TLS connections by their ClientHello's SNI, without terminating TLS.

The router peeks the ClientHello (:func:`~pyrama_tls.peek_client_hello`), picks a service by
the server name, and hands it the stream with every byte still to be read, ClientHello
included. So the chosen service can relay the untouched TLS connection to a backend with
:func:`pyrama_net.bridge` (which keeps its zero-copy path: the peeked bytes travel as the
detached socket's leftover), terminate TLS itself, or route further.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from pyrama_core import Service
from pyrama_core.errors import ConfigError
from pyrama_net import Domain, Stream
from pyrama_net.errors import AddressError
from pyrama_tls._client_hello_parser import DEFAULT_MAX_CLIENT_HELLO_SIZE
from pyrama_tls._peek_client_hello import DEFAULT_PEEK_TIMEOUT, peek_client_hello
from pyrama_tls.errors import NoSniRouteError, NotTlsError

__all__ = ["SniRoute", "SniRouter"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SniRoute:
    """Which rule of an :class:`SniRouter` took a connection; inserted into its extensions.

    :attr:`pattern` is the matching pattern as configured (``"*.example.com"``), or
    ``"default"``, ``"no_sni"`` or ``"not_tls"`` for the fallback services; :attr:`server_name`
    is the SNI the client sent (``None`` without SNI or without TLS).
    """

    pattern: str
    """The matching pattern, or ``"default"`` / ``"no_sni"`` / ``"not_tls"``."""
    server_name: str | None
    """The client's SNI, as sent."""


def _parse_pattern(pattern: str) -> tuple[str, str]:
    """Return ``(kind, domain)``; kind is ``"exact"``, ``"below"`` (``*.``) or ``"apex"``."""
    if not isinstance(pattern, str):
        raise ConfigError(f"an SNI pattern must be a str, got {type(pattern).__name__}")
    if pattern.startswith("*."):
        kind, text = "below", pattern[2:]
    elif pattern.startswith("."):
        kind, text = "apex", pattern[1:]
    else:
        kind, text = "exact", pattern
    if "*" in text:
        raise ConfigError(
            f"SNI pattern {pattern!r}: '*' is only allowed as the whole first label ('*.name')"
        )
    try:
        return kind, Domain(text).name
    except AddressError as exc:
        raise ConfigError(f"SNI pattern {pattern!r}: {exc}") from exc


class SniRouter(Generic[T]):
    """A ``Service[Stream, T]`` that picks a service per connection by the ClientHello's SNI.

    *routes* maps patterns to services (a mapping, or ``(pattern, service)`` pairs):

    * ``"example.com"`` matches that name exactly;
    * ``"*.example.com"`` matches every name below it (``a.example.com``,
      ``a.b.example.com``), not ``example.com`` itself (the nginx and Envoy meaning, not the
      one-label meaning of certificate wildcards);
    * ``".example.com"`` matches ``example.com`` and every name below it.

    Names compare as :class:`~pyrama_net.Domain` does (case-insensitive, trailing dot ignored,
    Unicode patterns as A-labels). An exact match wins over wildcards, and a longer wildcard
    over a shorter one. Unmatched names, and SNI values that are no valid domain (an IP
    literal, say), go to *default*. A ClientHello without SNI goes to *no_sni* (or
    *default* when not given). A connection that is not TLS at all (plain HTTP on the port)
    goes to *not_tls*; without it such a connection is closed and
    :class:`~pyrama_tls.errors.NotTlsError` raised. When no service applies the stream is
    closed and :class:`~pyrama_tls.errors.NoSniRouteError` raised.

    The chosen service gets the replaying stream (see :func:`~pyrama_tls.peek_client_hello`):
    it reads the ClientHello bytes first, nothing is lost. Its ``extensions`` hold the
    :class:`~pyrama_tls.ClientHello` and an :class:`SniRoute`. *peek_timeout* and *max_size*
    bound the peek; peek errors (timeout, malformed or oversized ClientHello) close the
    stream and propagate. Errors of the chosen service propagate unchanged.
    """

    __slots__ = (
        "_apex",
        "_below",
        "_default",
        "_exact",
        "_max_size",
        "_no_sni",
        "_not_tls",
        "_peek_timeout",
        "_routes",
    )

    def __init__(
        self,
        routes: Mapping[str, Service[Stream, T]] | Iterable[tuple[str, Service[Stream, T]]] = (),
        *,
        default: Service[Stream, T] | None = None,
        no_sni: Service[Stream, T] | None = None,
        not_tls: Service[Stream, T] | None = None,
        peek_timeout: float | None = DEFAULT_PEEK_TIMEOUT,
        max_size: int = DEFAULT_MAX_CLIENT_HELLO_SIZE,
    ) -> None:
        pairs = list(routes.items() if isinstance(routes, Mapping) else routes)
        self._exact: dict[str, tuple[str, Service[Stream, T]]] = {}
        self._below: dict[str, tuple[str, Service[Stream, T]]] = {}
        self._apex: dict[str, tuple[str, Service[Stream, T]]] = {}
        tables = {"exact": self._exact, "below": self._below, "apex": self._apex}
        for pattern, service in pairs:
            kind, name = _parse_pattern(pattern)
            table = tables[kind]
            if name in table:
                raise ConfigError(f"SNI pattern {pattern!r} duplicates {table[name][0]!r}")
            table[name] = (pattern, service)
        if peek_timeout is not None and peek_timeout <= 0:
            raise ConfigError(f"peek_timeout must be positive or None, got {peek_timeout!r}")
        self._routes = tuple(p for p, _ in pairs)
        self._default = default
        self._no_sni = no_sni
        self._not_tls = not_tls
        self._peek_timeout = peek_timeout
        self._max_size = max_size

    @property
    def patterns(self) -> tuple[str, ...]:
        """The configured patterns, in the order given."""
        return self._routes

    def __repr__(self) -> str:
        return f"SniRouter(patterns={list(self._routes)!r}, default={self._default!r})"

    def select(self, server_name: str | None) -> tuple[str, Service[Stream, T]] | None:
        """The ``(pattern, service)`` a connection with SNI *server_name* goes to, or ``None``.

        ``None`` as *server_name* means the ClientHello had no SNI.
        """
        if server_name is None:
            if self._no_sni is not None:
                return "no_sni", self._no_sni
            return ("default", self._default) if self._default is not None else None
        try:
            name = Domain(server_name).name
        except AddressError:
            name = None
        if name is not None:
            hit = self._exact.get(name) or self._apex.get(name)
            if hit is not None:
                return hit
            rest = name
            while True:
                _, dot, rest = rest.partition(".")
                if not dot:
                    break
                hit = self._below.get(rest) or self._apex.get(rest)
                if hit is not None:
                    return hit
        return ("default", self._default) if self._default is not None else None

    async def serve(self, stream: Stream, /) -> T:
        """Peek the ClientHello of *stream* and hand the whole stream to the chosen service."""
        try:
            ch, replay = await peek_client_hello(
                stream, timeout=self._peek_timeout, max_size=self._max_size
            )
        except BaseException:
            await stream.close()
            raise
        if ch is None:
            if self._not_tls is None:
                await replay.close()
                raise NotTlsError("not a TLS connection and the SniRouter has no not_tls service")
            replay.extensions.insert(SniRoute("not_tls", None))
            return await self._not_tls.serve(replay)
        chosen = self.select(ch.server_name)
        if chosen is None:
            await replay.close()
            what = repr(ch.server_name) if ch.server_name is not None else "no SNI"
            raise NoSniRouteError(
                f"no SniRouter route for {what} and no default service",
                server_name=ch.server_name,
            )
        pattern, service = chosen
        replay.extensions.insert(SniRoute(pattern, ch.server_name))
        return await service.serve(replay)
