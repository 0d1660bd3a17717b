"""The report's grid as JUnit XML, for CI's test widget: one testsuite per package, one
testcase per cell and stage (a red stage is a failure carrying its reason and the command
that reproduces it, a stage that did not run is skipped), plus the migration gate."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any


def to_xml(model: Mapping[str, Any]) -> str:
    root = ET.Element("testsuites", name="virt-pipeline report")
    total = failed = 0
    for row in model["grid"]:
        suite = ET.SubElement(root, "testsuite", name=f"grid.{row['package']}")
        count = fails = 0
        for cell in row["cells"]:
            for name, stage in cell["stages"].items():
                if stage["state"] == "n/a":
                    continue
                count += 1
                fails += _case(suite, f"{cell['cell']}.{name}", f"grid.{row['package']}",
                               stage["state"], _message(stage), stage.get("command"))
        suite.set("tests", str(count))
        suite.set("failures", str(fails))
        total, failed = total + count, failed + fails
    gate = model["migration"]
    suite = ET.SubElement(root, "testsuite", name="migration", tests="1")
    fails = _case(suite, "migcheck", "migration", gate["state"],
                  gate.get("detail") or gate["text"], gate.get("command"))
    suite.set("failures", str(fails))
    root.set("tests", str(total + 1))
    root.set("failures", str(failed + fails))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _message(stage: Mapping[str, Any]) -> str:
    return "\n".join([str(stage["text"]), *map(str, stage.get("details", []))])


def _case(suite: ET.Element, name: str, classname: str, state: str, message: str,
          command: str | None) -> int:
    case = ET.SubElement(suite, "testcase", name=name, classname=classname)
    if state == "fail":
        failure = ET.SubElement(case, "failure", message=message.splitlines()[0][:200])
        failure.text = message + (f"\nreproduce: {command}" if command else "")
        return 1
    if state == "not-run":
        ET.SubElement(case, "skipped", message=message.splitlines()[0][:200])
    return 0
