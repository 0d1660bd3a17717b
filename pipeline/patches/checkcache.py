"""Results of the slow post-checks (``rpmbuild -bp`` plus the Python 2/3 builds of
libvirt-python), kept by a hash of everything they read (:mod:`pipeline.core.resultcache`), so
an unchanged cell is not built again on the next push.

The key (made by the patches command) covers the cell (id, dist), the rendered spec, the OS
macro files, the package's source checksums and patch files, the interpreters (path, size,
mtime), the host's libvirt.pc and the checking code itself. A hit replays the findings and
notes of the stored run, saying so.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.core import resultcache
from pipeline.core.findings import Finding

DISABLE_ENV = resultcache.DISABLE_ENV
inputs_key = resultcache.inputs_key


def load(folder: Path, key: str) -> tuple[list[Finding], list[str]] | None:
    entry = resultcache.load(folder, key)
    if entry is None:
        return None
    when = resultcache.stored_when(entry)
    return ([Finding(**f) for f in entry["findings"]],
            [f"{n} (cached: inputs unchanged since {when})" for n in entry["notes"]])


def store(folder: Path, key: str, findings: list[Finding], notes: list[str]) -> None:
    resultcache.store(folder, key, {"findings": [f.to_json() for f in findings],
                                    "notes": notes})
