"""validate on all six cells with the real rpmspec and rpmlint, and the mutations it must catch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

pytestmark = pytest.mark.integration


def _ids(result: CliResult) -> set[tuple[str, str | None]]:
    return {(f["id"], f["cell"]) for f in result.json()["findings"] if f["level"] == "error"}


def test_committed_tree_validates_on_all_cells(tree: Path, cli: Callable[..., CliResult]) -> None:
    result = cli("-C", str(tree), "validate", "--json")
    data = result.json()
    assert data["cells"] == ["bclinux7-x86_64", "bclinux7-aarch64", "bclinux7-hygon",
                             "bclinux-euler-x86_64", "bclinux-euler-aarch64",
                             "bclinux-euler-hygon"]
    errors = [f for f in data["findings"] if f["level"] == "error"]
    assert errors == [], errors
    assert result.code == 0
    assert set(data["findings"][0]) >= {"id", "level", "cell", "package", "detail"} \
        if data["findings"] else True


def test_render_check_passes_then_catches_a_template_change(
        tree: Path, cli: Callable[..., CliResult]) -> None:
    assert cli("-C", str(tree), "render", "--check").code == 0
    tpl = tree / "templates" / "libvirt-python.spec.j2"
    tpl.write_text(tpl.read_text().replace("%description\n", "%description\nchanged\n", 1))
    before = (tree / "specs/bclinux7/libvirt-python.spec").read_text()
    result = cli("-C", str(tree), "render", "--check", "--json")
    assert result.code == 1
    assert sorted(result.json()["stale"]) == ["specs/bclinux-euler/libvirt-python.spec",
                                             "specs/bclinux7/libvirt-python.spec"]
    assert (tree / "specs/bclinux7/libvirt-python.spec").read_text() == before  # wrote nothing
    assert cli("-C", str(tree), "render").code == 0
    assert "changed" in (tree / "specs/bclinux7/libvirt-python.spec").read_text()


def test_broken_obsoletes_epoch_is_found(tree: Path, cli: Callable[..., CliResult]) -> None:
    matrix = tree / "matrix.yaml"
    text = matrix.read_text()
    old = '{old: qemu-kvm-ev, by: qemu, last: "10:2.12.0-44.1.el7_8.1", os: [bclinux7]}'
    assert old in text
    matrix.write_text(text.replace(old, old[:-1] + ', bound: "3"}'))
    assert cli("-C", str(tree), "render").code == 0
    result = cli("-C", str(tree), "validate", "--json", "--no-rpmlint", "--cells", "bclinux7-*")
    assert result.code == 1
    found = [f for f in result.json()["findings"] if f["id"] == "obsoletes-misses-legacy"]
    assert {f["cell"] for f in found} == {"bclinux7-x86_64", "bclinux7-aarch64", "bclinux7-hygon"}
    assert "qemu-kvm-ev < 3" in found[0]["detail"]


def test_patch_not_applied_in_prep_is_found(tree: Path, cli: Callable[..., CliResult]) -> None:
    spec = tree / "specs/bclinux7/libvirt-python.spec"
    text = spec.read_text()
    assert "%patch -P 2 -p1\n" in text
    spec.write_text(text.replace("%patch -P 2 -p1\n", ""))
    result = cli("-C", str(tree), "validate", "--json", "--no-rpmlint",
                 "--cells", "bclinux7-x86_64")
    assert result.code == 1
    details = [f["detail"] for f in result.json()["findings"] if f["id"] == "patch-not-applied"]
    assert len(details) == 1 and details[0].startswith("0002-")


def test_hygon_diverging_under_the_same_nvr_is_found(tree: Path,
                                                     cli: Callable[..., CliResult]) -> None:
    matrix = tree / "matrix.yaml"
    text = matrix.read_text()
    matrix.write_text(text.replace(
        "      - --enable-kvm\n",
        "      - --enable-kvm\n      - {value: --enable-hygon-csv, flavor: [hygon]}\n", 1))
    assert cli("-C", str(tree), "render").code == 0
    assert (tree / "specs/bclinux7/hygon/qemu.spec").exists()
    result = cli("-C", str(tree), "validate", "--json", "--no-rpmlint", "--cells", "bclinux7-*")
    mismatch = [f for f in result.json()["findings"] if f["id"] == "nvr-content-mismatch"]
    assert result.code == 1 and mismatch
    assert "qemu-10:6.2.0-1.el7.x86_64" in mismatch[0]["detail"]
    # a release suffix for the flavor gives it its own NVR: no collision any more
    matrix.write_text(matrix.read_text().replace('release_suffix: ""', 'release_suffix: ".hg"'))
    assert cli("-C", str(tree), "render").code == 0
    again = cli("-C", str(tree), "validate", "--json", "--no-rpmlint", "--cells", "bclinux7-*")
    assert not [f for f in again.json()["findings"] if f["id"] == "nvr-content-mismatch"]


def test_bad_matrix_value_exit_2_one_line_nothing_written(
        tree: Path, cli: Callable[..., CliResult]) -> None:
    matrix = tree / "matrix.yaml"
    matrix.write_text(matrix.read_text().replace("      - --enable-kvm\n",
                                                 "      - \"--enable-kvm %(touch /tmp/x)\"\n", 1))
    spec = tree / "specs/bclinux7/qemu.spec"
    before = spec.read_text()
    result = cli("-C", str(tree), "render")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert "matrix.yaml:" in lines[0] and "packages.qemu.configure.0" in lines[0]
    assert spec.read_text() == before


def test_targets_json(tree: Path, cli: Callable[..., CliResult]) -> None:
    rows = cli("-C", str(tree), "targets", "--json", "*-hygon").json()
    assert [(r["id"], r["os"], r["arch"], r["flavor"], r["dist"]) for r in rows] == [
        ("bclinux7-hygon", "bclinux7", "x86_64", "hygon", ".el7"),
        ("bclinux-euler-hygon", "bclinux-euler", "x86_64", "hygon", ".oe2203.bclinux")]


def test_diff_between_oses_as_rpm_sees_it(tree: Path, cli: Callable[..., CliResult]) -> None:
    data = cli("-C", str(tree), "diff", "bclinux7-x86_64", "bclinux-euler-x86_64", "--package",
               "libvirt-python", "--json").json()
    aspects = {d["aspect"]: d for d in data["differences"]}
    assert "python2-devel" in aspects["buildrequires"]["only_a"]
    assert "python3-devel" in aspects["buildrequires"]["only_b"]
    assert "python2-libvirt" in aspects["subpackages"]["only_a"]
    assert "python36-libvirt" in aspects["subpackages"]["only_a"]
    assert "python3-libvirt" in aspects["subpackages"]["only_b"]


def test_macro_the_build_root_lacks_is_found(tree: Path, cli: Callable[..., CliResult]) -> None:
    macros = tree / "macros" / "bclinux-euler.macros"
    macros.write_text(macros.read_text().replace("%python3_pkgversion 3\n", ""))
    result = cli("-C", str(tree), "validate", "--json", "--no-rpmlint", "--cells",
                 "bclinux-euler-x86_64")
    assert result.code == 1
    found = [f for f in result.json()["findings"] if f["id"] == "macro-undefined"]
    assert [(f["package"], f["detail"].split()[0]) for f in found] == [
        ("libvirt-python", "%{python3_pkgversion}")]
