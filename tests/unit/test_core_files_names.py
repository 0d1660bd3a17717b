"""Class 2 of the promises: names never become paths outside the tree or the cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.builds.results import ResultStore
from pipeline.core import files
from pipeline.core.errors import InputError
from tests.conftest import CliResult

BAD_NAMES = ["../evil", ".hidden", "a/b", "a..b", "..", "x y", "%(id)", "é", "a\\b", ""]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("where", ["oses", "flavors", "packages", "features"])
def test_unsafe_names_are_refused_at_load(tree: Path, cli: Callable[..., CliResult],
                                          tmp_path: Path, name: str, where: str) -> None:
    path = tree / "matrix.yaml"
    text = path.read_text()
    old = {"oses": "\n  bclinux7:\n", "flavors": "\n  hygon:\n", "packages": "\n  qemu:\n",
           "features": "\n      devtoolset:"}[where]
    assert old in text, where
    path.write_text(text.replace(old, old.replace(old.strip()[:-1], repr(name) if name else "''"),
                                 1))
    result = cli("-C", str(tree), "render")
    assert result.code == 2, result.err
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
    assert "unsafe name" in result.err, result.err
    assert not (tmp_path / "evil").exists() and not (tree.parent / "evil").exists()


def test_scenario_names_are_checked(tree: Path, cli: Callable[..., CliResult]) -> None:
    path = tree / "upgrades.yaml"
    path.write_text(path.read_text().replace("  bclinux7-el7-base:\n", "  ../x:\n", 1))
    result = cli("-C", str(tree), "verify-upgrade", "--sandbox", "none")
    assert result.code == 2 and "unsafe name '../x'" in result.err, result.err


def test_render_refuses_a_symlink_leading_out(tree: Path, cli: Callable[..., CliResult],
                                              tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tree / "specs" / "bclinux7").rename(tmp_path / "moved")
    (tree / "specs" / "bclinux7").symlink_to(outside)
    result = cli("-C", str(tree), "render")
    assert result.code == 2 and "outside" in result.err, result.err
    assert list(outside.iterdir()) == []  # nothing written through the link


def test_render_refuses_a_specs_folder_leading_out(tree: Path, cli: Callable[..., CliResult],
                                                   tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tree / "specs").rename(tmp_path / "moved")
    (tree / "specs").symlink_to(outside)
    result = cli("-C", str(tree), "render")
    assert result.code == 2 and "outside" in result.err, result.err
    assert list(outside.iterdir()) == []


def test_result_store_refuses_planted_symlinks(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results")
    (tmp_path / "results").mkdir()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("precious")
    (tmp_path / "results" / "bclinux7").symlink_to(victim)
    with pytest.raises(InputError, match="outside"):
        store.begin("bclinux7/qemu", "f" * 64)
    with pytest.raises(InputError, match="outside"):
        store.refresh_repo("bclinux7")
    assert [p.name for p in victim.iterdir()] == ["keep"]


def test_write_text_stays_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    files.write_text(root / "sub" / "ok", "x", root)
    assert (root / "sub" / "ok").read_text() == "x"
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(InputError):
        files.write_text(root / "link" / "escaped", "x", root)
    with pytest.raises(InputError):
        files.write_text(root / ".." / "escaped", "x", root)
    assert not (tmp_path / "escaped").exists()
    (root / "sub" / "f").symlink_to(tmp_path / "target")
    with pytest.raises(InputError, match="symlink"):
        files.write_text(root / "sub" / "f", "x", root)
    assert not (tmp_path / "target").exists()


def test_unsafe_name_in_a_profile(tree: Path, cli: Callable[..., CliResult],
                                  tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("flavors:\n  ../../x: {arch: x86_64, summary: s}\n")
    result = cli("-C", str(tree), "--profile", str(profile), "targets")
    assert result.code == 2 and "p.yaml:2: flavors.../../x: unsafe name" in result.err, result.err


@pytest.mark.parametrize("field,value", [
    ("packages.qemu.sources.0.url", "https://download.qemu.org/.."),
    ("packages.qemu.sources.0.url", "https://download.qemu.org/.hidden.tar.xz"),
])
def test_source_file_names_are_safe(tree: Path, cli: Callable[..., CliResult], field: str,
                                    value: str) -> None:
    from tests.support.hostile import inject

    inject(tree / "matrix.yaml", field, value)
    result = cli("-C", str(tree), "srpm")
    assert result.code == 2 and "unsafe name" in result.err, result.err


def test_patch_file_names_are_safe(tree: Path, cli: Callable[..., CliResult]) -> None:
    from tests.support.hostile import inject

    inject(tree / "patches" / "qemu" / "ledger.yaml", "patches.0.file", "..")
    result = cli("-C", str(tree), "render")
    assert result.code == 2 and "unsafe name '..'" in result.err, result.err


def test_legacy_files_never_write_through_their_own_symlinks(tmp_path: Path) -> None:
    """A legacy manifest whose symlink points out, then a file "under" it: the stand-in's
    build root refuses, the host folder stays empty."""
    from pipeline.upgrade import synth
    from pipeline.upgrade.manifest import FileEntry, PackageManifest

    victim = tmp_path / "victim"
    victim.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    pkg = PackageManifest(name="evil", epoch=None, version="1", release="1", arch="noarch",
                          files=(FileEntry("/etc/a", kind="symlink", target=str(victim)),
                                 FileEntry("/etc/a/passwd")))
    with pytest.raises(InputError, match="outside"):
        synth._materialize(pkg, root)
    assert list(victim.iterdir()) == []
