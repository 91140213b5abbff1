"""Datastar on the server: reading the browser's signals, serving the client script."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from typing import Any, Final
from urllib.parse import parse_qs

from pyrama_http.fs import ServeFile
from pyrama_http_types import Method, Request, Response, StatusCode
from pyrama_http_types.errors import BodyTooLargeError, DatastarError

__all__ = [
    "DATASTAR_CDN_URL",
    "DATASTAR_SCRIPT_PATH",
    "DEFAULT_SIGNALS_LIMIT",
    "DatastarScript",
    "ReadSignals",
]

DATASTAR_CDN_URL: Final = (
    "https://cdn.jsdelivr.net/gh/starfederation/datastar@1.0.0-RC.7/bundles/datastar.js"
)
"""Where browsers can load the Datastar 1.0 client (the version whose events pyrama sends)."""

DATASTAR_SCRIPT_PATH: Final = "/datastar.js"
"""The conventional route of :class:`DatastarScript`."""

DEFAULT_SIGNALS_LIMIT: Final = 1024 * 1024
"""The largest signals body :meth:`ReadSignals.from_request` reads by default (1 MiB)."""


class ReadSignals(Mapping[str, Any]):
    """The signals a Datastar request carries, as a read-only mapping (an extractor).

    :meth:`read` reads them the way Datastar sends them: for ``GET`` (and ``HEAD``)
    the ``datastar`` query parameter holds URL-encoded JSON; other methods send the JSON as
    the body. The JSON must be an object. No signals at all (no parameter, an empty body)
    gives an empty mapping. Invalid JSON raises
    :class:`~pyrama_http_types.errors.DatastarError` (status hint ``400``); a body over the
    limit raises :class:`~pyrama_http_types.errors.BodyTooLargeError` (``413``).
    :meth:`from_request` is the same for the web router (an extractor).
    """

    __slots__ = ("_signals",)

    def __init__(self, signals: Mapping[str, Any] | None = None) -> None:
        self._signals: dict[str, Any] = dict(signals or {})

    @property
    def signals(self) -> dict[str, Any]:
        """The signals (a copy)."""
        return dict(self._signals)

    @classmethod
    async def from_request(
        cls, request: Request, *, limit: int = DEFAULT_SIGNALS_LIMIT
    ) -> ReadSignals:
        """The extractor form of :meth:`read` (a handler parameter annotated ``ReadSignals``).

        Failures are raised as :class:`pyrama_http.web.ExtractError` (``400`` invalid
        signals, ``413`` over the limit) so the web router answers them; the original error
        is the ``__cause__``.
        """
        from pyrama_http.web import ExtractError  # imported on use: web is optional here

        try:
            return await cls.read(request, limit=limit)
        except BodyTooLargeError as exc:
            raise ExtractError(f"the signals body is over {limit} bytes", status=413) from exc
        except DatastarError as exc:
            raise ExtractError(str(exc), status=400) from exc

    @classmethod
    async def read(cls, request: Request, *, limit: int = DEFAULT_SIGNALS_LIMIT) -> ReadSignals:
        """Read the signals of *request* (see the class docs)."""
        if request.method == Method.GET or request.method == Method.HEAD:
            query = request.uri.query
            if not query:
                return cls()
            try:
                values = parse_qs(query, keep_blank_values=True, errors="strict")
            except (UnicodeDecodeError, ValueError) as exc:
                raise DatastarError("the datastar query parameter is not valid UTF-8") from exc
            found = values.get("datastar")
            if not found:
                return cls()
            text = found[0]
        else:
            raw = await request.body.read_all(limit)
            if not raw.strip():
                return cls()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DatastarError("the signals body is not valid UTF-8") from exc
        return cls(_parse(text))

    def __getitem__(self, key: str) -> Any:
        return self._signals[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._signals)

    def __len__(self) -> int:
        return len(self._signals)

    def __repr__(self) -> str:
        return f"ReadSignals({self._signals!r})"


def _parse(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise DatastarError(f"the signals are not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise DatastarError(f"the signals must be a JSON object, got {type(value).__name__}")
    return value


class DatastarScript:
    """``Service[Request, Response]`` serving the Datastar browser script (at ``/datastar.js``).

    pyrama does not ship the script. Give *path* (a ``datastar.js`` you host, e.g. the
    1.0 bundle from the Datastar release) and it is served as a static file (validators,
    ranges, ``.br``/``.gz`` siblings); without one the request is redirected (``307``) to
    *cdn_url*, so pages that load ``/datastar.js`` still work in a browser with internet
    access. The server itself never downloads anything.
    """

    __slots__ = ("_cdn_url", "_file")

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, cdn_url: str = DATASTAR_CDN_URL
    ) -> None:
        self._file = (
            None
            if path is None
            else ServeFile(
                path,
                content_type="text/javascript; charset=utf-8",
                precompressed=("br", "zstd", "gzip"),
            )
        )
        self._cdn_url = cdn_url

    @property
    def local(self) -> bool:
        """Whether a local script file is served (rather than a redirect)."""
        return self._file is not None

    async def serve(self, request: Request, /) -> Response:
        """Serve the script, or redirect to the CDN copy."""
        if self._file is not None:
            return await self._file.serve(request)
        if request.method != Method.GET and request.method != Method.HEAD:
            return Response.text("method not allowed\n", 405, headers={"Allow": "GET, HEAD"})
        return Response(StatusCode.TEMPORARY_REDIRECT, headers={"Location": self._cdn_url})

    def __repr__(self) -> str:
        where = "local file" if self._file is not None else self._cdn_url
        return f"DatastarScript({where})"
