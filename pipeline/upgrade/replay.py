"""Pre-flight outcomes replayed when nothing they read changed (the merge-request gate).

A pre-flight scenario reads only the tree and this host's tools: the scenario's definition,
its legacy manifests, the OS's rendered specs (the new set's stand-ins come from them), the
macro files, the toolkit's own code, and rpm/rpmbuild/dnf/createrepo_c. The key hashes all of
them; a scenario that names repos of its own (folders or URLs whose content is not the tree's)
is never replayed. Sandbox runs against built packages, and runs in containers, are never
replayed either.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pipeline.core import resultcache
from pipeline.core.findings import Finding
from pipeline.matrix.model import Matrix
from pipeline.upgrade.scenarios import Scenario
from pipeline.upgrade.verify import Options, ScenarioResult

TOOLS = ("rpm", "rpmbuild", "dnf", "createrepo_c", "busybox")
CODE = Path(__file__).resolve().parents[1]  # the pipeline package


def replayable(scenario: Scenario, options: Options) -> bool:
    """Pre-flights in an installroot (or none): a container image is named, not hashed, so a
    rebuilt image under the same tag would be mistaken for the old one."""
    return (options.preflight and options.sandbox in ("installroot", "none")
            and not (scenario.legacy_repos or scenario.new_repos))


def key(tree: Path, matrix: Matrix, scenario: Scenario, options: Options) -> str:
    specs = sorted(Path(matrix.specs_dir, scenario.os).rglob("*.spec"))
    macros = sorted((tree / "macros").glob("*"))
    code = sorted(CODE.rglob("*.py"))
    tools = [Path(p) for p in (shutil.which(t) for t in TOOLS) if p]
    settings = {k: v for k, v in asdict(options).items() if k not in ("cache", "roots", "keep")}
    return resultcache.inputs_key(
        texts=[("scenario", repr(scenario)), ("options", repr(sorted(settings.items())))],
        files=[*scenario.legacy_manifests, *specs, *macros, *code], stamps=tools)


def load(folder: Path, entry_key: str) -> ScenarioResult | None:
    entry = resultcache.load(folder, entry_key)
    if entry is None:
        return None
    data: dict[str, Any] = entry["result"]
    return ScenarioResult(
        id=data["id"], os=data["os"], sandbox=data["sandbox"], preflight=data["preflight"],
        findings=[Finding(**f) for f in data["findings"]], final_set=list(data["final_set"]),
        sources=dict(data["sources"]),
        log=f"{data['log']} (replayed: inputs unchanged since {resultcache.stored_when(entry)})")


def store(folder: Path, entry_key: str, result: ScenarioResult) -> None:
    data = {"id": result.id, "os": result.os, "sandbox": result.sandbox,
            "preflight": result.preflight, "findings": [f.to_json() for f in result.findings],
            "final_set": result.final_set, "sources": result.sources, "log": result.log}
    resultcache.store(folder, entry_key, {"result": data})
