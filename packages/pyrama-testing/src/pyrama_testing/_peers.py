"""Finding third-party peers (socat, curl, haproxy, ...) for tests."""

from __future__ import annotations

import os
import shutil

import pytest

__all__ = ["in_ci", "require_peer"]


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
        msg = f"third-party peer {name!r} is not installed"
        if in_ci():
            pytest.fail(msg + " (CI=true: .ci/run must install it)")
        pytest.skip(msg)
    return path
