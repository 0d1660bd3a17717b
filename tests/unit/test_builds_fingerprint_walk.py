"""Class 6 of the promises: the fingerprint covers every input, and only the units it reaches.

The test walks the matrix (and the files it names) field by field: change one, plan again with
the pure planner, and compare the set of units whose fingerprint changed (or that appeared)
with the set the field reaches by the rules below, written independently of the code:

- a package's field reaches that package's units and those of every package depending on it;
- an OS's build-relevant field reaches that OS's units (all packages);
- vendor/packager reach every unit; the backend's settings and tool versions reach every unit;
- fields no build reads on this backend (koji target/channel, flavor hosts, a patch's "why",
  mock repos) reach none: they must not cause rebuilds either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.builds import plan as buildplan
from pipeline.builds.builders.base import BuildJob
from pipeline.builds.results import ResultStore
from pipeline.matrix import load as matrix
from tests.support.hostile import inject


class _Builder:
    """A backend stand-in: constant settings (unless told), every arch buildable."""

    name = "fake"

    def __init__(self, settings: str = "rpmbuild 4.18.0\nprobe python3-devel=3.11") -> None:
        self.settings = settings

    def settings_fingerprint(self, job: BuildJob) -> str:
        return self.settings

    def buildable_arches(self, job: BuildJob) -> tuple[str, ...]:
        return job.arches


def _fingerprints(tree: Path, builder: Any = None,
                  profiles: list[Path] | None = None) -> dict[str, str]:
    m = matrix.load(tree, profiles)
    steps, _ = buildplan.make_plan(m, m.cells, list(m.packages), builder or _Builder(),
                                   ResultStore(tree / ".cache" / "results"))
    return {s.unit.key: s.fingerprint for s in steps}


def _changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {k for k, fp in after.items() if before.get(k) != fp}


DEPENDENTS = {"qemu": {"qemu"}, "libvirt": {"libvirt", "libvirt-python"},
              "libvirt-python": {"libvirt-python"}}


def _reach(keys: set[str], *, os_: str | None = None, package: str | None = None,
           every: bool = False) -> set[str]:
    if every:
        return set(keys)
    out = set()
    for key in keys:
        group, pkg = key.split("/")
        if os_ is not None and group.split("+")[0] == os_:
            out.add(key)
        if package is not None and pkg in DEPENDENTS[package]:
            out.add(key)
    return out


# (dotted path in matrix.yaml, new value, reach)
FIELDS: list[tuple[str, Any, dict[str, Any]]] = [
    ("vendor", "Other", {"every": True}),
    ("packager", "X <x@example.org>", {"every": True}),
    ("oses.bclinux-euler.dist_suffix", ".other", {"os_": "bclinux-euler"}),
    ("oses.bclinux7.dist", ".el7x", {"os_": "bclinux7"}),
    ("oses.bclinux7.name", "BC 7", {"os_": "bclinux7"}),
    ("oses.bclinux7.arches", ["x86_64"], {"os_": "bclinux7"}),
    ("oses.bclinux7.koji.target", "other-target", {}),
    ("oses.bclinux7.mock.repos", [], {}),
    ("flavors.hygon.hosts", ["h1"], {}),
    ("flavors.hygon.cpu_model", "Other", {}),
    ("packages.qemu.version", "6.2.1", {"package": "qemu"}),
    ("packages.qemu.summary", "Q", {"package": "qemu"}),
    ("packages.qemu.license", "MIT", {"package": "qemu"}),
    ("packages.qemu.epoch", 11, {"package": "qemu"}),
    ("packages.qemu.configure.0", "--enable-other", {"package": "qemu"}),
    ("packages.qemu.sources.0.sha256", "0" * 64, {"package": "qemu"}),
    ("packages.qemu.changelog.0.lines.0", "other", {"package": "qemu"}),
    ("packages.libvirt.summary", "L", {"package": "libvirt"}),
    ("packages.libvirt.release", "9", {"package": "libvirt"}),
    ("packages.libvirt-python.url", "https://example.org/", {"package": "libvirt-python"}),
]


@pytest.mark.parametrize("field,value,reach", FIELDS, ids=[f[0] for f in FIELDS])
def test_each_matrix_field_rebuilds_exactly_what_it_reaches(tree: Path, field: str, value: Any,
                                                            reach: dict[str, Any]) -> None:
    before = _fingerprints(tree)
    data = yaml.safe_load((tree / "matrix.yaml").read_text())
    inject(tree / "matrix.yaml", field, value)  # type: ignore[arg-type]
    assert yaml.safe_load((tree / "matrix.yaml").read_text()) != data
    after = _fingerprints(tree)
    assert _changed(before, after) == _reach(set(after), **reach)


def test_a_patch_rebuilds_its_package_only(tree: Path) -> None:
    before = _fingerprints(tree)
    patch = sorted((tree / "patches" / "qemu").glob("0001-*.patch"))[0]
    patch.write_text(patch.read_text() + "\n")
    assert _changed(before, _fingerprints(tree)) == _reach(set(before), package="qemu")


def test_a_patch_why_rebuilds_nothing(tree: Path) -> None:
    before = _fingerprints(tree)
    inject(tree / "patches" / "qemu" / "ledger.yaml", "patches.0.why", "another reason")
    assert _changed(before, _fingerprints(tree)) == set()


def test_an_os_macro_file_rebuilds_its_os(tree: Path) -> None:
    before = _fingerprints(tree)
    with (tree / "macros" / "bclinux-euler.macros").open("a") as fh:
        fh.write("%extra_macro 1\n")
    assert _changed(before, _fingerprints(tree)) == _reach(set(before), os_="bclinux-euler")


def test_a_profile_value_rebuilds_what_it_reaches(tree: Path, tmp_path: Path) -> None:
    before = _fingerprints(tree)
    profile = tmp_path / "p.yaml"
    profile.write_text("packages:\n  libvirt:\n    license: MIT\n")
    after = _fingerprints(tree, profiles=[profile])
    assert _changed(before, after) == _reach(set(before), package="libvirt")


@pytest.mark.parametrize("settings", ["rpmbuild 4.19.1\nprobe python3-devel=3.11",
                                      "rpmbuild 4.18.0\nprobe python3-devel=3.12"])
def test_tool_and_probe_versions_rebuild_everything(tree: Path, settings: str) -> None:
    before = _fingerprints(tree)
    assert _changed(before, _fingerprints(tree, _Builder(settings))) == set(before)


def test_pipeline_version_rebuilds_everything(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _fingerprints(tree)
    monkeypatch.setattr(buildplan, "__version__", "999")
    assert _changed(before, _fingerprints(tree)) == set(before)
