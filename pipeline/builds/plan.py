"""Gather what the pure planner needs (rendered specs, hashes, backend fingerprints, finished
builds) from the tree, the backend and the result store; then plan."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline import __version__
from pipeline.builds import planner
from pipeline.builds.builders.base import Builder, BuildJob
from pipeline.builds.planner import BuildUnit, Step, UnitInputs
from pipeline.builds.results import ResultStore
from pipeline.matrix import ledger
from pipeline.matrix.model import Cell, Matrix
from pipeline.specs import render, rpmspec


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def spec_texts(matrix: Matrix) -> dict[Path, str]:
    return render.render_all(matrix)


def flavor_specs(texts: dict[Path, str]) -> set[tuple[str, str, str]]:
    """(os, flavor, package) of every flavor with its own spec (specs/<os>/<flavor>/<pkg>)."""
    return {(p.parts[1], p.parts[2], p.stem) for p in texts if len(p.parts) == 4}


def unit_spec_key(unit: BuildUnit) -> Path:
    parts = [unit.os_id] + ([unit.flavor] if unit.flavor else [])
    return Path("specs", *parts, f"{unit.package}.spec")


def probe_job(matrix: Matrix, unit: BuildUnit) -> BuildJob:
    """A job carrying everything but the SRPM, for fingerprints and arch questions."""
    cell = matrix.cell(unit.cells[0])
    koji = cell.os.koji
    return BuildJob(key=unit.key, os_id=unit.os_id, flavor=unit.flavor, package=unit.package,
                    nvr="", srpm=Path(), spec=Path(), dist=cell.dist, arches=unit.arches,
                    cells=unit.cells, macros=tuple(rpmspec.macro_files(Path(matrix.root), cell)),
                    koji_target=koji.flavor_targets.get(unit.flavor or "", koji.target),
                    koji_channel=cell.flavor.koji_channel if cell.flavor and unit.flavor else None)


def inputs_of(matrix: Matrix, unit: BuildUnit, text: str, builder: Builder) -> UnitInputs:
    tree = Path(matrix.root)
    pkg = matrix.packages[unit.package]
    cell: Cell = matrix.cell(unit.cells[0])
    series = {p.file for c in unit.cells
              for p in ledger.series_for(pkg.patches, matrix.cell(c), pkg.version)}
    # every arch's series: the SRPM carries all of them
    series |= {p.file for p in pkg.patches
               if p.when.matches(os=cell.os.id, arch=None, flavor=cell.flavor_name,
                                 version=pkg.version)}
    patch_shas = tuple(f"{f}:{_sha((tree / 'patches' / pkg.name / f).read_bytes())}"
                       for f in sorted(series))
    return UnitInputs(
        spec_sha=_sha(text.encode()),
        source_shas=tuple(s.sha256 or s.url for s in pkg.sources),
        patch_shas=patch_shas,
        macro_shas=tuple(_sha(p.read_bytes()) for p in rpmspec.macro_files(tree, cell)),
        backend=_sha(builder.settings_fingerprint(probe_job(matrix, unit)).encode()),
        job=_sha(job_facts(cell.dist, unit.arches).encode()),
    )


def job_facts(dist: str, arches: tuple[str, ...]) -> str:
    """What the builders are told besides the SRPM: ``%dist`` (``dist`` + ``dist_suffix``,
    defined on the command line, not in the spec), the arches, and this program's version
    (how it renders and drives the build)."""
    return "\n".join([f"dist={dist}", f"arches={' '.join(arches)}", f"pipeline={__version__}"])


def make_plan(matrix: Matrix, cells: tuple[Cell, ...], packages: list[str], builder: Builder,
              store: ResultStore, *, force: bool = False
              ) -> tuple[list[Step], dict[str, str]]:
    """The steps, and the spec text of each unit."""
    texts = spec_texts(matrix)
    units = planner.units(matrix, cells, packages, flavor_specs(texts))
    unit_texts = {u.key: texts[unit_spec_key(u)] for u in units}
    inputs = {u.key: inputs_of(matrix, u, unit_texts[u.key], builder) for u in units}
    buildable = {u.key: builder.buildable_arches(probe_job(matrix, u)) for u in units}
    finished = {u.key: store.finished(u.key) for u in units}
    return planner.plan(units, inputs, buildable, finished, force=force), unit_texts
