"""``virt-pipeline validate``: rpm's view of every rendered spec, per cell, checked."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.context import Context
from pipeline.core.findings import has_errors
from pipeline.matrix.load import select
from pipeline.specs import validate


def add_parser(sub: Any) -> None:
    p = sub.add_parser("validate", help="check the rendered specs with rpm, per cell")
    p.add_argument("--cells", action="append", metavar="PATTERN", help="cells to check")
    p.add_argument("--no-rpmlint", action="store_true", help="skip rpmlint")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    matrix = ctx.matrix()
    cells = select(matrix.cells, args.cells)
    findings = validate.validate(matrix, cells, rpmlint=not args.no_rpmlint)
    ctx.emit_json({"cells": [c.id for c in cells],
                   "findings": [f.to_json() for f in findings]})
    if not args.json:
        for finding in findings:
            ctx.say(finding.line())
        errors = sum(f.level == "error" for f in findings)
        ctx.say(f"validate: {len(cells)} cells, {errors} errors, "
                f"{len(findings) - errors} warnings")
    return 1 if has_errors(findings) else 0
