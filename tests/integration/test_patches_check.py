"""patches check on the real libvirt-python 6.2.0 sdist: the series applies (also through
rpmbuild -bp of the rendered specs), the Python 2.7 build and byte-compile pass, Python 3 still
builds; a corrupted patch fails at the right hunk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.patches import prepcheck
from tests.conftest import ROOT, CliResult

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_libvirt_python_series_passes(tree: Path, cli: Callable[..., CliResult],
                                      shared_cache: Path) -> None:
    python2 = prepcheck.default_python2(ROOT)
    result = cli("-C", str(tree), "patches", "check", "--package", "libvirt-python",
                 "--sources", str(shared_cache), "--json",
                 *(["--python2", str(python2)] if python2 else []))
    data = result.json()
    assert result.code == 0, result.err
    assert {(r["patch"][:4], r["status"]) for r in data["results"]} == {
        ("0001", "applies"), ("0002", "applies")}
    checks = "\n".join(data["checks"])
    assert "bclinux7-x86_64: rpmbuild -bp applied the series" in checks
    assert "bclinux-euler-x86_64: /usr/bin/python3 setup.py build of the same tree passed" in checks
    if python2 is None:
        pytest.skip("no Python 2.7 (tools/get-python27 could not provide one): "
                    "the Python 2 compile step was not exercised")
    assert "built the C module and byte-compiled libvirt.py, libvirt_lxc.py, libvirt_qemu.py" \
        in checks


def test_corrupted_patch_fails_at_its_hunk(tree: Path, cli: Callable[..., CliResult],
                                           shared_cache: Path) -> None:
    patch = sorted((tree / "patches" / "libvirt-python").glob("0002-*.patch"))[0]
    lines = patch.read_text().splitlines(keepends=True)
    # corrupt a context line of the second hunk touching the first file
    hunks = [i for i, line in enumerate(lines) if line.startswith("@@")]
    target = next(i for i in range(hunks[1] + 1, len(lines)) if lines[i].startswith(" "))
    lines[target] = " this context line is not in the source\n"
    patch.write_text("".join(lines))
    first_file = next(line.split()[1][2:] for line in lines if line.startswith("+++ "))
    result = cli("-C", str(tree), "patches", "check", "--package", "libvirt-python",
                 "--sources", str(shared_cache), "--json")
    assert result.code == 1
    fails = [r for r in result.json()["results"] if r["status"] == "fails"]
    assert len(fails) == 1 and fails[0]["patch"] == patch.name
    assert fails[0]["detail"] == f"fails at hunk 2 of {first_file}"
    ids = {f["id"] for f in result.json()["findings"]}
    assert "patch-fails" in ids


def test_unchanged_inputs_replay_the_post_checks(tree: Path, cli: Callable[..., CliResult],
                                                 shared_cache: Path) -> None:
    """The second run replays rpmbuild -bp and the Python builds from the cache; a changed
    patch file, spec or interpreter gives another key."""
    import shutil

    from pipeline.commands import patches as patches_cmd
    from pipeline.context import Context

    (tree / ".cache").mkdir(exist_ok=True)
    shutil.copytree(shared_cache, tree / ".cache" / "sources")
    args = ("-C", str(tree), "patches", "check", "--package", "libvirt-python", "--json")
    first, second = cli(*args), cli(*args)
    assert first.code == second.code == 0, first.err
    assert not any("(cached" in n for n in first.json()["checks"])
    assert second.json()["checks"] and all("(cached: inputs unchanged since" in n
                                           for n in second.json()["checks"]
                                           if "rpmbuild -bp" in n or "setup.py build" in n)
    assert second.json()["findings"] == first.json()["findings"]
    ctx = Context(tree=tree)
    matrix = ctx.matrix()
    pkg, cell = matrix.packages["libvirt-python"], matrix.cell("bclinux7-x86_64")
    python2 = prepcheck.default_python2(ROOT)
    before = patches_cmd._inputs_key(ctx, matrix, pkg, cell, python2)
    patch = sorted((tree / "patches/libvirt-python").glob("0001-*.patch"))[0]
    patch.write_text(patch.read_text() + "\n")
    after_patch = patches_cmd._inputs_key(ctx, matrix, pkg, cell, python2)
    spec = tree / "specs/bclinux7/libvirt-python.spec"
    spec.write_text(spec.read_text() + "\n")
    after_spec = patches_cmd._inputs_key(ctx, matrix, pkg, cell, python2)
    other_python = patches_cmd._inputs_key(ctx, matrix, pkg, cell, Path("/usr/bin/python3"))
    assert len({before, after_patch, after_spec, other_python}) == 4
