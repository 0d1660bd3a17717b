"""verify-upgrade for real: every scenario in pre-flight and on real RPMs in the installroot
sandbox, the CLI's outputs, and mutation tests proving each check fires.

Stand-in RPMs are cached by content hash in one session folder, so the scenarios share them;
each mutation rebuilds only the package it changes.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.core import cmd
from pipeline.matrix import load as matrix
from pipeline.matrix.model import Matrix
from pipeline.upgrade import prepare as prep
from pipeline.upgrade import scenarios, synth
from pipeline.upgrade.manifest import FileEntry, PackageManifest
from pipeline.upgrade.scenarios import Scenario
from pipeline.upgrade.verify import Options, ScenarioResult, fast_roots, run_scenario

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
IDS = ["bclinux7-el7-base", "bclinux7-qemu-kvm-ev", "bclinux-euler-stock", "bclinux7-prev",
       "bclinux-euler-prev", "bclinux7-listen", "bclinux-euler-listen", "bclinux7-ksm",
       "bclinux7-ev-repos-kept"]
MUTATION_BASE = "bclinux7-qemu-kvm-ev"


def _need(*tools: str) -> None:
    for tool in tools:
        if cmd.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


@pytest.fixture(scope="session")
def loaded_matrix() -> Matrix:
    return matrix.load(ROOT, [])


@pytest.fixture(scope="session")
def scenario_file(loaded_matrix: Matrix) -> scenarios.ScenarioFile:
    return scenarios.load(ROOT / "upgrades.yaml", oses=loaded_matrix.oses,
                          packages=loaded_matrix.packages)


@pytest.fixture(scope="session")
def upgrade_cache() -> Path:
    """The tree's stand-in cache: content-addressed, so sharing it across runs is safe."""
    _need("rpm", "rpmbuild", "dnf", "createrepo_c", "unshare")
    path = ROOT / ".cache" / "upgrade"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _inputs(loaded_matrix: Matrix, cache: Path, *, preflight: bool,
            results: tuple[Path, ...] = ()) -> prep.Inputs:
    return prep.Inputs(tree=ROOT, matrix=loaded_matrix, cache=cache, preflight=preflight,
                       result_repos=results or (ROOT / ".cache/results/bclinux7/repo",
                                                ROOT / ".cache/results/bclinux-euler/repo"))


def _options(cache: Path, *, preflight: bool = False) -> Options:
    return Options(cache=cache, preflight=preflight, roots=fast_roots(cache))


def _explain(result: ScenarioResult) -> str:
    return "\n".join(f"{f.id}: {f.detail}" for f in result.findings)


@pytest.mark.parametrize("scenario_id", IDS)
def test_preflight_scenario(scenario_id: str, scenario_file: scenarios.ScenarioFile,
                            loaded_matrix: Matrix, upgrade_cache: Path) -> None:
    scenario = scenario_file.select([scenario_id])[0]
    inputs = _inputs(loaded_matrix, upgrade_cache, preflight=True)
    result = run_scenario(scenario, prep.prepare(scenario, inputs),
                          _options(upgrade_cache, preflight=True))
    assert set(result.sources.values()) == {"stand-in"}
    assert result.final_set == sorted(scenario.expect.final_set), _explain(result)
    assert result.status == "passed", _explain(result)


@pytest.mark.parametrize("scenario_id", IDS)
def test_real_scenario_installroot(scenario_id: str, scenario_file: scenarios.ScenarioFile,
                                   loaded_matrix: Matrix, upgrade_cache: Path) -> None:
    """Real RPMs from the build results where they exist, stand-ins otherwise."""
    scenario = scenario_file.select([scenario_id])[0]
    inputs = _inputs(loaded_matrix, upgrade_cache, preflight=False)
    prepared = prep.prepare(scenario, inputs)
    result = run_scenario(scenario, prepared, _options(upgrade_cache))
    real = prep.real_rpms(inputs.result_repos)
    for name, source in result.sources.items():
        assert source.startswith("stand-in") or (source == "real" and name in real)
    assert result.final_set == sorted(scenario.expect.final_set), _explain(result)
    assert result.status == "passed", _explain(result)


def test_real_rpm_is_used_and_reported(scenario_file: scenarios.ScenarioFile,
                                       loaded_matrix: Matrix, upgrade_cache: Path,
                                       tmp_path: Path) -> None:
    """An RPM in a result folder replaces its stand-in, and the report says so."""
    scenario = scenario_file.select([MUTATION_BASE])[0]
    standins = prep.spec_standins(scenario, _inputs(loaded_matrix, upgrade_cache,
                                                    preflight=True))
    chosen = next(p for p in standins if p.name == "python2-libvirt")
    built = synth.build_rpms([chosen], tmp_path / "rpms", workdir=tmp_path / "build")[0]
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy2(built, results / built.name)
    inputs = _inputs(loaded_matrix, upgrade_cache, preflight=False, results=(results,))
    prepared = prep.prepare(scenario, inputs)
    assert prepared.new.sources["python2-libvirt"] == "real"
    assert prepared.new.sources["qemu"] == "stand-in"
    assert results / built.name in prepared.new.rpms
    result = run_scenario(scenario, prepared, _options(upgrade_cache))
    assert "python2-libvirt" in result.final_set
    assert result.status == "passed", _explain(result)


def test_cli_preflight_outputs(tree: Path, cli: Callable[..., object]) -> None:
    junit_file = tree / "junit.xml"
    res = cli("-C", str(tree), "verify-upgrade", "--preflight", "--scenario", MUTATION_BASE,
              "--json", "--junit", str(junit_file))
    assert res.code == 0, res.err  # type: ignore[attr-defined]
    doc = json.loads(res.out)  # type: ignore[attr-defined]
    (entry,) = doc["scenarios"]
    assert entry["id"] == MUTATION_BASE and entry["preflight"] is True
    assert entry["status"] == "passed" and entry["findings"] == []
    assert "qemu" in entry["final_set"] and "qemu-kvm-ev" not in entry["final_set"]
    cases = ET.parse(junit_file).getroot().findall(".//testcase")
    assert len(cases) >= 12 and all(c.find("failure") is None for c in cases)
    lines = cli("-C", str(tree), "verify-upgrade", "--preflight", "--scenario",
                MUTATION_BASE)
    assert f"{MUTATION_BASE}" in lines.out and "transaction-failed" in lines.out  # type: ignore[attr-defined]


# ---------------------------------------------------------------- mutations

Mutation = Callable[[list[PackageManifest]], list[PackageManifest]]


def _change(name: str, **changes: object) -> Mutation:
    def mutate(pkgs: list[PackageManifest]) -> list[PackageManifest]:
        out = []
        for pkg in pkgs:
            if pkg.name == name:
                fields = {k: (v(pkg) if callable(v) else v) for k, v in changes.items()}
                pkg = dataclasses.replace(pkg, **fields)
            out.append(pkg)
        return out
    return mutate


def _obsoletes(fn: Callable[[str], str | None]) -> Callable[[PackageManifest], tuple[str, ...]]:
    def apply(pkg: PackageManifest) -> tuple[str, ...]:
        return tuple(o for o in (fn(x) for x in pkg.obsoletes) if o is not None)
    return apply


def _wrong_epoch(dep: str) -> str:
    return "qemu-kvm-ev < 3" if dep.startswith("qemu-kvm-ev ") else dep


def _drop_ev(dep: str) -> str | None:
    return None if dep.startswith("qemu-kvm-ev ") else dep


def _unconfig(pkg: PackageManifest) -> tuple[FileEntry, ...]:
    return tuple(dataclasses.replace(f, config=False) if f.path == "/etc/libvirt/qemu.conf"
                 else f for f in pkg.files)


AGENT = PackageManifest(name="vendor-agent", epoch=None, version="1.0", release="1.el7",
                        arch="x86_64", files=(FileEntry("/usr/libexec/vendor-agent"),))

MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "obsoletes-wrong-epoch": (_change("qemu", obsoletes=_obsoletes(_wrong_epoch)),
                              "obsoletes-matches-nothing"),
    "obsoletes-dropped": (_change("qemu", obsoletes=_obsoletes(_drop_ev)), "legacy-leftover"),
    "file-owned-by-legacy-and-new": (
        _change("qemu-img", files=lambda p: (*p.files, FileEntry("/usr/libexec/vendor-agent"))),
        "file-conflict"),
    "failing-post": (_change("libvirt-daemon", scriptlets={"post": "echo boom >&2; exit 1"}),
                     "scriptlet-failed"),
    "requires-nothing-provides": (
        _change("libvirt-libs", requires=lambda p: (*p.requires, "libvirt-missing-dep >= 1")),
        "broken-dependency"),
    "config-edit-lost": (_change("libvirt-daemon-driver-qemu", files=_unconfig),
                         "config-edit-lost"),
}


@pytest.fixture(scope="session")
def mutation_setup(scenario_file: scenarios.ScenarioFile, loaded_matrix: Matrix,
                   upgrade_cache: Path) -> tuple[Scenario, prep.Prepared]:
    scenario = scenario_file.select([MUTATION_BASE])[0]
    # a legacy package nothing replaces, so that a new package can collide with its file
    final = (*scenario.expect.final_set, AGENT.name)
    scenario = dataclasses.replace(scenario, expect=dataclasses.replace(
        scenario.expect, final_set=final))
    prepared = prep.prepare(scenario, _inputs(loaded_matrix, upgrade_cache, preflight=True))
    agent = synth.build_rpms([AGENT], upgrade_cache / "rpms", workdir=upgrade_cache / "build")
    legacy_rpms = sorted(Path(prepared.repos["legacy"]).glob("*.rpm"))
    prepared.repos["legacy"] = str(prep.repo_of([*legacy_rpms, *agent], upgrade_cache))
    prepared.legacy = [*prepared.legacy, AGENT]
    prepared.legacy_names = [*prepared.legacy_names, AGENT.name]
    return scenario, prepared


def _run_mutated(setup: tuple[Scenario, prep.Prepared], mutate: Mutation,
                 cache: Path) -> ScenarioResult:
    scenario, prepared = setup
    new = mutate(list(prepared.new.packages))
    rpms = synth.build_rpms(new, cache / "rpms", workdir=cache / "build")
    repos = dict(prepared.repos)
    repos["new"] = str(prep.repo_of(rpms, cache))
    mutated = dataclasses.replace(prepared, repos=repos, new=prep.NewSet(
        packages=new, rpms=rpms, sources=prepared.new.sources))
    return run_scenario(scenario, mutated, _options(cache, preflight=True))


@pytest.fixture(scope="session")
def unmutated(mutation_setup: tuple[Scenario, prep.Prepared],
              upgrade_cache: Path) -> ScenarioResult:
    return _run_mutated(mutation_setup, lambda pkgs: pkgs, upgrade_cache)


def test_unmutated_run_is_clean(unmutated: ScenarioResult) -> None:
    assert unmutated.status == "passed", _explain(unmutated)
    assert "vendor-agent" in unmutated.final_set and "qemu-kvm-ev" not in unmutated.final_set


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_mutation_fires_its_check(mutation: str, unmutated: ScenarioResult,
                                  mutation_setup: tuple[Scenario, prep.Prepared],
                                  upgrade_cache: Path) -> None:
    mutate, check = MUTATIONS[mutation]
    assert check not in {f.id for f in unmutated.findings}
    result = _run_mutated(mutation_setup, mutate, upgrade_cache)
    fired = [f for f in result.findings if f.id == check]
    assert fired, f"{check} did not fire:\n{_explain(result)}"
    assert result.status == "failed"
    assert all(f.detail for f in fired)  # each carries its evidence
