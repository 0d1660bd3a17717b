"""Pure readers of the migration gate: QEMU output captured from Debian's QEMU 7.2, domain XMLs,
a cpu map written here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.core.errors import InputError, ToolMissing
from pipeline.migration import cpumap, domains, qemuout, xmlread

DATA = Path(__file__).resolve().parents[1] / "data" / "migration"


def test_ramblock_sizes_and_rom_per_pci_slot() -> None:
    blocks = qemuout.parse_ramblock((DATA / "ramblock-qemu-7.2.txt").read_text())
    assert blocks["pc.bios"] == 0x40000
    assert blocks["0000:00:02.0/virtio-net-pci.rom"] == 0x40000
    assert qemuout.rom_block(blocks, 0x10) == 0x40000  # devfn 16 = slot 2
    assert qemuout.rom_block(blocks, 0x18) == 0x10000  # the VGA in slot 3
    assert qemuout.rom_block(blocks, 0x20) == 0  # nothing in slot 4
    assert "Block" not in blocks


def test_qom_children_and_machine_names() -> None:
    unattached = json.loads((DATA / "qom-unattached-qemu-7.2.json").read_text())
    assert qemuout.children_of_type(unattached, "i8042") == ["device[13]"]
    assert len(qemuout.children_of_type(unattached, "hpet")) == 1
    names = qemuout.machine_names([{"name": "pc-i440fx-7.2", "alias": "pc", "is-default": True},
                                   {"name": "pc-i440fx-2.12"}])
    assert names == {"pc-i440fx-7.2": "default", "pc": "alias of pc-i440fx-7.2",
                     "pc-i440fx-2.12": ""}


def test_host_features_and_rounding() -> None:
    reply = {"model": {"name": "host", "props": {"hle": False, "rtm": True, "level": 13}}}
    assert qemuout.host_features(reply) == {"hle": False, "rtm": True}
    assert [qemuout.power_of_two_at_least(n) for n in (60416, 65536, 67072, 249344)] == \
        [0x10000, 0x10000, 0x20000, 0x40000]


def test_el7_domain_is_read_as_virsh_writes_it() -> None:
    web = domains.load_file(DATA / "el7" / "web01.xml")
    assert (web.name, web.arch, web.machine) == ("web01", "x86_64", "pc-i440fx-rhel7.6.0")
    assert (web.cpu.mode, web.cpu.model) == ("custom", "Westmere")
    assert "arch-facilities" in web.cpu.required()
    assert web.qemu_devices() == {"virtio-net-pci", "VGA"}
    assert next(d for d in web.devices if d.kind == "video").vgamem_mb == 16
    legacy = domains.load_file(DATA / "el7" / "legacy6.xml")
    assert legacy.qemu_devices() == {"rtl8139"}  # libvirt's default NIC model
    assert legacy.cpu.mode == "none"


def test_domain_rom_settings(tmp_path: Path) -> None:
    path = tmp_path / "d.xml"
    path.write_text("<domain><name>d</name><os><type machine='pc'>hvm</type></os><devices>"
                    "<interface type='network'><model type='e1000'/><rom bar='off'/>"
                    "</interface><interface type='network'><model type='virtio'/>"
                    "<rom file='/x/pxe.rom'/></interface></devices></domain>")
    nics = domains.load_file(path).devices
    assert [(n.qemu, n.rom_bar, n.rom_file) for n in nics] == [
        ("e1000", False, None), ("virtio-net-pci", True, "/x/pxe.rom")]


@pytest.mark.parametrize(("text", "message"), [
    ("<domain>\n<name>x</name>\n<os>\n</domain>", ":4: invalid XML"),
    ("<network><name>x</name></network>", ":1: root element is <network>"),
    ("<domain><name>x</name><os><type>hvm</type></os></domain>", "domain/os/type: no <os>"),
    ("<?xml version='1.0'?>\n<!DOCTYPE d [<!ENTITY a 'b'>]>\n<domain/>", ":2: a DTD"),
])
def test_bad_domain_xml_names_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        domains.load_file(path)
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)


def test_xml_size_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_text("<domain>" + " " * 200 + "</domain>")
    with pytest.raises(InputError, match="larger than 100 bytes"):
        xmlread.parse_file(path, max_bytes=100)


def _cpu_map(folder: Path) -> Path:
    folder.mkdir()
    (folder / "index.xml").write_text(
        "<cpus><arch name='x86'><include filename='x86_features.xml'/>"
        "<include filename='x86_Haswell.xml'/><include filename='x86_Haswell-IBRS.xml'/>"
        "</arch><arch name='arm'><include filename='arm_features.xml'/></arch></cpus>")
    (folder / "x86_features.xml").write_text(
        "<cpus><feature name='hle'/><feature name='rtm'/><feature name='avx2'/>"
        "<feature name='spec-ctrl'/><feature name='arch-capabilities'/></cpus>")
    (folder / "x86_Haswell.xml").write_text(
        "<cpus><model name='Haswell'><feature name='hle'/><feature name='rtm'/>"
        "<feature name='avx2'/></model></cpus>")
    (folder / "x86_Haswell-IBRS.xml").write_text(
        "<cpus><model name='Haswell-IBRS'><model name='Haswell'/>"
        "<feature name='spec-ctrl'/></model></cpus>")
    return folder


def test_cpu_map_features_models_and_parents(tmp_path: Path) -> None:
    loaded = cpumap.load(_cpu_map(tmp_path / "cpu_map"))
    assert "arch-capabilities" in loaded.features and "arch-facilities" not in loaded.features
    assert loaded.model_features("Haswell-IBRS") == {"hle", "rtm", "avx2", "spec-ctrl"}
    assert loaded.model_features("Nope") == frozenset()


def test_cpu_map_missing_or_inconsistent(tmp_path: Path) -> None:
    with pytest.raises(ToolMissing, match="libvirt0"):
        cpumap.load(tmp_path / "none")
    folder = _cpu_map(tmp_path / "cpu_map")
    (folder / "x86_Haswell.xml").unlink()
    with pytest.raises(InputError, match=r"x86_Haswell\.xml"):
        cpumap.load(folder)
