"""What differs between two cells, as rpm sees it: BuildRequires, subpackages, per-subpackage
Requires/Provides/Obsoletes/Conflicts, and the patches %prep applies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.matrix.model import Cell, Matrix
from pipeline.specs import render, rpmspec


@dataclass(frozen=True)
class CellView:
    """rpm's view of one package in one cell, as sets of strings per aspect."""

    aspects: dict[str, frozenset[str]]


@dataclass(frozen=True)
class AspectDiff:
    package: str
    aspect: str
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]


def view(matrix: Matrix, cell: Cell, package: str) -> CellView:
    tree = Path(matrix.root)
    spec = render.spec_path(matrix, cell.os.id, cell.flavor_name, package)
    expanded = rpmspec.expand(tree, cell, spec, sourcedir=tree / "patches" / package)
    built = rpmspec.packages(tree, cell, spec)
    aspects: dict[str, frozenset[str]] = {
        "buildrequires": frozenset(rpmspec.buildrequires(tree, cell, spec)),
        "subpackages": frozenset(p.name for p in built),
        "patches": frozenset(f for _, f in rpmspec.applied_patches(expanded)),
    }
    for p in built:
        for kind in ("requires", "provides", "obsoletes", "conflicts"):
            aspects[f"{p.name}:{kind}"] = frozenset(
                _neutral(d, cell) for d in getattr(p, kind))
    return CellView(aspects)



def _neutral(dep: str, cell: Cell) -> str:
    """A dependency with the cell's dist folded, so only real differences show."""
    return dep.replace(cell.dist, "%{dist}") if cell.dist else dep


def compare(package: str, a: CellView, b: CellView) -> list[AspectDiff]:
    out = []
    for aspect in sorted(set(a.aspects) | set(b.aspects)):
        sa, sb = a.aspects.get(aspect, frozenset()), b.aspects.get(aspect, frozenset())
        if sa != sb:
            out.append(AspectDiff(package, aspect, tuple(sorted(sa - sb)), tuple(sorted(sb - sa))))
    return out
