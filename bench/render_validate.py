"""Render and validate the whole matrix, against the bare rpmspec calls validation needs.

The toolkit's run is timed end to end (load, render every spec, expand and query each spec per
cell with rpmspec, run the checks; rpmlint excluded, timed on its own). The rpmspec calls it
made are recorded and replayed bare, one after the other, in the same run: the ratio is the
toolkit's time over the bare calls' time.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline.core import cmd
from pipeline.matrix import load as matrix
from pipeline.specs import render, validate

from .common import timed, tree_copy


def main() -> list[tuple[str, str]]:
    with tree_copy() as tree:
        calls: list[list[str]] = []
        real_run = cmd.run

        def recording(argv, **kwargs):  # type: ignore[no-untyped-def]
            if str(argv[0]) == "rpmspec":
                calls.append([str(a) for a in argv])
            return real_run(argv, **kwargs)

        def toolkit() -> int:
            m = matrix.load(tree)
            render.write(tree, render.render_all(m))
            return len(validate.validate(m, m.cells, rpmlint=False))

        cmd.run = recording  # type: ignore[assignment]
        try:
            toolkit()  # warm caches (imports, page cache) for both sides alike
            calls.clear()
            seconds, findings = timed(toolkit)
        finally:
            cmd.run = real_run  # type: ignore[assignment]
        bare, _ = timed(lambda: [subprocess.run(c, capture_output=True, check=False)
                                 for c in calls])
        m = matrix.load(tree)
        specs = sorted(Path(m.specs_dir).rglob("*.spec"))
        lint, _ = timed(lambda: validate.run_rpmlint(tree, specs))
    return [
        ("render-validate-seconds", f"{seconds:.2f}"),
        ("render-validate-rpmspec-calls", str(len(calls))),
        ("render-validate-bare-rpmspec-seconds", f"{bare:.2f}"),
        ("render-validate-ratio", f"{seconds / bare:.2f}"),
        ("render-validate-findings", str(findings)),
        ("render-validate-rpmlint-seconds", f"{lint:.2f}"),
    ]
