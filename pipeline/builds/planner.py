"""The build planner: a pure function from the matrix and what is already built to the steps.

No file system, no tools: callers gather the inputs (rendered spec texts, source and patch
hashes, backend fingerprints, finished builds) and the planner decides, deterministically,
what to build, in which order, and what to skip. ``build --dry-run`` prints this plan.

A build unit is one package for one (OS release, flavor): koji builds one SRPM for every arch
of its target, so arches are not separate units. A flavor is its own unit only when it has its
own spec (its content differs); otherwise its cells are served by the OS build.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.matrix.model import Cell, Matrix


@dataclass(frozen=True)
class BuildUnit:
    key: str                  # "bclinux7/libvirt-python", "bclinux7+hygon/qemu"
    os_id: str
    flavor: str | None
    package: str
    cells: tuple[str, ...]
    arches: tuple[str, ...]
    depends: tuple[str, ...]  # keys of units that must be built (and in the build root) first


@dataclass(frozen=True)
class UnitInputs:
    """Everything a build's result depends on, as hashes (gathered by the caller)."""

    spec_sha: str
    source_shas: tuple[str, ...]
    patch_shas: tuple[str, ...]
    macro_shas: tuple[str, ...]
    backend: str              # the backend's settings fingerprint (build root config)
    job: str = ""             # what the build command is given: %dist, arches, our version


@dataclass(frozen=True)
class Step:
    unit: BuildUnit
    action: str               # "build" | "skip" | "unbuildable"
    fingerprint: str
    arches: tuple[str, ...]   # arches this backend builds here
    reason: str

    @property
    def missing_arches(self) -> tuple[str, ...]:
        """Arches the unit serves that this backend cannot build here."""
        return tuple(a for a in self.unit.arches if a not in self.arches)


def units(matrix: Matrix, cells: tuple[Cell, ...], packages: list[str],
          flavor_specs: set[tuple[str, str, str]]) -> list[BuildUnit]:
    """The build units serving ``cells`` for ``packages``, in dependency order.

    ``flavor_specs`` holds the (os, flavor, package) triples that have their own spec.
    """
    groups: dict[str, tuple[str, str | None, str, list[Cell]]] = {}
    for cell in cells:
        for pkg in packages:
            own = cell.flavor_name and (cell.os.id, cell.flavor_name, pkg) in flavor_specs
            flavor = cell.flavor_name if own else None
            key = unit_key(cell.os.id, flavor, pkg)
            groups.setdefault(key, (cell.os.id, flavor, pkg, []))[3].append(cell)
    out = []
    for key, (os_id, flavor, pkg, members) in groups.items():
        deps = tuple(unit_key(os_id, flavor if (os_id, flavor or "", d) in flavor_specs
                              else None, d)
                     for d in matrix.packages[pkg].depends_on)
        out.append(BuildUnit(key=key, os_id=os_id, flavor=flavor, package=pkg,
                             cells=tuple(c.id for c in members),
                             arches=tuple(sorted({c.arch for c in members})),
                             depends=deps))
    return order(out)


def unit_key(os_id: str, flavor: str | None, package: str) -> str:
    return f"{os_id}{'+' + flavor if flavor else ''}/{package}"


def order(units_: list[BuildUnit]) -> list[BuildUnit]:
    """Topological order (dependencies first), stable by key; unknown deps are ignored
    (a dependency outside the selection is expected to be in the build root already)."""
    by_key = {u.key: u for u in units_}
    done: list[BuildUnit] = []
    seen: set[str] = set()

    def visit(unit: BuildUnit, path: tuple[str, ...]) -> None:
        if unit.key in seen:
            return
        if unit.key in path:
            raise ValueError("dependency cycle: " + " -> ".join((*path, unit.key)))
        for dep in unit.depends:
            if dep in by_key:
                visit(by_key[dep], (*path, unit.key))
        seen.add(unit.key)
        done.append(unit)

    for unit in sorted(units_, key=lambda u: u.key):
        visit(unit, ())
    return done


def fingerprint(inputs: UnitInputs, dep_fingerprints: tuple[str, ...]) -> str:
    """The content address of a build: its inputs and those of the builds it depends on
    (a new libvirt changes libvirt-python's build root, as OBS rebuilds dependents)."""
    text = "\n".join([inputs.spec_sha, *inputs.source_shas, *inputs.patch_shas,
                      *inputs.macro_shas, inputs.backend, inputs.job, *dep_fingerprints])
    return hashlib.sha256(text.encode()).hexdigest()


def plan(units_: list[BuildUnit], inputs: Mapping[str, UnitInputs],
         buildable: Mapping[str, tuple[str, ...]], finished: Mapping[str, set[str]],
         *, force: bool = False) -> list[Step]:
    """One step per unit, in order. ``finished[key]`` holds the fingerprints of completed
    builds of that unit; ``buildable[key]`` the arches the backend can build here."""
    fps: dict[str, str] = {}
    steps = []
    for unit in units_:
        deps = tuple(fps.get(d, d) for d in unit.depends)
        fp = fingerprint(inputs[unit.key], deps)
        fps[unit.key] = fp
        arches = buildable.get(unit.key, ())
        if not arches:
            steps.append(Step(unit, "unbuildable", fp, (),
                              f"backend cannot build {'/'.join(unit.arches)} here"))
        elif fp in finished.get(unit.key, set()) and not force:
            steps.append(Step(unit, "skip", fp, arches, "fingerprint matches a finished build"))
        else:
            why = "forced" if force else "inputs changed" if finished.get(unit.key) else "new"
            steps.append(Step(unit, "build", fp, arches, why))
    return steps
