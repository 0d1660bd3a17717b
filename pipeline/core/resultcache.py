"""Outcomes of slow checks kept by a hash of everything they read, so a re-run whose inputs
did not change replays the outcome instead of redoing the work (the merge-request gate).

A key is a sha256 over named texts, file contents and the identity (path, size, mtime) of
tools. An entry is a JSON object written atomically (tmp + rename) as ``<folder>/<key>.json``
with the time it was stored. ``VP_NO_CHECK_CACHE=1`` turns replaying off (entries are still
written), which is how the benchmark measures the uncached commands.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

DISABLE_ENV = "VP_NO_CHECK_CACHE"


def inputs_key(*, texts: Iterable[tuple[str, str]], files: Iterable[Path],
               stamps: Iterable[Path]) -> str:
    """sha256 over named texts, file contents, and (path, size, mtime) of ``stamps``
    (interpreters and tools: large, and their identity is enough)."""
    digest = hashlib.sha256()
    for name, text in texts:
        digest.update(f"text {name}\0{text}\0".encode())
    for path in files:
        data = path.read_bytes() if path.is_file() else b"<missing>"
        digest.update(f"file {path}\0".encode() + hashlib.sha256(data).digest())
    for path in stamps:
        stat = path.stat() if path.exists() else None
        digest.update(f"stamp {path}\0{stat.st_size if stat else -1}\0"
                      f"{stat.st_mtime_ns if stat else -1}\0".encode())
    return digest.hexdigest()


def load(folder: Path, key: str) -> dict[str, Any] | None:
    """The stored entry (with ``stored``: when), or None (absent, unreadable, turned off)."""
    if os.environ.get(DISABLE_ENV):
        return None
    try:
        data = json.loads((folder / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def stored_when(entry: dict[str, Any]) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(entry.get("stored", 0))))


def store(folder: Path, key: str, data: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".entry-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({**data, "stored": time.time()}, out, default=str)
        os.replace(tmp, folder / f"{key}.json")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
