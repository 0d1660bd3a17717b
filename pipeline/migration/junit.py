"""JUnit XML of the migration gate: a suite per legacy machine type and per domain, a testcase
per check family (machine type, compat, cpu, unsupported)."""

from __future__ import annotations

from pipeline.core import junit
from pipeline.core.findings import Finding
from pipeline.migration.compat import Problem
from pipeline.migration.gate import GateReport, to_finding

CASES = ("machine-type", "compat", "cpu", "unsupported")


def case_of(problem_id: str) -> str:
    for prefix in ("compat", "cpu", "unsupported"):
        if problem_id.startswith(prefix):
            return prefix
    return "compat" if problem_id == "device-not-covered" else "machine-type"


def _grouped(problems: tuple[Problem, ...], cell: str) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for problem in problems:
        out.setdefault(case_of(problem.id), []).append(to_finding(problem, cell))
    return out


def to_xml(report: GateReport) -> str:
    suites = [junit.suite(f"migcheck.machine.{m.name}", CASES[:2],
                          _grouped(m.problems, f"machine:{m.name}"),
                          [("host", m.host), ("compat", m.profile)])
              for m in report.machines]
    suites += [junit.suite(f"migcheck.domain.{d.domain.name}", CASES,
                           _grouped(d.problems, d.domain.name),
                           [("file", d.domain.file), ("machine", d.domain.machine),
                            ("verdict", d.verdict)])
               for d in report.domains]
    return junit.document("virt-pipeline migcheck", suites)
