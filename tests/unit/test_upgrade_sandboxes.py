"""The sandboxes' command lines and life cycle, with pipeline.cmd.run replaced (no tools run)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pipeline.core import cmd
from pipeline.core.cmd import Completed
from pipeline.core.errors import InputError
from pipeline.upgrade.sandboxes import SANDBOXES, SandboxConfig, create
from pipeline.upgrade.sandboxes.base import repo_file
from pipeline.upgrade.sandboxes.installroot import InstallRoot
from pipeline.upgrade.sandboxes.podman import Podman


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    seen: list[list[str]] = []

    def fake_run(argv: Sequence[Any], **kw: Any) -> Completed:
        seen.append([str(a) for a in argv])
        return Completed(tuple(str(a) for a in argv), 0, "", "")

    monkeypatch.setattr(cmd, "run", fake_run)
    monkeypatch.setattr(cmd, "require", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(cmd, "which", lambda tool: None)
    return seen


def test_registry() -> None:
    assert set(SANDBOXES) == {"installroot", "podman", "docker"}
    with pytest.raises(InputError, match="unknown sandbox"):
        create("chroot", SandboxConfig(workdir=Path("/nonexistent")))


def test_installroot_isolated_dnf_and_cleanup(tmp_path: Path, calls: list[list[str]]) -> None:
    config = SandboxConfig(workdir=tmp_path / "w", repos={"legacy": str(tmp_path / "repo")})
    with InstallRoot(config) as box:
        assert (tmp_path / "w/home/.rpmmacros").read_text() == "%_dbpath /var/lib/rpm\n"
        box.package_manager(["install", "qemu-kvm-ev"], repos=["legacy"])
        box.rpm(["-Va"])
        box.write_file("/etc/libvirt/qemu.conf", "x\n")
        assert box.read_file("/etc/libvirt/qemu.conf") == "x\n"
        assert box.read_file("/../../etc/passwd") is None  # never leaves the root
    dnf, rpm = calls
    cage = dnf[:dnf.index("dnf")]
    assert cage[0] == "bwrap" and "--unshare-net" in cage and "--unshare-pid" in cage
    assert cage[cage.index("--cap-drop") + 1] == "ALL" and "CAP_MKNOD" not in cage
    assert cage[cage.index("--ro-bind"):cage.index("--ro-bind") + 3] == ["--ro-bind", "/", "/"]
    assert cage[cage.index("--dev"):cage.index("--dev") + 2] == ["--dev", "/dev"]
    assert rpm[:len(cage)] == cage  # rpm -Va runs in the same cage (%verifyscript)
    rpm = rpm[len(cage):]
    assert f"--installroot={tmp_path}/w/root" in dnf
    assert "--setopt=reposdir=/dev/null" in dnf and "--disableplugin=*" in dnf
    assert f"--repofrompath=legacy,{(tmp_path / 'repo').resolve().as_uri()}" in dnf
    assert dnf[-2:] == ["install", "qemu-kvm-ev"]
    assert rpm == ["rpm", "--root", f"{tmp_path}/w/root", "--dbpath", "/var/lib/rpm", "-Va"]
    assert not (tmp_path / "w/root").exists()  # removed on exit


def test_installroot_keep(tmp_path: Path, calls: list[list[str]]) -> None:
    with InstallRoot(SandboxConfig(workdir=tmp_path / "w", keep=True)):
        pass
    assert (tmp_path / "w/root").is_dir()


def test_podman_container_lifecycle(tmp_path: Path, calls: list[list[str]]) -> None:
    config = SandboxConfig(workdir=tmp_path, repos={"new": str(tmp_path / "new")},
                           image="localhost/test:1", package_manager="yum")
    with Podman(config) as box:
        box.package_manager(["upgrade"], repos=["new"])
    run, write, pm, remove = calls
    assert run[:2] == ["podman", "run"] and "--network" in run and "none" in run
    assert f"{(tmp_path / 'new').resolve()}:/vp-repos/new:ro" in run
    assert run[-3:] == ["localhost/test:1", "sleep", "infinity"]
    assert write[:3] == ["podman", "exec", "-i"]
    assert pm[3:] == ["yum", "-y", "--disablerepo=*", "--enablerepo=vp-new", "upgrade"]
    assert remove[:3] == ["podman", "rm", "-f"]
    assert (tmp_path / "containers.conf").read_text().count("runc") == 1


def test_repo_file_maps_mounts() -> None:
    text = repo_file({"new": "/srv/new", "os": "https://mirror/os/"},
                     mounts={"new": "/vp-repos/new"})
    assert "baseurl=file:///vp-repos/new" in text and "baseurl=https://mirror/os/" in text
    assert text.count("\ngpgcheck=0") == 2
