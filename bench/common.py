"""Helpers shared by the benchmarks: a private copy of the tree, timing."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from tests.support.tree import ROOT, copy_tree

__all__ = ["ROOT", "timed", "tree_copy"]
T = TypeVar("T")


@contextmanager
def tree_copy() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="vp-bench-") as tmp:
        yield copy_tree(Path(tmp) / "tree")


def timed(func: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result
