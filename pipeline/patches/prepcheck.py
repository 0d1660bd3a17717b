"""After the series applies: what each package's patches promise, checked on the real tree.

- ``rpmbuild -bp`` of the rendered spec, so %prep applies the series exactly as a builder will;
- libvirt-python: where the cell builds the Python 2 binding, the prepared tree builds and
  byte-compiles under a real Python 2.7 (:mod:`.py2compat`), and the Python 3 side still builds;
- qemu: the self-test script (:mod:`.qemu_selftest`) when the source is an unpacked QEMU tree.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from pipeline.core import cmd, files
from pipeline.core.errors import CommandFailed
from pipeline.core.findings import Finding
from pipeline.matrix.model import Cell, Matrix, Package
from pipeline.specs import render, rpmspec, srpm

PY2_ENV = "VP_PYTHON2"


def default_python2(tree: Path) -> Path | None:
    candidates = [os.environ.get(PY2_ENV, ""), str(tree / ".venv/python2.7/bin/python2.7")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate).resolve()
    return None


def rpmbuild_prep(matrix: Matrix, cell: Cell, pkg: Package, workdir: Path, *,
                  dirs: Sequence[Path], cache: Path) -> tuple[Path | None, list[Finding]]:
    """``rpmbuild -bp`` of the cell's rendered spec; the prepared tree, or a finding."""
    tree = Path(matrix.root)
    top = files.renew_dir(workdir / "rpmbuild" / cell.id, workdir)  # fresh: rpmbuild -bp writes
    srpm.stage_sources(matrix, pkg.name, top / "SOURCES", cache=cache, local_dirs=dirs)
    spec = render.spec_path(matrix, cell.os.id, cell.flavor_name, pkg.name)
    argv = ["rpmbuild", "-bp", "--nodeps", "--define", f"_topdir {top.resolve()}",
            "--define", f"dist {cell.dist}"]
    for macros in rpmspec.macro_files(tree, cell):
        argv += ["--load", str(macros.resolve())]
    try:
        cmd.run([*argv, str(spec.resolve())], logfile=workdir / f"prep-{cell.id}.log")
    except CommandFailed as exc:
        return None, [Finding("prep-failed", "error", cell.id, pkg.name,
                              f"rpmbuild -bp failed: {exc.output.strip().splitlines()[-1]}")]
    prepared = sorted(p for p in (top / "BUILD").iterdir() if p.is_dir())
    if not prepared:
        return None, []
    return files.tool_dir(prepared[0], top), []  # the builds that follow write in it


def wants_python2(pkg: Package, cell: Cell) -> bool:
    whens = pkg.features.get("python2", ())
    return any(w.matches_cell(cell, pkg.version) for w in whens)


def check_libvirt_python(tree: Path, prepared: Path, pkg: Package, cell: Cell,
                         workdir: Path, python2: Path | None,
                         notes: list[str]) -> list[Finding]:
    """Findings; what was checked and passed is appended to ``notes`` (the evidence)."""
    from pipeline.patches import py2compat

    pc_dir = py2compat.write_restricted_pkgconfig(
        workdir / "pkgconfig", max_version=pkg.version, pc_file=py2compat.system_libvirt_pc())
    findings: list[Finding] = []
    if wants_python2(pkg, cell):
        if python2 is None:
            findings.append(Finding(
                "py2-check-skipped", "warning", cell.id, pkg.name,
                "no Python 2.7 here (run tools/get-python27, or set VP_PYTHON2): "
                "the Python 2 build was not checked"))
        else:
            found = py2compat.check_py2_tree(prepared, python2=python2, pkgconfig_dir=pc_dir,
                                             cell=cell.id)
            findings += found
            if not found:
                modules = py2compat.py2_modules(prepared, python2=python2,
                                                api_dir=pc_dir / "api")
                notes.append(f"{cell.id}: {python2} built the C module and byte-compiled "
                             + ", ".join(sorted(m.name for m in modules)))
    py3 = files.renew_dir(workdir / "py3" / cell.id, workdir)
    py3_tree = py3 / prepared.name
    shutil.copytree(prepared, py3_tree, symlinks=True, ignore=shutil.ignore_patterns("build"))
    files.tool_dir(py3_tree, py3)  # setup.py build writes here: no copied link may lead out
    build = py2compat.setup_build(Path("/usr/bin/python3"), py3_tree, pkgconfig_dir=pc_dir)
    if not build.ok:
        tail = build.output.strip().splitlines()[-3:]
        findings.append(Finding("py3-build-failed", "error", cell.id, pkg.name,
                                "python3 setup.py build failed: " + " | ".join(tail)))
    else:
        notes.append(f"{cell.id}: /usr/bin/python3 setup.py build of the same tree passed")
    return findings
