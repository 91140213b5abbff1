"""Errors raised by pyrama-http (the HTTP client, its pool and the high-level API).

Every error derives from :class:`HttpClientError` (a :class:`~pyrama_core.errors.PyramaError`).
Errors of the layers below travel unchanged: connecting fails with
:class:`~pyrama_net.errors.ConnectError` (:class:`~pyrama_net.ConnectTimeoutError` for the
connect timeout), TLS with :mod:`pyrama_tls.errors`, the wire protocol with
:mod:`pyrama_http_core.errors`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyrama_core.errors import PyramaError, PyramaTimeoutError

if TYPE_CHECKING:
    from pyrama_http._api import ClientResponse

__all__ = [
    "HttpClientError",
    "HttpStatusError",
    "InvalidRequestError",
    "ProtocolNegotiationError",
    "RequestTimeoutError",
]


class HttpClientError(PyramaError):
    """Root of pyrama-http's client errors."""


class InvalidRequestError(HttpClientError, ValueError):
    """A request cannot be sent as given (no absolute ``http``/``https`` URL, bad header...)."""


class ProtocolNegotiationError(HttpClientError):
    """The server did not agree to the HTTP version the request demanded (``h2`` via ALPN)."""


class RequestTimeoutError(HttpClientError, PyramaTimeoutError):
    """The request's deadline passed (connecting, waiting for the head, or reading the body)."""


class HttpStatusError(HttpClientError):
    """Raised by :meth:`~pyrama_http.ClientResponse.raise_for_status` for a status >= 400.

    :attr:`response` is the response (its body is still unread), :attr:`status` its code.
    """

    def __init__(self, message: str, *, response: ClientResponse) -> None:
        super().__init__(message)
        self.response = response
        self.status = int(response.status)
