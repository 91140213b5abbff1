"""Errors raised by the pyrama umbrella and its command-line tool."""

from __future__ import annotations

from pyrama_core.errors import PyramaError

__all__ = ["ExtensionError", "MissingDistributionError"]


class MissingDistributionError(PyramaError, ModuleNotFoundError):
    """A pyrama sub-package was used but its distribution is not installed.

    Raised when touching ``pyrama.tcp`` (or ``import pyrama.tcp``) without ``pyrama-tcp``
    installed. The message names the command that fixes it. It is a ``ModuleNotFoundError``
    (so ``except ImportError`` keeps working) whose :attr:`name` is the missing import name;
    :attr:`distribution` is the distribution to install and :attr:`extra` the umbrella extra
    that pulls it in (``None`` when ``pyrama`` has no such extra).
    """

    def __init__(self, *, attribute: str, module: str, distribution: str, extra: str | None):
        fix = f"pip install {distribution}"
        if extra is not None:
            fix += f' (or: pip install "pyrama[{extra}]")'
        super().__init__(
            f"pyrama.{attribute} needs the distribution {distribution!r}, which is not "
            f"installed. Fix: {fix}",
            name=module,
        )
        self.attribute = attribute
        self.distribution = distribution
        self.extra = extra


class ExtensionError(PyramaError):
    """A pyrama extension (entry point in the ``pyrama.extensions`` group) failed to load."""

    def __init__(self, message: str, *, name: str) -> None:
        super().__init__(message)
        self.name = name
