"""JUnit XML for CI: one testcase per scenario and check, failures carrying the evidence."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Protocol

from pipeline.core import junit
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
    suites = []
    for result in results:
        ran = [k for k in checks if result.sandbox != "none" or k in PRECHECKS]
        suites.append(_suite(result, ran))
    return junit.document("virt-pipeline verify-upgrade", suites)


def _suite(result: _Result, checks: Sequence[str]) -> ET.Element:
    mode = "preflight" if result.preflight else "real"
    props = [("os", result.os), ("sandbox", result.sandbox), ("mode", mode)]
    props += [(f"source.{pkg}", source) for pkg, source in sorted(result.sources.items())]
    return junit.suite(f"verify-upgrade.{result.id}", checks, junit.by_id(result.findings),
                       props)
