"""``virt-pipeline report [--out DIR] [--run MANIFEST] [--json]``: the evidence bundle.

One static page (``index.html``) and ``report.json`` for the last run of each stage (the
records in ``.cache/runs`` and the build result folders) or a given run, with the logs it links
to copied inside. Exit 1 when the bundle shows a failure, so a CI job can both publish it and
go red.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.context import Context
from pipeline.core import files
from pipeline.core.errors import InputError
from pipeline.core.writeguard import OutputPath
from pipeline.report import bundle, collect, junit, model


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="write the evidence bundle (HTML + JSON) of the last run")
    p.add_argument("--out", type=OutputPath, metavar="DIR",
                   help="bundle folder (default .cache/report)")
    p.add_argument("--run", type=Path, metavar="MANIFEST",
                   help="a folder of run records, or a JSON file naming one record per command "
                        "(default: .cache/runs)")
    p.add_argument("--junit", type=OutputPath, metavar="FILE",
                   help="also write the grid as JUnit XML (one testcase per cell and stage)")
    p.add_argument("--no-compare", action="store_true",
                   help="leave out the comparison with the previous release")
    p.add_argument("--json", action="store_true", help="print the report's JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    ctx.run_name = None  # the report reads records; it is not one
    if args.run is not None and not args.run.exists():
        raise InputError(f"{args.run}: no such run folder or manifest")
    matrix = ctx.matrix()
    sources = collect.load_sources(ctx.cache_dir, args.run)
    attach = model.Attachments()
    data = model.assemble(ctx.tree, matrix, sources, attach,
                          compare_releases=not args.no_compare)
    index = bundle.write(args.out or ctx.cache_path("report"), data, attach)
    if args.junit:
        files.write_output(args.junit, junit.to_xml(data))
    ctx.emit_json({"index": str(index), "summary": data["summary"], "red": data["red"]})
    for item in data["red"]:
        ctx.say(f"FAIL {item['where']}: {item['reason'][:160]}\n     reproduce: {item['command']}")
    ctx.say(f"report: {index}")
    return 1 if data["summary"]["state"] == "fail" else 0
