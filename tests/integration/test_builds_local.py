"""The local backend builds a real libvirt-python RPM end to end (demo profile: 9.0.0 against
this host's libvirt-devel), builds nothing the second time, and after one input changes
rebuilds only what that input reaches.

Two units are built: bclinux-euler's, and a Hygon one that a test profile gives its own spec
(an extra Requires and a release suffix), so "only what it reaches" can be seen."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, CliResult

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HYGON = """\
flavors:
  hygon:
    release_suffix: .hg
packages:
  libvirt-python:
    requires:
      - {value: REQ, flavor: [hygon]}
"""


def _build(cli: Callable[..., CliResult], tree: Path, *extra: str, code: int = 0) -> dict:
    result = cli("-C", str(tree), "--profile", str(tree / "profiles" / "demo.yaml"),
                 "--profile", str(tree / "hygon.yaml"), "build", "--packages", "libvirt-python",
                 "--cells", "bclinux-euler-*", "--sources", str(ROOT / ".cache" / "sources"),
                 "--json", *extra)
    assert result.code == code, result.err
    data: dict = json.loads(result.out)
    return data


def _rpm_query(*args: str) -> str:
    return subprocess.run(["rpm", *args], capture_output=True, text=True, check=True).stdout


def test_build_skip_and_incremental_rebuild(tree: Path, cli: Callable[..., CliResult],
                                            shared_cache: Path) -> None:
    (tree / "hygon.yaml").write_text(HYGON.replace("REQ", "libvirt-client"))
    plan = _build(cli, tree, "--dry-run")["planned"]
    assert [(p["key"], p["action"], p["arches"]) for p in plan] == [
        ("bclinux-euler+hygon/libvirt-python", "build", ["x86_64"]),
        ("bclinux-euler/libvirt-python", "build", ["x86_64"])]

    first = _build(cli, tree)
    assert sorted(b["key"] for b in first["built"]) == ["bclinux-euler+hygon/libvirt-python",
                                                        "bclinux-euler/libvirt-python"]
    assert [(u["key"], u["arches"]) for u in first["unbuildable"]] == [
        ("bclinux-euler/libvirt-python", ["aarch64"])]
    euler = next(b for b in first["built"] if b["key"] == "bclinux-euler/libvirt-python")
    assert euler["nevras"] == ["python3-libvirt-9.0.0-1.1.oe2203.bclinux.x86_64"]
    result = Path(euler["result"])
    rpm = result / "rpms" / "python3-libvirt-9.0.0-1.1.oe2203.bclinux.x86_64.rpm"
    site = [f for f in _rpm_query("-qlp", str(rpm)).split() if "/site-packages/" in f]
    assert any(f.endswith("/libvirt.py") for f in site)
    assert any("/libvirtmod." in f and f.endswith(".so") for f in site)
    requires = _rpm_query("-qp", "--requires", str(rpm))
    assert "libvirt-libs >= 9.0.0" in requires
    assert "python(abi)" not in requires  # the build host's ABI is not the target's
    hygon = next(b for b in first["built"] if b["key"] == "bclinux-euler+hygon/libvirt-python")
    assert hygon["nevras"] == ["python3-libvirt-9.0.0-1.1.hg.oe2203.bclinux.x86_64"]
    manifest = json.loads((result / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["nevras"] == euler["nevras"]
    assert (result / manifest["srpm"]).name == "libvirt-python-9.0.0-1.1.oe2203.bclinux.src.rpm"
    assert "Wrote:" in (result / "logs" / "build.log").read_text()
    repo = tree / ".cache" / "results" / "bclinux-euler" / "repo"
    assert (repo / "repodata" / "repomd.xml").exists() and (repo / rpm.name).exists()

    second = _build(cli, tree)
    assert second["built"] == [] and len(second["skipped"]) == 2

    (tree / "hygon.yaml").write_text(HYGON.replace("REQ", "libvirt-daemon"))
    third = _build(cli, tree)
    assert [b["key"] for b in third["built"]] == ["bclinux-euler+hygon/libvirt-python"]
    assert [s["key"] for s in third["skipped"]] == ["bclinux-euler/libvirt-python"]
    rebuilt = Path(third["built"][0]["result"]) / "rpms"
    assert "libvirt-daemon" in _rpm_query("-qp", "--requires", str(next(rebuilt.glob("*.rpm"))))


def test_missing_buildrequires_fail_the_build_with_the_reason(
        tree: Path, cli: Callable[..., CliResult], shared_cache: Path) -> None:
    (tree / "hygon.yaml").write_text("packages:\n  libvirt-python:\n    buildrequires:\n"
                                     "      - libvirt-devel == %{version}\n"
                                     "      - no-such-devel-package\n")
    data = _build(cli, tree, code=1)
    assert data["built"] == []
    assert data["failed"][0]["reason"] == "missing BuildRequires: no-such-devel-package"


def test_half_written_result_is_not_finished(tree: Path, cli: Callable[..., CliResult],
                                             shared_cache: Path) -> None:
    (tree / "hygon.yaml").write_text("{}\n")
    plan = _build(cli, tree, "--dry-run")["planned"]
    key, fp = plan[0]["key"], plan[0]["fingerprint"]
    unit = tree / ".cache" / "results" / key
    (unit / fp / "rpms").mkdir(parents=True)  # a killed run: no manifest.json
    (unit / f".partial-{fp[:16]}-dead").mkdir()
    again = _build(cli, tree, "--dry-run")["planned"]
    assert again[0]["action"] == "build"
