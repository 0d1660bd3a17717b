"""Class 7 of the promises: faults give one line and the right exit code, never a traceback.

Environment faults (a read-only or full file system, a .cache that is not a folder) exit 3
saying what to fix; bad input (a profile or template path that is a folder or missing) exits 2.
The real faults run the CLI in a private mount namespace (``unshare -m``) over a read-only or a
16 KiB tmpfs; the last test runs every command over the whole hostile corpus.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, CliResult
from tests.support.hostile import MATRIX_FIELDS, inject, macro_forms

Cli = Callable[..., CliResult]


def _unshare_ok() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    done = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return done.returncode == 0


needs_mounts = pytest.mark.skipif(not _unshare_ok(), reason="needs root and unshare -m")


def _in_mount_ns(mount: str, target: Path, tree: Path,
                 *args: str) -> subprocess.CompletedProcess[str]:
    script = (f"mount -t tmpfs -o {mount} tmpfs '{target}' && "
              f"exec '{sys.executable}' -m pipeline -C '{tree}' " + " ".join(args))
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                          text=True, check=False, cwd=ROOT, timeout=120)


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@needs_mounts
def test_full_disk_is_exit_3_saying_so(tree: Path) -> None:
    shutil.rmtree(tree / "specs")
    (tree / "specs").mkdir()
    done = _in_mount_ns("size=16k", tree / "specs", tree, "render")
    assert done.returncode == 3, done.stderr
    assert "disk is full" in _one_line(done.stderr)
    assert not any((tree / "specs").rglob("*.spec"))  # outside the namespace: nothing at all


@needs_mounts
def test_read_only_cache_is_exit_3_saying_so(tree: Path) -> None:
    (tree / ".cache").mkdir()
    done = _in_mount_ns("ro", tree / ".cache", tree, "srpm", "--packages", "libvirt-python")
    assert done.returncode == 3, done.stderr
    assert "read-only" in _one_line(done.stderr)


def test_cache_that_is_a_file_is_exit_3(tree: Path, cli: Cli) -> None:
    (tree / ".cache").write_text("not a folder")
    result = cli("-C", str(tree), "srpm", "--packages", "libvirt-python")
    assert result.code == 3, result.err
    assert "not a folder" in _one_line(result.err)


def test_enospc_anywhere_is_exit_3(tree: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from pipeline.core import files

    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    shutil.rmtree(tree / "specs")
    monkeypatch.setattr(files.os, "replace", full)
    result = cli("-C", str(tree), "render")
    assert result.code == 3 and "disk is full" in _one_line(result.err)
    assert not [p for p in (tree / "specs").rglob("*") if p.is_file()]  # temp files removed


@pytest.mark.parametrize("kind", ["folder", "missing"])
def test_profile_path_folder_or_missing_is_exit_2(tree: Path, cli: Cli, tmp_path: Path,
                                                  kind: str) -> None:
    profile = tmp_path / "p.yaml"
    if kind == "folder":
        profile.mkdir()
    result = cli("-C", str(tree), "--profile", str(profile), "render")
    assert result.code == 2 and "p.yaml" in _one_line(result.err)


@pytest.mark.parametrize("kind", ["folder", "missing"])
def test_template_path_folder_or_missing_is_exit_2(tree: Path, cli: Cli, kind: str) -> None:
    template = tree / "templates" / "qemu.spec.j2"
    template.unlink()
    if kind == "folder":
        template.mkdir()
    result = cli("-C", str(tree), "render")
    assert result.code == 2 and "template not found" in _one_line(result.err)


COMMANDS = (["targets"], ["render"], ["render", "--check"], ["validate", "--no-rpmlint"],
            ["diff", "bclinux7-x86_64", "bclinux-euler-x86_64"], ["patches"], ["srpm"],
            ["build", "--dry-run"], ["verify-upgrade", "--sandbox", "none"])


def _hostile_trees(tree: Path, tmp_path: Path) -> list[tuple[str, Callable[[], None]]]:
    """(label, damage) pairs; each damages ``tree`` (restored between them by the caller)."""
    marker = tmp_path / "ran"
    out: list[tuple[str, Callable[[], None]]] = []
    for index, (form, _) in enumerate(macro_forms(marker)):
        field = MATRIX_FIELDS[index % len(MATRIX_FIELDS)]
        out.append((f"{field}={form}",
                    lambda f=field, v=form: inject(tree / "matrix.yaml", f, v)))
    bomb = "a: &a [x, x, x, x]\n" + "".join(
        f"b{i}: &b{i} [*{'a' if i == 0 else f'b{i - 1}'}]\n" for i in range(3)) + \
        "c: &c [*b2, *b2, *b2, *b2, *b2, *b2, *b2, *b2, *b2, *b2, *b2, *b2, *b2, *b2]\n" * 1
    for name in ("matrix.yaml", "upgrades.yaml", "patches/qemu/ledger.yaml",
                 "legacy/el7-base.yaml", "macros/bclinux7.macros"):
        out += [(f"{name}: latin-1", lambda n=name: (tree / n).write_bytes(b"x: caf\xe9\n")),
                (f"{name}: recursive", lambda n=name: (tree / n).write_text("x: &a [*a]\n")),
                (f"{name}: bomb", lambda n=name: (tree / n).write_text(bomb)),
                (f"{name}: folder", lambda n=name: ((tree / n).unlink(), (tree / n).mkdir())),
                (f"{name}: empty", lambda n=name: (tree / n).write_text(""))]
    for name in ("../x", ".x", "a/b"):
        out.append((f"os {name}", lambda v=name: (tree / "matrix.yaml").write_text(
            (tree / "matrix.yaml").read_text().replace("\n  bclinux7:\n", f"\n  '{v}':\n"))))
    return out


def test_no_command_prints_a_traceback_over_the_hostile_corpus(tree: Path, cli: Cli,
                                                               tmp_path: Path) -> None:
    pristine = tmp_path / "pristine"
    shutil.copytree(tree, pristine)
    bad = []
    for index, (label, damage) in enumerate(_hostile_trees(tree, tmp_path)):
        shutil.rmtree(tree)
        shutil.copytree(pristine, tree)
        damage()
        for command in (COMMANDS if index % 7 == 0 else COMMANDS[index % 3::3]):
            result = cli("-C", str(tree), *command)
            if "Traceback" in result.out + result.err or result.code not in (0, 1, 2, 3):
                bad.append((label, command, result.code, result.err[-300:]))
    assert bad == []
    assert not (tmp_path / "ran").exists()
