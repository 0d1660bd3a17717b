"""The result store: one folder per finished build, addressed by its fingerprint.

``.cache/results/<os>[+flavor]/<package>/<fingerprint>/`` holds ``srpm/``, ``rpms/``,
``logs/`` and ``manifest.json``. A build works in a ``.partial-*`` folder that is renamed into
place only after its manifest is written, so a killed run never leaves something that looks
finished; the next run removes the leftovers and builds again. ``.cache/results/<os>/repo`` is
a createrepo_c repository of the newest successful RPMs of every package of that OS.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from pipeline.core import cmd, files

MANIFEST = "manifest.json"
log = logging.getLogger("virt-pipeline")


def read_manifest(path: Path) -> dict[str, Any] | None:
    """A unit's manifest; None (with a warning: the unit counts as not built) when it is
    unreadable, half-written or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        log.warning("%s: unreadable (%s): that build counts as not built", path,
                    type(exc).__name__)
        return None
    if not isinstance(data, dict):
        log.warning("%s: not a JSON object: that build counts as not built", path)
        return None
    return data


class ResultStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def unit_dir(self, key: str) -> Path:
        """``root/key``; refused when a planted symlink leads it out of the store."""
        return files.inside(self.root / key, self.root) if self.root.exists() else self.root / key

    def finished(self, key: str) -> set[str]:
        """Fingerprints of the unit's successful builds (an unreadable manifest: not built)."""
        out = set()
        for manifest in self.unit_dir(key).glob(f"*/{MANIFEST}"):
            data = read_manifest(manifest)
            if data is not None and data.get("status") == "ok":
                out.add(manifest.parent.name)
        return out

    def manifest(self, key: str, fingerprint: str) -> dict[str, Any] | None:
        path = self.unit_dir(key) / fingerprint / MANIFEST
        return read_manifest(path) if path.exists() else None

    def begin(self, key: str, fingerprint: str) -> Path:
        """A fresh partial folder for a build (leftovers of killed runs are removed)."""
        unit = files.make_dir(self.root / key, self.root)
        for stale in unit.glob(f".partial-{fingerprint[:16]}-*"):
            files.remove_tree(stale, self.root)
        return Path(tempfile.mkdtemp(prefix=f".partial-{fingerprint[:16]}-", dir=unit))

    def commit(self, key: str, fingerprint: str, partial: Path, manifest: dict[str, Any]) -> Path:
        """Write the manifest last, then move the folder into place (atomic rename)."""
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                        encoding="utf-8")
        final = self.unit_dir(key) / fingerprint
        files.remove_tree(final, self.root)
        os.replace(partial, final)
        return final

    def latest_ok(self, key: str) -> Path | None:
        best: tuple[float, Path] | None = None
        for manifest in self.unit_dir(key).glob(f"*/{MANIFEST}"):
            data = read_manifest(manifest)
            if data is not None and data.get("status") == "ok":
                stamp = float(data.get("finished", 0))
                if best is None or stamp > best[0]:
                    best = (stamp, manifest.parent)
        return best[1] if best else None

    def repo_current(self, group: str) -> bool:
        """Whether ``<group>/repo`` exists and holds exactly the newest successful RPMs."""
        repo = self.root / group / "repo"
        if not (repo / "repodata" / "repomd.xml").is_file():
            return False
        return {p.name for p in repo.glob("*.rpm")} == {p.name for p in self._latest_rpms(group)}

    def ensure_repo(self, group: str) -> Path | None:
        """Rebuild the repository when it is missing or does not match the finished results."""
        if self.repo_current(group):
            return self.root / group / "repo"
        return self.refresh_repo(group)

    def _latest_rpms(self, group: str) -> list[Path]:
        base = files.inside(self.root / group, self.root)
        rpms: list[Path] = []
        for unit in sorted(p for p in base.iterdir() if p.is_dir() and p.name != "repo"):
            latest = self.latest_ok(f"{group}/{unit.name}")
            if latest is not None:
                rpms += sorted((latest / "rpms").glob("*.rpm"))
        return rpms

    def refresh_repo(self, group: str) -> Path | None:
        """Rebuild ``<group>/repo`` (group: ``bclinux7`` or ``bclinux7+hygon``) from the
        newest successful build of each package built for that group."""
        base = files.inside(self.root / group, self.root)
        rpms = self._latest_rpms(group)
        if not rpms:
            return None
        repo = base / "repo"
        tmp = Path(tempfile.mkdtemp(prefix=".repo-", dir=base))
        for rpm in rpms:
            os.link(rpm, tmp / rpm.name)
        cmd.run(["createrepo_c", "--quiet", str(tmp)])
        files.remove_tree(repo, self.root)
        os.replace(tmp, repo)
        return repo
