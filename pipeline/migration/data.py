"""The migration gate's data (``migration.yaml`` at the tree root), loaded into frozen dataclasses.

It holds the legacy hosts (arch and the machine types their emulator offers), one compat
profile per family of old types (i8042 extended-state, HPET, BIOS and option ROM block sizes,
VGA memory), the rows declared unable to migrate, and the CPU feature facts (renamed names,
features that depend on the destination host). Every profile names its sources. Errors are
``FILE:LINE: KEY: what is wrong``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipeline.core import yamlsrc
from pipeline.core.schema import Origin, Reader
from pipeline.patches.qemu_selftest import devsets, grid

FILE_NAME = "migration.yaml"
DIRECTIONS = ("back", "both")


@dataclass(frozen=True)
class DeviceCompat:
    """A device as the legacy side runs it: ROM file, RAM block size, VGA memory."""

    name: str  # QEMU device type (virtio-net-pci, e1000, rtl8139, VGA)
    romfile: str
    rom_block: int | None  # bytes; None: not known
    vgamem_mb: int | None = None
    verified: bool = True


@dataclass(frozen=True)
class Compat:
    name: str
    sources: tuple[str, ...]
    i8042_extended_state: bool | None  # None: no expectation (no PC keyboard)
    hpet: bool | None
    bios_block: int | None
    devices: dict[str, DeviceCompat]


@dataclass(frozen=True)
class Host:
    name: str
    arch: str
    sources: tuple[str, ...]
    machine_types: dict[str, str]  # machine type -> compat profile name


@dataclass(frozen=True)
class Unsupported:
    machine: str  # fnmatch pattern
    devices: tuple[str, ...]  # empty: any device set
    direction: str  # back | both
    reason: str

    def covers(self, machine: str, devices: set[str]) -> bool:
        if not fnmatch.fnmatchcase(machine, self.machine):
            return False
        return not self.devices or bool(devices & set(self.devices))


@dataclass(frozen=True)
class HostFeature:
    needs: str
    remedy: str


@dataclass(frozen=True)
class MigrationData:
    path: Path
    sources: dict[str, str]
    compat: dict[str, Compat]
    hosts: dict[str, Host]
    unsupported: tuple[Unsupported, ...]
    renamed: dict[str, str]  # legacy feature name -> the new name
    host_dependent: dict[str, HostFeature]

    def machine_types(self, arch: str | None = None) -> dict[str, Compat]:
        """Every legacy machine type (of ``arch``) with its compat profile."""
        return {m: self.compat[c] for h in self.hosts.values()
                if arch is None or h.arch == arch for m, c in h.machine_types.items()}

    def host_of(self, machine: str) -> Host | None:
        return next((h for h in self.hosts.values() if machine in h.machine_types), None)


def load(path: Path, *, selftest_unsupported: Path | None = None) -> MigrationData:
    """``migration.yaml``, plus the QEMU self-test's declared unsupported grid rows
    (``patches/qemu/unsupported-migrations.yaml``, when given and present): one list of what
    cannot move, whichever check found it."""
    source = yamlsrc.load(path)
    origin = Origin({k: (str(source.path), v) for k, v in source.lines.items()})
    origin.places.setdefault("", (str(source.path), 1))
    loaded = parse(source.data, origin, path)
    if selftest_unsupported is None or not selftest_unsupported.is_file():
        return loaded
    extra = from_selftest_rows(grid.load_unsupported(selftest_unsupported))
    return replace(loaded, unsupported=loaded.unsupported + extra)


def from_selftest_rows(rows: Sequence[grid.Unsupported]) -> tuple[Unsupported, ...]:
    """The self-test's rows (machine, device set, direction, accel) as the gate's: a row about
    6.2 -> 2.12 only is ``back``, any other direction ``both``; the device set becomes the
    device types it carries (``*`` or an unknown set: every device)."""
    sets = {s.name: s.needs for s in devsets.all_sets()}
    out = []
    for row in rows:
        named = [needs for name, needs in sets.items() if fnmatch.fnmatchcase(name, row.device_set)]
        devices = () if row.device_set == "*" or not named else \
            tuple(sorted({d for needs in named for d in needs}))
        direction = "back" if row.direction == "6.2->2.12" else "both"
        out.append(Unsupported(machine=row.machine, devices=devices, direction=direction,
                               reason=f"{row.reason} (QEMU self-test grid, {row.accel})"))
    return tuple(out)


def parse(data: Any, origin: Origin, path: Path) -> MigrationData:
    top = Reader(data, "", origin)
    top.only(("schema", "sources", "compat", "hosts", "unsupported", "cpu"))
    if top.int("schema", 1) != 1:
        raise top.error("schema", "unsupported schema (this program reads schema 1)")
    sources = {k: r_str(top.sub("sources"), k) for k in top.sub("sources").data}
    compat: dict[str, Compat] = {}
    for name, r in top.items("compat"):
        compat[name] = _compat(name, r, sources, compat)
    hosts = {name: _host(name, r, sources, compat) for name, r in top.items("hosts")}
    seen: dict[str, str] = {}
    for host in hosts.values():
        for machine in host.machine_types:
            if machine in seen:
                raise top.error(f"hosts.{host.name}.machine_types.{machine}",
                                f"machine type already declared by host {seen[machine]}")
            seen[machine] = host.name
    cpu = top.sub("cpu", required=False)
    cpu.only(("renamed", "host_dependent"))
    return MigrationData(path=path, sources=sources, compat=compat, hosts=hosts,
                         unsupported=_unsupported(top), renamed=_renamed(cpu, sources),
                         host_dependent=_host_dependent(cpu))


def r_str(reader: Reader, name: str) -> str:
    return " ".join(reader.str(name, line=False).split())


def _sources(r: Reader, known: dict[str, str]) -> tuple[str, ...]:
    names = r.str_list("source") if isinstance(r.raw("source"), list) else \
        ((r.str("source"),) if r.has("source") else ())
    for index, name in enumerate(names):
        if name not in known:
            raise r.error(f"source.{index}" if isinstance(r.raw("source"), list) else "source",
                          f"unknown source {name!r} (declared: {', '.join(sorted(known))})")
    return names


def _size(r: Reader, name: str) -> int | None:
    value = r.int(name)
    if value is not None and (value < 0 or value & (value - 1)):
        raise r.error(name, f"expected a power of two (a RAM block size) or 0 (no ROM), "
                            f"got {value}")
    return value


def _opt_bool(r: Reader, name: str, default: bool | None = None) -> bool | None:
    return r.bool(name) if r.has(name) else default


def _compat(name: str, r: Reader, sources: dict[str, str],
            declared: dict[str, Compat]) -> Compat:
    """A compat profile; ``base: OTHER`` starts from a profile declared above it."""
    r.only(("base", "source", "i8042_extended_state", "hpet", "bios_block", "devices"))
    base = Compat(name, (), None, None, None, {})
    if r.has("base"):
        parent = r.str("base")
        if parent not in declared:
            raise r.error("base", f"unknown compat profile {parent!r} (a base must be "
                                  f"declared above: {', '.join(declared) or 'none'})")
        base = declared[parent]
    devices = dict(base.devices)
    for dev, d in r.items("devices"):
        d.only(("romfile", "rom_block", "vgamem_mb", "verified"))
        devices[dev] = DeviceCompat(name=dev, romfile=d.str("romfile"),
                                    rom_block=_size(d, "rom_block"),
                                    vgamem_mb=d.int("vgamem_mb"),
                                    verified=d.bool("verified", True))
    return Compat(
        name=name, sources=tuple(dict.fromkeys(base.sources + _sources(r, sources))),
        i8042_extended_state=_opt_bool(r, "i8042_extended_state", base.i8042_extended_state),
        hpet=_opt_bool(r, "hpet", base.hpet),
        bios_block=_size(r, "bios_block") if r.has("bios_block") else base.bios_block,
        devices=devices)


def _host(name: str, r: Reader, sources: dict[str, str], compat: dict[str, Compat]) -> Host:
    r.only(("arch", "source", "machine_types"))
    types = r.sub("machine_types")
    machines = {}
    for machine in types.data:
        profile = types.str(str(machine))
        if profile not in compat:
            raise types.error(str(machine), f"unknown compat profile {profile!r} "
                                            f"(declared: {', '.join(sorted(compat))})")
        machines[str(machine)] = profile
    return Host(name=name, arch=r.str("arch"), sources=_sources(r, sources),
                machine_types=machines)


def _unsupported(top: Reader) -> tuple[Unsupported, ...]:
    rows = []
    for index, item in enumerate(top.list("unsupported")):
        r = Reader(item, f"unsupported.{index}", top.origin)
        r.only(("machine", "devices", "direction", "reason"))
        direction = r.str("direction", "back")
        if direction not in DIRECTIONS:
            raise r.error("direction", f"expected one of {', '.join(DIRECTIONS)}, "
                                       f"got {direction!r}")
        rows.append(Unsupported(machine=r.str("machine"), devices=r.str_list("devices"),
                                direction=direction, reason=r.str("reason")))
    return tuple(rows)


def _renamed(cpu: Reader, sources: dict[str, str]) -> dict[str, str]:
    out = {}
    for old, r in cpu.items("renamed"):
        r.only(("to", "source"))
        _sources(r, sources)
        out[old] = r.str("to")
    return out


def _host_dependent(cpu: Reader) -> dict[str, HostFeature]:
    out = {}
    for name, r in cpu.items("host_dependent"):
        r.only(("needs", "remedy"))
        out[name] = HostFeature(needs=r.str("needs"), remedy=r.str("remedy"))
    return out
