"""Authorization: validate credentials on the server, add them on the client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pyrama_core.errors import ConfigError
from pyrama_http.layer._util import HttpService, plain_response
from pyrama_http_types import Request, Response
from pyrama_net import Basic, Bearer
from pyrama_net.errors import AddressError

__all__ = [
    "AddAuthorizationLayer",
    "AddAuthorizationService",
    "AuthorizedUser",
    "SensitiveHeaders",
    "ValidateRequestHeaderLayer",
    "ValidateRequestHeaderService",
]

Validator = Callable[[Request], bool | Response | Awaitable[bool | Response]]
"""A custom check: ``True`` lets the request through; ``False`` answers 401; a
:class:`~pyrama_http_types.Response` is answered as it is. May be async."""


@dataclass(frozen=True, slots=True)
class AuthorizedUser:
    """Inserted into a request's extensions once its credentials were accepted."""

    credentials: Basic | Bearer
    """The credentials the client sent."""


@dataclass(frozen=True, slots=True)
class SensitiveHeaders:
    """Names of request header fields that carry secrets (for loggers, HAR and curl export).

    :class:`AddAuthorizationLayer` inserts it; tools that print requests should redact
    these fields.
    """

    names: frozenset[str]
    """Lower-case header names."""


class ValidateRequestHeaderService:
    """Checks each request before the inner service (see :class:`ValidateRequestHeaderLayer`)."""

    __slots__ = ("_challenge", "_check", "inner")

    def __init__(self, inner: HttpService, check: Validator, challenge: str | None) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._check = check
        self._challenge = challenge

    async def serve(self, request: Request, /) -> Response:
        """Serve *request* if it passes the check; else answer 401 (or the check's response)."""
        verdict = self._check(request)
        if isinstance(verdict, Awaitable):
            verdict = await verdict
        if verdict is True:
            return await self.inner.serve(request)
        if isinstance(verdict, Response):
            return verdict
        headers = [("WWW-Authenticate", self._challenge)] if self._challenge else []
        return plain_response(401, "unauthorized\n", headers)


class ValidateRequestHeaderLayer:
    """Lets only requests through whose credentials check out; others get ``401``.

    :meth:`basic` and :meth:`bearer` compare the ``Authorization`` field with the expected
    credentials in constant time and answer ``401 Unauthorized`` with a
    ``WWW-Authenticate`` challenge otherwise; accepted credentials are inserted as an
    :class:`AuthorizedUser` extension. :meth:`custom` takes any (async) check.
    """

    __slots__ = ("_challenge", "_check")

    def __init__(self, check: Validator, *, challenge: str | None = None) -> None:
        """Use *check* (see :data:`Validator`); *challenge* is the ``WWW-Authenticate`` value."""
        self._check = check
        self._challenge = challenge

    @classmethod
    def basic(
        cls, *users: Basic | tuple[str, str], realm: str = "pyrama"
    ) -> ValidateRequestHeaderLayer:
        """Accept HTTP Basic credentials of any of *users*."""
        if not users:
            raise ConfigError("give at least one user")
        allowed = [u if isinstance(u, Basic) else Basic(*u) for u in users]

        def check(request: Request) -> bool:
            value = request.headers.get("authorization")
            if value is None:
                return False
            try:
                got = Basic.parse_header_value(value)
            except AddressError:
                return False
            ok = False
            for user in allowed:  # no early exit: the time does not say which user matched
                ok |= user.matches(got)
            if ok:
                request.extensions.insert(AuthorizedUser(got))
            return ok

        return cls(check, challenge=f'Basic realm="{realm}", charset="UTF-8"')

    @classmethod
    def bearer(cls, *tokens: str | Bearer, realm: str = "pyrama") -> ValidateRequestHeaderLayer:
        """Accept any of the Bearer *tokens*."""
        if not tokens:
            raise ConfigError("give at least one token")
        allowed = [t if isinstance(t, Bearer) else Bearer(t) for t in tokens]

        def check(request: Request) -> bool:
            value = request.headers.get("authorization")
            if value is None:
                return False
            try:
                got = Bearer.parse_header_value(value)
            except AddressError:
                return False
            ok = False
            for token in allowed:
                ok |= token.matches(got)
            if ok:
                request.extensions.insert(AuthorizedUser(got))
            return ok

        return cls(check, challenge=f'Bearer realm="{realm}"')

    @classmethod
    def custom(
        cls, check: Validator, *, challenge: str | None = None
    ) -> ValidateRequestHeaderLayer:
        """Use your own *check*."""
        return cls(check, challenge=challenge)

    def layer(self, inner: HttpService, /) -> ValidateRequestHeaderService:
        """Wrap *inner*."""
        return ValidateRequestHeaderService(inner, self._check, self._challenge)


class AddAuthorizationService:
    """Adds credentials to each request (see :class:`AddAuthorizationLayer`)."""

    __slots__ = ("_header", "_if_absent", "_value", "inner")

    def __init__(self, inner: HttpService, header: str, value: str, if_absent: bool) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._header = header
        self._value = value
        self._if_absent = if_absent

    async def serve(self, request: Request, /) -> Response:
        """Add the credentials (mark the field sensitive), then send *request*."""
        if not (self._if_absent and self._header in request.headers):
            request.headers.set(self._header, self._value)
        prev = request.extensions.get(SensitiveHeaders)
        names = frozenset({self._header.lower()}) | (prev.names if prev else frozenset())
        request.extensions.insert(SensitiveHeaders(names))
        return await self.inner.serve(request)


class AddAuthorizationLayer:
    """Client side: sends Basic or Bearer credentials with every request.

    The field is marked in a :class:`SensitiveHeaders` extension. With *if_absent* a
    request's own ``Authorization`` is kept. ``proxy=True`` sets ``Proxy-Authorization``.
    """

    __slots__ = ("_header", "_if_absent", "_value")

    def __init__(
        self, credentials: Basic | Bearer, *, if_absent: bool = False, proxy: bool = False
    ) -> None:
        """Send *credentials*."""
        self._value = credentials.encode_header_value()
        self._header = "Proxy-Authorization" if proxy else "Authorization"
        self._if_absent = if_absent

    @classmethod
    def basic(cls, username: str, password: str = "", **kw: bool) -> AddAuthorizationLayer:
        """Basic credentials."""
        return cls(Basic(username, password), **kw)

    @classmethod
    def bearer(cls, token: str, **kw: bool) -> AddAuthorizationLayer:
        """A Bearer token."""
        return cls(Bearer(token), **kw)

    def layer(self, inner: HttpService, /) -> AddAuthorizationService:
        """Wrap *inner*."""
        return AddAuthorizationService(inner, self._header, self._value, self._if_absent)

    def __repr__(self) -> str:
        return f"AddAuthorizationLayer({self._header}: <redacted>)"
