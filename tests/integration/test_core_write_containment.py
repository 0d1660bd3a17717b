"""Class 2 through the CLI: a link planted in the cache, where a command writes, leads out of
the tree; the command refuses with one line and exit 2, and the place it led to stays empty.

Each case plants ``.cache/<folder> -> outside/`` for the folder the command writes (the
sources cache, the SRPM work and output folders, the upgrade cache with its root base, the
patch check's work folder, the run records, the report bundle, a profile's specs, the build
results, a ``--junit`` or ``-o`` path inside the tree). The temp folder is the test's own, so
"outside" is outside every root.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, CliResult

SOURCES = str(ROOT / ".cache" / "sources")
CELL = ["--cells", "bclinux-euler-x86_64", "--packages", "libvirt-python"]

#: (the folder under .cache the link replaces, the command; {tree} and {out} are filled in)
CASES = {
    "run-record": ("runs", ["targets", "--json"]),
    "sources-cache": ("sources", ["srpm", *CELL]),
    "srpm-work": ("srpm-work", ["srpm", *CELL, "--sources", SOURCES]),
    "srpm-output": ("srpms", ["srpm", *CELL, "--sources", SOURCES]),
    "build-results": ("results", ["build", *CELL, "--sources", SOURCES]),
    "upgrade-cache": ("upgrade", ["verify-upgrade", "--sandbox", "none"]),
    "report-bundle": ("report", ["report"]),
    "patch-check-workdir": ("patches", ["patches", "check", "--sources", SOURCES]),
    "profile-specs": ("profile-specs", ["--profile", "{tree}/profiles/PROFILE", "render"]),
    "junit-in-tree": ("links", ["migcheck", "--junit", "{tree}/.cache/links/j.xml"]),
    "legacy-output": ("links", ["legacy", "capture", "--os", "bclinux7", "--spec",
                                "{tree}/specs/bclinux7/libvirt-python.spec",
                                "-o", "{tree}/.cache/links/m.yaml"]),
}


@pytest.fixture()
def place(tmp_path: Path, tree: Path, outside: Path, own_tempdir: Path) -> Path:
    """``tmp_path`` holding the tree copy, its own temp folder and ``outside/``."""
    return tmp_path


def _argv(args: list[str], tree: Path) -> list[str]:
    profile = sorted(p.name for p in (tree / "profiles").glob("*.yaml"))[0]
    return [a.replace("{tree}", str(tree)).replace("PROFILE", profile) for a in args]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_link_planted_where_a_command_writes_is_refused(
        place: Path, tree: Path, cli: Callable[..., CliResult], case: str) -> None:
    if case.startswith(("srpm", "build")) and shutil.which("rpmbuild") is None:
        pytest.skip("rpmbuild is not installed (make setup installs it)")
    folder, args = CASES[case]
    outside = place / "outside"
    (tree / ".cache").mkdir(exist_ok=True)
    (tree / ".cache" / folder).symlink_to(outside)
    result = cli("-C", str(tree), *_argv(args, tree))
    assert result.code == 2, (result.code, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    assert "refused to write" in lines[0] and "remove the link" in lines[0], lines[0]
    assert list(outside.iterdir()) == []


def test_without_the_link_the_same_writes_land(place: Path, tree: Path,
                                               cli: Callable[..., CliResult]) -> None:
    """The counterpart, so the refusals above come from the links: the run record, a --junit
    inside the tree and one outside it (a named output) are written."""
    assert cli("-C", str(tree), "targets", "--json").code == 0
    assert (tree / ".cache" / "runs" / "targets.json").is_file()
    named = place / "outside" / "junit.xml"
    for junit in (tree / ".cache" / "links" / "j.xml", named):
        result = cli("-C", str(tree), "migcheck", "--junit", str(junit))
        assert result.code in (0, 1), result.err
        assert junit.read_text().startswith("<?xml")
    assert [p.name for p in (place / "outside").iterdir()] == ["junit.xml"]


def test_an_output_named_as_a_planted_file_link_replaces_the_link(
        place: Path, tree: Path, cli: Callable[..., CliResult]) -> None:
    victim = place / "outside" / "passwd"
    victim.write_text("root:x:0:0\n")
    junit = tree / ".cache" / "j.xml"
    junit.parent.mkdir()
    junit.symlink_to(victim)
    result = cli("-C", str(tree), "migcheck", "--junit", str(junit))
    assert result.code in (0, 1), result.err
    assert victim.read_text() == "root:x:0:0\n"
    assert not junit.is_symlink() and junit.read_text().startswith("<?xml")
