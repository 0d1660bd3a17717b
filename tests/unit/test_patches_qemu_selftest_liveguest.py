"""Pure parts of the QEMU self-test's live Linux guest: the initramfs writer, module order, what
the serial log and the packets say, the verdict (no QEMU, no Debian package needed)."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.core.errors import CommandFailed
from pipeline.patches.qemu_selftest import grid as st_grid
from pipeline.patches.qemu_selftest import liveguest as lg
from pipeline.patches.qemu_selftest import run as st_run
from pipeline.patches.qemu_selftest.legacy import Side


def read_newc(data: bytes) -> list[tuple[str, int, bytes]]:
    """An independent reader of cpio newc archives (the kernel's format)."""
    entries, pos = [], 0
    while True:
        assert data[pos:pos + 6] == b"070701"
        fields = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        pos += 110
        name = data[pos:pos + namesize - 1].decode()
        assert data[pos + namesize - 1] == 0
        pos = (pos + namesize + 3) // 4 * 4
        body = data[pos:pos + size]
        pos = (pos + size + 3) // 4 * 4
        if name == "TRAILER!!!":
            assert pos == len(data)
            return entries
        entries.append((name, mode, body))


def test_cpio_newc_round_trips_names_modes_and_odd_sizes() -> None:
    entries = [("bin", 0o040755, b""), ("bin/busybox", 0o100755, b"\x7fELF" + b"x" * 3),
               ("init", 0o100755, b"#!/bin/sh\n"), ("lib/modules/a.ko", 0o100644, b"12345")]
    assert read_newc(lg.cpio_newc(entries)) == entries


@pytest.mark.skipif(shutil.which("cpio") is None, reason="cpio not installed")
def test_cpio_newc_is_read_by_gnu_cpio(tmp_path: Path) -> None:
    archive = lg.cpio_newc([("d", 0o040755, b""), ("d/f", 0o100644, b"abc")])
    listing = subprocess.run(["cpio", "-t"], input=archive, capture_output=True, check=True)
    assert listing.stdout.decode().split() == ["d", "d/f"]


def test_module_depends_reads_modinfo() -> None:
    ko = b"\x7fELF...\0license=GPL\0depends=virtio_ring,virtio,net_failover\0name=virtio_net\0"
    assert lg.module_depends(ko) == ["virtio_ring", "virtio", "net_failover"]
    assert lg.module_depends(b"\0depends=\0name=virtio\0") == []
    assert lg.module_depends(b"no modinfo") == []


def test_module_order_puts_every_dependency_first_once() -> None:
    deps = {"virtio": [], "virtio_ring": ["virtio"], "failover": [],
            "net_failover": ["failover"], "virtio_net": ["virtio_ring", "virtio", "net_failover"],
            "virtio_pci": ["virtio_ring", "virtio"], "virtio_blk": ["virtio_ring", "virtio"]}
    order = lg.module_order(deps, ["virtio_pci", "virtio_blk", "virtio_net"])
    assert order == ["virtio", "virtio_ring", "virtio_pci", "virtio_blk", "failover",
                     "net_failover", "virtio_net"]
    for name in order:
        assert all(order.index(dep) < order.index(name) for dep in deps[name])


def test_module_order_rejects_missing_and_circular_modules() -> None:
    with pytest.raises(ValueError, match="e1000e: not in the kernel package"):
        lg.module_order({"virtio": []}, ["e1000e"])
    with pytest.raises(ValueError, match="circular"):
        lg.module_order({"a": ["b"], "b": ["a"]}, ["a"])


def test_module_files_index_by_name(tmp_path: Path) -> None:
    (tmp_path / "kernel" / "net").mkdir(parents=True)
    (tmp_path / "kernel" / "net" / "net-failover.ko").write_bytes(b"")
    assert lg.module_files(tmp_path) == {
        "net_failover": tmp_path / "kernel" / "net" / "net-failover.ko"}


SERIAL = """LG-HB 1
LG-HB 2
GUEST-ERROR reread 3: 'LG-DATA 00000001'
LG-HB 3
junk LG-HB 9
"""


def test_serial_log_heartbeats_and_errors() -> None:
    assert lg.heartbeats(SERIAL) == [1, 2, 3]  # a heartbeat is a whole line
    assert lg.guest_errors(SERIAL) == ["GUEST-ERROR reread 3: 'LG-DATA 00000001'"]
    assert lg.guest_errors("LG-HB 1\n") == []


def test_packet_counters_from_raw_frames() -> None:
    frame = b"\x52\x54\x00\x12\x34\x99" + b"\0" * 36 + b"\0\x02LG-PKT-17\0octet\0"
    assert lg.packet_counters([frame, b"\x33\x33 ipv6 router solicitation"]) == [17]


def test_init_script_is_valid_shell(tmp_path: Path) -> None:
    script = tmp_path / "init"
    script.write_text(lg.INIT_SCRIPT)
    subprocess.run(["sh", "-n", str(script)], check=True)
    assert "oflag=direct" in lg.INIT_SCRIPT and "iflag=direct" in lg.INIT_SCRIPT


GOOD = lg.Observed(beats_before=6, beats_after=24, packets_before=6, packets_after=24,
                   migrate_seconds=0.4, status="running")


def observed(**changes: object) -> lg.Observed:
    seen = lg.Observed(**{**GOOD.__dict__, **changes})  # type: ignore[arg-type]
    return seen


def test_judge_passes_a_guest_that_carried_on() -> None:
    assert lg.judge(GOOD) == ""
    assert GOOD.text() == "heartbeats 6->24, packets 6->24, migrate 0.4s, dst running"


@pytest.mark.parametrize(("change", "problem"), [
    ({"status": "paused"}, "destination status paused"),
    ({"status": ""}, "destination status unknown"),
    ({"beats_after": 6}, "no new heartbeat"),
    ({"beats_after": 0}, "no new heartbeat"),
    ({"packets_after": 6}, "no new packet"),
    ({"errors": ("GUEST-ERROR read 9: ''",)}, "guest reported errors"),
])
def test_judge_fails_each_broken_case(change: dict[str, object], problem: str) -> None:
    assert problem in lg.judge(observed(**change))


def config(tmp_path: Path, declared: list[st_grid.Unsupported]) -> lg.LiveConfig:
    image = lg.GuestImage(tmp_path / "vmlinuz", tmp_path / "initrd")
    return lg.LiveConfig(image, tmp_path, tmp_path, declared)


def fake_migration(seen_values: lg.Observed, failure: str = ""):  # type: ignore[no-untyped-def]
    def migrate(_cfg: object, _src: object, _dst: object, _machine: str,
                seen: lg.Observed) -> str:
        seen.__dict__.update(seen_values.__dict__)
        return failure
    return migrate


OLD, NEW = Side("2.12", Path("/old")), Side("6.2", Path("/new"))


def test_live_row_pass_and_its_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lg, "migrate_live", fake_migration(GOOD))
    row = lg.live_row(config(tmp_path, []), OLD, NEW, "pc-q35-rhel7.6.0")
    assert (row.machine, row.device_set, row.accel, row.direction, row.status) == (
        "pc-q35-rhel7.6.0", "live-linux", "tcg", "2.12->6.2", "pass")
    result = lg.live_result(row)
    assert result.name == "live-guest:pc-q35-rhel7.6.0:2.12->6.2" and result.passed
    assert "heartbeats 6->24" in result.detail
    skipped = lg.SelftestResult("live-guest", True, "no --legacy-qemu", skipped=True)
    assert lg.format_observed([result, skipped]) == [
        "observed live-guest:pc-q35-rhel7.6.0:2.12->6.2: pass: " + GOOD.text()]


def test_live_row_fails_and_can_be_declared(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lg, "migrate_live", fake_migration(observed(beats_after=0),
                                                           "migrate: failed"))
    row = lg.live_row(config(tmp_path, []), NEW, OLD, "pc-i440fx-rhel7.0.0")
    assert row.status == st_grid.FAIL and "migrate: failed" in row.detail
    assert not lg.live_result(row).passed
    declared = [st_grid.Unsupported("pc-i440fx-rhel7.0.0", "live-linux", "6.2->2.12", "tcg",
                                    "no way back")]
    row = lg.live_row(config(tmp_path, declared), NEW, OLD, "pc-i440fx-rhel7.0.0")
    assert row.status == st_grid.UNSUPPORTED and "no way back" in row.detail
    assert lg.live_result(row).passed


def test_check_live_guest_skips_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    unsupported = tmp_path / "u.yaml"
    unsupported.write_text("unsupported: []\n")
    args = (tmp_path / "qemu", tmp_path, tmp_path)
    [skip] = lg.check_live_guest(*args, None, ["pc-q35-rhel7.6.0"], unsupported, tmp_path)
    assert skip.skipped and "no --legacy-qemu" in skip.detail

    def no_download(_cache: Path) -> lg.GuestImage:
        raise CommandFailed(["apt-get", "download", "busybox-static"], 100, "E: no network")
    monkeypatch.setattr(lg, "build_image", no_download)
    [skip] = lg.check_live_guest(*args, tmp_path / "legacy", ["pc-q35-rhel7.6.0"],
                                 unsupported, tmp_path)
    assert skip.skipped and skip.detail.startswith("no guest image from Debian packages")


def test_build_image_reuses_a_cached_guest(tmp_path: Path) -> None:
    (tmp_path / "vmlinuz").write_bytes(b"k")
    (tmp_path / "initrd.cpio.gz").write_bytes(gzip.compress(b""))
    image = lg.build_image(tmp_path)  # no apt-get call: it would fail in CI
    assert image.kernel == tmp_path / "vmlinuz"


def test_main_binary_mode_rejects_a_missing_binary(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patch = tmp_path / "0001.patch"
    patch.write_text("")
    code = st_run.main(["--binary", str(tmp_path / "nope"), "--series", str(patch),
                        "--workdir", str(tmp_path / "work"), "--live-guest"])
    assert code == 2
    assert "--binary: not an executable file" in capsys.readouterr().err
    assert not (tmp_path / "work").exists()


def test_main_wants_a_tree_or_a_binary(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        st_run.parse_args(["--series", "p", "--workdir", str(tmp_path)])
    assert exc.value.code == 2


def test_run_selftest_adds_the_live_group_only_when_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The full run hands the live group the types the legacy loads found and the unsupported
    file next to the series; without --live-guest nothing of it runs."""
    build = st_run.QemuBuild(tmp_path / "src", tmp_path / "build", tmp_path / "logs")
    legacy = tmp_path / "qemu-kvm"
    legacy.write_text("")
    legacy.chmod(0o755)
    seen: list[tuple[object, ...]] = []
    monkeypatch.setattr(st_run, "check_tools", lambda: None)
    monkeypatch.setattr(st_run, "prepare_tree", lambda *_a: build)
    monkeypatch.setattr(st_run, "build_qemu", lambda _b: None)
    monkeypatch.setattr(st_run, "run_checks", lambda *_a: [
        lg.SelftestResult("legacy-load:pc-q35-rhel7.6.0", True, "")])
    monkeypatch.setattr(st_run, "check_devices", lambda *_a: [])
    monkeypatch.setattr(st_run, "check_live_guest", lambda *a: seen.append(a) or [
        lg.SelftestResult("live-guest:pc-q35-rhel7.6.0:2.12->6.2", True, "pass")])
    series = [tmp_path / "patches" / "0001.patch"]
    tree = tmp_path / "tree"
    tree.mkdir()
    results = st_run.run_selftest(tree, series, tmp_path / "work", legacy_qemu=legacy)
    assert not seen and [r.name for r in results][-1] == "legacy-load:pc-q35-rhel7.6.0"
    results = st_run.run_selftest(tree, series, tmp_path / "work", legacy_qemu=legacy,
                                  live_guest=True)
    assert results[-1].name == "live-guest:pc-q35-rhel7.6.0:2.12->6.2"
    [args] = seen
    assert args[0] == build.binary and args[3] == legacy
    assert args[4] == ["pc-q35-rhel7.6.0"]
    assert args[5] == tmp_path / "patches" / "unsupported-migrations.yaml"
