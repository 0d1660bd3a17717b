"""`migcheck` against the real Debian QEMU (qemu-system-x86 7.2) and libvirt's real cpu map.

Debian's QEMU offers no RHEL machine type: with the tree's migration.yaml every legacy x86 type
must be reported missing. The el7-like domains must get exactly their problems; a clean domain
on an upstream type this QEMU offers (with data describing its legacy side) must pass, and the
same domain must fail, naming the check, once the data and the emulator disagree.
"""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from pipeline import cli
from pipeline.migration import cpumap, data
from pipeline.migration.probe import open_probe
from pipeline.migration.qemuout import power_of_two_at_least
from tests.support.tree import work_tree_fixture

pytestmark = pytest.mark.integration

TREE = Path(__file__).resolve().parents[2]
WORK: list[Path] = []  # the CLI runs on a copy of the tree (see work_tree_fixture)
_work_tree = work_tree_fixture(WORK, "migcheck")


DATA = TREE / "tests" / "data" / "migration"
QEMU = "qemu-system-x86_64"


@pytest.fixture(scope="module", autouse=True)
def _tools() -> None:
    if shutil.which(QEMU) is None:
        pytest.skip(f"{QEMU} is not installed (tools/setup-host installs qemu-system-x86)")
    if not (cpumap.DEFAULT_DIR / "index.xml").is_file():
        pytest.skip("libvirt's cpu map is not installed (tools/setup-host installs libvirt0)")


def migcheck(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = cli.main(["-C", str(WORK[0]), "migcheck", "--json", "--emulator", QEMU, *args])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def ids_by_cell(report: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for finding in report["findings"]:
        out.setdefault(finding["cell"], set()).add(finding["id"])
    return out


def host_has(flag: str) -> bool:
    text = Path("/proc/cpuinfo").read_text()
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines()
                  if line.startswith("flags")), [])
    return flag in flags


def test_debian_qemu_offers_no_legacy_machine_type(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = migcheck(capsys)
    assert code == 1
    legacy = data.load(TREE / data.FILE_NAME).machine_types("x86_64")
    assert {m["name"] for m in report["machine_types"]} == set(legacy)
    assert all(not m["offered"] for m in report["machine_types"])
    assert ids_by_cell(report) == {f"machine:{m}": {"machine-type-missing"} for m in legacy}
    assert report["launches"] == 1  # only query-machines: nothing to start for missing types


def test_compat_is_read_back_from_the_running_emulator() -> None:
    with open_probe(Path(shutil.which(QEMU) or QEMU)) as probe:
        old = probe.machine("pc-i440fx-2.12", ["virtio-net-pci", "VGA"])
        new = probe.machine("pc-i440fx-7.2", ["virtio-net-pci", "VGA"])
        again = probe.machine("pc-i440fx-2.12", ["virtio-net-pci", "VGA"])
        assert probe.launches == 3  # -machine none once, then once per machine type
    assert again is old
    assert old.error is None and new.error is None
    assert old.i8042_extended_state is False  # hw_compat_6_0 on the old type
    assert new.i8042_extended_state is True
    assert old.hpet and new.hpet  # upstream pc has an HPET, the el7 build has none
    rom = old.devices["virtio-net-pci"]
    assert rom.romfile == "efi-virtio.rom"
    size = Path("/usr/lib/ipxe/qemu/efi-virtio.rom").stat().st_size
    assert rom.rom_block == power_of_two_at_least(size) == 0x40000
    assert old.devices["VGA"].vgamem_mb == 16
    assert old.bios_block == Path("/usr/share/seabios/bios-256k.bin").stat().st_size


def test_el7_domains_get_exactly_their_problems(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = migcheck(capsys, "--domains", str(DATA / "el7"))
    assert code == 1
    verdicts = {d["name"]: d["verdict"] for d in report["domains"]}
    assert verdicts == {"web01": "none", "db01": "none", "legacy6": "none",
                        "arm01": "not-judged"}
    cells = ids_by_cell(report)
    assert cells["web01"] == {"machine-type-missing", "cpu-feature-renamed"}
    assert cells["legacy6"] == {"machine-type-missing"}
    assert cells["arm01"] == {"domain-arch-not-probed"}
    if not os.access("/dev/kvm", os.W_OK):
        host = {"cpu-feature-host-dependent"}
    else:
        host = ({"cpu-feature-host-tsx"} if not host_has("hle") else set()) | \
               ({"cpu-feature-host-microcode"} if not host_has("spec_ctrl") else set())
    assert cells["db01"] == {"machine-type-missing"} | host
    renamed = next(f for f in report["findings"] if f["id"] == "cpu-feature-renamed")
    assert "arch-capabilities" in renamed["detail"] and "rename" in renamed["detail"]
    assert report["launches"] == 1  # no legacy type offered: no guest started


def test_clean_domain_passes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    code, report = migcheck(capsys, "--domains", str(DATA / "clean"), "--data",
                            str(DATA / "upstream-legacy.yaml"), "--junit", str(junit))
    assert (code, report["findings"]) == (0, [])
    assert [(d["name"], d["verdict"]) for d in report["domains"]] == [("app01", "both-ways")]
    assert report["launches"] == 2
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "0" and int(root.get("tests", "0")) == 6


def _mutated(tmp_path: Path, old: str, new: str) -> Path:
    text = (DATA / "upstream-legacy.yaml").read_text()
    assert old in text
    path = tmp_path / "mutated.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_a_wrong_rom_size_fails_both_ways(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    changed = _mutated(tmp_path, "efi-virtio.rom, rom_block: 0x40000",
                       "pxe-virtio.rom, rom_block: 0x20000")
    code, report = migcheck(capsys, "--domains", str(DATA / "clean"), "--data", str(changed))
    assert code == 1
    assert ids_by_cell(report) == {"app01": {"compat-rom-size"},
                                   "machine:pc-i440fx-2.12": {"compat-rom-size"}}
    assert report["domains"][0]["verdict"] == "none"
    assert "virtio-net-pci" in report["domains"][0]["reasons"][0]["detail"]


def test_extended_state_on_breaks_the_way_back(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    # the same legacy expectations, declared for the 7.2 type: its i8042 keeps extended-state
    changed = _mutated(tmp_path, "pc-i440fx-2.12: upstream-2.12", "pc-i440fx-7.2: upstream-2.12")
    domains = tmp_path / "domains"
    domains.mkdir()
    text = (DATA / "clean" / "app01.xml").read_text()
    (domains / "app01.xml").write_text(text.replace("pc-i440fx-2.12", "pc-i440fx-7.2"))
    code, report = migcheck(capsys, "--domains", str(domains), "--data", str(changed))
    assert code == 1
    assert ids_by_cell(report)["app01"] == {"compat-i8042-extended-state"}
    assert report["domains"][0]["verdict"] == "one-way"


def test_declared_unsupported_row_names_the_vm(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    changed = _mutated(tmp_path, "unsupported: []",
                       "unsupported:\n  - {machine: 'pc-i440fx-2.*', devices: [virtio-net-pci],"
                       " direction: back, reason: virtio-net state differs (issue 11)}")
    code, report = migcheck(capsys, "--domains", str(DATA / "clean"), "--data", str(changed))
    assert code == 1
    assert ids_by_cell(report) == {"app01": {"unsupported-back"}}
    assert report["domains"][0]["verdict"] == "one-way"
    assert "issue 11" in report["domains"][0]["reasons"][0]["detail"]


def test_missing_emulator_exits_3_naming_the_package(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    code = cli.main(["-C", str(WORK[0]), "migcheck", "--emulator", str(tmp_path / "qemu-kvm")])
    assert code == 3
    assert "qemu-system-x86" in capsys.readouterr().err


def test_malformed_domain_exits_2_naming_the_file(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    domains = tmp_path / "domains"
    domains.mkdir()
    shutil.copy(DATA / "clean" / "app01.xml", domains)
    (domains / "broken.xml").write_text("<domain>\n  <name>x</name>\n  <os>\n</domain>\n")
    junit = tmp_path / "junit.xml"
    code = cli.main(["-C", str(WORK[0]), "migcheck", "--emulator", QEMU, "--domains",
                     str(domains), "--junit", str(junit)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{domains / 'broken.xml'}:4: invalid XML" in err
    assert "Traceback" not in err and not junit.exists()


def test_a_legacy_device_the_emulator_lacks_is_named(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    changed = _mutated(tmp_path, "      VGA: {romfile: vgabios-stdvga.bin",
                       "      cirrus-vga-rhel: {romfile: vgabios-cirrus.bin}\n"
                       "      VGA: {romfile: vgabios-stdvga.bin")
    domains = tmp_path / "domains"
    domains.mkdir()
    text = (DATA / "clean" / "app01.xml").read_text()
    (domains / "app01.xml").write_text(
        text.replace("<model type='vga'", "<model type='cirrus-vga-rhel'"))
    code, report = migcheck(capsys, "--domains", str(domains), "--data", str(changed))
    assert code == 1
    cells = ids_by_cell(report)
    assert cells["app01"] == {"device-missing"}
    assert cells["machine:pc-i440fx-2.12"] == {"device-missing"}
    assert "cirrus-vga-rhel" in report["domains"][0]["reasons"][0]["detail"]
