"""Assemble the report: the grid of cells x packages, the scenarios, the migration gate, the
comparison with the previous release, and the command that reproduces each red cell."""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.matrix.model import Cell, Matrix
from pipeline.report import collect, compare
from pipeline.report.collect import Record, Sources, stage
from pipeline.upgrade.scenarios import FILE_NAME as SCENARIOS_FILE

STAGES = ("render", "validate", "patches", "build")


@dataclass
class Attachments:
    """Files the page links to: copied into the bundle, linked by their place in it."""

    files: dict[str, Path] = field(default_factory=dict)  # bundle-relative path -> source

    def add(self, source: Path, dest: str) -> str | None:
        """``dest`` inside the bundle, or None (no such file, or a name that would leave the
        bundle: record contents are not trusted)."""
        parts = Path(dest).parts
        if not source.is_file() or Path(dest).is_absolute() or ".." in parts:
            return None
        self.files[dest] = source
        return dest


def cli(record: Record | None, *words: str) -> str:
    """A copy-pasteable command run from the tree's root, with the record's profiles."""
    profiles = [w for p in (record or {}).get("profiles", []) for w in ("--profile", str(p))]
    return shlex.join(["virt-pipeline", *profiles, *words])


def build_state(item: Mapping[str, Any], attach: Attachments, record: Record | None,
                package: str, cell: Cell) -> dict[str, Any]:
    entry, manifest, kind = item["entry"], item.get("manifest") or {}, item["kind"]
    if kind == "unbuildable":
        return stage("n/a", "not built here", details=[str(entry.get("reason", ""))])
    key = str(entry.get("key", manifest.get("key", "")))
    folder = Path(item["folder"])
    links = []
    for rel in manifest.get("logs", []):
        dest = attach.add(folder / rel, f"builds/{key}/{rel}")
        if dest:
            links.append((Path(rel).name, dest))
    dest = attach.add(folder / "manifest.json", f"builds/{key}/manifest.json")
    if dest:
        links.append(("result manifest", dest))
    details = [*manifest.get("nevras", []), f"result folder: {folder}"]
    if manifest.get("duration_s") is not None:
        details.insert(0, f"{manifest['duration_s']} s on {manifest.get('backend', '?')}")
    if manifest.get("status") == "ok":
        return stage("pass", "up to date" if kind == "skipped" else "built",
                     details=details, links=links)
    reason = str(manifest.get("reason") or entry.get("reason") or "build failed")
    repro = cli(record, "build", "--packages", package, "--cells", cell.id, "--force",
                "--backend", str(manifest.get("backend", "local")))
    return {**stage("fail", "FAILED", details=[reason, *details], links=links,
                    command=repro),
            "tail": str(manifest.get("log_tail", ""))[-2000:]}


def grid(matrix: Matrix, sources: Sources, attach: Attachments) -> list[dict[str, Any]]:
    """One row per package, one cell per matrix cell, four stages each."""
    rec = sources.records
    builds = collect.build_manifests(sources)
    rows = []
    for package in sorted(matrix.packages):
        cells = []
        for cell in matrix.cells:
            item = next((b for b in builds if _covers(b["entry"], package, cell)), None)
            states = {
                "render": collect.render_state(rec.get("render"), matrix, cell, package),
                "validate": collect.validate_state(rec.get("validate"), cell, package),
                "patches": collect.patches_state(
                    rec.get("patches"), cell, package,
                    has_patches=bool(matrix.packages[package].patches)),
                "build": (build_state(item, attach, rec.get("build"), package, cell) if item
                          else collect.stage("not-run", "not built",
                                             details=["no build of this cell recorded"])),
            }
            _add_repro(states, rec, package, cell)
            cells.append({"cell": cell.id, "stages": states,
                          "state": _worst(s["state"] for s in states.values())})
        rows.append({"package": package, "cells": cells})
    return rows


def _covers(entry: Mapping[str, Any], package: str, cell: Cell) -> bool:
    """A build entry is this cell's when it names the cell and builds the cell's arch (one
    unit's entries can split: x86_64 built, aarch64 not buildable on this host)."""
    arches = entry.get("arches") or [cell.arch]
    return (str(entry.get("key", "")).endswith(f"/{package}")
            and cell.id in entry.get("cells", []) and cell.arch in arches)


def _add_repro(states: dict[str, dict[str, Any]], rec: Mapping[str, Record], package: str,
               cell: Cell) -> None:
    commands = {"render": cli(rec.get("render"), "render", "--check"),
                "validate": cli(rec.get("validate"), "validate", "--cells", cell.id),
                "patches": cli(rec.get("patches"), "patches", "check", "--package", package,
                               "--cells", cell.id)}
    for name, command in commands.items():
        if states[name]["state"] == "fail":
            states[name]["command"] = command


_ORDER = ("fail", "warn", "not-run", "pass", "n/a")
#: a grid cell's own state: its worst stage, where a stage that did not run only counts when
#: no stage ran (each stage still shows "not run" itself)
_CELL_ORDER = ("fail", "warn", "pass", "not-run", "n/a")


def _worst(states: Any) -> str:
    found = set(states)
    return next((s for s in _CELL_ORDER if s in found), "n/a")


def _log_file(recorded: str, logs: Path) -> Path:
    """The scenario's log: where the run wrote it, or (the record came from another machine,
    e.g. a CI job's artifacts) the file of that name in this tree's upgrade logs."""
    path = Path(recorded)
    return path if path.is_file() else logs / path.name


def scenarios(sources: Sources, attach: Attachments) -> list[dict[str, Any]]:
    rows = collect.scenario_rows(sources.records)
    logs = sources.results.parent / "upgrade" / "logs"
    for row in rows:
        record = sources.records.get(row["run"])
        log = attach.add(_log_file(row["log"], logs), f"upgrade/{row['run']}/{row['id']}.log") \
            if row["log"] else None
        row["links"] = [{"label": "commands log", "path": log}] if log else []
        if row["state"] == "fail":
            words = ["verify-upgrade", "--scenario", row["id"]]
            words += ["--preflight"] if row["run"].endswith("preflight") else []
            words += ["--sandbox", "none"] if row["kind"] == "none" else \
                [] if row["run"].endswith("preflight") else ["--sandbox", str(row["kind"])]
            row["command"] = cli(record, *words)
    return rows


def comparisons(tree: Path, matrix: Matrix, results: Path) -> list[dict[str, Any]]:
    path = tree / SCENARIOS_FILE
    if not path.is_file():
        return []
    previous = compare.previous_release(path, matrix)
    return [row for os_id in sorted(previous)
            for row in compare.compare_os(tree, matrix, os_id, previous[os_id], results)]


def assemble(tree: Path, matrix: Matrix, sources: Sources, attach: Attachments, *,
             compare_releases: bool = True) -> dict[str, Any]:
    rows = grid(matrix, sources, attach)
    upgrade = scenarios(sources, attach)
    gate = collect.migration_gate(sources.records.get("migcheck"))
    if gate["state"] == "fail":
        gate["command"] = cli(sources.records.get("migcheck"),
                              *_args(sources.records.get("migcheck")))
    red = [{"where": f"{r['package']} / {c['cell']} / {name}", "command": s["command"],
            "reason": (s["details"] or [s["text"]])[0]}
           for r in rows for c in r["cells"] for name, s in c["stages"].items()
           if s["state"] == "fail" and s.get("command")]
    red += [{"where": f"upgrade / {u['id']} ({u['kind']})", "command": u["command"],
             "reason": u["reason"]} for u in upgrade if u["state"] == "fail"]
    if gate.get("command"):
        red.append({"where": "migration gate", "command": gate["command"],
                    "reason": gate["detail"] or "migcheck found problems"})
    return {"schema": 1, "generated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "tree": str(tree.resolve()), "stages": list(STAGES),
            "cells": [c.id for c in matrix.cells], "grid": rows, "scenarios": upgrade,
            "migration": gate, "runs": _runs(sources.records), "red": red,
            "changes": comparisons(tree, matrix, sources.results) if compare_releases else [],
            "summary": _summary(rows, upgrade, gate)}


def _args(record: Record | None) -> Sequence[str]:
    argv = [str(a) for a in (record or {}).get("argv", [])]
    out, skip = [], False
    for word in argv:  # drop global options: cli() adds the profiles back
        if skip:
            skip = False
        elif word in ("-C", "--profile"):
            skip = True
        elif word != "--json" and word not in ("-v", "--verbose"):
            out.append(word)
    return out


def _runs(records: Mapping[str, Record]) -> list[dict[str, Any]]:
    return [{"name": n, "exit_code": r.get("exit_code"), "duration_s": r.get("duration_s"),
             "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                       time.gmtime(float(r.get("finished", 0)))),
             "command": cli(r, *_args(r))} for n, r in records.items()]


def _summary(rows: list[dict[str, Any]], upgrade: list[dict[str, Any]],
             gate: Mapping[str, Any]) -> dict[str, Any]:
    states = [s["state"] for r in rows for c in r["cells"] for s in c["stages"].values()]
    counts = {s: states.count(s) for s in _ORDER}
    failed = [u["id"] for u in upgrade if u["state"] == "fail"]
    overall = "fail" if counts["fail"] or failed or gate["state"] == "fail" else \
        "warn" if counts["warn"] else "pass"
    return {"state": overall, "stages": counts, "scenarios": len(upgrade),
            "scenarios_failed": failed, "migration": gate["state"]}
