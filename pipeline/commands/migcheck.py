"""``virt-pipeline migcheck``: will each legacy VM live-migrate onto the new build, and back?

Reads the legacy hosts' machine types and compat expectations (``migration.yaml``), asks the
new emulator itself (throw-away paused processes over QMP, once per machine type), reads the
new libvirt cpu map, and judges every legacy domain XML of ``--domains``. Exit 1 when the gate
finds a problem, 2 on bad input, 3 when the emulator or the cpu map is missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.context import Context
from pipeline.core import files
from pipeline.core.findings import has_errors
from pipeline.core.writeguard import OutputPath
from pipeline.migration import cpumap, data, domains, junit, probe
from pipeline.migration.gate import GateReport, run_gate
from pipeline.patches.qemu_selftest import grid


def add_parser(sub: Any) -> None:
    p = sub.add_parser("migcheck", help="check that legacy VMs can live-migrate to the new "
                                        "emulator and back (machine types, compat, CPU)")
    p.add_argument("--domains", type=Path, metavar="DIR",
                   help="folder of legacy domain XMLs (virsh dumpxml) to judge")
    p.add_argument("--emulator", type=Path, metavar="PATH",
                   help="the new emulator (default: /usr/libexec/qemu-kvm, then "
                        "qemu-system-x86_64 on PATH)")
    p.add_argument("--cpu-map", type=Path, default=cpumap.DEFAULT_DIR, metavar="DIR",
                   help=f"the new libvirt cpu map (default: {cpumap.DEFAULT_DIR})")
    p.add_argument("--data", type=Path, metavar="FILE",
                   help=f"legacy machine types and compat data (default: {data.FILE_NAME} "
                        "in the tree)")
    p.add_argument("--junit", type=OutputPath, metavar="FILE", help="write JUnit XML here")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    loaded = data.load(args.data or ctx.tree / data.FILE_NAME,
                       selftest_unsupported=ctx.tree / "patches" / "qemu" / grid.UNSUPPORTED_FILE)
    legacy = domains.load_dir(args.domains) if args.domains else []
    cpu_map = cpumap.load(args.cpu_map)
    with probe.open_probe(args.emulator) as asker:
        report = run_gate(loaded, asker, cpu_map, legacy)
        emulator = asker.emulator()
        launches = asker.launches
    findings = report.findings()
    if args.junit:
        files.write_output(args.junit, junit.to_xml(report))
    ctx.emit_json({"emulator": {"binary": emulator.binary, "arch": emulator.arch,
                                "version": emulator.version,
                                "host_cpu_asked": emulator.host_cpu is not None},
                   "launches": launches, "cpu_map": str(cpu_map.path),
                   "machine_types": [m.to_json() for m in report.machines],
                   "domains": [d.to_json() for d in report.domains],
                   "findings": [f.to_json() for f in findings]})
    if not ctx.json:
        _say(ctx, report, emulator, launches)
    return 1 if has_errors(findings) else 0


def _say(ctx: Context, report: GateReport, emulator: probe.EmulatorFacts,
         launches: int) -> None:
    for finding in report.findings():
        ctx.say(finding.line())
    for result in report.domains:
        ids = sorted({p.id for p in result.problems if p.direction})
        ctx.say(f"{result.domain.name:28} {result.domain.machine:22} {result.verdict:10}"
                + (f" ({', '.join(ids)})" if ids else ""))
    offered = sum(m.offered for m in report.machines)
    counts = {v: sum(d.verdict == v for d in report.domains)
              for v in ("both-ways", "one-way", "none", "not-judged")}
    ctx.say(f"migcheck: {emulator.binary} ({emulator.version}); legacy machine types offered "
            f"{offered}/{len(report.machines)}; domains "
            + ", ".join(f"{k} {v}" for k, v in counts.items())
            + f"; emulator launches {launches}")
