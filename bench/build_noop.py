"""No-op rebuild of the whole matrix: time, and the number of builds started (must be 0).

Every unit of the matrix (3 packages x 2 OS releases; the Hygon cells share the OS builds)
is first marked finished in a fresh result store by writing the manifest a finished build
leaves, for the fingerprint the planner computes (this host cannot build QEMU or libvirt, whose
sources it cannot reach). Then a full ``build`` runs: it must plan, fingerprint every unit,
and start nothing.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from pipeline.builds import plan as buildplan
from pipeline.builds.builders import BackendOptions, make_builder
from pipeline.builds.results import ResultStore
from pipeline.cli import main as cli_main
from pipeline.context import Context

from .common import timed, tree_copy


def _seed(tree: Path) -> int:
    ctx = Context(tree=tree)
    m = ctx.matrix()
    builder = make_builder("local", BackendOptions(workdir=ctx.cache_dir, matrix=m))
    store = ResultStore(ctx.cache_dir / "results")
    steps, _ = buildplan.make_plan(m, m.cells, list(m.packages), builder, store)
    for step in steps:
        folder = store.unit_dir(step.unit.key) / step.fingerprint
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(json.dumps(
            {"key": step.unit.key, "status": "ok", "nevras": [], "nvr": "", "finished": 0}))
    return len(steps)


def main() -> list[tuple[str, str]]:
    with tree_copy() as tree:
        units = _seed(tree)
        out = io.StringIO()

        def rebuild() -> int:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                return cli_main(["-C", str(tree), "build", "--json"])

        seconds, code = timed(rebuild)
        report = json.loads(out.getvalue())
    started = len(report["built"]) + len(report["failed"])
    return [("build-noop-units", str(units)),
            ("build-noop-seconds", f"{seconds:.2f}"),
            ("build-noop-builds-started", str(started)),
            ("build-noop-exit-code", str(code))]
