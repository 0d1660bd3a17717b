"""Run records: each reporting command's last result, kept in ``.cache/runs/<name>.json``.

The CLI writes one record per run (the command's JSON result, its exit code, the exact
arguments and timing); ``virt-pipeline report`` reads them. A record is written to a temporary
file and renamed into place, so a reader never sees half a record.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

#: the folder under the tree's cache
RUNS_DIR = "runs"
SCHEMA = 1
#: environment variable naming one of several parallel runs of a command (a CI matrix job):
#: its record is ``<name>@<tag>.json`` and the reader merges them
TAG_ENV = "VIRT_PIPELINE_RUN_TAG"


def record_path(cache: Path, name: str, tag: str = "") -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in tag)
    return cache / RUNS_DIR / (f"{name}@{safe}.json" if safe else f"{name}.json")


def write_record(cache: Path, name: str, record: dict[str, Any], *, tag: str = "") -> Path:
    """Atomically replace ``.cache/runs/<name>[@<tag>].json`` with ``record``."""
    path = record_path(cache, name, tag)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"schema": SCHEMA, **record}, out, indent=2, sort_keys=True, default=str)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_record(path: Path) -> dict[str, Any] | None:
    """The record at ``path``; None when there is none or it is not a record."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_merged(folder: Path, name: str) -> dict[str, Any] | None:
    """``<name>.json`` and every ``<name>@<tag>.json`` in ``folder`` as one record: list
    fields of the results concatenated, the worst exit code, the first error."""
    paths = [folder / f"{name}.json", *sorted(folder.glob(f"{name}@*.json"))]
    found = [r for r in (read_record(p) for p in paths) if r is not None]
    if len(found) < 2:
        return found[0] if found else None
    merged = dict(found[0])
    result = dict(merged.get("result") or {}) if isinstance(merged.get("result"), dict) else {}
    for other in found[1:]:
        extra = other.get("result")
        for key, value in (extra.items() if isinstance(extra, dict) else ()):
            if isinstance(value, list) and isinstance(result.get(key), list):
                result[key] = [*result[key], *value]
            else:
                result.setdefault(key, value)
        merged["exit_code"] = max(int(merged.get("exit_code") or 0),
                                  int(other.get("exit_code") or 0))
        merged["error"] = merged.get("error") or other.get("error")
        merged["finished"] = max(float(merged.get("finished") or 0),
                                 float(other.get("finished") or 0))
    merged["result"] = result
    return merged
