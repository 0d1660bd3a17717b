"""upgrades.yaml parsing: typed scenarios, line-numbered errors, and the JUnit/JSON outputs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.core.findings import Finding
from pipeline.upgrade import junit, scenarios
from pipeline.upgrade.checks import CHECKS
from pipeline.upgrade.verify import ScenarioResult

OSES = {"bclinux7", "bclinux-euler"}
PACKAGES = {"qemu", "libvirt", "libvirt-python"}
GOOD = """\
schema: 1
images:
  bclinux7: {ref: "localhost/el7:test", base: true}
scenarios:
  s1:
    os: bclinux7
    legacy: {manifests: [legacy/a.yaml]}
    new: {packages: [qemu]}
    config_edits:
      - {path: /etc/libvirt/qemu.conf, append: "# edit"}
    expect:
      replaced: {qemu-kvm-ev: qemu}
      upgraded: [libvirt]
      final_set: [qemu, libvirt]
    rpm_va_exceptions:
      - {path: /var/log/*, reason: logs}
  s2:
    os: bclinux-euler
    legacy: {repos: [/srv/legacy]}
    new: {packages: all}
    command: [distro-sync]
    expect:
      final_set: [qemu]
"""


def _load(tmp_path: Path, text: str) -> scenarios.ScenarioFile:
    path = tmp_path / "upgrades.yaml"
    path.write_text(text, encoding="utf-8")
    return scenarios.load(path, oses=OSES, packages=PACKAGES)


def test_good_file(tmp_path: Path) -> None:
    loaded = _load(tmp_path, GOOD)
    s1, s2 = loaded.scenarios
    assert s1.legacy_manifests == (tmp_path / "legacy/a.yaml",)
    assert s1.new_packages == ("qemu",) and s2.new_packages is None
    assert s1.command == ("upgrade",) and s2.command == ("distro-sync",)
    assert s1.expect.replaced == {"qemu-kvm-ev": "qemu"}
    assert s1.config_edits[0].expect_rpmnew
    assert s1.va_exceptions[0].covers("/var/log/libvirt/x.log")
    assert loaded.images["bclinux7"].base
    assert [s.id for s in loaded.select(["s2"])] == ["s2"]
    assert s1.source.endswith("upgrades.yaml:5")


@pytest.mark.parametrize(("old", "new", "where"), [
    ("os: bclinux7\n    legacy", "os: bclinux8\n    legacy", "upgrades.yaml:6: scenarios.s1.os"),
    ("upgraded: [libvirt]", "upgrad: [libvirt]", "scenarios.s1.expect.upgrad: unknown key "
                                                 "(did you mean 'upgraded'?)"),
    ("new: {packages: [qemu]}", "new: {packages: [qemu-kvm]}", "scenarios.s1.new.packages.0"),
    ("final_set: [qemu, libvirt]", "final_set: [libvirt]", "qemu replaces qemu-kvm-ev but is "
                                                          "not in final_set"),
    ("legacy: {repos: [/srv/legacy]}", "legacy: {}", "a legacy set needs manifests or repos"),
])
def test_errors_name_file_line_key(tmp_path: Path, old: str, new: str, where: str) -> None:
    with pytest.raises(InputError) as err:
        _load(tmp_path, GOOD.replace(old, new))
    assert where in str(err.value)


def test_select_unknown_pattern(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no scenario matches"):
        _load(tmp_path, GOOD).select(["nope*"])


def test_tree_file_loads_with_the_matrix() -> None:
    tree = Path(__file__).resolve().parents[2]
    loaded = scenarios.load(tree / "upgrades.yaml", oses=OSES, packages=PACKAGES)
    ids = {s.id for s in loaded.scenarios}
    assert {"bclinux7-el7-base", "bclinux7-qemu-kvm-ev", "bclinux-euler-stock",
            "bclinux7-prev", "bclinux-euler-prev"} <= ids
    for scenario in loaded.scenarios:
        for manifest in scenario.legacy_manifests:
            assert manifest.is_file(), manifest


def test_junit_one_testcase_per_scenario_and_check() -> None:
    bad = Finding("file-conflict", "error", "s1", "qemu", "/usr/bin/x: a conflicts with b")
    results = [ScenarioResult("s1", "bclinux7", "installroot", True, [bad], ["qemu"],
                              {"qemu": "stand-in"}),
               ScenarioResult("s2", "bclinux-euler", "podman", False, [], ["qemu"],
                              {"qemu": "real"})]
    root = ET.fromstring(junit.to_xml(results, CHECKS))
    cases = root.findall(".//testcase")
    assert len(cases) == 2 * len(CHECKS)
    failed = [c for c in cases if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failed] == [
        ("verify-upgrade.s1", "file-conflict")]
    assert "a conflicts with b" in (failed[0].find("failure").text or "")  # type: ignore[union-attr]
    assert root.get("failures") == "1"
    assert results[0].to_json()["status"] == "failed"
    assert results[1].to_json()["status"] == "passed"
