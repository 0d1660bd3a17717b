"""JUnit XML for CI, shared by the checks: a ``testsuites`` document of suites, one ``testcase``
per check, failures carrying the findings' evidence, warnings as ``system-out``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

from pipeline.core.findings import Finding


def suite(name: str, cases: Sequence[str], findings: Mapping[str, Sequence[Finding]],
          properties: Sequence[tuple[str, str]] = ()) -> ET.Element:
    """One ``testsuite``: a testcase per name in ``cases`` (then any other key of
    ``findings``), failed when one of its findings is an error."""
    element = ET.Element("testsuite", name=name)
    props = ET.SubElement(element, "properties")
    for key, value in properties:
        ET.SubElement(props, "property", name=key, value=value)
    failures = 0
    for case_name in list(cases) + sorted(set(findings) - set(cases)):
        case = ET.SubElement(element, "testcase", classname=name, name=case_name)
        errors = [f for f in findings.get(case_name, ()) if f.level == "error"]
        if errors:
            failures += 1
            failure = ET.SubElement(case, "failure", type=errors[0].id,
                                    message=errors[0].detail.splitlines()[0][:200])
            failure.text = "\n\n".join(f.detail for f in errors)
        for warning in (f for f in findings.get(case_name, ()) if f.level != "error"):
            ET.SubElement(case, "system-out").text = warning.detail
    element.set("tests", str(len(element.findall("testcase"))))
    element.set("failures", str(failures))
    return element


def document(name: str, suites: Sequence[ET.Element]) -> str:
    """The JUnit document (a ``testsuites`` root) with the totals of ``suites``."""
    root = ET.Element("testsuites", name=name)
    for element in suites:
        root.append(element)
    root.set("tests", str(sum(int(s.get("tests", "0")) for s in suites)))
    root.set("failures", str(sum(int(s.get("failures", "0")) for s in suites)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def by_id(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for finding in findings:
        out.setdefault(finding.id, []).append(finding)
    return out
