"""Compat checks (pure): what an old machine type looks like on the new emulator, against what the
legacy side runs. Each problem carries the direction it breaks.

Directions (what fails when the problem is present): ``back`` (new -> legacy only: the legacy
QEMU meets state it does not know, e.g. the 6.1 ``pckbd/extended_state`` subsection or an
``hpet`` section), ``both`` (RAM block sizes must be equal on both sides: "Size mismatch"
either way), ``forward`` (the VM cannot even start or be accepted on the new host).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.migration.data import Compat, DeviceCompat
from pipeline.migration.domains import Device
from pipeline.migration.probe import MachineFacts

#: finding id -> direction it breaks (None: a warning, breaks nothing by itself)
DIRECTIONS: dict[str, str | None] = {
    "machine-type-missing": "both",
    "machine-type-unknown": "both",
    "emulator-probe-failed": "both",
    "compat-i8042-extended-state": "back",
    "compat-hpet": "back",
    "compat-hpet-missing": "forward",
    "compat-bios-size": "both",
    "compat-rom-size": "both",
    "compat-rom-size-unknown": None,
    "compat-rom-file-custom": None,
    "compat-vgamem": "both",
    "device-not-covered": None,
    "device-missing": "both",
    "unsupported-back": "back",
    "unsupported-both": "both",
    "cpu-model-missing": "both",
    "cpu-feature-renamed": "both",
    "cpu-feature-missing": "both",
    "cpu-feature-host-tsx": "forward",
    "cpu-feature-host-microcode": "forward",
    "cpu-feature-host-dependent": None,
    "cpu-host-passthrough": None,
    "domain-arch-not-probed": None,
}


@dataclass(frozen=True)
class Problem:
    id: str
    detail: str

    @property
    def direction(self) -> str | None:
        return DIRECTIONS.get(self.id, "both")


def machine_problems(compat: Compat, facts: MachineFacts) -> list[Problem]:
    """The machine-wide state: i8042, HPET, BIOS size."""
    if facts.error:
        return [Problem("emulator-probe-failed",
                        f"{facts.machine} did not start paused: {facts.error}")]
    out = []
    want = compat.i8042_extended_state
    if want is not None and facts.i8042_extended_state not in (None, want):
        out.append(Problem("compat-i8042-extended-state",
                           f"i8042 extended-state = {_b(facts.i8042_extended_state)} on "
                           f"{facts.machine}, legacy side {_b(want)}: the legacy QEMU refuses the "
                           "pckbd/extended_state subsection (remedy: i8042.extended-state=false "
                           "in the type's compat properties)"))
    if compat.hpet is False and facts.hpet:
        out.append(Problem("compat-hpet", f"{facts.machine} has an HPET; the legacy build has "
                                          "none (\"Unknown savevm section or instance 'hpet'\")"))
    if compat.hpet is True and not facts.hpet:
        out.append(Problem("compat-hpet-missing", f"{facts.machine} has no HPET; the legacy "
                                                  "side has one"))
    if compat.bios_block and facts.bios_block and compat.bios_block != facts.bios_block:
        out.append(Problem("compat-bios-size", f"pc.bios block {_size(facts.bios_block)} on "
                                               f"{facts.machine}, legacy "
                                               f"{_size(compat.bios_block)} (\"Size mismatch: "
                                               "pc.bios\")"))
    return out


def device_problems(compat: Compat, facts: MachineFacts,
                    devices: Iterable[Device]) -> list[Problem]:
    """Per device: option ROM block sizes and VGA memory against the legacy side's."""
    if facts.error:
        return []
    out: list[Problem] = []
    for dev in devices:
        legacy = compat.devices.get(dev.qemu)
        seen = facts.devices.get(dev.qemu)
        if dev.qemu in facts.missing_devices:
            out.append(Problem("device-missing", f"{dev.qemu}: the emulator cannot create it "
                                                 "(qom-list-types)"))
            continue
        if legacy is None or seen is None:
            out.append(Problem("device-not-covered", f"{dev.qemu}: no compat data for it on "
                                                     f"{facts.machine} (not checked)"))
            continue
        out += _rom(dev, legacy, seen.rom_block, seen.romfile, facts.machine)
        vgamem = dev.vgamem_mb or seen.vgamem_mb
        if legacy.vgamem_mb and vgamem and vgamem != legacy.vgamem_mb:
            out.append(Problem("compat-vgamem", f"{dev.qemu} vgamem_mb {vgamem} on "
                                                f"{facts.machine}, legacy {legacy.vgamem_mb}"))
    return out


def _rom(dev: Device, legacy: DeviceCompat, block: int, romfile: str,
         machine: str) -> list[Problem]:
    if not dev.rom_bar:
        return []
    if dev.rom_file:
        return [Problem("compat-rom-file-custom", f"{dev.qemu} loads {dev.rom_file} (set by "
                                                  "the domain): both hosts need the same file")]
    if legacy.rom_block is None:
        return [Problem("compat-rom-size-unknown", f"{dev.qemu}: legacy {legacy.romfile} "
                                                   "block size not in the data (not checked)")]
    if block == legacy.rom_block:
        return []
    note = "" if legacy.verified else " (legacy size derived, unverified)"
    return [Problem("compat-rom-size", f"{dev.qemu} ROM {romfile or '(none)'} is a "
                                       f"{_size(block)} block on {machine}; legacy "
                                       f"{legacy.romfile} {_size(legacy.rom_block)}{note}: "
                                       "\"Size mismatch\" either way (remedy: romfile "
                                       f"{legacy.romfile} for the old type)")]


def _b(value: bool | None) -> str:
    return "none" if value is None else str(value).lower()


def _size(value: int) -> str:
    return f"{value // 1024} KiB" if value else "0 (no ROM)"
