"""ProxyAuthLayer: Basic proxy authentication (``407`` + ``Proxy-Authenticate``)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

from pyrama_core import Service
from pyrama_core.errors import ConfigError, PyramaError
from pyrama_core.telemetry import get_logger
from pyrama_http_types import Request, Response
from pyrama_net import Basic
from pyrama_net.errors import AddressError

__all__ = ["Authorizer", "ProxyAuthLayer", "ProxyAuthService", "ProxyUser", "UsernameParser"]

_log = get_logger(__name__)

Authorizer: TypeAlias = Callable[[Basic], "bool | Awaitable[bool]"]
"""Decides whether credentials are good: returns ``bool`` or an awaitable of it."""

UsernameParser: TypeAlias = Callable[[str], tuple[str, object | None]]
"""Splits a proxy username such as ``john-country-us`` into the user (``john``) and an
object for the request extensions (or ``None``); raises ``ValueError`` (or a
:class:`~pyrama_core.errors.PyramaError`) for a username it refuses."""


@dataclass(frozen=True, slots=True)
class ProxyUser:
    """A request extension: who the proxy authenticated.

    :attr:`username` is the user as checked (after a username parser took its labels off);
    :attr:`raw_username` the username as sent.
    """

    username: str
    """The authenticated user."""
    raw_username: str
    """The username as the client sent it (labels included)."""


class _Fixed:
    """An authorizer that accepts a fixed set of credentials (compared in constant time)."""

    __slots__ = ("creds",)

    def __init__(self, creds: tuple[Basic, ...]) -> None:
        self.creds = creds

    def __call__(self, cred: Basic) -> bool:
        ok = False
        for c in self.creds:
            ok |= c.matches(cred)  # no early exit: the same work for every entry
        return ok


def _authorizer(value: Basic | Iterable[Basic] | Authorizer) -> Authorizer:
    if isinstance(value, Basic):
        return _Fixed((value,))
    if callable(value):
        return value
    creds = tuple(value)
    if not creds or not all(isinstance(c, Basic) for c in creds):
        raise ConfigError("ProxyAuthLayer needs Basic credentials, a list of them, or a callable")
    return _Fixed(creds)


class ProxyAuthLayer:
    """Layer: requests must carry good ``Proxy-Authorization: Basic`` credentials.

    *authorizer* is a :class:`~pyrama_net.Basic` (one user), several of them, or a callable
    ``(Basic) -> bool`` (or an awaitable of ``bool``: look users up wherever you like). A
    request without credentials, with malformed or refused ones, is answered ``407 Proxy
    Authentication Required`` with ``Proxy-Authenticate: Basic realm="<realm>"``
    (CONNECT requests too). A request that passes loses its ``Proxy-Authorization`` field
    and gains a :class:`ProxyUser` extension.

    *username_parser* (see :data:`UsernameParser`) runs first on the username sent: the
    user it returns is what *authorizer* checks, and the object it returns (when not
    ``None``) is inserted into the request extensions. That is where username labels plug in
    (``john-country-us-residential`` -> user ``john`` plus a filter for upstream
    selection). A parser that refuses the username gets a ``407`` as well.
    """

    __slots__ = ("_authorize", "_challenge", "_parser")

    def __init__(
        self,
        authorizer: Basic | Iterable[Basic] | Authorizer,
        *,
        realm: str = "pyrama",
        username_parser: UsernameParser | None = None,
    ) -> None:
        """Configure the check (see the class docs); :class:`ConfigError` on bad values."""
        if not realm or any(c in realm for c in '"\\\r\n\0'):
            raise ConfigError(f"realm must be non-empty text without quotes, got {realm!r}")
        self._authorize = _authorizer(authorizer)
        self._challenge = f'Basic realm="{realm}", charset="UTF-8"'
        self._parser = username_parser

    def layer(self, inner: Service[Request, Response], /) -> ProxyAuthService:
        """Wrap *inner*."""
        return ProxyAuthService(inner, self._authorize, self._challenge, self._parser)

    def __repr__(self) -> str:
        return f"ProxyAuthLayer(username_parser={self._parser!r})"


class ProxyAuthService:
    """The service :class:`ProxyAuthLayer` makes."""

    __slots__ = ("_authorize", "_challenge", "_parser", "inner")

    def __init__(
        self,
        inner: Service[Request, Response],
        authorize: Authorizer,
        challenge: str,
        parser: UsernameParser | None,
    ) -> None:
        self.inner = inner
        """The service behind the check."""
        self._authorize = authorize
        self._challenge = challenge
        self._parser = parser

    def _refuse(self, why: str) -> Response:
        _log.debug("proxy authentication refused", reason=why)
        resp = Response.text("proxy authentication required\n", 407)
        resp.headers.set("Proxy-Authenticate", self._challenge)
        return resp

    async def serve(self, request: Request, /) -> Response:
        """Check the request's credentials; pass it on or answer ``407``."""
        values = request.headers.get_all("proxy-authorization")
        if len(values) != 1:
            return self._refuse("no credentials" if not values else "several credentials")
        try:
            sent = Basic.parse_header_value(values[0])
        except AddressError:
            return self._refuse("malformed credentials")
        user = sent.username
        extra: object | None = None
        parser = self._parser
        if parser is not None:
            try:
                user, extra = parser(sent.username)
                cred = Basic(user, sent.password)
            except (ValueError, PyramaError) as exc:
                return self._refuse(f"username refused: {exc}")
        else:
            cred = sent
        verdict: Any = self._authorize(cred)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        if verdict is not True:
            return self._refuse("wrong credentials")
        request.headers.remove("proxy-authorization")
        ext = request.extensions
        ext.insert(ProxyUser(user, sent.username))
        if extra is not None:
            ext.insert(extra)
        return await self.inner.serve(request)

    def __repr__(self) -> str:
        return f"ProxyAuthService({self.inner!r})"
