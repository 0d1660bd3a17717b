"""Cross-version checks against a qemu-kvm-ev 2.12 build: save a paused guest in one QEMU, load it
in the other.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.cmd import run
from pipeline.core.errors import CommandFailed
from pipeline.patches.qemu_selftest.qemu import qemu_process, wait_incoming, wait_migration
from pipeline.patches.qemu_selftest.results import (
    LEGACY_SKIPPED,
    RHEL7_MACHINES,
    SAVED_RUNSTATE,
    SelftestResult,
    common_machines,
    failure_detail,
    incoming_loaded,
    parse_machine_help,
)
from pipeline.patches.qemu_selftest.tree import QemuBuild


@dataclass(frozen=True)
class Side:
    """One QEMU of a cross-version test: a label for messages and its binary."""

    label: str
    binary: Path


def save_paused(side: Side, firmware: Path, scratch: Path, name: str, machine: str,
                state: Path) -> str:
    """Start ``machine`` paused in ``side`` and save it to ``state``; '' or what failed."""
    state.unlink(missing_ok=True)
    with qemu_process(side.binary, firmware, scratch, name,
                      ["-S", "-machine", machine]) as qemu:
        try:
            qmp = qemu.connect()
            qmp.execute("migrate", uri=f"exec:cat > {state}")
            migrated = wait_migration(qmp)
            qmp.close()
        except (OSError, RuntimeError, ValueError) as exc:
            return failure_detail(f"save in {side.label}", exc, qemu.stderr_tail())
    if migrated != "completed":
        return f"save in {side.label}: migrate to file: {migrated}; {qemu.stderr_tail()}"
    return ""


def load_paused(side: Side, firmware: Path, scratch: Path, name: str, machine: str,
                state: Path) -> tuple[bool, str]:
    """Load ``state`` into ``side`` started paused with ``-incoming``; (loaded, detail)."""
    args = ["-S", "-machine", machine, "-incoming", f"exec:cat {state}"]
    with qemu_process(side.binary, firmware, scratch, name, args) as qemu:
        try:
            qmp = qemu.connect()
            status = wait_incoming(qmp)
            qmp.close()
        except (OSError, RuntimeError, ValueError) as exc:
            time.sleep(0.2)  # let the error text reach the log
            return False, failure_detail(f"load in {side.label}", exc, qemu.stderr_tail())
        alive = qemu.proc.poll() is None
        tail = qemu.stderr_tail()
    loaded = alive and incoming_loaded(status)
    return loaded, (f"load in {side.label}: query-status {status} ({SAVED_RUNSTATE} "
                    f"expected), process alive: {alive}; {tail}")


def cross_load(source: Side, target: Side, firmware: Path, scratch: Path, name: str,
               machine: str) -> SelftestResult:
    """Save a paused ``machine`` guest in ``source`` and load it in ``target``."""
    state = scratch / f"{name}-{machine}.state"
    failed = save_paused(source, firmware, scratch, f"{name}-src-{machine}", machine, state)
    if failed:
        return SelftestResult(f"{name}:{machine}", False, failed)
    loaded, detail = load_paused(target, firmware, scratch, f"{name}-dst-{machine}", machine,
                                 state)
    state.unlink(missing_ok=True)
    return SelftestResult(f"{name}:{machine}", loaded, detail)


def legacy_machines(binary: Path, legacy: Path) -> tuple[list[str], SelftestResult]:
    """The machine types to test and a result saying which ones both builds offer."""
    name = "legacy-machines-common"
    try:
        ours = parse_machine_help(run([os.fspath(binary), "-machine", "help"],
                                      timeout=60).stdout)
        theirs = parse_machine_help(run([os.fspath(legacy), "-machine", "help"],
                                        timeout=60).stdout)
    except CommandFailed as exc:
        return [], SelftestResult(name, False, f"-machine help: exit {exc.returncode}")
    common = common_machines(ours, theirs)
    missing = [m for m in RHEL7_MACHINES if m not in common]
    return common, SelftestResult(name, bool(common),
                                  f"{len(common)} in both; not in both: {missing or 'none'}")


def check_legacy(build: QemuBuild, scratch: Path, legacy: Path | None) -> list[SelftestResult]:
    """2.12 -> 6.2 and 6.2 -> 2.12 save/load per common machine type (same firmware dir)."""
    if legacy is None:
        return [SelftestResult(LEGACY_SKIPPED, True, "no --legacy-qemu given: migration from "
                               "and to qemu-kvm-ev 2.12 not tested", skipped=True)]
    machines, listed = legacy_machines(build.binary, legacy)
    results = [listed]
    old, new = Side("2.12", legacy), Side("6.2", build.binary)
    for machine in machines:
        results.append(cross_load(old, new, build.firmware, scratch, "legacy-load", machine))
        results.append(cross_load(new, old, build.firmware, scratch, "legacy-reverse-load",
                                  machine))
    return results
