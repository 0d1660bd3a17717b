"""Helpers shared by the benchmarks: a private copy of the tree, timing."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("matrix.yaml", "templates", "macros", "patches", "specs", "profiles", "rpmlint.toml",
         "upgrades.yaml", "legacy")
T = TypeVar("T")


@contextmanager
def tree_copy() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="vp-bench-") as tmp:
        dest = Path(tmp) / "tree"
        dest.mkdir()
        for part in PARTS:
            src = ROOT / part
            if src.is_dir():
                shutil.copytree(src, dest / part)
            elif src.exists():
                shutil.copy2(src, dest / part)
        yield dest


def timed(func: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result
