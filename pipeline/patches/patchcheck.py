"""``patches check``: apply each cell's series, in order, to the pristine upstream source.

Per patch and cell: ``applies``, ``fuzz`` (a finding: our specs apply with ``--fuzz=0``), or
``fails at hunk N of FILE``; patches after a failure are ``not-tried``. Cells that share a series
share one application. The source is a tarball (sha256 verified when the matrix knows it) found
in ``--sources`` folders or the cache, or an unpacked tree in a ``--sources`` folder.
Parsers of patch(1) output are pure functions.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import cmd, files
from pipeline.core.errors import InputError
from pipeline.matrix import ledger
from pipeline.matrix.model import Cell, Matrix, Package
from pipeline.specs import sources


@dataclass(frozen=True)
class PatchResult:
    cells: tuple[str, ...]
    package: str
    patch: str
    status: str   # applies | fuzz | fails | not-tried
    detail: str


@dataclass(frozen=True)
class Hunk:
    file: str
    hunk: int
    outcome: str  # "ok" | "fuzz" | "offset" | "failed"
    fuzz: int


_FILE = re.compile(r"^(?:patching|checking) file '?([^']+?)'?$")
_HUNK = re.compile(r"^Hunk #(\d+) (succeeded|FAILED) at \d+(?: \(offset -?\d+ lines?\))?"
                   r"(?: with fuzz (\d+))?")


def parse_patch_output(text: str) -> list[Hunk]:
    """The hunks patch(1) reported on, with the file each belongs to."""
    hunks: list[Hunk] = []
    current = ""
    for line in text.splitlines():
        line = line.strip()
        file_match = _FILE.match(line)
        if file_match:
            current = file_match.group(1)
            continue
        hunk_match = _HUNK.match(line)
        if hunk_match:
            number, result, fuzz = hunk_match.groups()
            outcome = "failed" if result == "FAILED" else "fuzz" if fuzz else "offset"
            hunks.append(Hunk(current, int(number), outcome, int(fuzz or 0)))
    return hunks


def _patch(tree: Path, patch: Path, *extra: str) -> cmd.Completed:
    return cmd.run(["patch", "-p1", "--batch", "--forward", "--no-backup-if-mismatch",
                    *extra, "-i", str(patch.resolve())], cwd=tree, check=False)


def apply_one(tree: Path, patch: Path) -> tuple[str, str]:
    """Apply ``patch`` to ``tree``; (status, detail). A patch that needs fuzz is applied with it
    (so the rest of the series can be judged) and reported as ``fuzz``."""
    strict = _patch(tree, patch, "--fuzz=0")
    if strict.returncode == 0:
        return "applies", ""
    loose = _patch(tree, patch, "--dry-run", "--fuzz=3")
    if loose.returncode == 0:
        _patch(tree, patch, "--fuzz=3")
        fuzzy = [h for h in parse_patch_output(loose.output) if h.outcome == "fuzz"]
        where = ", ".join(f"hunk {h.hunk} of {h.file} (fuzz {h.fuzz})" for h in fuzzy)
        return "fuzz", f"applies only with fuzz: {where or loose.output.strip()[-200:]}"
    failed = [h for h in parse_patch_output(strict.output) if h.outcome == "failed"]
    if failed:
        return "fails", f"fails at hunk {failed[0].hunk} of {failed[0].file}"
    last = strict.output.strip().splitlines()[-1:] or ["patch failed"]
    return "fails", last[0]


def apply_series(tree: Path, series: Sequence[Path]) -> list[tuple[str, str, str]]:
    """(patch file, status, detail) for each patch, stopping at the first failure."""
    out: list[tuple[str, str, str]] = []
    failed = False
    for patch in series:
        if failed:
            out.append((patch.name, "not-tried", "an earlier patch failed"))
            continue
        status, detail = apply_one(tree, patch)
        failed = status == "fails"
        out.append((patch.name, status, detail))
    return out


def find_tree(pkg: Package, dirs: Sequence[Path]) -> Path | None:
    """An unpacked source tree ``NAME-VERSION`` in ``dirs``, or a ``dirs`` folder that says it
    is that version (VERSION or PKG-INFO), or None."""
    for folder in dirs:
        for candidate in (folder / f"{pkg.name}-{pkg.version}", folder):
            if candidate.is_dir() and _tree_version(candidate) == pkg.version:
                return candidate
    return None


def find_source(pkg: Package, dirs: Sequence[Path], cache: Path) -> Path:
    """The pristine source: an unpacked tree (:func:`find_tree`), else the verified tarball
    from ``dirs``/cache/download."""
    tree = find_tree(pkg, dirs)
    if tree is not None:
        return tree
    return sources.fetch(pkg.sources[0], cache=cache, local_dirs=list(dirs))


def _tree_version(path: Path) -> str | None:
    version_file = path / "VERSION"
    if version_file.is_file():
        return version_file.read_text(encoding="utf-8").strip()
    pkg_info = path / "PKG-INFO"
    if pkg_info.is_file():
        match = re.search(r"^Version:\s*(\S+)", pkg_info.read_text(encoding="utf-8"), re.M)
        return match.group(1) if match else None
    return None


def pristine_copy(source: Path, dest: Path) -> Path:
    """A private copy of the source tree to patch: hard links for a tree (patch replaces
    files, it does not write through links), extraction for a tarball."""
    files.remove_tree(dest, dest.parent)  # a link planted at dest is removed, not followed
    if source.is_dir():
        shutil.copytree(source, dest, copy_function=os.link, symlinks=True,
                        ignore=shutil.ignore_patterns(".git", "build"))
        files.tool_dir(dest, dest)  # patch(1) writes here: no copied link may lead out
        return dest
    dest.mkdir(parents=True)
    with tarfile.open(source) as tar:
        tops = {Path(n).parts[0] for n in tar.getnames() if n}
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # pragma: no cover - Python < 3.9.17
            tar.extractall(dest)  # noqa: S202
    if len(tops) != 1:
        raise InputError(f"{source}: expected one top-level folder, found {sorted(tops)}")
    return dest / tops.pop()


def series_groups(matrix: Matrix, pkg: Package, cells: Sequence[Cell]
                  ) -> dict[tuple[str, ...], list[Cell]]:
    """Cells grouped by identical series (patch files in order)."""
    groups: dict[tuple[str, ...], list[Cell]] = {}
    for cell in cells:
        series = tuple(p.file for p in ledger.series_for(pkg.patches, cell, pkg.version))
        groups.setdefault(series, []).append(cell)
    return groups


def check_package(matrix: Matrix, pkg: Package, cells: Sequence[Cell], *, dirs: Sequence[Path],
                  workdir: Path, cache: Path
                  ) -> tuple[list[PatchResult], dict[tuple[str, ...], Path]]:
    """Apply every distinct series; the results and the patched tree of each series."""
    source = find_source(pkg, dirs, cache)
    patch_dir = Path(matrix.root, "patches", pkg.name)
    results: list[PatchResult] = []
    trees: dict[tuple[str, ...], Path] = {}
    for index, (series, members) in enumerate(series_groups(matrix, pkg, cells).items()):
        parent = files.make_dir(workdir / pkg.name, workdir)  # refused if a link leads out
        tree = pristine_copy(source, parent / f"series-{index}")
        ids = tuple(c.id for c in members)
        for file, status, detail in apply_series(tree, [patch_dir / f for f in series]):
            results.append(PatchResult(ids, pkg.name, file, status, detail))
        trees[series] = tree
    return results, trees
