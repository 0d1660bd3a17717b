"""The migration gate's data loader and its pure checks (compat, CPU, verdicts, JUnit)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.migration import compat, data, junit
from pipeline.migration.cpucheck import cpu_problems
from pipeline.migration.cpumap import CpuMap, CpuModel
from pipeline.migration.domains import Cpu, Device, Domain
from pipeline.migration.gate import DomainResult, GateReport, MachineResult, verdict
from pipeline.migration.probe import DeviceFacts, MachineFacts

TREE = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tree_data() -> data.MigrationData:
    return data.load(TREE / data.FILE_NAME)


def test_tree_data_has_the_legacy_types_with_their_sources(
        tree_data: data.MigrationData) -> None:
    x86 = tree_data.machine_types("x86_64")
    assert {f"pc-i440fx-rhel7.{n}.0" for n in range(7)} <= set(x86)
    assert {f"pc-q35-rhel7.{n}.0" for n in range(3, 7)} <= set(x86)
    assert {f"rhel6.{n}.0" for n in range(7)} <= set(x86)
    assert set(tree_data.machine_types("aarch64")) == {"virt-rhel7.6.0"}
    rhel7 = x86["pc-i440fx-rhel7.6.0"]
    assert (rhel7.i8042_extended_state, rhel7.hpet, rhel7.bios_block) == (False, False, 0x40000)
    assert rhel7.devices["virtio-net-pci"].romfile == "pxe-virtio.rom"
    assert all(s in tree_data.sources for c in tree_data.compat.values() for s in c.sources)
    rhel600 = x86["rhel6.0.0"]  # extends rhel6: its VGA has no ROM (rombar=0)
    assert (rhel600.devices["VGA"].rom_block, rhel600.devices["e1000"].rom_block) == (0, 0x20000)
    assert (rhel600.bios_block, rhel600.hpet) == (0x20000, False)
    assert "ev-rhel6-roms" in rhel600.sources
    assert tree_data.renamed == {"arch-facilities": "arch-capabilities"}
    assert {"hle", "rtm", "spec-ctrl"} <= set(tree_data.host_dependent)


@pytest.mark.parametrize(("old", "new", "message", "on_line"), [
    ("hpet: false\n    bios_block: 0x40000", "hpet: false\n    bios_blok: 0x40000",
     "compat.rhel7.bios_blok: unknown key (did you mean 'bios_block'?)", "bios_blok"),
    ("pc-i440fx-rhel7.6.0: rhel7", "pc-i440fx-rhel7.6.0: rhel8",
     "unknown compat profile 'rhel8'", "rhel8"),
    ("rom_block: 0x10000, verified: false}\n      e1000", "rom_block: 60416, verified: false}\n"
     "      e1000", "expected a power of two", "60416"),
    ("unsupported: []", "unsupported:\n  - {machine: rhel6.*, direction: sideways, reason: x}",
     "unsupported.0.direction: expected one of back, both", "sideways"),
    ("virt-rhel7.6.0: aarch64-virt", "virt-rhel7.6.0: aarch64-virt\n      rhel6.0.0: rhel6",
     "already declared by host qemu-kvm-ev-2.12-x86_64", "rhel6.0.0: rhel6"),
    ("source: [ev-virt]\n    devices: {}", "source: [ev-vrit]\n    devices: {}",
     "unknown source 'ev-vrit'", "ev-vrit"),
    ("base: rhel6\n", "base: rhel9\n", "unknown compat profile 'rhel9'", "rhel9"),
])
def test_bad_data_is_file_line_key(tmp_path: Path, old: str, new: str, message: str,
                                   on_line: str) -> None:
    text = (TREE / data.FILE_NAME).read_text()
    assert old in text
    path = tmp_path / "migration.yaml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(InputError) as err:
        data.load(path)
    assert message in str(err.value)
    assert str(err.value).startswith(f"{path}:")
    line = int(str(err.value).split(":")[1])
    assert on_line in path.read_text().splitlines()[line - 1]


def _facts(**kw: object) -> MachineFacts:
    base: dict[str, object] = dict(
        machine="pc-i440fx-rhel7.6.0", i8042_extended_state=False, hpet=False,
        bios_block=0x40000,
        devices={"virtio-net-pci": DeviceFacts("pxe-virtio.rom", 0x10000, None),
                 "VGA": DeviceFacts("vgabios-stdvga.bin", 0x10000, 16)})
    base.update(kw)
    return MachineFacts(**base)  # type: ignore[arg-type]


def _ids(problems: list[compat.Problem]) -> list[str]:
    return [p.id for p in problems]


def test_compat_passes_when_the_emulator_looks_like_the_legacy_side(
        tree_data: data.MigrationData) -> None:
    rhel7 = tree_data.compat["rhel7"]
    devices = [Device("nic", "virtio-net-pci"), Device("video", "VGA", vgamem_mb=16)]
    assert compat.machine_problems(rhel7, _facts()) == []
    assert compat.device_problems(rhel7, _facts(), devices) == []


def test_each_compat_difference_is_named(tree_data: data.MigrationData) -> None:
    rhel7 = tree_data.compat["rhel7"]
    broken = _facts(i8042_extended_state=True, hpet=True, bios_block=0x20000, devices={
        "virtio-net-pci": DeviceFacts("efi-virtio.rom", 0x40000, None),
        "VGA": DeviceFacts("vgabios-stdvga.bin", 0x10000, 8)})
    assert _ids(compat.machine_problems(rhel7, broken)) == [
        "compat-i8042-extended-state", "compat-hpet", "compat-bios-size"]
    devices = [Device("nic", "virtio-net-pci"), Device("video", "VGA"),
               Device("nic", "virtio-net-pci", rom_bar=False), Device("nic", "pcnet")]
    assert _ids(compat.device_problems(rhel7, broken, devices)) == [
        "compat-rom-size", "compat-vgamem", "device-not-covered"]
    lacking = _facts(missing_devices=("virtio-net-pci",))
    assert _ids(compat.device_problems(rhel7, lacking, devices[:1])) == ["device-missing"]
    failed = MachineFacts(machine="x", error="QEMU exited 1")
    assert _ids(compat.machine_problems(rhel7, failed)) == ["emulator-probe-failed"]


def _map() -> CpuMap:
    return CpuMap(path=Path("/cpu_map"),
                  features=frozenset({"hle", "rtm", "spec-ctrl", "arch-capabilities", "vme"}),
                  models={"Haswell": CpuModel("Haswell", None, frozenset({"hle", "rtm"})),
                          "Westmere": CpuModel("Westmere", None, frozenset({"vme"}))})


def test_cpu_renamed_missing_and_host_dependent(tree_data: data.MigrationData) -> None:
    cpu = Cpu("custom", "Westmere", (("arch-facilities", "require"), ("pcommit", "require")))
    assert _ids(cpu_problems(cpu, _map(), tree_data, {})) == [
        "cpu-feature-renamed", "cpu-feature-missing"]
    tsx = Cpu("host-model", "Haswell", (("spec-ctrl", "require"),))
    no_tsx = {"hle": False, "rtm": False, "spec-ctrl": True}
    assert _ids(cpu_problems(tsx, _map(), tree_data, no_tsx)) == [
        "cpu-feature-host-tsx", "cpu-feature-host-tsx"]
    assert cpu_problems(tsx, _map(), tree_data, {k: True for k in no_tsx}) == []
    assert _ids(cpu_problems(tsx, _map(), tree_data, None)) == [
        "cpu-feature-host-dependent"] * 3
    off = Cpu("host-model", "Haswell", (("hle", "disable"), ("rtm", "disable")))
    assert cpu_problems(off, _map(), tree_data, no_tsx) == []
    assert _ids(cpu_problems(Cpu("custom", "Icelake", ()), _map(), tree_data, None)) == [
        "cpu-model-missing"]


def test_verdicts() -> None:
    p = compat.Problem
    assert verdict([]) == "both-ways"
    assert verdict([p("device-not-covered", "")]) == "both-ways"
    assert verdict([p("compat-hpet", ""), p("unsupported-back", "")]) == "one-way"
    assert verdict([p("compat-hpet", ""), p("compat-rom-size", "")]) == "none"
    assert verdict([p("cpu-feature-host-tsx", "")]) == "none"


def test_junit_suites_per_machine_and_domain() -> None:
    dom = Domain("web01", "web01.xml", "x86_64", "pc-i440fx-rhel7.6.0",
                 Cpu("none", None, ()), ())
    problems = (compat.Problem("machine-type-missing", "not offered"),
                compat.Problem("cpu-feature-renamed", "arch-facilities"),
                compat.Problem("device-not-covered", "pcnet"))
    report = GateReport(
        machines=[MachineResult("pc-i440fx-rhel7.6.0", "ev", "rhel7", False, None,
                                problems[:1])],
        domains=[DomainResult(dom, "none", problems)])
    root = ET.fromstring(junit.to_xml(report))
    assert (root.get("tests"), root.get("failures")) == ("6", "3")
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    failed = cases[("migcheck.domain.web01", "cpu")].find("failure")
    assert failed is not None and failed.get("type") == "cpu-feature-renamed"
    compat_case = cases[("migcheck.domain.web01", "compat")]
    assert compat_case.find("failure") is None and compat_case.find("system-out") is not None
    assert [f.id for f in report.findings()] == [
        "machine-type-missing", "machine-type-missing", "cpu-feature-renamed",
        "device-not-covered"]


def test_the_self_tests_declared_rows_reach_the_gate(tmp_path: Path) -> None:
    """patches/qemu/unsupported-migrations.yaml (the device grid's declarations) is read by
    the gate too: one list of what cannot move, whichever check found it."""
    rows = tmp_path / "unsupported-migrations.yaml"
    rows.write_text(
        "unsupported:\n"
        "  - {machine: pc-i440fx-rhel7.0.0, device_set: nic-rtl8139, direction: 6.2->2.12,\n"
        "     accel: '*', reason: rtl8139 v5 state}\n"
        "  - {machine: 'pc-q35-rhel7.*', device_set: '*', direction: '*', accel: kvm,\n"
        "     reason: no way}\n")
    tree_data = Path(__file__).resolve().parents[2] / "migration.yaml"
    plain = data.load(tree_data)
    loaded = data.load(tree_data, selftest_unsupported=rows)
    added = loaded.unsupported[len(plain.unsupported):]
    assert [(u.machine, u.devices, u.direction) for u in added] == [
        ("pc-i440fx-rhel7.0.0", ("rtl8139",), "back"), ("pc-q35-rhel7.*", (), "both")]
    assert added[0].covers("pc-i440fx-rhel7.0.0", {"rtl8139", "VGA"})
    assert not added[0].covers("pc-i440fx-rhel7.0.0", {"e1000"})
    assert "QEMU self-test grid" in added[1].reason
    assert data.load(tree_data, selftest_unsupported=tmp_path / "absent.yaml") == plain
