"""What is installed: pyrama distributions and community extensions.

Community extensions are distributions named ``pyrama-x-<name>`` (importing
``pyrama_x_<name>``) that declare an entry point in the ``pyrama.extensions`` group::

    [project.entry-points."pyrama.extensions"]
    hello = "pyrama_x_hello"            # a module, or "pkg.module:object"

Listing reads installed metadata only; no extension code runs until :meth:`ExtensionInfo.load`.
"""

from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass, field
from typing import Any

from pyrama.errors import ExtensionError

__all__ = [
    "EXTENSION_GROUP",
    "DistributionInfo",
    "ExtensionInfo",
    "installed_distributions",
    "list_extensions",
    "load_extension",
]

#: The entry-point group community extensions register in.
EXTENSION_GROUP = "pyrama.extensions"


def _normalize(name: str) -> str:
    """PEP 503 normalized distribution name (``Pyrama_X.Hello`` -> ``pyrama-x-hello``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, slots=True)
class ExtensionInfo:
    """One installed extension, as declared by its distribution's entry point.

    :attr:`name` is the entry-point name, :attr:`distribution` and :attr:`version` the
    distribution that declares it (``None`` if the metadata does not say), :attr:`target`
    the entry-point value (``"pyrama_x_hello"`` or ``"pkg.mod:obj"``) and :attr:`summary`
    the distribution's one-line summary.
    """

    name: str
    distribution: str | None
    version: str | None
    target: str
    summary: str = ""
    _entry_point: importlib.metadata.EntryPoint | None = field(
        default=None, repr=False, compare=False
    )

    def load(self) -> Any:
        """Import the extension's target and return it (the module or object).

        Raises :class:`~pyrama.errors.ExtensionError` (with the original error as
        ``__cause__``) when importing it fails.
        """
        ep = self._entry_point or importlib.metadata.EntryPoint(
            name=self.name, value=self.target, group=EXTENSION_GROUP
        )
        try:
            return ep.load()
        except Exception as exc:
            raise ExtensionError(
                f"pyrama extension {self.name!r} ({self.target}) failed to load: "
                f"{type(exc).__name__}: {exc}",
                name=self.name,
            ) from exc


def list_extensions() -> list[ExtensionInfo]:
    """Every installed extension, sorted by name then distribution (nothing is imported)."""
    found: list[ExtensionInfo] = []
    for ep in importlib.metadata.entry_points(group=EXTENSION_GROUP):
        dist = ep.dist
        name = version = None
        summary = ""
        if dist is not None:
            name = dist.metadata["Name"]
            version = dist.version
            summary = dist.metadata["Summary"] or ""
        found.append(ExtensionInfo(ep.name, name, version, ep.value, summary, ep))
    found.sort(key=lambda e: (e.name, e.distribution or ""))
    return found


def load_extension(name: str) -> Any:
    """Load the extension registered under *name* and return its target.

    Raises :class:`~pyrama.errors.ExtensionError` if no extension has that name, if several
    distributions register it, or if importing it fails.
    """
    matches = [e for e in list_extensions() if e.name == name]
    if not matches:
        raise ExtensionError(f"no pyrama extension named {name!r} is installed", name=name)
    if len(matches) > 1:
        owners = ", ".join(e.distribution or "?" for e in matches)
        raise ExtensionError(
            f"pyrama extension {name!r} is registered by several distributions: {owners}",
            name=name,
        )
    return matches[0].load()


@dataclass(frozen=True, slots=True)
class DistributionInfo:
    """An installed pyrama distribution: its name, version and whether it is an extension."""

    name: str
    version: str
    extension: bool


def installed_distributions() -> list[DistributionInfo]:
    """Every installed ``pyrama``/``pyrama-*`` distribution plus every extension's distribution.

    The umbrella ``pyrama`` comes first, then the rest by name. A distribution counts as an
    extension when it registers a ``pyrama.extensions`` entry point or is named
    ``pyrama-x-*``.
    """
    extension_dists = {_normalize(e.distribution) for e in list_extensions() if e.distribution}
    seen: dict[str, DistributionInfo] = {}
    for dist in importlib.metadata.distributions():
        raw = dist.metadata["Name"]
        if not raw:
            continue
        key = _normalize(raw)
        if key in seen:  # shadowed by an earlier sys.path entry, as importlib would be
            continue
        is_ext = key in extension_dists or key.startswith("pyrama-x-")
        if key == "pyrama" or key.startswith("pyrama-") or is_ext:
            seen[key] = DistributionInfo(raw, dist.version, is_ext)
    return sorted(seen.values(), key=lambda d: (_normalize(d.name) != "pyrama", d.name.lower()))
