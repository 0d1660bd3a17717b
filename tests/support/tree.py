"""A private copy of the packaging tree, for tests and benchmarks that change or build in it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

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


def work_tree_fixture(holder: list[Path], name: str) -> Any:
    """An autouse, module-scoped fixture that puts a fresh copy of the tree in ``holder[0]``:
    for modules whose helpers run the CLI on the tree (its run records in ``.cache/runs`` then
    never land in the checkout, where the user's next report would take them as theirs)."""
    import pytest  # here: the benchmarks import this module without pytest's machinery

    @pytest.fixture(scope="module", autouse=True)
    def _work_tree(tmp_path_factory: pytest.TempPathFactory) -> None:
        holder[:] = [copy_tree(tmp_path_factory.mktemp(name) / "tree")]

    return _work_tree


def tools_fixture(*tools: str) -> Any:
    """An autouse, module-scoped fixture that skips the module, naming the first of ``tools``
    missing from PATH."""
    import pytest

    @pytest.fixture(scope="module", autouse=True)
    def _tools() -> None:
        for tool in tools:
            if shutil.which(tool) is None:
                pytest.skip(f"{tool} is not installed (make setup installs it)")

    return _tools
