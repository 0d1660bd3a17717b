"""``virt-pipeline targets``: the selected cells with their OS, arch, flavor, dist and targets."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.context import Context
from pipeline.matrix.load import select
from pipeline.matrix.model import Cell


def add_parser(sub: Any) -> None:
    p = sub.add_parser("targets", help="list the build cells")
    p.add_argument("patterns", nargs="*", metavar="PATTERN",
                   help="fnmatch patterns of cell ids (e.g. 'bclinux7-*')")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def cell_json(cell: Cell) -> dict[str, Any]:
    koji = cell.os.koji
    return {
        "id": cell.id, "os": cell.os.id, "os_name": cell.os.name, "family": cell.os.family,
        "arch": cell.arch, "flavor": cell.flavor_name, "dist": cell.dist,
        "package_manager": cell.os.package_manager,
        "koji_target": koji.flavor_targets.get(cell.flavor_name or "", koji.target),
        "koji_channel": cell.flavor.koji_channel if cell.flavor else None,
        "mock_template": cell.os.mock.template,
    }


def run(args: argparse.Namespace, ctx: Context) -> int:
    cells = select(ctx.matrix().cells, args.patterns)
    if args.patterns and not cells:
        ctx.say(f"no cell matches {' '.join(args.patterns)}")
        return 2
    rows = [cell_json(c) for c in cells]
    if args.json:
        ctx.emit_json(rows)
        return 0
    for r in rows:
        ctx.say(f"{r['id']:24} os={r['os']:14} arch={r['arch']:8} flavor={r['flavor'] or '-':6} "
                f"dist={r['dist']:16} koji={r['koji_target']}")
    return 0
