"""The patch ledger: ``patches/<package>/ledger.yaml``, one entry per patch, in series order.

Each entry says where the patch applies (a When predicate), why it exists, its category and its
upstream references. The renderer takes each spec's series from here; validation checks that
every patch of a cell's series is applied in %prep.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.core import yamlsrc
from pipeline.core.schema import Origin, Reader, checked_name
from pipeline.matrix.model import Cell, Patch, When

CATEGORIES = ("backport", "compat", "fix", "build")


def ledger_path(tree: Path, package: str) -> Path:
    return tree / "patches" / package / "ledger.yaml"


def load(tree: Path, package: str) -> tuple[Patch, ...]:
    """The ledger of ``package``; no ledger file means no patches."""
    path = ledger_path(tree, package)
    if not path.exists():
        return ()
    source = yamlsrc.load(path, display=f"patches/{package}/ledger.yaml")
    origin = Origin({k: (str(source.path), v) for k, v in source.lines.items()})
    top = Reader(source.data, "", origin)
    top.only(["patches"])
    patches = []
    for index, item in enumerate(top.list("patches")):
        r = Reader(item, f"patches.{index}", origin)
        r.only(["file", "category", "why", "upstream", "when"])
        file = checked_name(r.str("file"), r._k("file"), origin)
        if "/" in file or not (path.parent / file).is_file():
            raise r.error("file", f"patch file not found: patches/{package}/{file}")
        category = r.str("category")
        if category not in CATEGORIES:
            raise r.error("category", f"unknown category {category!r} ({', '.join(CATEGORIES)})")
        when = r.sub("when", required=False)
        when.only(["os", "arch", "flavor", "version"])
        patches.append(Patch(
            number=index + 1, file=file, category=category, why=r.str("why"),
            upstream=r.str_list("upstream"),
            when=When(os=when.str_list("os"), arch=when.str_list("arch"),
                      flavor=when.str_list("flavor"), version=when.str_list("version")),
        ))
    return tuple(patches)


def series_for(patches: tuple[Patch, ...], cell: Cell, version: str) -> tuple[Patch, ...]:
    """The patches that apply in ``cell``, in order."""
    return tuple(p for p in patches if p.when.matches_cell(cell, version))
