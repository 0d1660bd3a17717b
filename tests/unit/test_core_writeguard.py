"""The write guard: while a command runs, every write of the process stays in the tree, the
temp folder or a named output, whatever call makes it and whatever links were planted."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from pipeline.core import files, writeguard
from pipeline.core.writeguard import OutputPath, WriteRefused


@pytest.fixture()
def place(tmp_path: Path, outside: Path, own_tempdir: Path) -> Path:
    """``tmp_path`` holding ``tree/`` (with a planted ``tree/link`` to ``outside/``), its own
    temp folder ``tmp/`` and the ``outside/`` folder that must stay empty."""
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "link").symlink_to(outside)
    return tmp_path


def _outside(place: Path) -> list[str]:
    return sorted(p.name for p in (place / "outside").iterdir())


WRITES_THROUGH_THE_LINK = {
    "write_text": lambda t: (t / "link" / "f").write_text("x"),
    "open_append": lambda t: open(t / "link" / "f", "a").close(),
    "os_open": lambda t: os.close(os.open(t / "link" / "f", os.O_WRONLY | os.O_CREAT)),
    "mkdir_under": lambda t: (t / "link" / "d").mkdir(),
    "mkdir_exist_ok_on_the_link": lambda t: (t / "link").mkdir(exist_ok=True),
    "mkstemp": lambda t: tempfile.mkstemp(dir=t / "link"),
    "mkdtemp": lambda t: tempfile.mkdtemp(dir=t / "link"),
    "copyfile": lambda t: shutil.copyfile(__file__, t / "link" / "f"),
    "rename_into": lambda t: os.replace(_made(t / "a"), t / "link" / "f"),
    "symlink_in": lambda t: (t / "link" / "s").symlink_to("/etc"),
    "hardlink_in": lambda t: os.link(_made(t / "a"), t / "link" / "h"),
    "files_write_output": lambda t: files.write_output(t / "link" / "f", "x"),
}


def _made(path: Path) -> Path:
    path.write_text("a")
    return path


@pytest.mark.parametrize("how", sorted(WRITES_THROUGH_THE_LINK))
def test_every_kind_of_write_through_a_planted_link_is_refused(place: Path, how: str) -> None:
    tree = place / "tree"
    # raised; or caught inside (``mkdir(exist_ok=True)``) and remembered
    with writeguard.guarded(tree) as guard, contextlib.suppress(WriteRefused):
        WRITES_THROUGH_THE_LINK[how](tree)
    assert _outside(place) == []
    assert guard.refused and "remove the link" in str(guard.refused[0])


@pytest.mark.parametrize("how", sorted(WRITES_THROUGH_THE_LINK))
def test_the_same_writes_inside_the_tree_are_allowed(place: Path, how: str) -> None:
    """The counterpart: the refusal above comes from the link, not from the kind of write."""
    tree = place / "tree"
    (tree / "link").unlink()
    (tree / "link").mkdir()
    with writeguard.guarded(tree) as guard:
        WRITES_THROUGH_THE_LINK[how](tree)
    assert guard.refused == []
    assert any((tree / "link").iterdir()) or how == "mkdir_exist_ok_on_the_link"


def test_chmod_through_a_link_is_refused_removing_the_link_is_not(place: Path) -> None:
    (place / "outside" / "keep").write_text("precious")
    (place / "outside" / "keep").chmod(0o600)
    tree = place / "tree"
    (tree / "file-link").symlink_to(place / "outside" / "keep")
    with writeguard.guarded(tree):
        with pytest.raises(WriteRefused):
            (tree / "file-link").chmod(0o777)
        (tree / "file-link").unlink()  # the name itself is in the tree
        (tree / "link").unlink()
    assert (place / "outside" / "keep").stat().st_mode & 0o777 == 0o600


def test_replacing_a_planted_file_link_replaces_the_link(place: Path) -> None:
    """An atomic write onto a name that is a link to a host file swaps the link out."""
    (place / "outside" / "passwd").write_text("root")
    tree = place / "tree"
    (tree / "out.xml").symlink_to(place / "outside" / "passwd")
    with writeguard.guarded(tree):
        files.write_output(tree / "out.xml", "<x/>")
    assert (place / "outside" / "passwd").read_text() == "root"
    assert not (tree / "out.xml").is_symlink() and (tree / "out.xml").read_text() == "<x/>"


def test_outside_anything_named_is_refused_temp_folder_and_dev_null_are_not(place: Path) -> None:
    tree = place / "tree"
    with writeguard.guarded(tree) as guard:
        with pytest.raises(WriteRefused):
            (place / "elsewhere").mkdir()
        with tempfile.TemporaryDirectory() as scratch:
            (Path(scratch) / "f").write_text("x")
        with open(os.devnull, "w") as sink:
            sink.write("x")
    assert not (place / "elsewhere").exists() and len(guard.refused) == 1


def test_a_named_output_outside_the_tree_is_written(place: Path) -> None:
    tree = place / "tree"
    out = OutputPath(place / "outside" / "junit.xml")
    with writeguard.guarded(tree, [out]) as guard:
        files.write_output(out, "<x/>")
    assert guard.refused == [] and out.read_text() == "<x/>"
    with writeguard.guarded(tree, [out]) as guard, pytest.raises(WriteRefused):
        (place / "outside" / "beside.txt").write_text("x")  # the named file, not its folder
    assert _outside(place) == ["junit.xml"]


def test_a_named_output_inside_the_tree_gains_nothing(place: Path) -> None:
    """``--junit TREE/link/j.xml``: inside the tree by name, outside by the planted link."""
    tree = place / "tree"
    out = OutputPath(tree / "link" / "j.xml")
    with writeguard.guarded(tree, [out]), pytest.raises(WriteRefused):
        files.write_output(out, "<x/>")
    assert _outside(place) == []


def test_a_swallowed_refusal_is_remembered(place: Path) -> None:
    tree = place / "tree"
    with writeguard.guarded(tree) as guard, contextlib.suppress(OSError):  # a retry, a fallback
        (tree / "link" / "f").write_text("x")
    assert [str(r) for r in guard.refused] and "tree/link/f" in str(guard.refused[0])


def test_the_guard_acts_only_while_a_command_runs(place: Path) -> None:
    with writeguard.guarded(place / "tree"):
        pass
    (place / "tree" / "link" / "f").write_text("x")  # the test's own write, after the block
    assert _outside(place) == ["f"]


def test_rmtree_inside_the_tree_is_allowed_and_leaves_the_link_target(place: Path) -> None:
    tree = place / "tree"
    (place / "outside" / "keep").write_text("precious")
    (tree / "work" / "deep").mkdir(parents=True)
    (tree / "work" / "deep" / "out").symlink_to(place / "outside")
    with writeguard.guarded(tree) as guard:
        shutil.rmtree(tree / "work")
    assert guard.refused == [] and not (tree / "work").exists()
    assert _outside(place) == ["keep"]


def test_fast_roots_take_only_a_folder_of_our_own_on_the_shared_tmpfs(tmp_path: Path) -> None:
    """``/dev/shm`` is every user's: a name planted there (a link, a folder others may write)
    sends the roots back into the cache, and only our own folder is let through the guard."""
    from pipeline.upgrade.verify import fast_roots

    cache, shm, elsewhere = tmp_path / "tree" / ".cache", tmp_path / "shm", tmp_path / "elsewhere"
    for folder in (cache, shm, elsewhere):
        folder.mkdir(parents=True)
    mine = shm / f"virt-pipeline-{os.getuid()}"
    mine.symlink_to(elsewhere)
    with writeguard.guarded(tmp_path / "tree") as guard:
        assert fast_roots(cache, shm) == cache / "roots"
        assert os.path.realpath(elsewhere) not in guard.roots
    mine.unlink()
    mine.mkdir(mode=0o777)
    mine.chmod(0o777)
    assert fast_roots(cache, shm) == cache / "roots"
    mine.rmdir()
    with writeguard.guarded(tmp_path / "tree") as guard:
        roots = fast_roots(cache, shm)
        roots.mkdir(parents=True)  # allowed: the folder was made ours
    assert roots.parent.parent == mine and guard.refused == []
    assert mine.stat().st_mode & 0o777 == 0o700


def test_commands_side_by_side_end_in_any_order(place: Path) -> None:
    """Two commands in one process (tests run them in threads): the first to end leaves the
    second's guard in force, and once both have ended no guard is left behind."""
    one, two = place / "tree", place / "two"
    two.mkdir()
    first = writeguard.guarded(one)
    second = writeguard.guarded(two)
    first.__enter__()
    second.__enter__()
    (two / "f").write_text("x")
    (one / "f").write_text("x")  # either command's tree
    first.__exit__(None, None, None)
    with pytest.raises(WriteRefused):
        (one / "g").write_text("x")
    (two / "g").write_text("x")
    second.__exit__(None, None, None)
    (place / "outside" / "after").write_text("x")  # no guard left: a test's own write
    assert not (one / "g").exists() and writeguard._active == []
