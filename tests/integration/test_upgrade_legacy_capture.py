"""`legacy capture`: stand-ins installed in a root and captured back equal the source."""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline import cli
from pipeline.core import cmd
from pipeline.upgrade import capture, rootbase, synth
from pipeline.upgrade.manifest import FileEntry, LegacySet, load_manifest
from tests.support.tree import tools_fixture, work_tree_fixture

pytestmark = pytest.mark.integration

TREE = Path(__file__).resolve().parents[2]
WORK: list[Path] = []  # the CLI runs on a copy of the tree (see work_tree_fixture)
_work_tree = work_tree_fixture(WORK, "legacy")


CACHE = TREE / ".cache" / "standins"


_tools = tools_fixture("rpmbuild", "rpm", "busybox")


def test_rpmdb_capture_equals_the_source_manifest(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    source = _with_rom_link(load_manifest(TREE / "legacy" / "el7-qemu-kvm-ev.yaml"))
    rpms = synth.build_rpms(source.packages, CACHE, workdir=tmp_path / "work")
    base = rootbase.base_package(CACHE, workdir=tmp_path / "work")
    root = tmp_path / "root"
    cmd.run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-i", "--nodeps",
             "--force-debian", str(base), *map(str, rpms)])
    # what rpm put on disk: modes, symlinks, scriptlets that ran
    helper = root / "usr/libexec/qemu-bridge-helper"
    assert stat.S_IMODE(helper.stat().st_mode) == 0o4755
    assert os.readlink(root / "usr/share/qemu-kvm/bios.bin") == "../seabios/bios.bin"
    # qemu-kvm-common-ev's real %post made the qemu user (in group kvm, id 107)
    assert "qemu:x:107:" in (root / "etc/passwd").read_text()
    out = tmp_path / "captured.yaml"
    code = cli.main(["-C", str(WORK[0]), "legacy", "capture", "--rpmdb", str(root),
                     "--id", source.id, "--os", source.os, "--description", source.description,
                     "--packages", "qemu*", "libvirt*", "-o", str(out), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["packages"]) == len(source.packages)
    captured = load_manifest(out)
    assert captured.canonical() == source.canonical()
    common = captured.package("qemu-kvm-common-ev")
    assert {f.path for f in common.files if f.config} >= {"/etc/qemu-kvm/bridge.conf",
                                                          "/etc/sasl2/qemu-kvm.conf"}


def _with_rom_link(legacy: LegacySet) -> LegacySet:
    """ev links bios.bin to seabios-bin's (a spec capture lists it as a plain file)."""
    ev = legacy.package("qemu-kvm-ev")
    files = tuple(FileEntry("/usr/share/qemu-kvm/bios.bin", kind="symlink", mode=0o777,
                            target="../seabios/bios.bin")
                  if f.path == "/usr/share/qemu-kvm/bios.bin" else f for f in ev.files)
    return replace(legacy, packages=tuple(replace(p, files=files) if p is ev else p
                                          for p in legacy.packages))


def test_folder_capture_without_bindings_equals_source(tmp_path: Path) -> None:
    source = load_manifest(TREE / "legacy" / "el7-base.yaml")
    rpms = synth.build_rpms(source.packages, CACHE, workdir=tmp_path / "work")
    got = capture.capture(rpms, set_id=source.id, os_id=source.os,
                          description=source.description, use_bindings=False)
    assert got.canonical() == source.canonical()


def test_folder_capture_via_cli_guesses_id_and_os(tmp_path: Path) -> None:
    source = load_manifest(TREE / "legacy" / "oe2203-stock.yaml")
    rpms = synth.build_rpms(source.packages, CACHE, workdir=tmp_path / "work")
    folder = tmp_path / "rpms"
    folder.mkdir()
    for rpm in rpms:
        shutil.copy2(rpm, folder / rpm.name)
    out = tmp_path / "oe-host.yaml"
    assert cli.main(["-C", str(WORK[0]), "legacy", "capture", "--rpms", str(folder),
                     "-o", str(out)]) == 0
    captured = load_manifest(out)
    assert (captured.id, captured.os) == ("oe-host", "bclinux-euler")
    assert captured.canonical().packages == source.canonical().packages


def test_capture_errors(tmp_path: Path) -> None:
    assert cli.main(["-C", str(WORK[0]), "legacy", "capture", "--rpms", str(tmp_path),
                     "-o", str(tmp_path / "x.yaml")]) == 2
    assert not (tmp_path / "x.yaml").exists()
