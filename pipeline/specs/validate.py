"""``virt-pipeline validate``: every rendered spec, as rpm sees it for each cell, checked.

Each check is a small function returning findings with stable ids (README "Findings"):
spec-missing, spec-parse-failed, macro-undefined, patch-file-missing, patch-not-applied,
patch-not-in-series, patch-order, source-missing, replacement-target-missing, obsoletes-missing,
obsoletes-misses-legacy, obsoletes-new-package, obsoletes-own-requirement, nvr-content-mismatch,
release-below-stock,
rpmlint-error, rpmlint-warning.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import cmd, evr
from pipeline.core.errors import CommandFailed
from pipeline.core.findings import Finding, Level
from pipeline.matrix import ledger
from pipeline.matrix.model import Cell, Matrix, Package
from pipeline.specs import render, rpmspec, stock
from pipeline.specs.rpmspec import SpecPackage


@dataclass(frozen=True)
class CellSpec:
    """One (cell, package): the spec used and rpm's view of it."""

    cell: Cell
    package: Package
    spec: Path
    expanded: str
    built: tuple[SpecPackage, ...]


def validate(matrix: Matrix, cells: tuple[Cell, ...], *, rpmlint: bool = True) -> list[Finding]:
    tree = Path(matrix.root)
    findings: list[Finding] = []
    views: list[CellSpec] = []
    pairs = [(cell, pkg) for cell in cells for pkg in matrix.packages.values()]
    # rpmspec calls are independent: run them on every core
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        loaded = list(pool.map(lambda p: _load(tree, matrix, p[0], p[1]), pairs))
    legacy = stock.load_stock(tree / "legacy")
    for view, problems in loaded:
        findings += problems
        if view is not None:
            views.append(view)
            findings += check_patches(tree, view) + check_sources(view) + check_macros(view)
            findings += check_replacements(view) + check_obsoletes_sanity(view)
            findings += stock.below_stock(view.cell.id, view.cell.os.id, view.package.name,
                                          [(p.name, p.evr) for p in view.built], legacy)
    findings += check_nvr_collisions(views)
    if rpmlint:
        specs = sorted({v.spec for v in views})
        findings += run_rpmlint(tree, specs)
    return sorted(set(findings), key=lambda f: (f.cell or "", f.package or "", f.id, f.detail))


def _load(tree: Path, matrix: Matrix, cell: Cell, pkg: Package
          ) -> tuple[CellSpec | None, list[Finding]]:
    spec = render.spec_path(matrix, cell.os.id, cell.flavor_name, pkg.name)
    if not spec.exists():
        return None, [Finding("spec-missing", "error", cell.id, pkg.name,
                              f"{spec} does not exist: run `virt-pipeline render`")]
    try:
        expanded = rpmspec.expand(tree, cell, spec, sourcedir=tree / "patches" / pkg.name)
        built = tuple(rpmspec.packages(tree, cell, spec))
    except CommandFailed as exc:
        tail = exc.output.strip().splitlines()[-1:] or [""]
        return None, [Finding("spec-parse-failed", "error", cell.id, pkg.name,
                              f"{spec}: rpmspec failed: {tail[0]}")]
    return CellSpec(cell, pkg, spec, expanded, built), []


def check_patches(tree: Path, view: CellSpec) -> list[Finding]:
    """Every patch of the cell's series is applied in %prep, and nothing else is."""
    cell, pkg = view.cell, view.package
    series = ledger.series_for(pkg.patches, cell, pkg.version)
    applied = [f for _, f in rpmspec.applied_patches(view.expanded)]
    out = []
    for patch in series:
        if not (tree / "patches" / pkg.name / patch.file).is_file():
            out.append(Finding("patch-file-missing", "error", cell.id, pkg.name, patch.file))
        if patch.file not in applied:
            out.append(Finding("patch-not-applied", "error", cell.id, pkg.name,
                               f"{patch.file} is in the ledger series for this cell but %prep "
                               "does not apply it"))
    wanted = {p.file for p in series}
    for file in applied:
        if file not in wanted:
            out.append(Finding("patch-not-in-series", "error", cell.id, pkg.name,
                               f"%prep applies {file}, which the ledger does not list here"))
    if applied != [p.file for p in series if p.file in applied]:
        out.append(Finding("patch-order", "error", cell.id, pkg.name,
                           "%prep applies the series in another order than the ledger"))
    return out


_LEFT_MACRO = re.compile(r"%\{([A-Za-z_][A-Za-z0-9_]*)\}")


def check_macros(view: CellSpec) -> list[Finding]:
    """A macro left unexpanded is one the build root will not define either: the spec must
    need nothing beyond the build root's macros (macros/<os>.macros mirrors them) and %dist."""
    names = sorted({m for line in view.expanded.splitlines() if not line.startswith("#")
                    for m in _LEFT_MACRO.findall(line)})
    return [Finding("macro-undefined", "error", view.cell.id, view.package.name,
                    f"%{{{name}}} stays unexpanded: the target build root does not define it")
            for name in names]


def check_sources(view: CellSpec) -> list[Finding]:
    declared = re.findall(r"^Source\d*:\s*(\S+)", view.expanded, re.M)
    names = {s.filename for s in view.package.sources}
    return [Finding("source-missing", "error", view.cell.id, view.package.name,
                    f"Source {d} is not listed in the matrix sources")
            for d in declared if d.rsplit("/", 1)[-1] not in names]


def check_replacements(view: CellSpec) -> list[Finding]:
    """Each legacy package the matrix says is replaced here is really obsoleted, epoch included."""
    cell, pkg = view.cell, view.package
    by_name = {p.name: p for p in view.built}
    out = []
    for rep in pkg.replaces:
        if not rep.when.matches_cell(cell, pkg.version):
            continue
        new = by_name.get(rep.by)
        if new is None:
            out.append(Finding("replacement-target-missing", "error", cell.id, pkg.name,
                               f"{rep.old} is to be replaced by {rep.by}, which is not built here"))
            continue
        deps = [evr.parse_dep(o) for o in new.obsoletes]
        mine = [(op, bound) for name, op, bound in deps if name == rep.old]
        if not mine:
            out.append(Finding("obsoletes-missing", "error", cell.id, pkg.name,
                               f"{new.name} does not obsolete {rep.old}"))
        elif not any(evr.range_covers(op, bound, rep.last) for op, bound in mine):
            ranges = ", ".join(f"{rep.old} {op} {bound}" for op, bound in mine)
            out.append(Finding("obsoletes-misses-legacy", "error", cell.id, pkg.name,
                               f"{new.name}: Obsoletes {ranges} does not cover the legacy "
                               f"{rep.old}-{rep.last} (check the epoch)"))
    return out


def check_obsoletes_sanity(view: CellSpec) -> list[Finding]:
    """No package obsoletes what it requires, nor a package of the new set itself."""
    out = []
    for pkg in view.built:
        for dep in pkg.obsoletes:
            name, op, bound = evr.parse_dep(dep)
            for req in pkg.requires:
                if evr.parse_dep(req)[0] == name:
                    out.append(Finding("obsoletes-own-requirement", "error", view.cell.id,
                                       view.package.name,
                                       f"{pkg.name} obsoletes {dep} and requires {req}"))
            for other in view.built:
                if other.name == name and range_hits(op, bound, other):
                    out.append(Finding("obsoletes-new-package", "error", view.cell.id,
                                       view.package.name,
                                       f"{pkg.name}: Obsoletes {dep} matches the new "
                                       f"{other.nevra}"))
    return out


def range_hits(op: str | None, bound: str | None, pkg: SpecPackage) -> bool:
    return evr.range_covers(op, bound, f"{pkg.epoch or 0}:{pkg.version}-{pkg.release}")


def check_nvr_collisions(views: list[CellSpec]) -> list[Finding]:
    """Two cells publishing the same NVRA must have identical content (same expanded spec)."""
    seen: dict[str, CellSpec] = {}
    out = []
    for view in views:
        for built in view.built:
            first = seen.setdefault(built.nevra, view)
            if first is view or first.spec == view.spec:
                continue
            if _body(first.expanded) != _body(view.expanded):
                out.append(Finding("nvr-content-mismatch", "error", view.cell.id,
                                   view.package.name,
                                   f"{built.nevra} is published by {first.cell.id} "
                                   f"({first.spec}) and {view.cell.id} ({view.spec}) "
                                   "with different content"))
    return out


def _body(expanded: str) -> str:
    """The expanded spec without the two generated comment lines naming the template."""
    return "\n".join(line for line in expanded.splitlines() if not line.startswith("#"))


_RPMLINT = re.compile(r"^(?P<file>[^:\s]+\.spec)(?::(?P<line>\d+))?: (?P<lvl>[EW]): "
                      r"(?P<id>[\w%-]+)\s*(?P<rest>.*)$")


def run_rpmlint(tree: Path, specs: list[Path]) -> list[Finding]:
    """rpmlint on the rendered specs with the tree's config of accepted warnings."""
    config = tree / "rpmlint.toml"
    out: list[Finding] = []
    # one call per folder: rpmlint names specs by their base name only
    for folder in sorted({s.parent for s in specs}):
        group = [s for s in specs if s.parent == folder]
        argv = ["rpmlint", *(["-c", str(config)] if config.exists() else []),
                *[str(s) for s in group]]
        out += parse_rpmlint(cmd.run(argv, check=False).stdout, group)
    return out


def parse_rpmlint(text: str, specs: list[Path]) -> list[Finding]:
    by_name = {s.name: s for s in specs}
    out = []
    for line in text.splitlines():
        match = _RPMLINT.match(line.strip())
        if not match:
            continue
        spec = by_name.get(match["file"])
        level: Level = "error" if match["lvl"] == "E" else "warning"
        where = f"{spec or match['file']}" + (f":{match['line']}" if match["line"] else "")
        out.append(Finding(f"rpmlint-{level}", level, None,
                           spec.stem if spec else match["file"],
                           f"{where}: {match['id']} {match['rest']}".rstrip()))
    return out
