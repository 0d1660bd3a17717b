"""The migration gate: legacy machine types and domains against the new emulator and cpu map.

Machine types: every legacy type of the emulator's arch must be offered (``query-machines``)
and, started paused with the devices its compat profile names, look like the legacy side
(:mod:`compat`). Domains: per VM, its machine type, devices, CPU (:mod:`cpucheck`) and the
rows declared unsupported, folded into a verdict: ``both-ways``, ``one-way`` (to the new host
only), ``none``, or ``not-judged`` (another arch than the emulator's). The emulator is asked
once per machine type, however many domains use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.core.findings import Finding, Level
from pipeline.migration.compat import Problem, device_problems, machine_problems
from pipeline.migration.cpucheck import cpu_problems
from pipeline.migration.cpumap import CpuMap
from pipeline.migration.data import Compat, MigrationData
from pipeline.migration.domains import Device, Domain
from pipeline.migration.probe import MachineFacts, Probe

VERDICTS = ("both-ways", "one-way", "none", "not-judged")


@dataclass(frozen=True)
class MachineResult:
    name: str
    host: str
    profile: str
    offered: bool
    facts: MachineFacts | None
    problems: tuple[Problem, ...]

    def to_json(self) -> dict[str, Any]:
        facts = self.facts
        observed = None if facts is None else {
            "error": facts.error, "i8042_extended_state": facts.i8042_extended_state,
            "hpet": facts.hpet, "bios_block": facts.bios_block,
            "devices": {k: {"romfile": v.romfile, "rom_block": v.rom_block,
                            "vgamem_mb": v.vgamem_mb} for k, v in facts.devices.items()}}
        return {"name": self.name, "host": self.host, "compat": self.profile,
                "offered": self.offered, "observed": observed,
                "findings": [p.id for p in self.problems]}


@dataclass(frozen=True)
class DomainResult:
    domain: Domain
    verdict: str
    problems: tuple[Problem, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.domain.name, "file": self.domain.file,
                "machine": self.domain.machine, "verdict": self.verdict,
                "reasons": [{"id": p.id, "direction": p.direction, "detail": p.detail}
                            for p in self.problems]}


@dataclass
class GateReport:
    machines: list[MachineResult] = field(default_factory=list)
    domains: list[DomainResult] = field(default_factory=list)

    def findings(self) -> list[Finding]:
        out = [to_finding(p, f"machine:{m.name}") for m in self.machines for p in m.problems]
        out += [to_finding(p, d.domain.name) for d in self.domains for p in d.problems]
        return out


def to_finding(problem: Problem, cell: str) -> Finding:
    level: Level = "warning" if problem.direction is None else "error"
    return Finding(id=problem.id, level=level, cell=cell, package=None, detail=problem.detail)


def verdict(problems: Sequence[Problem]) -> str:
    directions = {p.direction for p in problems}
    if directions & {"both", "forward"}:
        return "none"
    return "one-way" if "back" in directions else "both-ways"


def run_gate(data: MigrationData, probe: Probe, cpu_map: CpuMap,
             domains: Sequence[Domain]) -> GateReport:
    report = GateReport()
    emulator = probe.emulator()
    for machine, compat in data.machine_types(emulator.arch).items():
        report.machines.append(_machine(data, probe, machine, compat))
    for domain in domains:
        report.domains.append(judge_domain(domain, data, probe, cpu_map))
    return report


def _machine(data: MigrationData, probe: Probe, machine: str, compat: Compat) -> MachineResult:
    host = data.host_of(machine)
    offered = machine in probe.emulator().machines
    if not offered:
        problem = Problem("machine-type-missing", f"{machine} is not offered by "
                                                  f"{probe.binary} (query-machines)")
        return MachineResult(machine, host.name if host else "", compat.name, False, None,
                             (problem,))
    facts = probe.machine(machine, list(compat.devices))
    devices = [Device(kind="any", qemu=name) for name in compat.devices]
    problems = machine_problems(compat, facts) + device_problems(compat, facts, devices)
    return MachineResult(machine, host.name if host else "", compat.name, True, facts,
                         tuple(problems))


def judge_domain(domain: Domain, data: MigrationData, probe: Probe,
                 cpu_map: CpuMap) -> DomainResult:
    emulator = probe.emulator()
    if domain.arch != emulator.arch:
        problem = Problem("domain-arch-not-probed", f"{domain.arch} domain; the emulator is "
                                                    f"{emulator.arch} (run migcheck with the "
                                                    f"{domain.arch} emulator)")
        return DomainResult(domain, "not-judged", (problem,))
    problems = _machine_of_domain(domain, data, probe)
    problems += cpu_problems(domain.cpu, cpu_map, data, emulator.host_cpu)
    for row in data.unsupported:
        if row.covers(domain.machine, domain.qemu_devices()):
            problems.append(Problem(f"unsupported-{row.direction}",
                                    f"declared unsupported ({row.machine}"
                                    f"{' with ' + ', '.join(row.devices) if row.devices else ''}"
                                    f"): {row.reason}"))
    return DomainResult(domain, verdict(problems), tuple(problems))


def _machine_of_domain(domain: Domain, data: MigrationData, probe: Probe) -> list[Problem]:
    compat = data.machine_types().get(domain.machine)
    if compat is None:
        return [Problem("machine-type-unknown", f"{domain.machine} is not a machine type of "
                                                f"any legacy host in {data.path.name}")]
    if domain.machine not in probe.emulator().machines:
        return [Problem("machine-type-missing", f"{domain.machine} is not offered by "
                                                f"{probe.binary} (query-machines)")]
    facts = probe.machine(domain.machine, list(compat.devices))
    return machine_problems(compat, facts) + device_problems(compat, facts, domain.devices)
