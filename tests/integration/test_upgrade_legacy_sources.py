"""`legacy capture --repo` (repository metadata, no package downloaded) and `--spec` (a spec
as rpm expands it with an OS's macros, no build)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import cli
from pipeline.upgrade import repometa, synth
from pipeline.upgrade.manifest import load_manifest
from tests.support.tree import tools_fixture, work_tree_fixture

pytestmark = pytest.mark.integration

TREE = Path(__file__).resolve().parents[2]
WORK: list[Path] = []  # the CLI runs on a copy of the tree (see work_tree_fixture)
_work_tree = work_tree_fixture(WORK, "legacy")


CACHE = TREE / ".cache" / "standins"


_tools = tools_fixture("rpmbuild", "rpm", "rpmspec", "createrepo_c")


def test_repo_capture_equals_the_source_but_modes_and_configs(tmp_path: Path) -> None:
    source = load_manifest(TREE / "legacy" / "el7-qemu-kvm-ev.yaml")
    rpms = synth.build_rpms(source.packages, CACHE, workdir=tmp_path / "work")
    repo = synth.make_repo(rpms, tmp_path / "repo")
    out = tmp_path / "ev.yaml"
    assert cli.main(["-C", str(WORK[0]), "legacy", "capture", "--repo", str(repo),
                     "--repository", "example/ev-mirror", "-o", str(out)]) == 0
    captured = load_manifest(out)
    assert captured.os == "bclinux7"
    assert captured.sources == {"repo": {"repository": "example/ev-mirror", "repo": str(repo)}}
    want = {p.name: p for p in source.canonical().packages}
    got = {p.name: p for p in captured.packages}
    assert set(got) == set(want)
    for name, pkg in got.items():
        assert pkg.evr == want[name].evr
        assert sorted(pkg.obsoletes) == list(want[name].obsoletes)
        assert sorted(pkg.provides) == list(want[name].provides)
        assert {f.path for f in pkg.files} == {f.path for f in want[name].files}, name
        assert pkg.source == "repo" and any("modes" in u for u in pkg.unverified)
    img = got["qemu-img-ev"]
    assert "qemu-img < 15:0-0" in img.obsoletes  # ev's Obsoletes that matches our qemu-img


def test_repo_capture_over_file_url_and_pattern(tmp_path: Path) -> None:
    source = load_manifest(TREE / "legacy" / "el7-base.yaml")
    rpms = synth.build_rpms(source.packages, CACHE, workdir=tmp_path / "work")
    repo = synth.make_repo(rpms, tmp_path / "repo")
    found = repometa.from_repo(repo.resolve().as_uri(), patterns=["qemu-*"])
    assert {p.name for p in found} == {p.name for p in source.packages
                                       if p.name.startswith("qemu-")}


def test_repo_capture_of_a_folder_without_metadata_is_bad_input(tmp_path: Path) -> None:
    assert cli.main(["-C", str(WORK[0]), "legacy", "capture", "--repo", str(tmp_path),
                     "-o", str(tmp_path / "x.yaml")]) == 2
    assert not (tmp_path / "x.yaml").exists()


def test_spec_capture_expands_with_the_os_macros(tmp_path: Path) -> None:
    out = tmp_path / "py.yaml"
    assert cli.main(["-C", str(WORK[0]), "legacy", "capture", "--spec",
                     str(TREE / "specs/bclinux7/libvirt-python.spec"), "--os", "bclinux7",
                     "--repository", "local", "--commit", "0" * 40, "-o", str(out)]) == 0
    captured = load_manifest(out)
    names = {p.name for p in captured.packages}
    assert {"python2-libvirt", "python36-libvirt"} <= names
    py2 = captured.package("python2-libvirt")
    assert py2.release.endswith(".el7")
    assert any(o.startswith("libvirt-python <") for o in py2.obsoletes)
    assert any(f.path.startswith("/usr/lib64/python2.7/site-packages/") for f in py2.files)
    assert captured.sources["spec"]["file"] == "libvirt-python.spec"
    assert py2.source == "spec"


def test_spec_capture_needs_an_os(tmp_path: Path) -> None:
    assert cli.main(["-C", str(WORK[0]), "legacy", "capture", "--spec",
                     str(TREE / "specs/bclinux7/libvirt-python.spec"),
                     "-o", str(tmp_path / "x.yaml")]) == 2
