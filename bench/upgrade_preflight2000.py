"""Pre-flight of a legacy repo of 2,000 synthetic packages against a new one of 2,000.

The repos come from ``bench/upgrade_repo2000.make_repos`` (cached by content hash under
``.cache/upgrade/bench2000``; the first run builds 4,000 stand-ins). Figures: the pure
pre-checks on the 4,000 manifests (Obsoletes that match nothing, static file conflicts), and
the installroot run (install 2,000, edit a config file, upgrade to 2,000 new, ``rpm -Va``,
repeat the upgrade, every check).
"""

from __future__ import annotations

import time

from pipeline.upgrade import rootbase
from pipeline.upgrade.prepare import NewSet, Prepared
from pipeline.upgrade.scenarios import ConfigEdit, Expectation, Scenario
from pipeline.upgrade.verify import Options, fast_roots, precheck, run_scenario

from . import upgrade_repo2000 as repo2000
from .common import ROOT, timed


def _scenario(new_names: list[str], replaced: dict[str, str]) -> Scenario:
    return Scenario(
        id="repo2000", os="bclinux7", description="2,000 legacy -> 2,000 new",
        legacy_manifests=(), legacy_repos=(), new_packages=None, new_repos=(),
        command=("upgrade",),
        config_edits=(ConfigEdit("/etc/bench/p0001.conf", "# bench edit"),),
        expect=Expectation(replaced=replaced, upgraded=(), removed=(),
                           final_set=tuple(new_names)))


def main() -> list[tuple[str, str]]:
    work = ROOT / ".cache" / "upgrade" / "bench2000"
    started = time.monotonic()
    legacy_repo, new_repo = repo2000.make_repos(work)
    generate = time.monotonic() - started
    legacy, new = repo2000.legacy_packages(), repo2000.new_packages()
    replaced = {p.obsoletes[0].split()[0]: p.name for p in new if p.obsoletes}
    scenario = _scenario([p.name for p in new], replaced)
    prepared = Prepared(legacy=legacy, legacy_names=[p.name for p in legacy],
                        new=NewSet(packages=new, rpms=[], sources={}),
                        repos={"legacy": str(legacy_repo), "new": str(new_repo)},
                        base_names=[rootbase.BASE_NAME])
    pure, found = timed(lambda: precheck(scenario, prepared))
    cache = ROOT / ".cache" / "upgrade"
    total, result = timed(lambda: run_scenario(scenario, prepared, Options(
        cache=cache, preflight=True, roots=fast_roots(cache))))
    return [("upgrade-preflight2000-generate-seconds", f"{generate:.1f}"),
            ("upgrade-preflight2000-precheck-seconds", f"{pure:.2f}"),
            ("upgrade-preflight2000-precheck-findings", str(len(found))),
            ("upgrade-preflight2000-installroot-seconds", f"{total:.1f}"),
            ("upgrade-preflight2000-status", result.status),
            ("upgrade-preflight2000-findings", str(len(result.findings)))]


if __name__ == "__main__":
    for key, value in main():
        print(f"{key}: {value}")
