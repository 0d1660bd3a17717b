"""``virt-pipeline diff CELL_A CELL_B [--package P]``: what differs, as rpm sees it."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.context import Context
from pipeline.core.errors import InputError
from pipeline.specs import celldiff


def add_parser(sub: Any) -> None:
    p = sub.add_parser("diff", help="what differs between two cells, as rpm sees it")
    p.add_argument("cell_a")
    p.add_argument("cell_b")
    p.add_argument("--package", action="append", metavar="P", help="limit to these packages")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    matrix = ctx.matrix()
    try:
        a, b = matrix.cell(args.cell_a), matrix.cell(args.cell_b)
    except KeyError as exc:
        known = ", ".join(c.id for c in matrix.cells)
        raise InputError(f"unknown cell {exc.args[0]!r} (known: {known})") from None
    packages = args.package or list(matrix.packages)
    for name in packages:
        if name not in matrix.packages:
            raise InputError(f"unknown package {name!r}")
    diffs = []
    for name in packages:
        diffs += celldiff.compare(name, celldiff.view(matrix, a, name),
                                  celldiff.view(matrix, b, name))
    if args.json:
        ctx.emit_json({"a": a.id, "b": b.id, "differences": [
            {"package": d.package, "aspect": d.aspect, "only_a": d.only_a, "only_b": d.only_b}
            for d in diffs]})
        return 0
    for d in diffs:
        ctx.say(f"{d.package} {d.aspect}:")
        ctx.say("".join(f"  - {x}  [{a.id}]\n" for x in d.only_a).rstrip("\n"))
        ctx.say("".join(f"  + {x}  [{b.id}]\n" for x in d.only_b).rstrip("\n"))
    ctx.say(f"diff: {len(diffs)} aspects differ between {a.id} and {b.id}")
    return 0
