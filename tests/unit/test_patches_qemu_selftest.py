"""Pure helpers of pipeline.patches.qemu_selftest (no QEMU, no compiler needed)."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import threading
from pathlib import Path

import pytest

from pipeline.patches.qemu_selftest import legacy as st_legacy
from pipeline.patches.qemu_selftest import results as st_results
from pipeline.patches.qemu_selftest import run as st_run
from pipeline.patches.qemu_selftest import tree as st_tree
from pipeline.patches.qemu_selftest import vhost_user as st_vhost_user

MACHINE_HELP = """\
Supported machines are:
microvm              microvm (i386)
pc-i440fx-rhel7.6.0  RHEL 7.6.0 PC (i440FX + PIIX, 1996)
pc-i440fx-rhel7.0.0  RHEL 7.0.0 PC (i440FX + PIIX, 1996)
pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-6.2)
pc-i440fx-6.2        Standard PC (i440FX + PIIX, 1996) (default)
pc-q35-rhel7.3.0     RHEL 7.3.0 PC (Q35 + ICH9, 2009)
q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-6.2)
pc-q35-6.2           Standard PC (Q35 + ICH9, 2009)
isapc                ISA-only PC
none                 empty machine
"""

# Shape of `info qtree` from QEMU 6.2 (trimmed).
QTREE = """\
bus: main-system-bus
  type System
  dev: hpet, id ""
    gpio-in "" 2
    timers = 3 (0x3)
  dev: i440FX-pcihost, id ""
    bus: pci.0
      type PCI
      dev: PIIX3, id ""
        bus: isa.0
          type ISA
          dev: i8042, id ""
            gpio-out "a20" 1
            extended-state = false
            kbd-throttle = false
            isa irqs 1,12
          dev: mc146818rtc, id ""
            extended-state = true
"""


def test_parse_machine_help_names_defaults_and_aliases() -> None:
    machines = st_results.parse_machine_help(MACHINE_HELP)
    assert "Supported" not in " ".join(machines)
    assert machines["pc-i440fx-rhel7.6.0"] == "RHEL 7.6.0 PC (i440FX + PIIX, 1996)"
    assert st_results.default_machine(machines) == "pc-i440fx-6.2"
    assert st_results.alias_target(machines, "pc") == "pc-i440fx-6.2"
    assert st_results.alias_target(machines, "q35") == "pc-q35-6.2"
    assert st_results.alias_target(machines, "pc-q35-rhel7.3.0") is None


def test_rhel7_machine_list_is_the_legacy_one() -> None:
    assert st_results.RHEL7_MACHINES[0] == "pc-i440fx-rhel7.0.0"
    assert st_results.RHEL7_MACHINES[6] == "pc-i440fx-rhel7.6.0"
    assert [m for m in st_results.RHEL7_MACHINES if "q35" in m] == [
        f"pc-q35-rhel7.{n}.0" for n in (3, 4, 5, 6)]


def test_qtree_property_reads_the_named_device_only() -> None:
    assert st_results.qtree_property(QTREE, "i8042", "extended-state") == "false"
    assert st_results.qtree_property(QTREE, "mc146818rtc", "extended-state") == "true"
    assert st_results.qtree_property(QTREE, "i8042", "no-such-prop") is None
    assert st_results.qtree_property(QTREE, "virtio-net-pci", "extended-state") is None
    assert st_results.qtree_has_device(QTREE, "hpet")
    assert not st_results.qtree_has_device(QTREE, "hpet-x")


def test_qtree_property_does_not_leak_into_a_sibling_device() -> None:
    text = ("  dev: i8042, id \"\"\n    kbd-throttle = false\n"
            "  dev: other\n    extended-state = true\n")
    assert st_results.qtree_property(text, "i8042", "extended-state") is None


def test_find_fix_patch_and_stamp(tmp_path: Path) -> None:
    a = tmp_path / "0001-vhost-user-reconnect.patch"
    b = tmp_path / "0002-chardev-char-socket-never-arm-reconnect-on-a-listeni.patch"
    a.write_text("a")
    b.write_text("b")
    assert st_results.find_fix_patch([a, b]) == b
    assert st_results.find_fix_patch([a]) is None
    before = st_results.series_stamp([a, b])
    assert st_results.series_stamp([b, a]) != before
    b.write_text("b2")
    assert st_results.series_stamp([a, b]) != before


def test_format_results_and_exit_code() -> None:
    ok = st_results.SelftestResult("start-paused:pc-q35-rhel7.6.0", True, "fine")
    bad = st_results.SelftestResult("save-restore:pc-i440fx-rhel7.0.0", False, "incoming: failed")
    assert st_results.format_results([ok, bad]) == [
        "PASS start-paused:pc-q35-rhel7.6.0",
        "FAIL save-restore:pc-i440fx-rhel7.0.0: incoming: failed",
    ]
    assert st_results.exit_code([ok]) == 0
    assert st_results.exit_code([ok, bad]) == 1
    assert st_results.exit_code([]) == 1


def test_vhost_user_reply() -> None:
    reply = st_vhost_user.vhost_user_reply(1, b"")
    assert reply == struct.pack("<IIIQ", 1, 0x5, 8, 0)
    state = struct.pack("<II", 1, 42)
    assert st_vhost_user.vhost_user_reply(11, state) == struct.pack("<III", 11, 0x5, 8) + state
    assert st_vhost_user.vhost_user_reply(3, b"") is None  # SET_OWNER has no reply


def _fake_qemu(server: socket.socket, seen: dict[str, bytes]) -> None:
    conn, _ = server.accept()
    with conn:
        conn.sendall(struct.pack("<III", 1, 0x1, 0))  # GET_FEATURES
        seen["features"] = conn.recv(20)
        conn.sendall(struct.pack("<III", 3, 0x1, 0))  # SET_OWNER
        read_end, write_end = os.pipe()
        payload = struct.pack("<Q", 0)
        conn.sendmsg([struct.pack("<III", 13, 0x1, len(payload)) + payload],
                     [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("<i", read_end))])
        os.close(read_end)
        os.close(write_end)
        seen["eof"] = conn.recv(1)  # the peer closes after its idle time


def test_vhost_user_session_answers_and_disconnects(tmp_path: Path) -> None:
    path = tmp_path / "vu.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(os.fspath(path))
    server.listen(1)
    seen: dict[str, bytes] = {}
    thread = threading.Thread(target=_fake_qemu, args=(server, seen))
    thread.start()
    count = st_vhost_user.serve_vhost_user_session(path, idle=0.3, wait=5.0)
    thread.join(timeout=10)
    server.close()
    assert count == 3
    assert seen["features"] == struct.pack("<IIIQ", 1, 0x5, 8, 0)
    assert seen["eof"] == b""


def test_reconnect_outcome_aborted() -> None:
    assert st_vhost_user.ReconnectOutcome(-6, (5,), "").aborted
    assert st_vhost_user.ReconnectOutcome(None, (5,), "Assertion `s->state == ...' failed").aborted
    assert not st_vhost_user.ReconnectOutcome(None, (5, 5, 5), "").aborted


def test_main_exits_3_when_a_build_tool_is_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(shutil, "which", lambda _tool: None)
    patch = tmp_path / "0001.patch"
    patch.write_text("")
    code = st_run.main(["--tree", str(tmp_path / "tree"), "--series", str(patch),
                    "--workdir", str(tmp_path / "work")])
    assert code == 3
    assert "required tool not found: gcc" in capsys.readouterr().err
    assert not (tmp_path / "work").exists()


# Shape of `qemu-system-x86_64 -machine help` from qemu-kvm-ev 2.12 (trimmed).
LEGACY_MACHINE_HELP = """\
Supported machines are:
pc                   RHEL 7.6.0 PC (i440FX + PIIX, 1996) (alias of pc-i440fx-rhel7.6.0)
pc-i440fx-rhel7.6.0  RHEL 7.6.0 PC (i440FX + PIIX, 1996) (default)
pc-i440fx-rhel7.0.0  RHEL 7.0.0 PC (i440FX + PIIX, 1996)
rhel6.6.0            RHEL 6.6.0 PC
q35                  RHEL-7.6.0 PC (Q35 + ICH9, 2009) (alias of pc-q35-rhel7.6.0)
pc-q35-rhel7.6.0     RHEL-7.6.0 PC (Q35 + ICH9, 2009)
pc-q35-rhel7.3.0     RHEL-7.3.0 PC (Q35 + ICH9, 2009)
none                 empty machine
"""


def test_common_machines_are_rhel7_types_listed_by_both_in_order() -> None:
    ours = st_results.parse_machine_help(MACHINE_HELP)
    legacy = st_results.parse_machine_help(LEGACY_MACHINE_HELP)
    assert st_results.default_machine(legacy) == "pc-i440fx-rhel7.6.0"
    # pc-q35-rhel7.6.0 is only in the legacy list, rhel6.6.0 and none are no RHEL 7 types
    assert st_results.common_machines(ours, legacy) == [
        "pc-i440fx-rhel7.0.0", "pc-i440fx-rhel7.6.0", "pc-q35-rhel7.3.0"]
    assert st_results.common_machines(ours, {}) == []


def test_incoming_loaded_wants_the_saved_prelaunch_state() -> None:
    assert st_results.incoming_loaded({"status": "prelaunch", "running": False})
    # no globalstate section was read: the loader stopped before the end of the stream
    assert not st_results.incoming_loaded({"status": "paused", "running": False})
    assert not st_results.incoming_loaded({"status": "inmigrate", "running": False})
    assert not st_results.incoming_loaded({"status": "running", "running": True})
    assert not st_results.incoming_loaded({})


def test_skipped_result_prints_skip_and_does_not_fail() -> None:
    ok = st_results.SelftestResult("legacy-load:pc-i440fx-rhel7.6.0", True, "loaded")
    skip = st_results.SelftestResult("legacy-migration", True, "no --legacy-qemu given",
                                     skipped=True)
    assert st_results.format_results([ok, skip]) == [
        "PASS legacy-load:pc-i440fx-rhel7.6.0",
        "SKIP legacy-migration: no --legacy-qemu given",
    ]
    assert st_results.exit_code([ok, skip]) == 0


def test_check_legacy_without_a_binary_is_one_skipped_line(tmp_path: Path) -> None:
    build = st_tree.QemuBuild(tmp_path / "src", tmp_path / "build", tmp_path / "logs")
    results = st_legacy.check_legacy(build, tmp_path, None)
    assert [(r.name, r.passed, r.skipped) for r in results] == [
        (st_results.LEGACY_SKIPPED, True, True)]
    assert not (tmp_path / "build").exists()  # nothing was started


def test_main_rejects_a_legacy_qemu_that_is_not_executable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(shutil, "which", lambda tool: f"/usr/bin/{tool}")
    patch = tmp_path / "0001.patch"
    patch.write_text("")
    legacy = tmp_path / "qemu-kvm"
    legacy.write_text("")  # not executable
    code = st_run.main(["--tree", str(tmp_path / "tree"), "--series", str(patch),
                    "--workdir", str(tmp_path / "work"), "--legacy-qemu", str(legacy)])
    assert code == 2
    assert "--legacy-qemu: not an executable file" in capsys.readouterr().err
    assert not (tmp_path / "work").exists()


def test_failure_detail_quotes_stderr_once() -> None:
    tail = "qemu: Configuration section missing"
    exc = RuntimeError(f"QEMU exited 1: {tail}")
    assert st_results.failure_detail("load in 2.12", exc, tail) == (
        "load in 2.12: QEMU exited 1: qemu: Configuration section missing")
    assert st_results.failure_detail("save in 6.2", OSError("refused"), tail) == (
        "save in 6.2: refused; qemu: Configuration section missing")
