"""A pre-flight whose inputs did not change is replayed, and one whose inputs changed runs
again: an edit that breaks the upgrade is caught on the next run, cache or not."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.matrix import load as matrix_load
from pipeline.upgrade import replay, scenarios
from pipeline.upgrade.verify import Options
from tests.conftest import CliResult

pytestmark = pytest.mark.integration
SCENARIO = "bclinux-euler-prev"


def preflight(cli: Callable[..., CliResult], tree: Path) -> dict:  # type: ignore[type-arg]
    res = cli("-C", str(tree), "verify-upgrade", "--preflight", "--scenario", SCENARIO,
              "--json")
    (entry,) = json.loads(res.out)["scenarios"]
    return entry  # type: ignore[no-any-return]


def test_unchanged_inputs_replay_changed_inputs_rerun(cli: Callable[..., CliResult],
                                                      tree: Path) -> None:
    first = preflight(cli, tree)
    assert first["status"] == "passed" and "replayed" not in first["log"]
    second = preflight(cli, tree)
    assert "(replayed: inputs unchanged since" in second["log"]
    assert {k: v for k, v in second.items() if k != "log"} == \
        {k: v for k, v in first.items() if k != "log"}
    # the previous release's qemu now sorts after the new one: `upgrade` leaves it in place
    manifest = tree / "legacy" / f"{SCENARIO}.yaml"
    text = manifest.read_text()
    at = text.index("- name: qemu\n")
    manifest.write_text(text[:at] + text[at:].replace("release: 0.1.oe2203.bclinux",
                                                      "release: 9.1.oe2203.bclinux", 1))
    third = preflight(cli, tree)
    assert "replayed" not in third["log"] and third["status"] == "failed"


def test_key_covers_specs_scenario_and_options(tree: Path) -> None:
    matrix = matrix_load.load(tree, [])
    loaded = scenarios.load(tree / "upgrades.yaml", oses=matrix.oses, packages=matrix.packages)
    scenario = next(s for s in loaded.scenarios if s.id == SCENARIO)
    options = Options(cache=tree / ".cache", preflight=True)
    base = replay.key(tree, matrix, scenario, options)
    assert replay.key(tree, matrix, scenario, options) == base
    assert replay.key(tree, matrix, scenario, Options(cache=tree / ".cache", preflight=True,
                                                      package_manager="yum")) != base
    other = next(s for s in loaded.scenarios if s.id != SCENARIO and s.os == scenario.os)
    assert replay.key(tree, matrix, other, options) != base
    spec = tree / "specs" / scenario.os / "libvirt.spec"
    spec.write_text(spec.read_text() + "\n")
    assert replay.key(tree, matrix, scenario, options) != base
    assert not replay.replayable(scenario, Options(cache=tree, preflight=False))
    assert not replay.replayable(scenario, Options(cache=tree, preflight=True, sandbox="podman"))
    assert replay.replayable(scenario, Options(cache=tree, preflight=True))
