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


def record_path(cache: Path, name: str) -> Path:
    return cache / RUNS_DIR / f"{name}.json"


def write_record(cache: Path, name: str, record: dict[str, Any]) -> Path:
    """Atomically replace ``.cache/runs/<name>.json`` with ``record``."""
    path = record_path(cache, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".tmp", dir=path.parent)
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
