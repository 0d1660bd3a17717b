"""What changed against the previous release, as rpm sees it (like rpminspect's comparison).

Per binary package: Provides/Requires/Obsoletes/Conflicts added, removed, or changed in
version only; files added, removed, with another mode or kind; scriptlets added, removed or
with another body. The previous release is the legacy manifest of the OS's ``<os>-prev``
scenario; the new package is the built RPM's header where the results hold one of the matrix's
version, else the stand-in read from the rendered spec (its scriptlet bodies are placeholders:
only their presence is compared).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pipeline.matrix.model import Matrix
from pipeline.specs import render
from pipeline.upgrade import newset, prepare, scenarios
from pipeline.upgrade.manifest import FileEntry, PackageManifest, load_manifest

DEP_KINDS = ("provides", "requires", "obsoletes", "conflicts")
_DEP = re.compile(r"^(\S+)(?:\s+([<>=]+)\s+(\S+))?$")


def diff_deps(old: Sequence[str], new: Sequence[str], *,
              bump: tuple[str, str] = ("", "")) -> dict[str, list[str]]:
    """Added, removed, and changed (same name and sense, other version) dependencies.

    ``bump`` (old VR, new VR): a change that only follows the package's own version, such as
    ``libvirt-libs = 6.2.0-0 -> 6.2.0-1``, is listed under ``bumped``, not ``changed``."""
    def key(dep: str) -> tuple[str, str]:
        m = _DEP.match(dep.strip())
        return (m.group(1), m.group(2) or "") if m else (dep, "")
    old_set, new_set = set(old), set(new)
    gone = {key(d): d for d in sorted(old_set - new_set)}
    came = {key(d): d for d in sorted(new_set - old_set)}
    pairs = sorted((gone[k], came[k]) for k in gone.keys() & came.keys())
    follows = [p for p in pairs if bump[0] and p[0].replace(bump[0], bump[1]) == p[1]]
    return {"added": sorted(d for k, d in came.items() if k not in gone),
            "removed": sorted(d for k, d in gone.items() if k not in came),
            "changed": [f"{a} -> {b}" for a, b in pairs if (a, b) not in follows],
            "bumped": [f"{a} -> {b}" for a, b in follows]}


def _describe(entry: FileEntry) -> str:
    return f"{entry.kind} {entry.mode:04o}"


def diff_files(old: Iterable[FileEntry], new: Iterable[FileEntry]) -> dict[str, list[str]]:
    """Paths added and removed, and paths whose mode or kind changed."""
    a, b = {f.path: f for f in old}, {f.path: f for f in new}
    changed = [f"{p}: {_describe(a[p])} -> {_describe(b[p])}" for p in sorted(a.keys() & b.keys())
               if (a[p].mode, a[p].kind) != (b[p].mode, b[p].kind)]
    return {"added": sorted(b.keys() - a.keys()), "removed": sorted(a.keys() - b.keys()),
            "mode": changed}


def diff_scriptlets(old: dict[str, str], new: dict[str, str], *,
                    bodies: bool) -> dict[str, list[str]]:
    both = sorted(old.keys() & new.keys())
    return {"added": sorted(new.keys() - old.keys()), "removed": sorted(old.keys() - new.keys()),
            "changed": [s for s in both if bodies and old[s].strip() != new[s].strip()]}


def compare_package(old: PackageManifest | None, new: PackageManifest | None, *,
                    new_source: str) -> dict[str, Any]:
    """One binary package's change record (``old`` None: new package; ``new`` None: dropped)."""
    empty = PackageManifest(name="", epoch=None, version="", release="", arch="")
    a, b = old or empty, new or empty
    bump = (f"{a.version}-{a.release}", f"{b.version}-{b.release}")
    deps = {k: diff_deps(getattr(a, k), getattr(b, k), bump=bump) for k in DEP_KINDS}
    files = diff_files(a.files, b.files)
    scripts = diff_scriptlets(a.scriptlets, b.scriptlets, bodies=new_source == "real")
    lists = [*(v for d in deps.values() for k, v in d.items() if k != "bumped"),
             *files.values(), *scripts.values()]
    status = ("added" if old is None else "removed" if new is None
              else "changed" if any(lists) else "same")
    return {"name": (new or old or empty).name, "summary": (new or old or empty).summary,
            "old": old.nevra if old else None,
            "new": new.nevra if new else None, "new_source": new_source if new else None,
            "status": status, "deps": deps, "files": files, "scriptlets": scripts}


def previous_release(path: Path, matrix: Matrix) -> dict[str, list[PackageManifest]]:
    """OS -> the previous vendor release's packages (the ``<os>-prev`` scenarios)."""
    loaded = scenarios.load(path, oses=matrix.oses, packages=matrix.packages)
    out: dict[str, list[PackageManifest]] = {}
    for scenario in loaded.scenarios:
        if scenario.id == f"{scenario.os}-prev":
            out[scenario.os] = [p for m in scenario.legacy_manifests
                                for p in load_manifest(m).packages]
    return out


def compare_os(tree: Path, matrix: Matrix, os_id: str, previous: Sequence[PackageManifest],
               results: Path) -> list[dict[str, Any]]:
    """Per source package of the OS: its binary packages' change records."""
    cell = matrix.cell(f"{os_id}-x86_64")
    real = prepare.read_headers(sorted(prepare.real_rpms([results / os_id / "repo"]).values()))
    headers = {p.name: p for p in real}
    known = [f for p in previous for f in p.files]
    old = {p.name: p for p in previous}
    out = []
    for name in sorted(matrix.packages):
        spec = render.spec_path(matrix, os_id, None, name)
        standins = newset.from_spec(tree, cell, spec, known=known)
        rows = []
        for pkg in standins:
            header = headers.get(pkg.name)
            use_real = header is not None and header.version == pkg.version
            chosen = header if use_real and header is not None else pkg
            rows.append(compare_package(old.pop(pkg.name, None), chosen,
                                        new_source="real" if use_real else "stand-in"))
        out.append({"os": os_id, "package": name, "binaries": rows})
    if old:  # previous packages no spec builds any more
        out.append({"os": os_id, "package": "(no longer built)",
                    "binaries": [compare_package(p, None, new_source="") for p in old.values()]})
    return out
