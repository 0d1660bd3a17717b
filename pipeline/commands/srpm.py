"""``virt-pipeline srpm``: one SRPM per (OS release, flavor with its own spec) and package."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.builds import plan as buildplan
from pipeline.builds import planner
from pipeline.context import Context
from pipeline.core import files
from pipeline.core.errors import InputError
from pipeline.core.lock import tree_lock
from pipeline.core.writeguard import OutputPath
from pipeline.matrix.load import select
from pipeline.specs import srpm


def add_parser(sub: Any) -> None:
    p = sub.add_parser("srpm", help="make source RPMs")
    p.add_argument("--cells", action="append", metavar="PATTERN")
    p.add_argument("--packages", action="append", metavar="P")
    p.add_argument("--sources", action="append", type=Path, default=[], metavar="DIR",
                   help="folders holding source tarballs (else fetched into .cache/sources)")
    p.add_argument("-o", "--outdir", type=OutputPath, help="where to put the SRPMs "
                   "(default .cache/srpms)")
    p.add_argument("--no-wait", action="store_true",
                   help="exit 2 at once when another run holds the tree's lock")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    with tree_lock(ctx.cache_dir, "srpm", wait=not args.no_wait, notify=ctx.note):
        return _run(args, ctx)


def _run(args: argparse.Namespace, ctx: Context) -> int:
    matrix = ctx.matrix()
    cells = select(matrix.cells, args.cells)
    packages = args.packages or list(matrix.packages)
    unknown = [p for p in packages if p not in matrix.packages]
    if unknown or not cells:
        raise InputError(f"unknown package {unknown[0]!r}" if unknown else "no cell matches")
    texts = buildplan.spec_texts(matrix)
    outdir = args.outdir or ctx.cache_dir / "srpms"
    made = []
    for unit in planner.units(matrix, cells, packages, buildplan.flavor_specs(texts)):
        topdir = files.make_dir(ctx.cache_dir / "srpm-work" / unit.key, ctx.cache_dir)
        path = srpm.make_srpm(matrix, matrix.cell(unit.cells[0]), unit.package,
                              texts[buildplan.unit_spec_key(unit)], topdir,
                              cache=ctx.cache_dir / "sources", local_dirs=args.sources)
        dest = files.make_dir(outdir / unit.key.replace("/", "_"), outdir)
        final = dest / path.name
        path.replace(final)
        made.append({"key": unit.key, "cells": list(unit.cells), "srpm": str(final)})
        ctx.say(f"{unit.key}: {final}")
    ctx.emit_json({"srpms": made})
    return 0
