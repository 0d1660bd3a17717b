"""The local backend builds a real libvirt-python RPM end to end (demo profile: 9.0.0 against
this host's libvirt-devel), builds nothing the second time, and after one input changes
rebuilds only what that input reaches."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _build(cli: Callable[..., CliResult], tree: Path, *extra: str) -> dict:
    result = cli("-C", str(tree), "--profile", str(tree / "profiles" / "demo.yaml"), "build",
                 "--packages", "libvirt-python", "--cells", "*-x86_64",
                 "--sources", str(Path(__file__).resolve().parents[2] / ".cache" / "sources"),
                 "--json", *extra)
    assert result.code == 0, result.err
    data: dict = json.loads(result.out)
    return data


def test_build_skip_and_incremental_rebuild(tree: Path, cli: Callable[..., CliResult],
                                            shared_cache: Path) -> None:
    plan = _build(cli, tree, "--dry-run")["planned"]
    assert [(p["key"], p["action"]) for p in plan] == [
        ("bclinux-euler/libvirt-python", "build"), ("bclinux7/libvirt-python", "build")]

    first = _build(cli, tree)
    assert sorted(b["key"] for b in first["built"]) == ["bclinux-euler/libvirt-python",
                                                        "bclinux7/libvirt-python"]
    euler = next(b for b in first["built"] if b["key"] == "bclinux-euler/libvirt-python")
    assert euler["nevras"] == ["python3-libvirt-9.0.0-1.oe2203.bclinux.x86_64"]
    result = Path(euler["result"])
    rpm = result / "rpms" / "python3-libvirt-9.0.0-1.oe2203.bclinux.x86_64.rpm"
    files = subprocess.run(["rpm", "-qlp", str(rpm)], capture_output=True, text=True,
                           check=True).stdout.split()
    site = [f for f in files if "/site-packages/" in f]
    assert any(f.endswith("/libvirt.py") for f in site)
    assert any("/libvirtmod." in f and f.endswith(".so") for f in site)
    requires = subprocess.run(["rpm", "-qp", "--requires", str(rpm)], capture_output=True,
                              text=True, check=True).stdout
    assert "libvirt-libs >= 9.0.0" in requires
    assert "python(abi)" not in requires  # the build host's ABI is not the target's
    manifest = json.loads((result / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["nevras"] == euler["nevras"]
    assert (result / manifest["srpm"]).name == "libvirt-python-9.0.0-1.oe2203.bclinux.src.rpm"
    assert (result / "logs" / "build.log").read_text().count("Wrote:") >= 1
    repo = tree / ".cache" / "results" / "bclinux-euler" / "repo"
    assert (repo / "repodata" / "repomd.xml").exists() and (repo / rpm.name).exists()
    assert first["unbuildable"] == []  # only x86_64 cells were selected

    second = _build(cli, tree)
    assert second["built"] == [] and len(second["skipped"]) == 2

    macros = tree / "macros" / "bclinux-euler.macros"
    macros.write_text(macros.read_text() + "%_bclinux_euler_rebuild_marker 1\n")
    third = _build(cli, tree)
    assert [b["key"] for b in third["built"]] == ["bclinux-euler/libvirt-python"]
    assert [s["key"] for s in third["skipped"]] == ["bclinux7/libvirt-python"]


def test_half_written_result_is_not_finished(tree: Path, cli: Callable[..., CliResult],
                                             shared_cache: Path) -> None:
    plan = _build(cli, tree, "--dry-run", "--cells", "bclinux-euler-x86_64")["planned"]
    key, fp = plan[0]["key"], plan[0]["fingerprint"]
    unit = tree / ".cache" / "results" / key
    (unit / fp / "rpms").mkdir(parents=True)  # a killed run: no manifest.json
    (unit / f".partial-{fp[:16]}-dead").mkdir()
    again = _build(cli, tree, "--dry-run", "--cells", "bclinux-euler-x86_64")["planned"]
    assert again[0]["action"] == "build"
