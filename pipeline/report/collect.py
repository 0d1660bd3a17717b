"""The last run of each stage, read into one JSON-ready model (no tool is run here).

Sources: the run records the CLI keeps (``.cache/runs/<command>.json``: render, validate,
patches, build, verify-upgrade, verify-upgrade-preflight, migcheck) and the build result
folders (``.cache/results/<os>/<package>/<fingerprint>/manifest.json``). A stage with no record
is "not run", never "pass". States: ``pass``, ``fail``, ``warn``, ``not-run``, ``n/a``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.builds.results import MANIFEST
from pipeline.core.errors import InputError
from pipeline.core.runs import RUNS_DIR, read_merged, read_record
from pipeline.matrix.model import Cell, Matrix
from pipeline.upgrade.checks import checks_run

#: the records the report reads, in the order of the flow
RECORDS = ("render", "validate", "patches", "srpm", "build", "verify-upgrade-preflight",
           "verify-upgrade", "migcheck")
Record = Mapping[str, Any]


@dataclass(frozen=True)
class Sources:
    """Where the runs are: a folder of records, or a run manifest naming one file per command."""

    records: dict[str, Record]
    results: Path  # the build result store


def load_sources(cache: Path, run: Path | None = None) -> Sources:
    """Records from ``cache/runs`` or from ``run``: a folder of records, or a JSON manifest
    ``{"runs": {"build": "build.json", ...}, "results": DIR}`` with paths relative to it."""
    results = cache / "results"
    if run is None or run.is_dir():
        folder = run or cache / RUNS_DIR
        found = {n: read_merged(folder, n) for n in RECORDS}
        return Sources({n: r for n, r in found.items() if r is not None}, results)
    try:
        manifest = json.loads(run.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"not a run manifest (JSON): {exc}", file=str(run)) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("runs"), dict):
        raise InputError('a run manifest is {"runs": {"<command>": "<record>.json", ...}}',
                         file=str(run), key="runs")
    records: dict[str, Record] = {}
    for name, rel in manifest["runs"].items():
        record = read_record(run.parent / str(rel))
        if record is not None:
            records[str(name)] = record
    if manifest.get("results"):
        results = run.parent / str(manifest["results"])
    return Sources(records, results)


def stage(state: str, text: str, *, details: Iterable[str] = (),
          links: Iterable[tuple[str, str]] = (), command: str | None = None) -> dict[str, Any]:
    """One stage's state in one grid cell (``links``: label, path; ``command``: the record's)."""
    return {"state": state, "text": text, "details": list(details),
            "links": [{"label": label, "path": path} for label, path in links],
            "command": command}


def _result(record: Record | None) -> Mapping[str, Any]:
    result = record.get("result") if record else None
    return result if isinstance(result, Mapping) else {}


def _not_run(what: str) -> dict[str, Any]:
    return stage("not-run", "not run", details=[f"no {what} record in .cache/runs"])


def render_state(record: Record | None, matrix: Matrix, cell: Cell, package: str
                 ) -> dict[str, Any]:
    if record is None:
        return _not_run("render")
    if record.get("error"):
        return stage("fail", "error", details=[str(record["error"])])
    prefixes = [f"specs/{cell.os.id}/{package}.spec",
                f"specs/{cell.os.id}/{cell.flavor_name}/{package}.spec"]
    stale = [s for s in _result(record).get("stale", []) if str(s).split(" ")[0] in prefixes]
    if stale:
        return stage("fail", "stale", details=[f"stale: {s}" for s in stale])
    return stage("pass", "fresh")


def validate_state(record: Record | None, cell: Cell, package: str) -> dict[str, Any]:
    result = _result(record)
    if record is None or cell.id not in result.get("cells", []):
        return _not_run("validate") if record is None else stage(
            "not-run", "not checked", details=["the last validate run did not select this cell"])
    mine = [f for f in result.get("findings", [])
            if f.get("cell") in (cell.id, None) and f.get("package") in (package, None)]
    lines = [f"{f['level']}: {f['id']}: {f['detail']}" for f in mine]
    if any(f.get("level") == "error" for f in mine):
        return stage("fail", f"{sum(f.get('level') == 'error' for f in mine)} errors",
                     details=lines)
    return stage("warn", f"{len(mine)} warnings", details=lines) if mine else stage("pass", "clean")


def patches_state(record: Record | None, cell: Cell, package: str, *,
                  has_patches: bool = True) -> dict[str, Any]:
    if not has_patches:
        return stage("n/a", "no series", details=["the matrix gives this package no patches"])
    if record is None:
        return _not_run("patches")
    result = _result(record)
    applied = [r for r in result.get("results", [])
               if r.get("package") == package and cell.id in r.get("cells", [])]
    found = [f for f in result.get("findings", []) if f.get("package") == package
             and (f.get("cell") is None or cell.id in str(f.get("cell")).split(","))]
    if not applied and not found:
        return stage("not-run", "not checked",
                     details=["the last patches run did not check this package and cell"])
    lines = [f"{f['level']}: {f['id']}: {f['detail']}" for f in found]
    lines += [f"{r['status']}: {r['patch']}" for r in applied if r.get("status") != "applies"]
    if any(f.get("level") == "error" for f in found):
        return stage("fail", "problems", details=lines)
    text = f"{len(applied)} apply" + (f", {len(found)} warnings" if found else "")
    return stage("warn" if found else "pass", text, details=lines)


def scenario_rows(records: Mapping[str, Record]) -> list[dict[str, Any]]:
    """Every upgrade scenario of the pre-flight and the sandbox run, with each check's state."""
    rows = []
    for name in ("verify-upgrade-preflight", "verify-upgrade"):
        record = records.get(name)
        for s in _result(record).get("scenarios", []):
            errors: dict[str, list[str]] = {}
            for f in s.get("findings", []):
                if f.get("level") == "error":
                    errors.setdefault(f["id"], []).append(str(f.get("detail", "")))
            ran = list(checks_run(s.get("sandbox", "none")))
            checks = [{"id": c, "state": "fail" if c in errors else "pass",
                       "details": errors.get(c, [])}
                      for c in ran + sorted(set(errors) - set(ran))]
            rows.append({"id": s["id"], "os": s.get("os"), "run": name,
                         "kind": "pre-flight" if s.get("preflight") else s.get("sandbox"),
                         "state": "fail" if s.get("status") != "passed" else "pass",
                         "checks": checks, "final_set": s.get("final_set", []),
                         "sources": s.get("sources", {}),
                         # "LOG (kept: ROOT)" / "LOG (replayed: ...)": the file
                         "log": str(s.get("log", "")).split(" (")[0],
                         "reason": next((d[0] for d in errors.values() if d), "")})
    return rows


def migration_gate(record: Record | None) -> dict[str, Any]:
    """The migration gate (``virt-pipeline migcheck``) when a run of it is recorded; its result
    is shown as it is: findings when it has them, else its top-level fields."""
    if record is None:
        return {"state": "not-run", "text": "not run", "findings": [], "fields": {},
                "detail": "no migcheck record in .cache/runs (the gate has not run)"}
    code = record.get("exit_code")
    state = {0: "pass", 1: "fail"}.get(code if isinstance(code, int) else -1, "not-run")
    result = record.get("result")
    findings = result.get("findings", []) if isinstance(result, Mapping) else []
    fields = {k: json.dumps(v, default=str)[:300] for k, v in result.items()
              if k != "findings"} if isinstance(result, Mapping) else {}
    return {"state": state, "text": {"pass": "pass", "fail": "FAIL"}.get(state, "not run"),
            "findings": [f for f in findings if isinstance(f, Mapping)], "fields": fields,
            "detail": str(record.get("error") or "")}


def build_manifests(sources: Sources) -> list[dict[str, Any]]:
    """The manifests of the last build run (its record's entries), else the newest per unit."""
    record = sources.records.get("build")
    if record is not None:
        result = _result(record)
        out = []
        for kind in ("built", "failed", "skipped", "unbuildable"):
            for item in result.get(kind, []):
                manifest = _manifest(sources.results, item.get("key", ""),
                                     item.get("fingerprint", ""))
                out.append({"entry": item, "kind": kind, "manifest": manifest,
                            "folder": str(sources.results / item.get("key", "") /
                                          item.get("fingerprint", ""))})
        return out
    return _newest(sources.results)


def _manifest(results: Path, key: str, fingerprint: str) -> dict[str, Any] | None:
    path = results / key / fingerprint / MANIFEST
    data = read_record(path) if key and fingerprint else None
    return dict(data) if data else None


def _newest(results: Path) -> list[dict[str, Any]]:
    newest: dict[str, dict[str, Any]] = {}
    for path in sorted(results.glob(f"*/*/*/{MANIFEST}")):
        data = read_record(path)
        if data is None or "key" not in data:
            continue
        old = newest.get(data["key"])
        if old is None or float(data.get("finished", 0)) > float(old["manifest"]["finished"]):
            newest[data["key"]] = {"entry": {"key": data["key"], "cells": data.get("cells", []),
                                             "arches": data.get("arches", [])},
                                   "kind": "built" if data.get("status") == "ok" else "failed",
                                   "manifest": dict(data), "folder": str(path.parent)}
    return list(newest.values())
