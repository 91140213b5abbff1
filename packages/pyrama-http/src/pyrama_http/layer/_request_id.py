"""RequestIdLayer: give every request an id and echo it on the response."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pyrama_http.layer._util import HttpService
from pyrama_http_types import Request, Response, check_header_name

__all__ = ["RequestId", "RequestIdLayer", "RequestIdService"]


@dataclass(frozen=True, slots=True)
class RequestId:
    """A request's id, inserted into its extensions (and the response's)."""

    value: str
    """The id as sent in the header."""

    def __str__(self) -> str:
        return self.value


def _uuid4() -> str:
    return str(uuid.uuid4())


class RequestIdService:
    """Sets and propagates the request id (see :class:`RequestIdLayer`)."""

    __slots__ = ("_header", "_make", "_propagate", "inner")

    def __init__(
        self, inner: HttpService, header: str, make: Callable[[], str], propagate: bool
    ) -> None:
        """Wrap *inner*."""
        self.inner = inner
        self._header = header
        self._make = make
        self._propagate = propagate

    async def serve(self, request: Request, /) -> Response:
        """Make an id if the request has none, serve, copy the id to the response."""
        value = request.headers.get(self._header)
        if not value:
            value = self._make()
            request.headers.set(self._header, value)
        rid = RequestId(value)
        request.extensions.insert(rid)
        response = await self.inner.serve(request)
        if self._propagate and self._header not in response.headers:
            response.headers.add(self._header, value)
        response.extensions.insert(rid)
        return response


class RequestIdLayer:
    """Gives each request an id in *header* (``x-request-id``) and echoes it on the response.

    A request without the field gets one from *make* (a UUID4 by default; any function
    returning a string); the id is inserted as a :class:`RequestId` extension on request and
    response, and (with *propagate*) copied to the response unless it has its own.
    """

    __slots__ = ("_header", "_make", "_propagate")

    def __init__(
        self,
        header: str = "x-request-id",
        *,
        make: Callable[[], str] = _uuid4,
        propagate: bool = True,
    ) -> None:
        """Configure the field name and the id maker."""
        check_header_name(header)
        self._header = header
        self._make = make
        self._propagate = propagate

    def layer(self, inner: HttpService, /) -> RequestIdService:
        """Wrap *inner*."""
        return RequestIdService(inner, self._header, self._make, self._propagate)
