"""Stand-in RPMs for real: rpmbuild, rpm --root, dnf --installroot, from_spec on a rendered spec."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest

from pipeline.core import cmd
from pipeline.matrix import load as matrix
from pipeline.upgrade import newset, rootbase, synth
from pipeline.upgrade.manifest import FileEntry, PackageManifest, load_manifest
from tests.support.tree import tools_fixture

pytestmark = pytest.mark.integration

TREE = Path(__file__).resolve().parents[2]
#: stand-ins are cached by content hash: later runs reuse them
CACHE = TREE / ".cache" / "standins"


_tools = tools_fixture("rpmbuild", "rpm", "createrepo_c", "dnf", "busybox")


def rpm_root(root: Path, *args: str) -> str:
    return cmd.run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", *args]).stdout


def dnf_root(root: Path, home: Path, repo: Path, *args: str) -> None:
    """dnf in an installroot on Debian: HOME carries the %_dbpath that dnf's rpm reads."""
    home.mkdir(parents=True, exist_ok=True)
    (home / ".rpmmacros").write_text("%_dbpath /var/lib/rpm\n", encoding="utf-8")
    cmd.run(["dnf", "-y", "-q", f"--installroot={root}", "--releasever=1",
             "--setopt=reposdir=/dev/null", f"--setopt=cachedir={home / 'cache'}",
             "--setopt=install_weak_deps=False", "--nogpgcheck", "--disableplugin=*",
             f"--repofrompath=standins,file://{repo}", *args], env={"HOME": str(home)})


def installed(root: Path) -> set[str]:
    return set(rpm_root(root, "-qa", "--qf", "%{name}\n").split())


def build(packages: Sequence[PackageManifest], tmp: Path) -> list[Path]:
    return synth.build_rpms(packages, CACHE, workdir=tmp / "work")


def test_base_package_makes_an_empty_root_usable(tmp_path: Path) -> None:
    # an ev package with marker scriptlets and no requirement on the OS
    source = load_manifest(TREE / "tests" / "data" / "legacy" / "rpm-qf-qemu-kvm-ev.yaml")
    rpms = build(source.packages, tmp_path)
    base = rootbase.base_package(CACHE, workdir=tmp_path / "work")
    repo = synth.make_repo([base, *rpms], tmp_path / "repo")
    root = tmp_path / "root"
    dnf_root(root, tmp_path / "home", repo, "install", "qemu-kvm-common-ev")
    # /bin/sh came from the base package, pulled in by the scriptlets' Requires(post)
    assert installed(root) == {"qemu-kvm-common-ev", rootbase.BASE_NAME}
    assert os.readlink(root / "usr/bin/sh") == "busybox"
    assert "qemu-kvm-common-ev" in (root / "var/lib/standin/post.log").read_text()
    conf = (root / "etc/qemu-kvm/bridge.conf").read_text()
    assert "qemu-kvm-common-ev" in conf
    assert stat.S_IMODE((root / "usr/libexec/qemu-bridge-helper").stat().st_mode) == 0o4755
    assert (root / "usr/lib64/libc.so.6").is_file()
    assert rpm_root(root, "-Va") == ""


def _conf_pkg(version: str) -> PackageManifest:
    return PackageManifest(name="standin-conf", epoch=None, version=version, release="1",
                           arch="noarch", summary="config survival probe",
                           files=(FileEntry("/etc/standin"), FileEntry("/etc/probe.conf",
                                                                       config=True)))


def test_config_noreplace_edit_survives_upgrade(tmp_path: Path) -> None:
    base = rootbase.base_package(CACHE, workdir=tmp_path / "work")
    old, new = build([_conf_pkg("1.0"), _conf_pkg("2.0")], tmp_path)
    root = tmp_path / "root"
    dnf_root(root, tmp_path / "home", synth.make_repo([base, old], tmp_path / "r1"),
             "install", "standin-conf")
    (root / "etc/probe.conf").write_text("local edit\n", encoding="utf-8")
    synth.make_repo([base, old], tmp_path / "r2")  # the next call must drop old's RPM
    dnf_root(root, tmp_path / "home", synth.make_repo([base, new], tmp_path / "r2"),
             "upgrade", "standin-conf")
    assert rpm_root(root, "-q", "standin-conf").strip() == "standin-conf-2.0-1.noarch"
    assert sorted(p.name for p in (tmp_path / "r2").glob("*.rpm")) == sorted([base.name,
                                                                             new.name])
    assert (root / "etc/probe.conf").read_text() == "local edit\n"
    assert "2.0" in (root / "etc/probe.conf.rpmnew").read_text()


def test_aarch64_relabel(tmp_path: Path) -> None:
    base = rootbase.base_package(CACHE, arch="aarch64", workdir=tmp_path / "work")
    probe = PackageManifest(name="standin-arm", epoch=None, version="1", release="1",
                            arch="aarch64", files=(FileEntry("/usr/bin/arm", mode=0o755),))
    (rpm,) = build([probe], tmp_path)
    qf = ["rpm", "-qp", "--qf", "%{arch}\n"]
    assert cmd.run([*qf, str(rpm)]).stdout.strip() == "aarch64"
    assert cmd.run([*qf, str(base)]).stdout.strip() == "aarch64"
    provides = cmd.run(["rpm", "-qp", "--provides", str(base)]).stdout
    assert "ld-linux-aarch64.so.1()(64bit)" in provides


def test_from_spec_libvirt_python(tmp_path: Path) -> None:
    loaded = matrix.load(TREE, [])
    cell = next(c for c in loaded.cells if c.id == "bclinux7-x86_64")
    legacy = load_manifest(TREE / "legacy" / "el7-base.yaml")
    site = "/usr/lib64/python2.7/site-packages"
    # the legacy files plus what a real libvirt-python 4.5 host has under the glob
    known = [f for p in legacy.packages for f in p.files]
    known.append(FileEntry(f"{site}/libvirtmod.so", mode=0o755))
    spec = TREE / "specs" / "bclinux7" / "libvirt-python.spec"
    packages = {p.name: p for p in newset.from_spec(TREE, cell, spec, known=known)}
    assert "python2-libvirt" in packages
    py2 = packages["python2-libvirt"]
    assert py2.release.endswith(".el7")
    assert any(o.startswith("libvirt-python < ") for o in py2.obsoletes)
    site = "/usr/lib64/python2.7/site-packages"
    paths = {f.path for f in py2.files}
    assert f"{site}/libvirtmod.so" in paths  # a legacy path matched by a glob
    rpms = build(list(packages.values()), tmp_path)
    provides = cmd.run(["rpm", "-qp", "--provides", str(rpms[0])]).stdout
    listed = cmd.run(["rpm", "-qpl", *map(str, rpms)]).stdout.split()
    assert f"{site}/libvirtmod.so" in listed
    assert any(line.startswith(f"{rpms[0].name.split('-6.2.0')[0]} = ")
               for line in provides.splitlines())
