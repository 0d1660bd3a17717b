"""``virt-pipeline render [--check]``: write specs/ from the templates and the matrix."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.context import Context
from pipeline.specs import render


def add_parser(sub: Any) -> None:
    p = sub.add_parser("render", help="render specs/<os>/<package>.spec")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 listing stale files")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    matrix = ctx.matrix()
    texts = render.render_all(matrix)  # everything in memory first: all or nothing
    # with profiles, specs live in the profile's cache folder; the committed specs/ are the base's
    root = Path(matrix.specs_dir).parent
    if args.check:
        stale = render.stale(root, texts)
        ctx.emit_json({"stale": stale, "specs": [str(p) for p in texts]})
        for path in stale:
            ctx.say(f"stale: {path}")
        if not stale:
            ctx.say(f"render: {len(texts)} specs up to date")
        return 1 if stale else 0
    changed = render.write(root, texts)
    if root.resolve() != ctx.tree.resolve():
        ctx.say(f"render: profile specs are in {root / 'specs'}")
    ctx.emit_json({"written": changed, "specs": [str(p) for p in texts]})
    for path in changed:
        ctx.say(f"wrote {path}")
    ctx.say(f"render: {len(texts)} specs, {len(changed)} changed")
    return 0
