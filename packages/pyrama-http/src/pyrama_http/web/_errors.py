"""Errors of the web layer: extraction failures and route-table mistakes."""

from __future__ import annotations

import json
from typing import Any

from pyrama_core.errors import ConfigError, PyramaError
from pyrama_http_types import Response

__all__ = ["ExtractError", "RouteError"]


class ExtractError(PyramaError):
    """A handler argument could not be extracted from the request.

    :attr:`status` is what the client gets (``400`` malformed input, ``413`` body over the
    limit, ``415`` wrong content type, ``422`` well-formed but invalid data); :attr:`field`
    names the offending field when there is one. :meth:`into_response` renders the error:
    plain text, or JSON for ``422`` (``{"error": ..., "field": ...}``).
    """

    def __init__(self, message: str, *, status: int = 400, field: str | None = None) -> None:
        """Make an error answered with *status*; *field* is the invalid field's name."""
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field

    def into_response(self) -> Response:
        """The response a client gets for this error."""
        if self.status == 422:
            body: dict[str, Any] = {"error": self.message}
            if self.field is not None:
                body["field"] = self.field
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
            return Response.binary(data.encode(), self.status, content_type="application/json")
        return Response.text(self.message + "\n", self.status)


class RouteError(ConfigError):
    """A route is malformed or conflicts with another one (raised while building)."""
