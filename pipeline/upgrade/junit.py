"""JUnit XML for CI: one testcase per scenario and check, failures carrying the evidence."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Protocol

from pipeline.core.findings import Finding
from pipeline.upgrade.checks import PRECHECKS


class _Result(Protocol):
    id: str
    os: str
    sandbox: str
    preflight: bool
    findings: list[Finding]
    sources: dict[str, str]


def to_xml(results: Sequence[_Result], checks: Mapping[str, str]) -> str:
    """The JUnit document (a ``testsuites`` root, one ``testsuite`` per scenario); a run
    without sandbox lists only the pre-checks."""
    root = ET.Element("testsuites", name="virt-pipeline verify-upgrade")
    total = failed = 0
    for result in results:
        ran = {k: v for k, v in checks.items()
               if result.sandbox != "none" or k in PRECHECKS}
        suite = _suite(result, ran)
        total += int(suite.get("tests", "0"))
        failed += int(suite.get("failures", "0"))
        root.append(suite)
    root.set("tests", str(total))
    root.set("failures", str(failed))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(result: _Result, checks: Mapping[str, str]) -> ET.Element:
    mode = "preflight" if result.preflight else "real"
    name = f"verify-upgrade.{result.id}"
    suite = ET.Element("testsuite", name=name)
    by_check: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_check.setdefault(finding.id, []).append(finding)
    failures = 0
    for check_id in list(checks) + sorted(set(by_check) - set(checks)):
        case = ET.SubElement(suite, "testcase", classname=name, name=check_id)
        errors = [f for f in by_check.get(check_id, []) if f.level == "error"]
        if errors:
            failures += 1
            failure = ET.SubElement(case, "failure", type=check_id,
                                    message=errors[0].detail.splitlines()[0][:200])
            failure.text = "\n\n".join(f.detail for f in errors)
        for warning in (f for f in by_check.get(check_id, []) if f.level != "error"):
            ET.SubElement(case, "system-out").text = warning.detail
    props = ET.Element("properties")
    for key, value in (("os", result.os), ("sandbox", result.sandbox), ("mode", mode)):
        ET.SubElement(props, "property", name=key, value=value)
    for pkg, source in sorted(result.sources.items()):
        ET.SubElement(props, "property", name=f"source.{pkg}", value=source)
    suite.insert(0, props)
    suite.set("tests", str(len(suite.findall("testcase"))))
    suite.set("failures", str(failures))
    return suite
