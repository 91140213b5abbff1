"""Errors raised by pyrama-tls."""

from __future__ import annotations

from pyrama_core.errors import PyramaError

__all__ = ["TlsError"]


class TlsError(PyramaError):
    """Root of pyrama-tls errors."""
