"""Pure parts of the QEMU self-test's device grid: qtree diff with the allow-list, the grid rows,
the declared unsupported rows, the device sets (no QEMU needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.patches.qemu_selftest import devices as st_devices
from pipeline.patches.qemu_selftest import devsets as st_devsets
from pipeline.patches.qemu_selftest import grid as st_grid
from pipeline.patches.qemu_selftest import qtreediff as st_qtree

ROOT = Path(__file__).resolve().parents[2]

QTREE_SOURCE = """\
bus: main-system-bus
  type System
  dev: i440FX-pcihost, id ""
    x-pci-hole64-fix = false
    bus: pci.0
      type PCI
      dev: virtio-net-pci, id ""
        romfile = "pxe-virtio.rom"
        disable-legacy = "auto"
        class Ethernet controller, addr 00:03.0, pci id 1af4:1000 (sub 1af4:0001)
        bar 0: i/o at 0xffffffffffffffff [0x1e]
        bus: virtio-bus
          type virtio-pci-bus
          dev: virtio-net-device, id ""
            mq = false
      dev: e1000, id "nic1"
        romfile = "pxe-e1000.rom"
      dev: virtio-net-pci, id ""
        romfile = "pxe-virtio.rom"
"""



def test_parse_qtree_keys_devices_by_type_and_order() -> None:
    props = st_qtree.parse_qtree(QTREE_SOURCE)
    assert set(props) == {"i440FX-pcihost#0", "virtio-net-pci#0", "virtio-net-device#0",
                          "e1000#0", "virtio-net-pci#1"}
    assert props["virtio-net-pci#0"] == {"romfile": '"pxe-virtio.rom"',
                                         "disable-legacy": '"auto"'}
    assert props["virtio-net-device#0"] == {"mq": "false"}
    assert props["i440FX-pcihost#0"] == {"x-pci-hole64-fix": "false"}


def test_diff_reports_changed_values_and_missing_devices_only() -> None:
    source = st_qtree.parse_qtree(QTREE_SOURCE)
    changed = QTREE_SOURCE.replace('"pxe-e1000.rom"', '"efi-e1000.rom"').replace(
        "      dev: virtio-net-pci, id \"\"\n        romfile = \"pxe-virtio.rom\"\n", "", 1)
    target = st_qtree.parse_qtree(changed + "      dev: extra, id \"\"\n        new = 1\n")
    target["e1000#0"]["only-in-6.2"] = "on"  # a property one side lacks is not compared
    texts = [d.text() for d in st_qtree.diff_props(source, target)]
    assert 'e1000#0.romfile: "pxe-e1000.rom" != "efi-e1000.rom"' in texts
    assert "extra#0: None != present" in texts
    assert not any("only-in-6.2" in t for t in texts)


def test_identical_trees_have_no_difference() -> None:
    props = st_qtree.parse_qtree(QTREE_SOURCE)
    assert st_qtree.diff_props(props, st_qtree.parse_qtree(QTREE_SOURCE)) == []


def test_allow_list_filters_by_device_property_and_machine(tmp_path: Path) -> None:
    allow = tmp_path / "allow.yaml"
    allow.write_text("allowed:\n"
                     "  - {device: 'cpu#*', property: 'model-id', reason: 'text only'}\n"
                     "  - {device: 'e1000#*', property: romfile, machine: 'pc-q35-*',\n"
                     "     reason: 'q35 only'}\n")
    allowed = st_qtree.load_allow_list(allow)
    diffs = [st_qtree.Difference("cpu#0", "model-id", "a", "b"),
             st_qtree.Difference("e1000#0", "romfile", "a", "b"),
             st_qtree.Difference("cpu#0", "popcnt", "false", "true")]
    left = st_qtree.unexplained(diffs, allowed, "pc-i440fx-rhel7.1.0")
    assert [(d.device, d.prop) for d in left] == [("e1000#0", "romfile"), ("cpu#0", "popcnt")]
    left = st_qtree.unexplained(diffs, allowed, "pc-q35-rhel7.3.0")
    assert [(d.device, d.prop) for d in left] == [("cpu#0", "popcnt")]


def test_allow_list_entry_without_reason_is_bad_input(tmp_path: Path) -> None:
    allow = tmp_path / "allow.yaml"
    allow.write_text("allowed:\n  - {device: 'cpu#0', property: x}\n")
    with pytest.raises(InputError) as err:
        st_qtree.load_allow_list(allow)
    assert err.value.line == 2 and "reason" in str(err.value)


def test_cpu_props_become_a_cpu_pseudo_device() -> None:
    props = st_qtree.cpu_props_as_qtree({"popcnt": True, "model": 6, "vendor": "AuthenticAMD"})
    assert props == {"cpu#0": {"popcnt": "true", "model": "6", "vendor": "AuthenticAMD"}}


def test_shipped_data_files_load() -> None:
    st_qtree.load_allow_list(ROOT / "patches/qemu" / st_grid.ALLOW_LIST_FILE)
    for entry in st_grid.load_unsupported(ROOT / "patches/qemu" / st_grid.UNSUPPORTED_FILE):
        assert entry.reason.strip()


def _rows() -> list[st_grid.GridRow]:
    declared = [st_grid.Unsupported("pc-i440fx-rhel7.0.0", "nic-*", "6.2->2.12", "*",
                                    "no way back")]
    return [
        st_grid.classify("pc-i440fx-rhel7.0.0", "libvirt", "tcg", "2.12->6.2", "", declared),
        st_grid.classify("pc-i440fx-rhel7.0.0", "nic-rtl8139", "tcg", "6.2->2.12",
                         "load in 2.12: version 5", declared),
        st_grid.classify("pc-i440fx-rhel7.0.0", "nic-rtl8139", "kvm", "2.12->6.2",
                         "load in 6.2: bad", declared),
        st_grid.GridRow("pc-q35-rhel7.6.0", "q35-root-ports", "kvm", "6.2->2.12",
                        st_grid.SKIP, "/dev/kvm not usable"),
    ]


def test_classify_marks_declared_failures_unsupported_only_in_their_direction() -> None:
    rows = _rows()
    assert [r.status for r in rows] == ["pass", "unsupported", "FAIL", "skip"]
    assert "[declared: no way back]" in rows[1].detail
    assert st_grid.grid_failed(rows)
    assert not st_grid.grid_failed(rows[:2])


def test_format_grid_one_aligned_row_per_pair_and_counts() -> None:
    lines = st_grid.format_grid(_rows())
    assert lines[0].split() == ["machine", "device-set", "accel", "direction", "result"]
    assert len(lines) == 1 + 4 + 4 + 1  # header, rows, 4 accel x direction groups, total
    assert lines[1].split() == ["pc-i440fx-rhel7.0.0", "libvirt", "tcg", "2.12->6.2", "pass"]
    assert lines[3].endswith("load in 6.2: bad")
    assert lines[1].index("tcg") == lines[3].index("kvm")
    assert "kvm 2.12->6.2: 0 pass, 1 FAIL, 0 unsupported, 0 skip" in lines
    assert lines[-1] == "all: 1 pass, 1 FAIL, 1 unsupported, 1 skip"
    assert st_grid.format_grid([]) == []


def test_rows_survive_the_round_trip_through_results() -> None:
    rows = _rows()
    results = [st_grid.row_result(r) for r in rows]
    assert [r.passed for r in results] == [True, True, False, True]
    assert results[3].skipped
    assert st_grid.rows_from_results(results) == rows


def test_unsupported_file_rejects_unknown_direction(tmp_path: Path) -> None:
    path = tmp_path / "u.yaml"
    path.write_text("unsupported:\n  - {machine: '*', device_set: '*', direction: back,\n"
                    "     accel: '*', reason: r}\n")
    with pytest.raises(InputError) as err:
        st_grid.load_unsupported(path)
    assert "direction" in str(err.value)


def test_device_sets_filtered_by_machine_and_available_devices(tmp_path: Path) -> None:
    sets = {s.name: s for s in st_devsets.all_sets()}
    everything = frozenset(d for s in sets.values() for d in s.needs)
    assert sets["libvirt"].runs_on("pc-i440fx-rhel7.0.0", everything)
    assert not sets["q35-root-ports"].runs_on("pc-i440fx-rhel7.6.0", everything)
    assert sets["q35-root-ports"].runs_on("pc-q35-rhel7.6.0", everything)
    assert not sets["nic-e1000e"].runs_on("pc-q35-rhel7.6.0", everything - {"e1000e"})
    args = sets["libvirt"].args(tmp_path, "pair")
    assert "virtio-net-pci,netdev=net0" in args and (tmp_path / "vda.raw").stat().st_size
    assert [s.name for s in st_devsets.select_sets("libvirt,nic-e1000*")] == [
        "libvirt", "nic-e1000", "nic-e1000e"]


def test_parse_device_help_and_accels() -> None:
    text = 'Network devices:\nname "e1000", bus PCI, alias "e1000-82540em"\nname "rtl8139", ' \
           'bus PCI\n'
    assert st_devsets.parse_device_help(text) == {"e1000", "rtl8139"}
    assert st_devices.parse_accels(None) == ["tcg", "kvm"]
    assert st_devices.parse_accels("kvm, bogus") == ["kvm"]


def test_numbers_compare_without_their_gloss() -> None:
    old = st_qtree.parse_qtree('  dev: scsi-hd, id ""\n    logical_block_size = 512 (0x200)\n')
    new = st_qtree.parse_qtree('  dev: scsi-hd, id ""\n    logical_block_size = 512 (512 B)\n')
    assert st_qtree.diff_props(old, new) == []
    big = st_qtree.parse_qtree('  dev: scsi-hd, id ""\n    logical_block_size = 4096 (4 KiB)\n')
    assert [d.text() for d in st_qtree.diff_props(old, big)] == [
        "scsi-hd#0.logical_block_size: 512 != 4096"]


def test_grid_firmware_links_every_file_and_the_e1000e_stand_in(tmp_path: Path) -> None:
    pc_bios = tmp_path / "pc-bios"
    pc_bios.mkdir()
    (pc_bios / "pxe-e1000.rom").write_bytes(b"rom")
    (pc_bios / "bios-256k.bin").write_bytes(b"bios")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    fw = st_devices.grid_firmware(pc_bios, scratch)
    assert sorted(p.name for p in fw.iterdir()) == ["bios-256k.bin", "pxe-e1000.rom",
                                                    "pxe-e1000e.rom"]
    assert (fw / "pxe-e1000e.rom").read_bytes() == b"rom"
    assert st_devices.grid_firmware(pc_bios, scratch) == fw  # idempotent


def test_cli_grid_options_default_to_the_files_next_to_the_series(tmp_path: Path) -> None:
    from pipeline.patches.qemu_selftest import run as st_run
    series = tmp_path / "patches" / "0001-x.patch"
    args = st_run.parse_args(["--tree", "t", "--series", str(series), "--workdir", "w",
                              "--device-sets", "libvirt", "--accels", "tcg"])
    opts = st_run.grid_options(args)
    assert opts.device_sets == "libvirt" and opts.accels == "tcg"
    assert opts.allow_list == series.parent / st_grid.ALLOW_LIST_FILE
    assert opts.unsupported == series.parent / st_grid.UNSUPPORTED_FILE
    assert st_run.legacy_common([]) == []


def test_a_grid_that_runs_nothing_fails(tmp_path: Path) -> None:
    data = ROOT / "patches/qemu"
    opts = st_devices.GridOptions("no-such-set", "tcg", data / st_grid.ALLOW_LIST_FILE,
                                  data / st_grid.UNSUPPORTED_FILE)
    fw = tmp_path / "fw"
    fw.mkdir()
    fake = tmp_path / "qemu"
    fake.write_text("#!/bin/sh\necho 'name \"e1000\", bus PCI'\n")
    fake.chmod(0o755)
    results = st_devices.check_devices(fake, fw, tmp_path, fake, ["pc-i440fx-rhel7.6.0"], opts)
    assert [(r.name, r.passed) for r in results] == [("device-grid", False)]
    skipped = st_devices.check_devices(fake, fw, tmp_path, None, [], opts)
    assert skipped[0].skipped
