"""Machine-type checks on the patched build: listed, start paused, save, restore, compat state in
info qtree.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.core.cmd import run
from pipeline.patches.qemu_selftest.qemu import qemu_process, wait_migration
from pipeline.patches.qemu_selftest.results import (
    CURRENT_MACHINE,
    RHEL7_MACHINES,
    SelftestResult,
    alias_target,
    default_machine,
    parse_machine_help,
    qtree_has_device,
    qtree_property,
)
from pipeline.patches.qemu_selftest.tree import QemuBuild


def check_machine_help(build: QemuBuild) -> list[SelftestResult]:
    """Every BC-Linux 7 type is listed; the default machine and the aliases stay upstream's."""
    out = run([os.fspath(build.binary), "-machine", "help"], timeout=60).stdout
    machines = parse_machine_help(out)
    results = [SelftestResult(f"machine-listed:{m}", m in machines,
                              f"-machine help: {machines.get(m, 'not listed')}")
               for m in RHEL7_MACHINES]
    seen = (default_machine(machines), alias_target(machines, "pc"),
            alias_target(machines, "q35"))
    wanted = (CURRENT_MACHINE, CURRENT_MACHINE, "pc-q35-6.2")
    results.append(SelftestResult("default-machine-and-aliases-unchanged", seen == wanted,
                                  f"default, pc, q35 = {seen}, expected {wanted}"))
    return results


def start_and_save(build: QemuBuild, scratch: Path, machine: str,
                   state: Path) -> tuple[list[SelftestResult], str]:
    """Start ``machine`` paused, inspect it and save it to ``state``.

    Returns the results and the text of ``info qtree`` followed by ``info roms``.
    """
    state.unlink(missing_ok=True)
    with qemu_process(build.binary, build.firmware, scratch, f"src-{machine}",
                      ["-S", "-machine", machine]) as qemu:
        try:
            qmp = qemu.connect()
            status = qmp.execute("query-status")
            qtree = qmp.hmp("info qtree") + "\n" + qmp.hmp("info roms")
            qmp.execute("migrate", uri=f"exec:cat > {state}")
            migrated = wait_migration(qmp)
            qmp.close()
        except (OSError, RuntimeError, ValueError) as exc:
            return [SelftestResult(f"start-paused:{machine}", False,
                                   f"{exc}; {qemu.stderr_tail()}")], ""
    started = status.get("status") == "prelaunch" and not status.get("running")
    return [
        SelftestResult(f"start-paused:{machine}", started, f"query-status: {status}"),
        SelftestResult(f"save:{machine}", migrated == "completed",
                       f"migrate to file: {migrated}"),
    ], qtree


def restore(build: QemuBuild, scratch: Path, machine: str, state: Path) -> SelftestResult:
    """Load ``state`` into a second QEMU of the same machine type."""
    name = f"save-restore:{machine}"
    with qemu_process(build.binary, build.firmware, scratch, f"dst-{machine}",
                      ["-S", "-machine", machine, "-incoming", f"exec:cat {state}"]) as qemu:
        try:
            qmp = qemu.connect()
            migrated = wait_migration(qmp)
            status = qmp.execute("query-status")
            qmp.close()
        except (OSError, RuntimeError, ValueError) as exc:
            return SelftestResult(name, False, f"{exc}; {qemu.stderr_tail()}")
    loaded = migrated == "completed" and status.get("status") in ("prelaunch", "paused")
    return SelftestResult(name, loaded, f"incoming: {migrated}, status: {status}; "
                          f"{qemu.stderr_tail()}")


def check_machine(build: QemuBuild, scratch: Path, machine: str) -> list[SelftestResult]:
    """Start, save, restore and inspect one machine type."""
    state = scratch / f"{machine}.state"
    results, qtree = start_and_save(build, scratch, machine, state)
    if all(r.passed for r in results):
        results.append(restore(build, scratch, machine, state))
    if not qtree:
        return results
    want = "true" if machine == CURRENT_MACHINE else "false"
    seen = qtree_property(qtree, "i8042", "extended-state")
    results.append(SelftestResult(f"i8042-extended-state:{machine}", seen == want,
                                  f"extended-state = {seen}, expected {want}"))
    if machine != CURRENT_MACHINE:
        has_hpet = qtree_has_device(qtree, "hpet")
        results.append(SelftestResult(f"no-hpet-by-default:{machine}", not has_hpet,
                                      f"hpet device in info qtree: {has_hpet}"))
        bios = "bios-256k.bin" in qtree
        results.append(SelftestResult(f"firmware-bios-256k:{machine}", bios,
                                      f"bios-256k.bin in info roms: {bios}"))
    state.unlink(missing_ok=True)
    return results
