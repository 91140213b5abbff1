"""Path parameters captured by a route or a path matcher, and the URI before nesting."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from pyrama_core import Extensions
from pyrama_http_types import Uri

__all__ = ["OriginalUri", "PathParams", "insert_params"]


class PathParams(Mapping[str, str]):
    """The parameters a path pattern captured (``{id}`` and ``{*rest}``), percent-decoded.

    A read-only mapping from name to value, in the order the pattern names them. Routers and
    :class:`~pyrama_http.matcher.PathMatcher` insert it into the request's extensions; nested
    routes add to what outer ones captured.
    """

    __slots__ = ("_params",)

    def __init__(self, params: Mapping[str, str] | None = None) -> None:
        """Wrap *params* (copied)."""
        self._params: dict[str, str] = {} if params is None else dict(params)

    def __getitem__(self, name: str) -> str:
        return self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def as_dict(self) -> dict[str, str]:
        """A copy as a plain ``dict``."""
        return dict(self._params)

    def __repr__(self) -> str:
        return f"PathParams({self._params!r})"


def insert_params(extensions: Extensions, params: dict[str, str]) -> None:
    """Insert *params* into *extensions*, on top of parameters captured earlier."""
    old = extensions.get(PathParams)
    if old is not None and old._params:
        merged = dict(old._params)
        merged.update(params)
        params = merged
    p = PathParams.__new__(PathParams)
    p._params = params
    extensions.insert(p)


@dataclass(frozen=True, slots=True)
class OriginalUri:
    """The request URI as received, before a nested service saw it with its prefix removed."""

    uri: Uri
    """The URI as it was before the first prefix was stripped."""
