"""The cross-version device grid against a qemu-kvm-ev 2.12 build: for every BC-Linux 7 machine
type both builds offer, every device set both offer the devices of, each accelerator and both
directions, start the guest paused in one QEMU, save it to a file, load it in the other, and
compare ``info qtree`` and the CPU's properties of the two sides (differences not on the
allow-list fail the row).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.cmd import run
from pipeline.core.errors import CommandFailed
from pipeline.patches.qemu_selftest.devsets import DeviceSet, parse_device_help, select_sets
from pipeline.patches.qemu_selftest.grid import (
    ACCELS,
    DIRECTIONS,
    SKIP,
    GridRow,
    Unsupported,
    classify,
    load_unsupported,
    row_result,
)
from pipeline.patches.qemu_selftest.legacy import Side
from pipeline.patches.qemu_selftest.qemu import (
    QmpClient,
    qemu_process,
    wait_incoming,
    wait_migration,
)
from pipeline.patches.qemu_selftest.qtreediff import (
    Allowed,
    QtreeProps,
    cpu_props_as_qtree,
    diff_props,
    load_allow_list,
    parse_qtree,
    unexplained,
)
from pipeline.patches.qemu_selftest.results import (
    SelftestResult,
    failure_detail,
    incoming_loaded,
)

#: qom-get is asked only for properties of these types (scalars a guest can see).
CPU_PROP_TYPES = frozenset({"bool", "int", "uint8", "uint16", "uint32", "uint64", "int32",
                            "int64", "string", "str"})
#: How many unexplained differences a FAIL row quotes.
QUOTED_DIFFS = 6


@dataclass(frozen=True)
class GridConfig:
    """What the grid runs: sides, firmware dir, scratch dir, sets, accelerators, allow-list."""

    old: Side
    new: Side
    firmware: Path
    scratch: Path
    sets: Sequence[DeviceSet]
    accels: Sequence[str]
    allowed: Sequence[Allowed]
    declared: Sequence[Unsupported]


#: ROM files qemu-kvm-ev 2.12 (and our old machine types) name that QEMU's pc-bios lacks: on el7
#: they come from ipxe-roms-qemu (pxe-e1000e.rom -> ../ipxe/808610d3.rom).  The grid gives both
#: sides the same stand-in (another iPXE BIOS ROM of an Intel NIC), so the device state is
#: tested; the real file's size is a packaging matter (see the README).
ROM_STAND_INS: dict[str, str] = {"pxe-e1000e.rom": "pxe-e1000.rom"}


def grid_firmware(firmware: Path, scratch: Path) -> Path:
    """A firmware dir for both sides: links to every file of ``firmware`` plus the stand-ins."""
    target = scratch / "firmware"
    target.mkdir(exist_ok=True)
    for entry in firmware.iterdir():
        link = target / entry.name
        if not link.exists():
            link.symlink_to(entry.resolve())
    for missing, stand_in in ROM_STAND_INS.items():
        link = target / missing
        if not link.exists() and (firmware / stand_in).exists():
            link.symlink_to((firmware / stand_in).resolve())
    return target


def kvm_usable() -> bool:
    """Whether /dev/kvm can be opened read-write here."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


def device_types(binary: Path) -> frozenset[str]:
    try:
        # 2.12 prints the list on stderr, 6.2 on stdout
        out = run([os.fspath(binary), "-device", "help"], timeout=60).output
    except CommandFailed as exc:
        out = exc.output
    return parse_device_help(out)


def cpu_properties(qmp: QmpClient) -> dict[str, object]:
    """Scalar QOM properties of the first vCPU (``query-cpus-fast`` gives its path)."""
    cpus = qmp.execute("query-cpus-fast") or []
    if not cpus:
        return {}
    path = cpus[0]["qom-path"]
    props: dict[str, object] = {}
    for prop in qmp.execute("qom-list", path=path) or []:
        if prop.get("type") not in CPU_PROP_TYPES:
            continue
        try:
            props[prop["name"]] = qmp.execute("qom-get", path=path, property=prop["name"])
        except RuntimeError:
            continue
    return props


def snapshot(qmp: QmpClient) -> QtreeProps:
    """The device tree and CPU properties of a running QEMU, as comparable properties."""
    props = parse_qtree(qmp.hmp("info qtree"))
    props.update(cpu_props_as_qtree(cpu_properties(qmp)))
    return props


def save_side(side: Side, cfg: GridConfig, accel: str, machine: str, dset: DeviceSet,
              state: Path) -> tuple[str, QtreeProps]:
    """Start paused and save to ``state``: ('' or what failed, the source's snapshot)."""
    state.unlink(missing_ok=True)
    name = f"src-{machine}-{dset.name}-{accel}"
    args = ["-S", "-machine", machine, *dset.args(cfg.scratch, name)]
    with qemu_process(side.binary, cfg.firmware, cfg.scratch, name, args,
                      accel=accel) as qemu:
        try:
            qmp = qemu.connect()
            props = snapshot(qmp)
            qmp.execute("migrate", uri=f"exec:cat > {state}")
            migrated = wait_migration(qmp)
            qmp.close()
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            return failure_detail(f"start/save in {side.label}", exc, qemu.stderr_tail()), {}
        tail = qemu.stderr_tail()
    if migrated != "completed":
        return f"save in {side.label}: {migrated}; {tail}", {}
    return "", props


def load_side(side: Side, cfg: GridConfig, accel: str, machine: str, dset: DeviceSet,
              state: Path) -> tuple[str, QtreeProps]:
    """Load ``state`` with ``-incoming``: ('' or what failed, the target's snapshot)."""
    name = f"dst-{machine}-{dset.name}-{accel}"
    args = ["-S", "-machine", machine, *dset.args(cfg.scratch, name),
            "-incoming", f"exec:cat {state}"]
    with qemu_process(side.binary, cfg.firmware, cfg.scratch, name, args,
                      accel=accel) as qemu:
        try:
            qmp = qemu.connect()
            status = wait_incoming(qmp)
            props = snapshot(qmp) if incoming_loaded(status) else {}
            qmp.close()
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            time.sleep(0.2)  # let the error text reach the log
            return failure_detail(f"load in {side.label}", exc, qemu.stderr_tail()), {}
        tail = qemu.stderr_tail()
    if not props:
        return f"load in {side.label}: query-status {status}; {tail}", {}
    return "", props


def run_pair(cfg: GridConfig, accel: str, direction: str, machine: str,
             dset: DeviceSet) -> GridRow:
    """Save in one side, load in the other, compare; the grid row."""
    source, target = (cfg.old, cfg.new) if direction == DIRECTIONS[0] else (cfg.new, cfg.old)
    state = cfg.scratch / f"{machine}-{dset.name}-{accel}.state"
    failure, before = save_side(source, cfg, accel, machine, dset, state)
    if not failure:
        failure, after = load_side(target, cfg, accel, machine, dset, state)
        if not failure:
            diffs = unexplained(diff_props(before, after), cfg.allowed, machine)
            if diffs:
                failure = (f"loaded; {len(diffs)} qtree/CPU difference(s) not allowed: "
                           + "; ".join(d.text() for d in diffs[:QUOTED_DIFFS]))
    state.unlink(missing_ok=True)
    return classify(machine, dset.name, accel, direction, failure, cfg.declared)


def run_grid(cfg: GridConfig, machines: Sequence[str]) -> list[GridRow]:
    """Every row: machines x sets both binaries can build x accelerators x directions."""
    available = device_types(cfg.old.binary) & device_types(cfg.new.binary)
    kvm = kvm_usable()
    rows: list[GridRow] = []
    for machine in machines:
        for dset in cfg.sets:
            if not dset.runs_on(machine, available):
                continue
            for accel in cfg.accels:
                for direction in DIRECTIONS:
                    if accel == "kvm" and not kvm:
                        rows.append(GridRow(machine, dset.name, accel, direction, SKIP,
                                            "/dev/kvm not usable"))
                        continue
                    rows.append(run_pair(cfg, accel, direction, machine, dset))
    return rows


def parse_accels(text: str | None) -> list[str]:
    """``tcg,kvm`` -> the accelerators to run (all by default); unknown names are dropped."""
    if not text:
        return list(ACCELS)
    return [a for a in (p.strip() for p in text.split(",")) if a in ACCELS]


@dataclass(frozen=True)
class GridOptions:
    """Command-line choices for the grid and the two reviewed data files."""

    device_sets: str | None  # comma-separated globs; None: all sets
    accels: str | None  # "tcg,kvm"; None: both
    allow_list: Path
    unsupported: Path


def check_devices(new: Path, firmware: Path, scratch: Path, legacy: Path | None,
                  machines: Sequence[str], options: GridOptions) -> list[SelftestResult]:
    """The device grid as self-test results (one per row); skipped without ``legacy``."""
    if legacy is None:
        return [SelftestResult("device-grid", True, "no --legacy-qemu given: device sets "
                               "not migrated from and to qemu-kvm-ev 2.12", skipped=True)]
    cfg = GridConfig(Side("2.12", legacy), Side("6.2", new), grid_firmware(firmware, scratch),
                     scratch,
                     select_sets(options.device_sets), parse_accels(options.accels),
                     load_allow_list(options.allow_list), load_unsupported(options.unsupported))
    rows = run_grid(cfg, machines)
    if not rows:  # a grid that ran nothing must not look like a passed one
        return [SelftestResult("device-grid", False, f"no row ran: machines {list(machines)}, "
                               f"sets {[s.name for s in cfg.sets]}, accels {cfg.accels}")]
    return [row_result(row) for row in rows]
