"""The pure planner: dependency order, fingerprints, skips, flavors."""

from __future__ import annotations

from pathlib import Path

from pipeline.builds import planner
from pipeline.builds.planner import UnitInputs
from pipeline.matrix import load as matrix


def _inputs(units: list[planner.BuildUnit], **changes: str) -> dict[str, UnitInputs]:
    out = {}
    for u in units:
        spec = changes.get(u.key, "spec")
        out[u.key] = UnitInputs(spec_sha=spec, source_shas=("s",), patch_shas=(), macro_shas=(),
                                backend="b")
    return out


def test_units_order_and_grouping(tree: Path) -> None:
    m = matrix.load(tree)
    units = planner.units(m, m.cells, ["libvirt-python", "libvirt", "qemu"], set())
    keys = [u.key for u in units]
    assert keys.index("bclinux7/libvirt") < keys.index("bclinux7/libvirt-python")
    lvp = next(u for u in units if u.key == "bclinux7/libvirt-python")
    assert lvp.cells == ("bclinux7-x86_64", "bclinux7-aarch64", "bclinux7-hygon")
    assert lvp.arches == ("aarch64", "x86_64")
    assert lvp.depends == ("bclinux7/libvirt",)
    assert len(units) == 6  # hygon shares the OS build: no own spec


def test_flavor_with_own_spec_is_its_own_unit(tree: Path) -> None:
    m = matrix.load(tree)
    units = planner.units(m, m.cells, ["qemu"], {("bclinux7", "hygon", "qemu")})
    keys = {u.key: u for u in units}
    assert keys["bclinux7+hygon/qemu"].cells == ("bclinux7-hygon",)
    assert keys["bclinux7/qemu"].cells == ("bclinux7-x86_64", "bclinux7-aarch64")


def test_plan_skips_finished_and_rebuilds_what_a_change_reaches(tree: Path) -> None:
    m = matrix.load(tree)
    units = planner.units(m, m.cells, ["libvirt", "libvirt-python", "qemu"], set())
    buildable = {u.key: ("x86_64",) for u in units}
    first = planner.plan(units, _inputs(units), buildable, {})
    assert {s.action for s in first} == {"build"}
    finished = {s.unit.key: {s.fingerprint} for s in first}
    again = planner.plan(units, _inputs(units), buildable, finished)
    assert {s.action for s in again} == {"skip"}
    changed = planner.plan(units, _inputs(units, **{"bclinux7/libvirt": "new"}), buildable,
                           finished)
    rebuilt = sorted(s.unit.key for s in changed if s.action == "build")
    assert rebuilt == ["bclinux7/libvirt", "bclinux7/libvirt-python"]
    forced = planner.plan(units, _inputs(units), buildable, finished, force=True)
    assert {s.action for s in forced} == {"build"}


def test_unbuildable_and_missing_arches(tree: Path) -> None:
    m = matrix.load(tree)
    units = planner.units(m, m.cells, ["qemu"], set())
    steps = planner.plan(units, _inputs(units), {"bclinux7/qemu": ("x86_64",)}, {})
    by_key = {s.unit.key: s for s in steps}
    assert by_key["bclinux7/qemu"].missing_arches == ("aarch64",)
    assert by_key["bclinux-euler/qemu"].action == "unbuildable"
