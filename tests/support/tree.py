"""A private copy of the packaging tree, for tests and benchmarks that change or build in it."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TREE_PARTS = ("matrix.yaml", "templates", "macros", "patches", "specs", "profiles",
              "rpmlint.toml", "upgrades.yaml", "legacy", "migration.yaml")


def copy_tree(dest: Path) -> Path:
    """Copy the tree's inputs (not .cache, not the code) into ``dest``; returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in TREE_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part)
        elif src.exists():
            shutil.copy2(src, dest / part)
    return dest
