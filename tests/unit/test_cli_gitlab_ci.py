""".gitlab-ci.yml runs only what a developer can run the same way: every script line is a
``make`` target of the Makefile or a ``virt-pipeline`` command the CLI's own parser accepts
(with the job's variables filled in with sample values)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
RESERVED = {"stages", "workflow", "variables", "default", "include", "image", "services",
            "before_script", "after_script", "cache"}
#: the one bootstrap line a bare image needs before make exists
BOOTSTRAP = ("command -v make >/dev/null || { apt-get update -qq && apt-get install -y -qq "
             "make python3 python3-venv; }")
#: sample values for the variables script lines use
SAMPLES = {"CELLS": "bclinux7-*", "MR_BACKEND": "local", "KOJI_CONFIG": "/run/koji.conf",
           "KOJI_PROFILE": "bclinux"}
def make_targets(makefile: Path) -> set[str]:
    text = makefile.read_text(encoding="utf-8")
    targets = set(re.findall(r"^([A-Za-z0-9_.-]+(?:\s+[A-Za-z0-9_.-]+)*)\s*:(?!=)", text, re.M))
    return {t for group in targets for t in group.split()}


def script_lines(config: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(job, section, line) for every script line of every job and template."""
    default = config.get("default", {})
    for line in default.get("before_script", []):
        yield "default", "before_script", line
    for name, job in config.items():
        if name in RESERVED or not isinstance(job, dict):
            continue
        for section in ("before_script", "script", "after_script"):
            for line in job.get(section, []):
                yield name, section, line


def problems(config: Mapping[str, Any], targets: set[str]) -> list[str]:
    parser = build_parser()
    out = []
    for job, section, line in script_lines(config):
        if line == BOOTSTRAP and section == "before_script":
            continue
        expanded = re.sub(r"\$\{?([A-Z_]+)\}?", lambda m: SAMPLES.get(m.group(1), "X"), line)
        words = shlex.split(expanded)
        where = f"{job}.{section}: {line}"
        if words[0] == "make":
            missing = [w for w in words[1:] if "=" not in w and not w.startswith("-")
                       and w not in targets]
            if missing or len(words) == 1:
                out.append(f"{where}: no make target {missing}")
        elif words[0] == "virt-pipeline":
            try:
                parser.parse_args(words[1:])
            except SystemExit:
                out.append(f"{where}: the CLI refuses it")
        else:
            out.append(f"{where}: neither make nor virt-pipeline")
    return out


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    return data


def test_every_script_line_exists_in_the_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert problems(load(), make_targets(ROOT / "Makefile")) == []
    capsys.readouterr()


@pytest.mark.parametrize("line, why", [
    ("make no-such-target", "no make target"),
    ("virt-pipeline no-such-command", "refuses"),
    ("virt-pipeline build --no-such-option", "refuses"),
    ("./run-something.sh", "neither make nor virt-pipeline"),
])
def test_a_line_calling_nothing_real_is_caught(line: str, why: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = load()
    config["validate"] = {**config["validate"], "script": [line]}
    found = problems(config, make_targets(ROOT / "Makefile"))
    capsys.readouterr()
    assert len(found) == 1 and why in found[0]


def test_shape_of_the_pipeline() -> None:
    config = load()
    mr = "merge_request_event"
    assert mr in str(config["render-check"].get("rules", config["workflow"]["rules"]))
    assert config["build-mr"]["extends"] == [".on-mr", ".cells"]
    assert config["build-koji"]["extends"] == [".on-release", ".cells"]
    assert "parallel" in config[".cells"] and "matrix" in config[".cells"]["parallel"]
    koji = config["build-koji"]["script"][0]
    assert "$KOJI_CONFIG" in koji and "$KOJI_PROFILE" in koji
    report = config["report"]
    assert report["artifacts"]["expose_as"] and report["when"] == "always"
    assert report["artifacts"]["reports"]["junit"] == "report/junit.xml"
    assert report["artifacts"]["paths"] == ["report/"]
    assert config["upgrade-preflight"]["artifacts"]["reports"]["junit"]
    assert "virt-pipeline migcheck" in config["migration-gate"]["script"]
