"""Extension discovery, loading, and the list of installed pyrama distributions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import pyrama
from pyrama import EXTENSION_GROUP, ExtensionInfo, installed_distributions, list_extensions
from pyrama.errors import ExtensionError

FakeDist = Callable[..., Path]


def test_group_name() -> None:
    assert EXTENSION_GROUP == "pyrama.extensions"


def test_lists_an_extension_from_metadata_without_importing_it(fake_dist: FakeDist) -> None:
    fake_dist(
        "pyrama-x-fake",
        "1.2.3",
        summary="A fake extension",
        entry_points={"fake": "pyrama_x_fake:THING"},
        modules={"pyrama_x_fake": "raise RuntimeError('must not be imported by listing')\n"},
    )
    exts = [e for e in list_extensions() if e.name == "fake"]
    assert len(exts) == 1
    ext = exts[0]
    assert (ext.name, ext.distribution, ext.version, ext.target, ext.summary) == (
        "fake",
        "pyrama-x-fake",
        "1.2.3",
        "pyrama_x_fake:THING",
        "A fake extension",
    )


def test_load_returns_the_target_object(fake_dist: FakeDist) -> None:
    fake_dist(
        "pyrama-x-obj",
        "0.1.0",
        entry_points={"obj": "pyrama_x_obj:THING", "mod": "pyrama_x_obj"},
        modules={"pyrama_x_obj": "THING = ('the', 'thing')\n"},
    )
    assert pyrama.load_extension("obj") == ("the", "thing")
    module = pyrama.load_extension("mod")
    assert module.__name__ == "pyrama_x_obj"
    assert module.THING == ("the", "thing")


def test_load_unknown_extension_raises() -> None:
    with pytest.raises(ExtensionError, match="no pyrama extension named 'nope-nope'") as info:
        pyrama.load_extension("nope-nope")
    assert info.value.name == "nope-nope"
    assert isinstance(info.value, pyrama.PyramaError)


def test_load_failure_is_wrapped_with_cause(fake_dist: FakeDist) -> None:
    fake_dist(
        "pyrama-x-broken",
        "0.0.1",
        entry_points={"broken": "pyrama_x_broken"},
        modules={"pyrama_x_broken": "raise RuntimeError('boom at import')\n"},
    )
    with pytest.raises(ExtensionError, match="boom at import") as info:
        pyrama.load_extension("broken")
    assert isinstance(info.value.__cause__, RuntimeError)


def test_same_name_from_two_distributions_is_refused(fake_dist: FakeDist) -> None:
    fake_dist("pyrama-x-one", "1.0", entry_points={"dup": "json"})
    fake_dist("pyrama-x-two", "2.0", entry_points={"dup": "json"})
    dups = [e for e in list_extensions() if e.name == "dup"]
    assert [e.distribution for e in dups] == ["pyrama-x-one", "pyrama-x-two"]
    with pytest.raises(ExtensionError, match="several distributions"):
        pyrama.load_extension("dup")


def test_extension_info_loads_without_its_entry_point() -> None:
    info = ExtensionInfo("json", None, None, "json:dumps")
    import json

    assert info.load() is json.dumps


def test_installed_distributions(fake_dist: FakeDist) -> None:
    fake_dist("pyrama-x-listed", "3.1.4", entry_points={"listed": "json"})
    fake_dist("Some_Plugin", "0.9", entry_points={"plugin": "json"})  # not pyrama-x-*, still one
    fake_dist("pyrama-x-nameonly", "0.2")  # named like an extension, no entry point
    fake_dist("unrelated-dist", "1.0")
    dists = installed_distributions()
    names = [d.name for d in dists]
    assert names[0] == "pyrama"
    assert "pyrama-core" in names
    by_name = {d.name: d for d in dists}
    assert by_name["pyrama-x-listed"].version == "3.1.4"
    assert by_name["pyrama-x-listed"].extension
    assert by_name["Some_Plugin"].extension
    assert by_name["pyrama-x-nameonly"].extension
    assert not by_name["pyrama-core"].extension
    assert "unrelated-dist" not in by_name
    assert names[1:] == sorted(names[1:], key=str.lower)
