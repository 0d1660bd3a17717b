"""``virt-pipeline patches check``: each cell's series against the pristine upstream source."""

from __future__ import annotations

import argparse
import platform
from pathlib import Path
from typing import Any

from pipeline.context import Context
from pipeline.core.errors import InputError, ToolMissing
from pipeline.core.findings import Finding, Level, has_errors
from pipeline.core.writeguard import OutputPath
from pipeline.matrix.load import select
from pipeline.matrix.model import Cell, Matrix, Package
from pipeline.patches import checkcache, patchcheck, prepcheck
from pipeline.specs import render, rpmspec

STATUS_FINDING: dict[str, tuple[str, Level]] = {
    "fuzz": ("patch-fuzz", "error"), "fails": ("patch-fails", "error"),
    "not-tried": ("patch-not-tried", "warning"),
}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("patches", help="the patch series and their ledger")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    check = verbs.add_parser("check", help="apply each cell's series to the pristine source")
    check.add_argument("--package", action="append", metavar="P")
    check.add_argument("--cells", action="append", metavar="PATTERN")
    check.add_argument("--sources", type=Path, action="append", default=[], metavar="DIR",
                       help="folder with tarballs or unpacked trees (a QEMU 6.2.0 tree runs "
                            "the QEMU self-test)")
    check.add_argument("--workdir", type=OutputPath, help="scratch folder (default .cache/patches)")
    check.add_argument("--python2", type=Path, help="a Python 2.7 interpreter "
                       "(default .venv/python2.7/bin/python2.7 or $VP_PYTHON2)")
    check.add_argument("--legacy-qemu", type=Path, metavar="BINARY",
                       help="a qemu-kvm-ev 2.12 x86_64 QEMU: the QEMU self-test also saves "
                            "guests there and loads them in 6.2, and back (default: skipped)")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    matrix = ctx.matrix()
    cells = select(matrix.cells, args.cells)
    names = args.package or [n for n, p in matrix.packages.items() if p.patches]
    for name in names:
        if name not in matrix.packages:
            raise InputError(f"unknown package {name!r}")
    workdir = args.workdir.resolve() if args.workdir else ctx.cache_path("patches")
    results: list[patchcheck.PatchResult] = []
    findings: list[Finding] = []
    missing: list[str] = []
    notes: list[str] = []
    for name in names:
        pkg = matrix.packages[name]
        try:
            res, _trees = patchcheck.check_package(matrix, pkg, cells, dirs=args.sources,
                                                  workdir=workdir, cache=ctx.cache_dir / "sources")
        except ToolMissing as exc:
            missing.append(str(exc))
            findings.append(Finding("source-unavailable", "error", None, name, str(exc)))
            continue
        results += res
        findings += [_finding(r) for r in res if r.status in STATUS_FINDING]
        if not any(r.status == "fails" for r in res):
            findings += _post_checks(ctx, matrix, pkg, cells, args, workdir, notes)
    _report(ctx, args.json, results, findings, notes)
    if has_errors([f for f in findings if f.id != "source-unavailable"]):
        return 1
    return 3 if missing else 0


def _finding(result: patchcheck.PatchResult) -> Finding:
    fid, level = STATUS_FINDING[result.status]
    return Finding(fid, level, ",".join(result.cells), result.package,
                   f"{result.patch}: {result.detail}")


def _post_checks(ctx: Context, matrix: Matrix, pkg: Package, cells: tuple[Cell, ...],
                 args: argparse.Namespace, workdir: Path, notes: list[str]) -> list[Finding]:
    if pkg.name == "qemu":
        legacy = args.legacy_qemu.resolve() if args.legacy_qemu else None
        return _qemu_selftest(matrix, pkg, args.sources, workdir, notes, legacy_qemu=legacy)
    if pkg.name != "libvirt-python":
        return []
    findings: list[Finding] = []
    python2 = (args.python2.resolve() if args.python2
               else prepcheck.default_python2(ctx.tree))
    host = platform.machine()
    seen: set[str] = set()
    for cell in cells:
        if cell.arch != host or cell.os.id in seen:
            continue  # %prep on this host only; other arches' %prep is checked by validate
        seen.add(cell.os.id)
        key = _inputs_key(ctx, matrix, pkg, cell, python2)
        folder = workdir / pkg.name / "checks"
        cached = checkcache.load(folder, key)
        if cached is not None:
            findings += cached[0]
            notes += cached[1]
            continue
        mine: list[Finding] = []
        mine_notes: list[str] = []
        ctx.say(f"patches: rpmbuild -bp {pkg.name} for {cell.id}")
        prepared, problems = prepcheck.rpmbuild_prep(matrix, cell, pkg, workdir / pkg.name,
                                                     dirs=args.sources,
                                                     cache=ctx.cache_dir / "sources")
        mine += problems
        if prepared is not None:
            mine_notes.append(f"{cell.id}: rpmbuild -bp applied the series in {prepared}")
            mine += prepcheck.check_libvirt_python(ctx.tree, prepared, pkg, cell,
                                                   workdir / pkg.name, python2, mine_notes)
        if not args.sources:  # a --sources tree is not part of the key: do not keep those
            checkcache.store(folder, key, mine, mine_notes)
        findings += mine
        notes += mine_notes
    return findings


def _inputs_key(ctx: Context, matrix: Matrix, pkg: Package, cell: Cell,
                python2: Path | None) -> str:
    """Everything the post-checks of ``cell`` read (see :mod:`pipeline.patches.checkcache`)."""
    from pipeline.patches import py2compat

    spec = render.spec_path(matrix, cell.os.id, cell.flavor_name, pkg.name)
    code = Path(prepcheck.__file__).parent
    return checkcache.inputs_key(
        texts=[("cell", f"{cell.id} {cell.dist} {pkg.version}"),
               ("sources", " ".join(s.sha256 or s.url for s in pkg.sources)),
               ("python2", str(python2))],
        files=[spec, *rpmspec.macro_files(ctx.tree, cell),
               *(Path(matrix.root, "patches", pkg.name, p.file) for p in pkg.patches),
               py2compat.system_libvirt_pc(), code / "prepcheck.py", code / "py2compat.py"],
        stamps=[p for p in (python2, Path("/usr/bin/python3")) if p is not None])


def _qemu_selftest(matrix: Matrix, pkg: Package, dirs: list[Path], workdir: Path,
                   notes: list[str], *, legacy_qemu: Path | None = None) -> list[Finding]:
    from pipeline.patches.qemu_selftest import grid as selftest_grid
    from pipeline.patches.qemu_selftest import results as selftest_results
    from pipeline.patches.qemu_selftest import run as selftest

    tree = patchcheck.find_tree(pkg, dirs)
    if tree is None:
        return [Finding("qemu-selftest-skipped", "warning", None, pkg.name,
                        "--sources does not point at an unpacked QEMU "
                        f"{pkg.version} tree: the QEMU self-test did not run")]
    series = [Path(matrix.root, "patches", pkg.name, p.file) for p in pkg.patches]
    results = selftest.run_selftest(tree, series, workdir / "qemu-selftest",
                                         legacy_qemu=legacy_qemu)
    notes += [f"qemu selftest: {line}" for line in selftest_results.format_results(results)]
    notes += [f"qemu device grid: {line}"
              for line in selftest_grid.format_grid(selftest_grid.rows_from_results(results))]
    return [Finding("qemu-selftest-failed", "error", None, pkg.name, f"{r.name}: {r.detail}")
            for r in results if not r.passed]


def _report(ctx: Context, as_json: bool, results: list[patchcheck.PatchResult],
            findings: list[Finding], notes: list[str]) -> None:
    ctx.emit_json({"results": [{"cells": list(r.cells), "package": r.package,
                                "patch": r.patch, "status": r.status, "detail": r.detail}
                               for r in results],
                   "findings": [f.to_json() for f in findings], "checks": notes})
    if as_json:
        return
    for r in results:
        ctx.say(f"{r.status:9} {r.package}: {r.patch}  [{', '.join(r.cells)}]"
                + (f"  {r.detail}" if r.detail else ""))
    for note in notes:
        ctx.say(f"checked   {note}")
    for f in findings:
        ctx.say(f.line())
    ctx.say(f"patches: {len(results)} applications, "
            f"{sum(f.level == 'error' for f in findings)} errors")
