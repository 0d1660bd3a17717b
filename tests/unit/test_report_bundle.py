"""The report: run records kept by the CLI, the grid's states, red cells with their command,
links that resolve inside the bundle, and untrusted text escaped."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import pytest

from pipeline.core import runs as runs_mod
from pipeline.report import bundle
from tests.conftest import CliResult
from tests.support.reportdata import demo_like, record
from tests.support.reportdata import scenario as scenario_row

Cli = Callable[..., CliResult]


def report(cli: Cli, tree: Path, *extra: str) -> tuple[CliResult, dict, str]:  # type: ignore[type-arg]
    out = tree / "bundle"
    result = cli("-C", str(tree), "report", "--out", str(out), "--no-compare", *extra)
    data = json.loads((out / "report.json").read_text())
    return result, data, (out / "index.html").read_text()


def cell(data: dict, package: str, cell_id: str) -> dict:  # type: ignore[type-arg]
    row = next(r for r in data["grid"] if r["package"] == package)
    return next(c for c in row["cells"] if c["cell"] == cell_id)  # type: ignore[no-any-return]


def test_cli_keeps_a_record_of_each_reporting_run(cli: Cli, tree: Path) -> None:
    assert cli("-C", str(tree), "render", "--check").code == 0
    rec = json.loads((tree / ".cache/runs/render.json").read_text())
    assert rec["exit_code"] == 0 and rec["result"]["stale"] == []
    assert rec["argv"][-2:] == ["render", "--check"]
    # bad input (exit 2) does not replace the last record, and leaves no temporary file
    record(tree, "build", {"built": ["kept"]})
    assert cli("-C", str(tree), "build", "--packages", "nope").code == 2
    kept = json.loads((tree / ".cache/runs/build.json").read_text())
    assert kept["result"] == {"built": ["kept"]}
    assert sorted(p.name for p in (tree / ".cache/runs").iterdir()) == ["build.json",
                                                                        "render.json"]


def test_stale_spec_turns_only_its_cells_red(cli: Cli, tree: Path) -> None:
    spec = tree / "specs/bclinux7/qemu.spec"
    spec.write_text(spec.read_text() + "\n# hand edit\n")
    assert cli("-C", str(tree), "render", "--check").code == 1
    result, data, _ = report(cli, tree, "--junit", str(tree / "junit.xml"))
    assert result.code == 1
    failure = ET.parse(tree / "junit.xml").getroot().find(
        ".//testcase[@name='bclinux7-x86_64.render']/failure")
    assert failure is not None and "reproduce: virt-pipeline render --check" in str(failure.text)
    assert cell(data, "qemu", "bclinux7-x86_64")["stages"]["render"]["state"] == "fail"
    assert cell(data, "libvirt", "bclinux7-x86_64")["stages"]["render"]["state"] == "pass"
    assert cell(data, "qemu", "bclinux-euler-x86_64")["stages"]["render"]["state"] == "pass"
    red = [r for r in data["red"] if r["where"] == "qemu / bclinux7-x86_64 / render"]
    assert red and red[0]["command"] == "virt-pipeline render --check"


def test_demo_like_run_grid_and_links(cli: Cli, tree: Path) -> None:
    demo_like(tree)
    result, data, html = report(cli, tree)
    assert result.code == 0, result.err
    built = cell(data, "libvirt-python", "bclinux-euler-x86_64")["stages"]["build"]
    assert built["state"] == "pass"
    assert "python3-libvirt-9.0.0-1.oe2203.bclinux.x86_64" in built["details"]
    aarch64 = cell(data, "libvirt-python", "bclinux-euler-aarch64")["stages"]["build"]
    assert (aarch64["state"], aarch64["text"]) == ("n/a", "not built here")
    assert aarch64["details"] == ["local backend cannot build aarch64 here"]
    assert cell(data, "qemu", "bclinux7-x86_64")["stages"]["validate"]["state"] == "warn"
    assert cell(data, "qemu", "bclinux7-x86_64")["stages"]["build"]["state"] == "not-run"
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert any(h.endswith("build.log") for h in hrefs)
    for href in hrefs:  # every link resolves inside the bundle
        target = (tree / "bundle" / unquote(href)).resolve()
        assert target.is_file() and (tree / "bundle").resolve() in target.parents, href
    assert "http" not in " ".join(re.findall(r'(?:src|href)="([^"]+)"', html))


def test_failed_scenario_is_red_with_reason_and_command(cli: Cli, tree: Path) -> None:
    demo_like(tree, failed_scenario="bclinux7-el7-base")
    result, data, html = report(cli, tree, "--junit", str(tree / "junit.xml"))
    assert result.code == 1
    suites = ET.parse(tree / "junit.xml").getroot()
    assert suites.get("failures") == "0"  # the grid is green: the scenario has its own JUnit
    assert suites.find(".//testcase[@name='bclinux7-x86_64.build']/skipped") is not None
    red = [r for r in data["red"] if "bclinux7-el7-base" in r["where"]]
    assert red[0]["reason"].startswith("qemu-kvm is still installed")
    assert red[0]["command"] == ("virt-pipeline --profile profiles/demo.yaml verify-upgrade "
                                 "--scenario bclinux7-el7-base --sandbox installroot")
    assert "qemu-kvm is still installed after the upgrade" in html
    assert data["summary"]["scenarios_failed"] == ["bclinux7-el7-base"]


def test_untrusted_text_is_escaped(cli: Cli, tree: Path) -> None:
    demo_like(tree)
    evil = "<script>alert(1)</script>"
    record(tree, "validate", {"cells": ["bclinux7-x86_64"], "findings": [
        {"id": "changelog", "level": "error", "cell": "bclinux7-x86_64", "package": "qemu",
         "detail": f"%changelog says {evil}"}]}, code=1)
    _, _, html = report(cli, tree)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()


def test_package_summary_is_escaped() -> None:
    change = {"os": "bclinux7", "package": "qemu", "binaries": [
        {"name": "qemu", "summary": "<script>x()</script> QEMU", "old": "a", "new": "b",
         "new_source": "real", "status": "changed",
         "deps": {"requires": {"added": ["<img src=x onerror=y>"]}}, "files": {},
         "scriptlets": {}}]}
    model = {"summary": {"state": "pass", "stages": {}, "scenarios": 0, "scenarios_failed": [],
                         "migration": "not-run"},
             "generated": "now", "tree": "t", "stages": [], "grid": [], "scenarios": [],
             "migration": {"state": "not-run", "detail": "", "findings": [], "fields": {}},
             "runs": [], "red": [], "changes": [change]}
    html = bundle.render_html(model)
    assert "&lt;script&gt;x()&lt;/script&gt; QEMU" in html
    assert "<script" not in html.lower() and "<img" not in html


def test_migration_gate_slot_reads_a_migcheck_record(cli: Cli, tree: Path) -> None:
    demo_like(tree)
    _, data, _ = report(cli, tree)
    assert data["migration"]["state"] == "not-run"
    record(tree, "migcheck", {"findings": [{"id": "machine-type-missing", "level": "error",
                                            "detail": "pc-i440fx-rhel7.6.0 not in 6.2"}]},
           code=1, argv=["migcheck", "--json"])
    result, data, html = report(cli, tree)
    assert result.code == 1 and data["migration"]["state"] == "fail"
    assert "pc-i440fx-rhel7.6.0 not in 6.2" in html
    assert any(r["where"] == "migration gate" and r["command"] == "virt-pipeline migcheck"
               for r in data["red"])


def test_parallel_runs_of_one_command_are_merged(cli: Cli, tree: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    demo_like(tree, failed_scenario="bclinux7-el7-base")
    runs = tree / ".cache/runs"
    (runs / "verify-upgrade.json").rename(runs / "verify-upgrade@bclinux7.json")
    monkeypatch.setenv(runs_mod.TAG_ENV, "euler job/1")
    assert cli("-C", str(tree), "render", "--check").code == 0
    assert (runs / "render@euler_job_1.json").is_file()
    record(tree, "verify-upgrade", {"scenarios": [scenario_row("bclinux-euler-stock",
                                                               "bclinux-euler",
                                                               preflight=False)]})
    _, data, _ = report(cli, tree)
    seen = {(s["id"], s["state"]) for s in data["scenarios"] if s["run"] == "verify-upgrade"}
    assert seen == {("bclinux7-el7-base", "fail"), ("bclinux-euler-prev", "pass"),
                    ("bclinux-euler-stock", "pass")}
    assert data["summary"]["state"] == "fail"


def test_run_manifest_names_the_records(cli: Cli, tree: Path) -> None:
    demo_like(tree, failed_scenario="bclinux7-el7-base")
    elsewhere = tree / "ci-artifacts"
    (tree / ".cache/runs").rename(elsewhere)
    manifest = tree / "run.json"
    manifest.write_text(json.dumps({"runs": {"verify-upgrade": "ci-artifacts/verify-upgrade.json"},
                                    "results": ".cache/results"}))
    result, data, _ = report(cli, tree, "--run", str(manifest))
    assert result.code == 1 and [r["run"] for r in data["scenarios"]] == ["verify-upgrade"] * 2
    assert data["grid"][0]["cells"][0]["stages"]["render"]["state"] == "not-run"
    manifest.write_text("{not json")
    bad = cli("-C", str(tree), "report", "--out", str(tree / "b2"), "--run", str(manifest))
    assert bad.code == 2 and bad.err.startswith(f"virt-pipeline: {manifest}: not a run manifest")
    assert "Traceback" not in bad.err and not (tree / "b2").exists()


def test_logs_of_records_made_elsewhere_are_found_in_the_tree(cli: Cli, tree: Path) -> None:
    demo_like(tree)
    runs = tree / ".cache/runs/verify-upgrade.json"
    data = json.loads(runs.read_text())
    data["result"]["scenarios"][0]["log"] = "/builds/job-42/.cache/upgrade/logs/" \
        "bclinux7-el7-base.log (replayed: inputs unchanged since then)"
    runs.write_text(json.dumps(data))
    _, _, html = report(cli, tree)
    assert 'href="upgrade/verify-upgrade/bclinux7-el7-base.log"' in html
    assert (tree / "bundle/upgrade/verify-upgrade/bclinux7-el7-base.log").read_text() == \
        "dnf -y upgrade\nComplete!\n"


def test_attachment_names_cannot_leave_the_bundle(tmp_path: Path) -> None:
    from pipeline.report.model import Attachments

    log = tmp_path / "build.log"
    log.write_text("x")
    attach = Attachments()
    assert attach.add(log, "builds/bclinux7/qemu/logs/build.log") is not None
    assert attach.add(log, "builds/bclinux7/qemu/../../../../escape.log") is None
    assert attach.add(log, "/etc/escape.log") is None
    assert attach.add(tmp_path / "missing.log", "builds/x.log") is None
    assert list(attach.files) == ["builds/bclinux7/qemu/logs/build.log"]
