"""Ask the new emulator itself: throw-away paused processes over QMP, never a host's VMs.

One process with ``-machine none`` answers ``query-target``, ``query-version``,
``query-machines`` and, where ``/dev/kvm`` can be opened, ``query-cpu-model-expansion`` of model
``host`` (what this host's CPU really offers a guest). Then one paused guest per machine type
(asked once per run, however many domains use it) with the devices the legacy side uses,
read back with ``qom-list``/``qom-get`` (i8042 ``extended-state``, an HPET device, each
device's ``romfile``/``vgamem_mb`` and PCI address) and ``info ramblock`` (the option ROM,
VGA and BIOS RAM block sizes that must match on both sides of a migration). Every process runs
in a private temporary folder and is always killed (``qemu_selftest.qemu.qemu_process``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.core.errors import ToolMissing
from pipeline.migration import qemuout
from pipeline.patches.qemu_selftest.qemu import QmpClient, qemu_process

#: tried in order when no ``--emulator`` is given (el7/openEuler path first, then Debian's)
DEFAULT_EMULATORS = ("/usr/libexec/qemu-kvm", "qemu-system-x86_64")
INSTALL_HINT = ("install the emulator: qemu-kvm (BC-Linux / openEuler, /usr/libexec/qemu-kvm) "
                "or qemu-system-x86 (Debian, qemu-system-x86_64); or pass --emulator PATH")
_PROBE_ERRORS = (OSError, RuntimeError, ValueError, KeyError)


@dataclass(frozen=True)
class DeviceFacts:
    romfile: str
    rom_block: int  # 0: no ROM
    vgamem_mb: int | None


@dataclass(frozen=True)
class MachineFacts:
    """What one machine type looks like on the emulator (``error`` set: it would not start)."""

    machine: str
    error: str | None = None
    i8042_extended_state: bool | None = None  # None: no i8042 on this machine
    hpet: bool = False
    bios_block: int | None = None
    devices: dict[str, DeviceFacts] = field(default_factory=dict)
    missing_devices: tuple[str, ...] = ()  # legacy device types this emulator cannot create


@dataclass(frozen=True)
class EmulatorFacts:
    binary: str
    arch: str
    version: str
    machines: dict[str, str]  # name -> "", "default" or "alias of X"
    host_cpu: dict[str, bool] | None  # None: no KVM here, the host was not asked
    devices: frozenset[str] = frozenset()  # device types it can create


def find_emulator(given: Path | None) -> Path:
    """The emulator binary (``given`` or the first default found); ToolMissing otherwise."""
    candidates = [os.fspath(given)] if given else list(DEFAULT_EMULATORS)
    for name in candidates:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ToolMissing(candidates[0], INSTALL_HINT)


def kvm_usable() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


class Probe:
    """Cached answers of one emulator binary; ``launches`` counts the processes started."""

    def __init__(self, binary: Path, scratch: Path, *, kvm: bool) -> None:
        self.binary = binary
        self.scratch = scratch
        self.kvm = kvm
        self.launches = 0
        self._emulator: EmulatorFacts | None = None
        self._machines: dict[str, MachineFacts] = {}

    def emulator(self) -> EmulatorFacts:
        if self._emulator is None:
            self._emulator = self._ask_emulator()
        return self._emulator

    def machine(self, name: str, devices: Sequence[str]) -> MachineFacts:
        """Facts of machine type ``name`` with ``devices`` plugged (asked once per run)."""
        if name not in self._machines:
            known = self.emulator().devices
            present = sorted(d for d in set(devices) if d in known)
            missing = tuple(sorted(set(devices) - set(present)))
            facts = self._ask_machine(name, present)
            self._machines[name] = replace(facts, missing_devices=missing)
        return self._machines[name]

    def _ask_emulator(self) -> EmulatorFacts:
        try:
            return self._query_emulator(kvm=self.kvm)
        except ToolMissing:
            if not self.kvm:
                raise
            self.kvm = False  # /dev/kvm opens but this emulator cannot use it: ask with TCG
            return self._query_emulator(kvm=False)

    def _query_emulator(self, *, kvm: bool) -> EmulatorFacts:
        self.launches += 1
        with qemu_process(self.binary, None, self.scratch, f"emulator{self.launches}",
                          ["-S", "-machine", "none"], accel="kvm" if kvm else "tcg",
                          memory=None) as run:
            try:
                with closing(run.connect(wait=30)) as qmp:
                    target = qmp.execute("query-target")
                    version = qmp.execute("query-version")
                    machines = qemuout.machine_names(qmp.execute("query-machines"))
                    types = qmp.execute("qom-list-types", implements="device",
                                        abstract=False)
                    host = self._host_cpu(qmp) if kvm else None
            except _PROBE_ERRORS as exc:
                raise ToolMissing(os.fspath(self.binary), f"it did not answer QMP: {exc}; "
                                  f"{run.stderr_tail()}") from None
        qemu = version.get("qemu", {})
        text = f"{qemu.get('major')}.{qemu.get('minor')}.{qemu.get('micro')}"
        text += f" {version.get('package', '')}".rstrip()
        return EmulatorFacts(binary=os.fspath(self.binary), arch=str(target.get("arch")),
                             version=text.strip(), machines=machines, host_cpu=host,
                             devices=frozenset(str(t["name"]) for t in types))

    @staticmethod
    def _host_cpu(qmp: QmpClient) -> dict[str, bool] | None:
        try:
            return qemuout.host_features(qmp.execute(
                "query-cpu-model-expansion", type="full", model={"name": "host"}))
        except RuntimeError:  # an emulator without KVM support
            return None

    def _ask_machine(self, name: str, devices: Sequence[str]) -> MachineFacts:
        self.launches += 1
        args = ["-S", "-machine", name]
        for index, dev in enumerate(devices):
            args += ["-device", f"{dev},id=mig{index}"]
        with qemu_process(self.binary, None, self.scratch, f"m{self.launches}", args) as run:
            try:
                with closing(run.connect(wait=30)) as qmp:
                    facts = _read_machine(qmp, name, devices)
            except _PROBE_ERRORS as exc:
                return MachineFacts(machine=name, error=f"{exc}; {run.stderr_tail()}")
        return facts


def _read_machine(qmp: QmpClient, name: str, devices: Sequence[str]) -> MachineFacts:
    unattached = qmp.execute("qom-list", path="/machine/unattached")
    state = None  # no i8042, or one older than 6.1 (no property, no subsection): nothing sent
    for child in qemuout.children_of_type(unattached, "i8042")[:1]:
        path = f"/machine/unattached/{child}"
        props = {p["name"] for p in qmp.execute("qom-list", path=path)}
        found = _get(qmp, path, "extended-state", props)
        state = None if found is None else bool(found)
    blocks = qemuout.parse_ramblock(qmp.hmp("info ramblock"))
    found = {}
    for index, dev in enumerate(devices):
        path = f"/machine/peripheral/mig{index}"
        props = {p["name"] for p in qmp.execute("qom-list", path=path)}
        found[dev] = DeviceFacts(
            romfile=str(_get(qmp, path, "romfile", props) or ""),
            rom_block=qemuout.rom_block(blocks, int(_get(qmp, path, "addr", props) or 0)),
            vgamem_mb=_get(qmp, path, "vgamem_mb", props))
    return MachineFacts(machine=name, i8042_extended_state=state,
                        hpet=bool(qemuout.children_of_type(unattached, "hpet")),
                        bios_block=blocks.get("pc.bios"), devices=found)


def _get(qmp: QmpClient, path: str, prop: str, props: set[str]) -> Any:
    return qmp.execute("qom-get", path=path, property=prop) if prop in props else None


@contextmanager
def open_probe(binary: Path | None, *, kvm: bool | None = None) -> Iterator[Probe]:
    """A probe of ``binary`` (default: the first emulator found) in a private temp folder."""
    found = find_emulator(binary)
    with tempfile.TemporaryDirectory(prefix="migcheck-") as scratch:
        yield Probe(found, Path(scratch), kvm=kvm_usable() if kvm is None else kvm)
