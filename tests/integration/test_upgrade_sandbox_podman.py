"""The podman sandbox for real: one scenario upgraded inside a container of a local image.

No image can be pulled here, so the test image is built locally once and cached by tag: a
``debootstrap --variant=minbase`` Debian tree with rpm and dnf (about 80 s the first time,
then reused), its rpm database moved to /var/lib/rpm, imported with ``podman import``. Its
rpm database is empty, so the scenario installs a provides-only base package first
(``--image-base``); production runs use the target OS's own image instead.
"""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.core import cmd

pytestmark = [pytest.mark.integration, pytest.mark.slow]
IMAGE = "localhost/vp-upgrade-test:bookworm-1"
SCENARIO = "bclinux7-qemu-kvm-ev"


def _podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check)


def _mirror() -> str:
    """The Debian mirror of the host's own apt sources (never a host written here)."""
    lists = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for path in lists:
        for line in path.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*.list")]:
        if path.is_file():
            for line in path.read_text().splitlines():
                words = line.split()
                if len(words) >= 3 and words[0] == "deb":
                    uri = next((w for w in words[1:] if "://" in w), None)
                    if uri:
                        return uri
    pytest.skip("the host's apt sources name no Debian mirror for debootstrap")


def _build_image(workdir: Path) -> None:
    rootfs = workdir / "rootfs"
    subprocess.run(["debootstrap", "--variant=minbase", "--include=rpm,dnf", "bookworm",
                    str(rootfs), _mirror()], check=True, capture_output=True)
    (rootfs / "root/.rpmmacros").write_text("%_dbpath /var/lib/rpm\n")
    for folder in ("etc/yum.repos.d", "etc/dnf/vars", "var/lib/rpm"):
        (rootfs / folder).mkdir(parents=True, exist_ok=True)
    (rootfs / "etc/dnf/vars/releasever").write_text("1\n")
    tarball = workdir / "rootfs.tar"
    with tarfile.open(tarball, "w") as tar:
        tar.add(rootfs, arcname=".")
    _podman("import", str(tarball), IMAGE)


@pytest.fixture(scope="session")
def test_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    for tool in ("podman", "runc", "rpmbuild", "createrepo_c"):
        if cmd.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if _podman("image", "inspect", IMAGE, check=False).returncode != 0:
        if cmd.which("debootstrap") is None:
            pytest.skip(f"no {IMAGE} image and no debootstrap to build it")
        _build_image(tmp_path_factory.mktemp("image"))
    return IMAGE


def _containers() -> set[str]:
    out = _podman("ps", "-a", "--format", "{{.Names}}").stdout
    return {n for n in out.split() if n.startswith("vp-upgrade-")}


def test_scenario_in_podman(test_image: str, tree: Path, cli: Callable[..., object]) -> None:
    res = cli("-C", str(tree), "verify-upgrade", "--sandbox", "podman", "--image", test_image,
              "--image-base", "--package-manager", "dnf", "--preflight", "--scenario",
              SCENARIO, "--json")
    doc = json.loads(res.out)  # type: ignore[attr-defined]
    (entry,) = doc["scenarios"]
    details = "\n".join(f"{f['id']}: {f['detail']}" for f in entry["findings"])
    assert entry["sandbox"] == "podman"
    assert entry["status"] == "passed", details
    assert res.code == 0  # type: ignore[attr-defined]
    assert "qemu" in entry["final_set"] and "qemu-kvm-ev" not in entry["final_set"]
    log = Path(entry["log"]).read_text()
    assert "podman exec" in log and "replacing  qemu-kvm-ev" in log
    # the container this run used (named in its log) was removed; other runs' containers
    # (a parallel test session on the same host) are none of this test's business
    used = set(re.findall(r"vp-upgrade-[0-9a-f]{12}", log))
    assert used
    assert not used & _containers()


def test_podman_sandbox_catches_a_wrong_obsoletes(test_image: str, tree: Path,
                                                  cli: Callable[..., object]) -> None:
    """The same dnf verdict inside the container: a wrong-epoch Obsoletes leaves qemu-kvm-ev."""
    spec = tree / "specs/bclinux7/qemu.spec"
    text = spec.read_text()
    assert "Obsoletes: qemu-kvm-ev < " in text
    lines = [("Obsoletes: qemu-kvm-ev < 3" if line.startswith("Obsoletes: qemu-kvm-ev <")
              else line) for line in text.splitlines()]
    spec.write_text("\n".join(lines) + "\n")
    res = cli("-C", str(tree), "verify-upgrade", "--sandbox", "podman", "--image", test_image,
              "--image-base", "--package-manager", "dnf", "--preflight", "--scenario",
              SCENARIO, "--json")
    (entry,) = json.loads(res.out)["scenarios"]  # type: ignore[attr-defined]
    ids = {f["id"] for f in entry["findings"]}
    assert res.code == 1  # type: ignore[attr-defined]
    assert {"obsoletes-matches-nothing", "legacy-leftover"} <= ids
    assert "qemu-kvm-ev" in entry["final_set"]
