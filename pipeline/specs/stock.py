"""Our packages against the packages already on the hosts: ``release-below-stock``.

A new package that keeps a name the OS (or a previous vendor release) already ships must sort
above every EVR of that name in the legacy manifests of its OS (``legacy/*.yaml``: the stock
set, e.g. openEuler 22.03's own qemu, and the previous vendor release), or ``dnf upgrade``
keeps the old one. The manifests record where their EVRs were read (``sources``); refresh them
with ``legacy capture --repo`` and this check says whether the releases still sort above.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core import evr, yamlsrc
from pipeline.core.findings import Finding


@dataclass(frozen=True)
class StockPackage:
    """One package of a legacy manifest: where it is installed and its EVR."""

    manifest: str  # the manifest's id
    os: str
    name: str
    evr: str
    source: str  # where the EVR was read ("" when the manifest does not say)


def load_stock(legacy_dir: Path) -> list[StockPackage]:
    """Every package of every ``legacy/*.yaml`` (name, EVR, OS and source only)."""
    out: list[StockPackage] = []
    for path in sorted(legacy_dir.glob("*.yaml")):
        data = yamlsrc.load(path).data
        if isinstance(data, dict):
            out += _packages(data, path)
    return out


def _packages(data: dict[str, Any], path: Path) -> list[StockPackage]:
    defaults = data.get("defaults") if isinstance(data.get("defaults"), dict) else {}
    sources = data.get("sources") if isinstance(data.get("sources"), dict) else {}
    out = []
    for item in data.get("packages") or []:
        if not isinstance(item, dict):
            continue
        pkg: dict[str, Any] = {**(defaults or {}), **item}
        epoch = pkg.get("epoch")
        text = (f"{epoch}:" if epoch is not None else "") + \
            f"{pkg.get('version')}-{pkg.get('release')}"
        src = (sources or {}).get(pkg.get("source", ""), {})
        where = ":".join(str(src[k]) for k in ("repository", "branch", "file", "repo")
                         if isinstance(src, dict) and k in src)
        out.append(StockPackage(manifest=str(data.get("id", path.stem)), os=str(data.get("os")),
                                name=str(pkg.get("name")), evr=text, source=where))
    return out


def below_stock(cell_id: str, os_id: str, package: str,
                built: Iterable[tuple[str, str]],
                stock: Sequence[StockPackage]) -> list[Finding]:
    """``release-below-stock`` for every built (name, EVR) that does not sort above a stock
    package of the same name on ``os_id``."""
    out = []
    for name, ours in built:
        for old in stock:
            if old.os != os_id or old.name != name:
                continue
            if evr.compare_evr(evr.parse_evr(ours), evr.parse_evr(old.evr)) <= 0:
                where = f" (read from {old.source})" if old.source else " (source not recorded)"
                out.append(Finding("release-below-stock", "error", cell_id, package,
                                   f"{name} {ours} does not sort above {old.evr} of legacy "
                                   f"set {old.manifest}{where}: the upgrade keeps the old one"))
    return out
