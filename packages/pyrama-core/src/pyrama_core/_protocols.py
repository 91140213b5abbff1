"""Small structural types shared across pyrama."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pyrama_core._extensions import Extensions

__all__ = ["HasExtensions"]


@runtime_checkable
class HasExtensions(Protocol):
    """Anything carrying :class:`Extensions`: a stream, a request, a response, a datagram."""

    @property
    def extensions(self) -> Extensions:
        """The typed map of facts attached to this value."""
        ...
