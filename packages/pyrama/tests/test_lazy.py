"""The umbrella's lazy sub-packages: nothing imported up front, aliases, helpful errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pyrama
from pyrama._lazy import SUBPACKAGES
from pyrama.errors import MissingDistributionError


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_core_names_are_reexported_eagerly() -> None:
    import pyrama_core

    for name in ("Service", "Layer", "layers", "service_fn", "BoxService", "Extensions"):
        assert getattr(pyrama, name) is getattr(pyrama_core, name)
    assert pyrama.PyramaError is pyrama_core.PyramaError


def test_all_names_resolve() -> None:
    for name in pyrama.__all__:
        assert hasattr(pyrama, name)


def test_importing_pyrama_imports_no_family_member_but_core() -> None:
    proc = run_python(
        """
        import json, sys
        import pyrama
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("pyrama_"))))
        """
    )
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    tops = {m.partition(".")[0] for m in loaded}
    assert tops == {"pyrama_core"}


def test_star_import_does_not_load_subpackages() -> None:
    proc = run_python(
        """
        import sys
        from pyrama import *
        assert "pyrama_tcp" not in sys.modules and "pyrama_net" not in sys.modules
        assert Service is not None and layers is not None
        """
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("name", ["core", "net", "tcp", "udp"])
def test_attribute_access_is_the_real_module(name: str) -> None:
    import importlib

    real = importlib.import_module(f"pyrama_{name}")
    assert getattr(pyrama, name) is real


def test_import_statement_forms_alias_the_real_module() -> None:
    proc = run_python(
        """
        import sys
        import pyrama.udp
        import pyrama_udp
        assert pyrama.udp is pyrama_udp
        assert sys.modules["pyrama.udp"] is pyrama_udp
        import pyrama.tcp.errors
        import pyrama_tcp.errors
        assert pyrama.tcp.errors is pyrama_tcp.errors, "sub-modules must not load twice"
        assert sys.modules["pyrama.tcp.errors"] is pyrama_tcp.errors
        from pyrama.udp import errors as udp_errors
        import pyrama_udp.errors
        assert udp_errors is pyrama_udp.errors
        from pyrama import net
        import pyrama_net
        assert net is pyrama_net
        # the real modules keep their own identity
        assert pyrama_udp.__name__ == "pyrama_udp"
        assert pyrama_udp.__spec__.name == "pyrama_udp"
        print("ok")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_missing_submodule_of_installed_package_is_a_plain_error() -> None:
    with pytest.raises(ModuleNotFoundError) as info:
        import pyrama.tcp.no_such_module  # type: ignore[import-not-found]  # noqa: F401
    assert not isinstance(info.value, MissingDistributionError)


def test_unknown_attribute_is_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = pyrama.no_such_thing
    assert not hasattr(pyrama, "also_missing")


def test_dir_lists_every_subpackage() -> None:
    names = dir(pyrama)
    for sub in ("core", "net", "tcp", "udp", "tls", "http", "http_types", "socks5", "proxy"):
        assert sub in names
    assert set(pyrama.__all__) <= set(names)


def test_table_maps_names_to_modules_and_distributions() -> None:
    assert SUBPACKAGES["tcp"].module == "pyrama_tcp"
    assert SUBPACKAGES["tcp"].distribution == "pyrama-tcp"
    assert SUBPACKAGES["http_types"].module == "pyrama_http_types"
    assert SUBPACKAGES["http_types"].distribution == "pyrama-http-types"
    assert set(SUBPACKAGES) == {
        "core", "net", "tcp", "udp", "tls", "http_types", "http_core", "http",
        "socks5", "haproxy", "ua", "ws", "grpc", "proxy",
    }  # fmt: skip


# -- missing distributions ---------------------------------------------------------------------

_BLOCKER = """
import importlib.abc, sys
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Blocker())
"""


def _missing(blocked: list[str], access: str) -> dict[str, object]:
    proc = run_python(
        f"BLOCKED = {blocked!r}\n"
        + _BLOCKER
        + textwrap.dedent(
            f"""
            import json, sys, pyrama
            from pyrama.errors import MissingDistributionError
            try:
                {access}
            except MissingDistributionError as exc:
                print(json.dumps({{
                    "message": str(exc), "name": exc.name, "distribution": exc.distribution,
                    "extra": exc.extra, "is_import_error": isinstance(exc, ImportError),
                    "is_mnfe": isinstance(exc, ModuleNotFoundError),
                    "is_pyrama_error": isinstance(exc, pyrama.PyramaError),
                }}))
            else:
                print("null")
            """
        )
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result is not None, f"{access} did not raise"
    assert isinstance(result, dict)
    return result


@pytest.mark.parametrize(
    "access",
    [
        "pyrama.tcp",
        "import pyrama.tcp",
        "from pyrama.tcp import TcpListener",
        "from pyrama import tcp",
    ],
)
def test_missing_distribution_names_the_fix(access: str) -> None:
    r = _missing(["pyrama_tcp"], access)
    assert "pip install pyrama-tcp" in str(r["message"])
    assert 'pip install "pyrama[tcp]"' in str(r["message"])
    assert r["name"] == "pyrama_tcp"
    assert r["distribution"] == "pyrama-tcp"
    assert r["extra"] == "tcp"
    assert r["is_import_error"]
    assert r["is_mnfe"]
    assert r["is_pyrama_error"]


def test_missing_distribution_via_none_in_sys_modules() -> None:
    proc = run_python(
        """
        import sys
        sys.modules["pyrama_udp"] = None
        import pyrama
        try:
            pyrama.udp
        except ImportError as exc:
            print(exc)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "pip install pyrama-udp" in proc.stdout
    assert 'pip install "pyrama[udp]"' in proc.stdout


def test_missing_dependency_of_installed_member_names_that_dependency(tmp_path: Path) -> None:
    # a (fake) pyrama-proxy is installed but the distribution it imports is not
    pkg = tmp_path / "pyrama_proxy"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import pyrama_haproxy\n")
    r = _missing(["pyrama_haproxy"], f"sys.path.insert(0, {str(tmp_path)!r}); pyrama.proxy")
    assert r["distribution"] == "pyrama-haproxy"
    assert r["name"] == "pyrama_haproxy"
    assert "pip install pyrama-haproxy" in str(r["message"])


def test_member_without_an_umbrella_extra_gets_only_the_direct_fix() -> None:
    # no pyrama[ua] extra exists (yet): the message must not suggest one
    r = _missing(["pyrama_ua"], "pyrama.ua")
    assert r["distribution"] == "pyrama-ua"
    assert r["extra"] is None
    assert "pip install pyrama-ua" in str(r["message"])
    assert "pyrama[" not in str(r["message"])


def test_member_with_an_umbrella_extra_suggests_it() -> None:
    r = _missing(["pyrama_socks5"], "pyrama.socks5")
    assert r["distribution"] == "pyrama-socks5"
    assert r["extra"] == "socks5"
    assert "pip install pyrama-socks5" in str(r["message"])
    assert 'pip install "pyrama[socks5]"' in str(r["message"])
