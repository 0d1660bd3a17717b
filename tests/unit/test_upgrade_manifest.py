"""Legacy manifests: parsing, errors naming file:line: key, dumping, the shipped sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.upgrade.manifest import (
    FileEntry,
    LegacySet,
    PackageManifest,
    dump_manifest,
    load_manifest,
    self_dependency,
    valid_dependency,
)

TREE = Path(__file__).resolve().parents[2]

GOOD = """\
id: t
os: bclinux7
description: a test set
defaults: {epoch: 10, version: 2.12.0, release: 44.1.el7_8.1, arch: x86_64}
packages:
  - name: qemu-img-ev
    provides: ["qemu-img = 10:2.12.0-44.1.el7_8.1", "libc.so.6()(64bit)"]
    obsoletes: ["qemu-img < 15:0-0"]
    files:
      - /usr/bin/qemu-img
      - {path: /usr/libexec/qemu-bridge-helper, mode: "4755"}
      - {path: /etc/qemu-kvm/bridge.conf, config: true}
      - {path: /usr/share/qemu-kvm, kind: dir}
      - {path: /usr/share/qemu-kvm/bios.bin, kind: symlink, target: ../seabios/bios.bin}
    scriptlets: {post: "\\n:\\n"}
  - name: libvirt-libs
    epoch: null
    version: 4.5.0
    release: 36.el7_9.5
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "set.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> InputError:
    with pytest.raises(InputError) as info:
        load_manifest(write(tmp_path, text))
    return info.value


def test_good_manifest_loads_with_defaults_and_modes(tmp_path: Path) -> None:
    legacy = load_manifest(write(tmp_path, GOOD))
    img = legacy.package("qemu-img-ev")
    assert img.nevra == "qemu-img-ev-10:2.12.0-44.1.el7_8.1.x86_64"
    files = {f.path: f for f in img.files}
    assert files["/usr/libexec/qemu-bridge-helper"].mode == 0o4755
    assert files["/usr/bin/qemu-img"] == FileEntry("/usr/bin/qemu-img")
    assert files["/etc/qemu-kvm/bridge.conf"].config
    assert files["/usr/share/qemu-kvm"].kind == "dir" and files["/usr/share/qemu-kvm"].mode == 0o755
    assert files["/usr/share/qemu-kvm/bios.bin"].target == "../seabios/bios.bin"
    assert img.scriptlets == {"post": ":"}
    libs = legacy.package("libvirt-libs")
    assert libs.epoch is None and libs.evr == "4.5.0-36.el7_9.5" and libs.arch == "x86_64"


def test_dump_round_trips(tmp_path: Path) -> None:
    legacy = load_manifest(write(tmp_path, GOOD))
    again = load_manifest(write(tmp_path, dump_manifest(legacy)))
    assert again == legacy
    assert dump_manifest(again) == dump_manifest(legacy)


@pytest.mark.parametrize(("text", "line", "key", "fragment"), [
    (GOOD.replace("description:", "descripton:"), 3, "descripton", "did you mean 'description'"),
    (GOOD.replace("config: true", "confg: true"), 12, "packages.0.files.2.confg", "unknown key"),
    (GOOD.replace('mode: "4755"', "mode: 4755"), 11, "packages.0.files.1.mode", "quoted octal"),
    (GOOD.replace('"qemu-img < 15:0-0"', '"qemu-img << 15"'), 8, "packages.0.obsoletes.0",
     "not an rpm dependency"),
    (GOOD.replace('"\\n:\\n"', '"%(rm -rf /)"'), 15, "packages.0.scriptlets.post", "refused"),
    (GOOD.replace("/usr/bin/qemu-img\n", "'/usr/bin/%{lua:print(1)}'\n"), 10,
     "packages.0.files.0.path", "refused"),
    (GOOD.replace("kind: symlink, ", ""), 14, "packages.0.files.4.target", "only a symlink"),
    (GOOD.replace("arch: x86_64}", "arch: i386}"), 6, "packages.0.arch", "unknown arch"),
    (GOOD.replace("- name: libvirt-libs", "- name: qemu-img-ev"), 16, "packages.1.name",
     "listed twice"),
    (GOOD.replace("/usr/bin/qemu-img\n", "usr/bin/qemu-img\n"), 10, "packages.0.files.0.path",
     "absolute"),
])
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, line: int, key: str,
                                       fragment: str) -> None:
    err = error_of(tmp_path, text)
    assert err.file is not None and err.file.endswith("set.yaml")
    assert (err.line, err.key) == (line, key)
    assert fragment in str(err)


def test_invalid_yaml_and_empty_set(tmp_path: Path) -> None:
    assert error_of(tmp_path, "id: [\n").line is not None
    assert "at least one package" in str(error_of(tmp_path, "id: x\nos: y\npackages: []\n"))


def test_dependency_syntax() -> None:
    for dep in ("qemu-kvm", "qemu-kvm = 10:2.12.0-44.1.el7_8.1", "libc.so.6()(64bit)",
                "rtld(GNU_HASH)", "/bin/sh", "python(abi) = 3.6", "libvirt-libs >= 4.5.0",
                "config(libvirt) = 4.5.0-36.el7_9.5", "(a or b)"):
        assert valid_dependency(dep), dep
    for dep in ("qemu-kvm < ", "a = b = c", "x >> 1", "", "(a"):
        assert not valid_dependency(dep), dep


def test_self_dependencies() -> None:
    evr = "10:2.12.0-44.1.el7_8.1"
    assert self_dependency("qemu-img-ev", evr, f"qemu-img-ev = {evr}")
    assert self_dependency("qemu-img-ev", evr, f"qemu-img-ev(x86-64) = {evr}")
    assert self_dependency("qemu-img-ev", evr, f"config(qemu-img-ev) = {evr}")
    assert not self_dependency("qemu-img-ev", evr, f"qemu-img = {evr}")


def test_canonical_ignores_order() -> None:
    one = PackageManifest(name="a", epoch=None, version="1", release="1", arch="noarch",
                          requires=("b", "a"), files=(FileEntry("/z"), FileEntry("/a")))
    two = PackageManifest(name="a", epoch=None, version="1", release="1", arch="noarch",
                          requires=("a", "b"), files=(FileEntry("/a"), FileEntry("/z")))
    assert one != two and one.canonical() == two.canonical()
    sets = [LegacySet("s", "o", "", (p,)).canonical() for p in (one, two)]
    assert sets[0] == sets[1]


SETS = ("el7-base", "el7-qemu-kvm-ev", "oe2203-stock", "bclinux7-prev", "bclinux-euler-prev")


@pytest.mark.parametrize("set_id", SETS)
def test_shipped_sets_load(set_id: str) -> None:
    legacy = load_manifest(TREE / "legacy" / f"{set_id}.yaml")
    assert legacy.id == set_id
    names = {p.name for p in legacy.packages}
    assert len(names) == len(legacy.packages) >= 30
    for pkg in legacy.packages:  # requires between packages of the set must resolve in it
        for dep in pkg.requires:
            target = dep.split()[0]
            if target.startswith(("qemu", "libvirt", "python")):
                assert target in names or any(p.split()[0] == target for q in legacy.packages
                                              for p in q.provides), (pkg.name, dep)


def test_qemu_kvm_ev_facts() -> None:
    legacy = load_manifest(TREE / "legacy" / "el7-qemu-kvm-ev.yaml")
    common = legacy.package("qemu-kvm-common-ev")
    assert common.evr == "10:2.12.0-44.1.el7_8.1"
    files = {f.path: f for f in common.files}
    assert files["/usr/libexec/qemu-bridge-helper"].mode == 0o4755
    for conf in ("/etc/qemu-kvm/bridge.conf", "/etc/sasl2/qemu-kvm.conf", "/etc/sysconfig/ksm",
                 "/etc/ksmtuned.conf", "/etc/modprobe.d/kvm.conf", "/etc/modprobe.d/vhost.conf"):
        assert files[conf].config, conf
    for name, base in (("qemu-kvm-ev", "qemu-kvm"), ("qemu-img-ev", "qemu-img"),
                       ("qemu-kvm-common-ev", "qemu-kvm-common"),
                       ("qemu-kvm-tools-ev", "qemu-kvm-tools")):
        pkg = legacy.package(name)
        assert f"{base} = {pkg.evr}" in pkg.provides
        assert f"{base}-rhev = {pkg.evr}" in pkg.provides
        assert f"{base} < 15:0-0" in pkg.obsoletes and f"{base}-ma < 15:0-0" in pkg.obsoletes
        assert pkg.conflicts == (f"{base}-rhel",)
    assert "/usr/libexec/qemu-kvm" in {f.path for f in legacy.package("qemu-kvm-ev").files}
    daemon = {f.path: f for f in legacy.package("libvirt-daemon").files}
    assert daemon["/etc/libvirt/libvirtd.conf"].config


def test_el7_base_has_the_packages_the_new_set_obsoletes() -> None:
    legacy = load_manifest(TREE / "legacy" / "el7-base.yaml")
    names = {p.name for p in legacy.packages}
    assert {"libvirt-daemon-driver-lxc", "libvirt-daemon-lxc", "libvirt-login-shell",
            "libvirt-python", "qemu-kvm", "qemu-img", "qemu-kvm-common",
            "qemu-kvm-tools"} <= names
    assert legacy.package("qemu-kvm").evr == "10:1.5.3-167.el7_7.1"  # the spec read
    # every package names where it was read
    assert all(p.source in legacy.sources for p in legacy.packages)
    assert legacy.sources["qemu-kvm-spec"]["commit"].startswith("92c10e56")
    assert legacy.package("libvirt-python").evr == "4.5.0-1.el7"


@pytest.mark.parametrize("path", sorted((TREE / "legacy").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_legacy_package_names_its_source(path: Path) -> None:
    legacy = load_manifest(path)
    assert legacy.sources, f"{path.name} records no sources"
    for pkg in legacy.packages:
        assert pkg.source in legacy.sources, f"{path.name}: {pkg.name} names no source"
        entry = legacy.sources[pkg.source]
        assert entry.get("file") or entry.get("repo") or entry.get("note"), entry


def test_provenance_notes_may_name_rpm_sections_but_rpm_values_may_not(tmp_path: Path) -> None:
    """``unverified`` and ``sources`` are notes for people (never given to rpm): they may say
    "the %files of ..."; a dependency that rpm reads is still held to the macro allowlist."""
    note = GOOD.replace("packages:\n", "sources:\n  spec: {note: 'read with %files and %rhel'}\n"
                        "packages:\n", 1)
    note = note.replace("    files:\n", "    source: spec\n    unverified: ['the %files globs']\n"
                        "    files:\n", 1)
    path = tmp_path / "notes.yaml"
    path.write_text(note)
    loaded = load_manifest(path)
    assert loaded.packages[0].unverified == ("the %files globs",)
    assert loaded.sources["spec"]["note"] == "read with %files and %rhel"
    path.write_text(note.replace('provides: ["qemu-img = ', 'provides: ["x = %(id)", "qemu-img = '))
    with pytest.raises(InputError, match="rpm would see"):
        load_manifest(path)
