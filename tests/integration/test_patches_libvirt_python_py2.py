"""libvirt-python 6.2.0 with our Python 2 series: builds and byte-compiles under Python 2.7, the
pristine sdist does not, and the Python 3 side of the same patched tree still builds.

Inputs (skipped with a message when absent):
- the sdist ``libvirt-python-6.2.0.tar.gz`` in ``$VP_SDIST_DIR`` or ``.cache/sources/``
  (``pip download --no-deps --no-binary :all: libvirt-python==6.2.0 -d .cache/sources``);
- Python 2.7 at ``$VP_PYTHON2`` or ``.venv/python2.7/bin/python2.7`` (``tools/get-python27``).
Needs ``patch``, ``pkg-config``, a C compiler and libvirt's headers and API XML (libvirt-dev).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.core.cmd import run
from pipeline.core.errors import ToolMissing
from pipeline.matrix import ledger
from pipeline.matrix import load as matrix
from pipeline.patches import py2compat
from pipeline.specs import sources

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
VERSION = "6.2.0"
SDIST = f"libvirt-python-{VERSION}.tar.gz"
SMOKE = ("import libvirt, sys; c = libvirt.open('test:///default'); d = c.lookupByName('test');"
         " sys.stdout.write('%s %s %s' % (d.name(), d.ID(), type(d.ID()).__name__))")


@pytest.fixture(scope="module")
def sdist() -> Path:
    """The sdist from $VP_SDIST_DIR, else fetched (URL + sha256 from the matrix) into the cache."""
    if os.environ.get("VP_SDIST_DIR"):
        path = Path(os.environ["VP_SDIST_DIR"]) / SDIST
        if not path.is_file():
            pytest.skip(f"{path} absent")
        return path
    source = matrix.load(ROOT).packages["libvirt-python"].sources[0]
    try:
        return sources.fetch(source, cache=ROOT / ".cache" / "sources")
    except ToolMissing as exc:
        pytest.skip(f"the libvirt-python {VERSION} sdist cannot be had here: {exc}")


@pytest.fixture(scope="module")
def python2() -> Path:
    path = Path(os.environ.get("VP_PYTHON2") or ROOT / ".venv" / "python2.7" / "bin" / "python2.7")
    if not os.access(path, os.X_OK):
        pytest.skip(f"python2.7 absent at {path}: run tools/get-python27 (needs Debian bullseye)")
    return path


@pytest.fixture(scope="module")
def pkgconfig_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return py2compat.write_restricted_pkgconfig(
        tmp_path_factory.mktemp("pc"), max_version=VERSION, pc_file=py2compat.system_libvirt_pc())


@pytest.fixture(scope="module")
def unpack(sdist: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[bool], Path]:
    """A fresh copy of the sdist's tree, with the ledger's series applied when asked."""
    series = [ROOT / "patches" / "libvirt-python" / p.file
              for p in ledger.load(ROOT, "libvirt-python") if VERSION in p.when.version]

    def make(patched: bool) -> Path:
        dest = tmp_path_factory.mktemp("patched" if patched else "pristine")
        tree = py2compat.prepare_tree(sdist, dest, patches=series if patched else [])
        assert tree.name == f"libvirt-python-{VERSION}"
        return tree

    return make


def test_series_is_the_python2_port() -> None:
    patches = ledger.load(ROOT, "libvirt-python")
    assert [p.category for p in patches] == ["compat", "compat"]
    assert all("b22e4f2441078aec048b9503fde2b45e78710ce1" in p.upstream[0] for p in patches)


def test_patched_tree_builds_and_compiles_for_python2(
        unpack: Callable[[bool], Path], python2: Path, pkgconfig_dir: Path) -> None:
    tree = unpack(True)
    findings = py2compat.check_py2_tree(tree, python2=python2, pkgconfig_dir=pkgconfig_dir)
    assert findings == []
    modules = py2compat.py2_modules(tree)
    assert [m.name for m in modules] == ["libvirt.py", "libvirt_qemu.py", "libvirt_lxc.py"]
    results = py2compat.byte_compile_py2(python2, modules)
    assert [r for r in results if not r.ok] == []
    libs = sorted((tree / "build").glob("lib.*2.7"))
    assert len(libs) == 1
    built = sorted(p.name for p in libs[0].iterdir())
    assert built == ["libvirt.py", "libvirt_lxc.py", "libvirt_qemu.py",
                     "libvirtmod.so", "libvirtmod_lxc.so", "libvirtmod_qemu.so"]
    # The module really loads under 2.7 and ints come back as Python 2 ints (typewrappers.c).
    out = run([python2, "-c", SMOKE], env={"PYTHONPATH": str(libs[0])}).stdout
    assert out == "test 1 int"


def test_pristine_tree_fails_the_same_check(
        unpack: Callable[[bool], Path], python2: Path, pkgconfig_dir: Path) -> None:
    tree = unpack(False)
    findings = py2compat.check_py2_tree(tree, python2=python2, pkgconfig_dir=pkgconfig_dir)
    assert [f.id for f in findings] == ["py2-build-failed"]
    assert "requires Python 3.x" in findings[0].detail
    assert not list((tree / "build").glob("lib.*/libvirtmod*.so"))


def test_byte_compile_catches_python3_only_code(unpack: Callable[[bool], Path],
                                                python2: Path) -> None:
    # libvirtaio.py is Python 3 only; setup.py must keep it out of the Python 2 install.
    tree = unpack(True)
    [result] = py2compat.byte_compile_py2(python2, [tree / "libvirtaio.py"])
    assert not result.ok
    assert result.line is not None and result.line > 0


def test_patched_tree_still_builds_for_python3(
        unpack: Callable[[bool], Path], pkgconfig_dir: Path) -> None:
    tree = unpack(True)
    build = py2compat.setup_build(Path(sys.executable), tree, pkgconfig_dir=pkgconfig_dir)
    assert build.ok, build.output[-3000:]
    assert build.lib_dir is not None
    names = sorted(p.name for p in build.lib_dir.iterdir())
    assert [n for n in names if n.endswith(".py")] == [
        "libvirt.py", "libvirt_lxc.py", "libvirt_qemu.py", "libvirtaio.py"]
    assert sum(n.startswith("libvirtmod") and n.endswith(".so") for n in names) == 3
    out = run([sys.executable, "-c", SMOKE], env={"PYTHONPATH": str(build.lib_dir)}).stdout
    assert out == "test 1 int"
