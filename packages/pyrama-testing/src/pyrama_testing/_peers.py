"""Finding third-party peers (socat, curl, haproxy, ...) for tests."""

from __future__ import annotations

import importlib.util
import os
import shutil
from typing import NoReturn

import pytest

__all__ = ["in_ci", "require_module", "require_peer", "unavailable"]


def in_ci() -> bool:
    """Whether we run under CI (``CI=true``), where every peer must be installed."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_peer(name: str) -> str:
    """Return the path of the executable *name*.

    Outside CI a missing peer skips the calling test; under CI (``CI=true``) it fails it,
    because ``.ci/run`` installs every peer and a missing one is a broken setup.
    """
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None
    )
    if path is None:
        unavailable(f"third-party peer {name!r} is not installed (.ci/run installs it)")
    return path


def require_module(name: str) -> None:
    """Make sure the Python module *name* (a dev peer such as hypercorn) can be imported.

    Missing: skips the calling test, or fails it under CI (see :func:`unavailable`).
    """
    if importlib.util.find_spec(name) is None:
        unavailable(f"the Python module {name!r} is not installed in the venv")


def unavailable(reason: str) -> NoReturn:
    """A test's peer or data is missing: fail under CI (``CI=true``), skip elsewhere.

    CI sets up every peer and every test input, so there a missing one is a broken setup,
    never a reason to skip.
    """
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the setup must provide it)")
    pytest.skip(reason)
