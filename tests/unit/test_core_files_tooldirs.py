"""Folders that external tools write into (issue 9, class 2): ``files.tool_dir`` checks a
persistent folder (it resolves inside the roots, and no symlink at any depth leads out),
``files.fresh_dir`` and ``files.renew_dir`` make folders nothing can have been planted in.

Each refusal is paired with the same call without the planted link, which must succeed and
write where expected (so the test can fail)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.core import files
from pipeline.core.errors import InputError


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "tree" / ".cache"
    folder.mkdir(parents=True)
    return folder


def test_tool_dir_makes_a_missing_folder_and_gives_its_real_path(root: Path) -> None:
    got = files.tool_dir(root / "a" / "b", root)
    assert got == (root / "a" / "b").resolve() and got.is_dir()


@pytest.mark.parametrize("depth", ["link", "sub/link", "sub/deeper/still/link"])
def test_a_link_out_at_any_depth_is_refused_by_name(root: Path, outside: Path,
                                                    depth: str) -> None:
    work = root / "work"
    planted = work / depth
    planted.parent.mkdir(parents=True)
    planted.symlink_to(outside)
    with pytest.raises(InputError, match="remove the link") as info:
        files.tool_dir(work, root)
    assert str(planted) in str(info.value) and str(outside) in str(info.value)
    assert list(outside.iterdir()) == []
    # mutation: the same folder without the link passes
    planted.unlink()
    assert files.tool_dir(work, root) == work.resolve()


def test_a_dangling_link_out_is_refused_too(root: Path, tmp_path: Path) -> None:
    (root / "work").mkdir()
    (root / "work" / "x.rpm").symlink_to(tmp_path / "nowhere" / "x.rpm")
    with pytest.raises(InputError, match=r"x\.rpm is a symlink"):
        files.tool_dir(root / "work", root)
    assert not (tmp_path / "nowhere").exists()


def test_links_that_stay_inside_the_roots_are_fine(root: Path) -> None:
    """A build tree's own links (QEMU's build folder links into its sibling src/)."""
    (root / "src").mkdir()
    (root / "build" / "sub").mkdir(parents=True)
    (root / "build" / "Makefile").symlink_to(root / "src")
    (root / "build" / "sub" / "rel").symlink_to("../../src")
    assert files.links_out(root / "build", root) == []
    files.tool_dir(root / "build", root)
    # with the build folder as its only root, the same links lead out
    assert len(files.links_out(root / "build", root / "build")) == 2


def test_the_folder_itself_a_link_out_is_refused(root: Path, outside: Path) -> None:
    (root / "work").symlink_to(outside)
    with pytest.raises(InputError, match="outside"):
        files.tool_dir(root / "work", root)
    with pytest.raises(InputError, match="outside"):
        files.tool_dir(root / "work" / "sub", root)  # also through a parent
    assert list(outside.iterdir()) == []


def test_fresh_dir_refuses_a_parent_that_leads_out(root: Path, outside: Path) -> None:
    (root / "build").symlink_to(outside)
    with pytest.raises(InputError, match="outside"):
        files.fresh_dir(root / "build", root, prefix="synth-")
    assert list(outside.iterdir()) == []
    # mutation: a real parent gets a new, empty folder each call
    (root / "build").unlink()
    one = files.fresh_dir(root / "build", root, prefix="synth-")
    two = files.fresh_dir(root / "build", root, prefix="synth-")
    assert one != two and one.parent == (root / "build").resolve()
    assert one.name.startswith("synth-") and list(one.iterdir()) == []


def test_renew_dir_removes_a_planted_link_without_following_it(root: Path,
                                                               outside: Path) -> None:
    (outside / "keep").write_text("theirs")
    (root / "rpmbuild").mkdir()
    (root / "rpmbuild" / "cell").symlink_to(outside)
    got = files.renew_dir(root / "rpmbuild" / "cell", root)
    assert got.is_dir() and not got.is_symlink() and list(got.iterdir()) == []
    assert [p.name for p in outside.iterdir()] == ["keep"]
    # an old real folder is emptied
    (got / "BUILD").mkdir()
    (got / "BUILD" / "old").write_text("x")
    assert list(files.renew_dir(root / "rpmbuild" / "cell", root).iterdir()) == []


def test_renew_dir_refuses_a_parent_link_out(root: Path, outside: Path) -> None:
    (outside / "cell").mkdir()
    (outside / "cell" / "keep").write_text("theirs")
    (root / "rpmbuild").symlink_to(outside)
    with pytest.raises(InputError, match="outside"):
        files.renew_dir(root / "rpmbuild" / "cell", root)
    assert (outside / "cell" / "keep").read_text() == "theirs"


def test_walking_does_not_follow_a_link_into_a_loop(root: Path) -> None:
    (root / "work").mkdir()
    os.symlink(".", root / "work" / "loop")
    assert files.links_out(root / "work", root) == []


def test_sandbox_roots_folder_must_resolve_inside_the_cache(root: Path, outside: Path) -> None:
    """The upgrade sandboxes' roots are made fresh (dnf installs into them) under a roots
    folder that must resolve inside ``.cache/upgrade`` (or /dev/shm, where anyone may plant a
    link at our name)."""
    from pipeline.upgrade.verify import _anchor

    roots = root / "upgrade" / "roots"
    assert _anchor(roots, root / "upgrade") == root / "upgrade"
    assert _anchor(Path("/dev/shm/virt-pipeline-0/x/roots"), root) == Path("/dev/shm")
    assert _anchor(Path("/srv/elsewhere/roots"), root) == Path("/srv/elsewhere")
    roots.parent.mkdir()
    roots.symlink_to(outside)
    with pytest.raises(InputError, match="outside"):
        files.fresh_dir(roots, _anchor(roots, root / "upgrade"), prefix="scenario-")
    assert list(outside.iterdir()) == []
    roots.unlink()
    made = files.fresh_dir(roots, _anchor(roots, root / "upgrade"), prefix="scenario-")
    assert made.parent == roots.resolve()


def test_live_guest_cache_is_checked_before_apt_get_writes(root: Path, outside: Path) -> None:
    """``apt-get download`` writes into the kept guest cache: a link there is refused before
    any command runs (the commands would need the network; the refusal comes first)."""
    from pipeline.patches.qemu_selftest import liveguest

    cache = root / "qemu-selftest" / "guest-cache"
    cache.parent.mkdir()
    cache.symlink_to(outside)
    with pytest.raises(InputError, match="outside"):
        liveguest.build_image(cache)
    assert list(outside.iterdir()) == []
    cache.unlink()  # mutation: a real cache holding a built image is used as it is
    cache.mkdir()
    for name in ("vmlinuz", "initrd.cpio.gz"):
        (cache / name).write_bytes(b"x")
    assert liveguest.build_image(cache).kernel == cache / "vmlinuz"
    (cache / "debs").symlink_to(outside)  # a link deeper in the cache
    with pytest.raises(InputError, match="debs is a symlink"):
        liveguest.build_image(cache)
