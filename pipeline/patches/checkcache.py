"""Results of the slow post-checks (``rpmbuild -bp`` plus the Python 2/3 builds of
libvirt-python), kept by a hash of everything they read, so an unchanged cell is not built
again on the next push.

The key covers the cell (id, dist), the rendered spec, the OS macro files, the package's
source checksums and patch files, the interpreters (path, size, mtime), the host's libvirt.pc
and the checking code itself. A stored entry holds the findings and notes of the run; a hit
replays them, saying so. ``VP_NO_CHECK_CACHE=1`` turns the cache off.
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

from pipeline.core.findings import Finding

DISABLE_ENV = "VP_NO_CHECK_CACHE"


def inputs_key(*, texts: Iterable[tuple[str, str]], files: Iterable[Path],
               stamps: Iterable[Path]) -> str:
    """sha256 over named texts, file contents, and (path, size, mtime) of ``stamps``
    (interpreters: their content is large and their identity is enough)."""
    digest = hashlib.sha256()
    for name, text in texts:
        digest.update(f"text {name}\0{text}\0".encode())
    for path in files:
        data = path.read_bytes() if path.is_file() else b"<missing>"
        digest.update(f"file {path.name}\0".encode() + hashlib.sha256(data).digest())
    for path in stamps:
        stat = path.stat() if path.exists() else None
        digest.update(f"stamp {path}\0{stat.st_size if stat else -1}\0"
                      f"{stat.st_mtime_ns if stat else -1}\0".encode())
    return digest.hexdigest()


def load(folder: Path, key: str) -> tuple[list[Finding], list[str]] | None:
    if os.environ.get(DISABLE_ENV):
        return None
    try:
        data = json.loads((folder / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    findings = [Finding(**f) for f in data["findings"]]
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(data["stored"])))
    notes = [f"{n} (cached: inputs unchanged since {when})" for n in data["notes"]]
    return findings, notes


def store(folder: Path, key: str, findings: list[Finding], notes: list[str]) -> None:
    """Atomically keep a run's outcome (tmp + rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"findings": [f.to_json() for f in findings], "notes": notes,
                            "stored": time.time()}
    fd, tmp = tempfile.mkstemp(prefix=".entry-", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out)
    os.replace(tmp, folder / f"{key}.json")
