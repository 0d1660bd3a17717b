"""What the write guard costs: its audit hook sees every event of the process while a command
runs, and resolves the target of every write.

Side by side in one run: 5,000 small files written atomically (``files.write_output``:
mkdir, mkstemp, write, rename) into a tree copy, bare and under the guard; then ``render`` of
the real tree through the CLI (the guard always on) against the same command with the guard
swapped for a no-op. The figures: seconds each way and the ratios (guarded / bare).
"""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

from pipeline import cli
from pipeline.core import files, writeguard

from .common import timed, tree_copy

FILES = 5000


def _write_many(folder: Path) -> None:
    for index in range(FILES):
        files.write_output(folder / f"d{index % 50}" / f"f{index}.txt", "x")


def _render(tree: Path) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert cli.main(["-C", str(tree), "render"]) == 0


@contextlib.contextmanager
def _no_guard(tree: Path, outputs: object = ()) -> Iterator[SimpleNamespace]:
    yield SimpleNamespace(refused=[])


def _side_by_side(bare: Callable[[], None], guarded: Callable[[], None],
                  rounds: int = 5) -> tuple[float, float]:
    """The best of ``rounds`` of each, run in turn (a busy machine slows both alike)."""
    times: list[tuple[float, float]] = [(timed(bare)[0], timed(guarded)[0])
                                        for _ in range(rounds)]
    return min(t[0] for t in times), min(t[1] for t in times)


def main() -> list[tuple[str, str]]:
    with tree_copy() as tree:
        out = tree / ".cache" / "many"
        def bare_files_run() -> None:
            _write_many(out)
            shutil.rmtree(out)

        def guarded_files() -> None:
            with writeguard.guarded(tree):
                _write_many(out)
            shutil.rmtree(out)

        bare_files, guard_files = _side_by_side(bare_files_run, guarded_files, rounds=3)

        def bare_render() -> None:
            real = cli.writeguard.guarded
            cli.writeguard.guarded = _no_guard  # type: ignore[assignment]
            try:
                _render(tree)
            finally:
                cli.writeguard.guarded = real

        bare_cmd, guard_cmd = _side_by_side(bare_render, lambda: _render(tree), rounds=10)
    return [("write-guard-files", str(FILES)),
            ("write-guard-files-bare-seconds", f"{bare_files:.2f}"),
            ("write-guard-files-guarded-seconds", f"{guard_files:.2f}"),
            ("write-guard-files-ratio", f"{guard_files / bare_files:.2f}"),
            ("write-guard-render-bare-seconds", f"{bare_cmd:.3f}"),
            ("write-guard-render-guarded-seconds", f"{guard_cmd:.3f}"),
            ("write-guard-render-ratio", f"{guard_cmd / bare_cmd:.2f}")]
