"""``virt-pipeline build``: plan (pure, ``--dry-run`` prints it), then build what changed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pipeline.builds import plan as buildplan
from pipeline.builds.builders import BACKENDS, BackendOptions, make_builder
from pipeline.builds.progress import ProgressBoard
from pipeline.builds.results import ResultStore
from pipeline.builds.run import Runner, RunOptions, entry
from pipeline.context import Context
from pipeline.core.errors import InputError
from pipeline.core.lock import tree_lock
from pipeline.matrix.load import select


def add_parser(sub: Any) -> None:
    p = sub.add_parser("build", help="build RPMs (local rpmbuild, mock or koji)")
    p.add_argument("--backend", choices=sorted(BACKENDS), default="local")
    p.add_argument("--cells", action="append", metavar="PATTERN", help="cells to build for")
    p.add_argument("--packages", action="append", metavar="P", help="packages to build")
    p.add_argument("--scratch", action="store_true", help="koji scratch build")
    p.add_argument("--arch-override", metavar="A,B", default="",
                   help="koji: build only these arches (scratch builds only)")
    p.add_argument("--force", action="store_true", help="rebuild even when nothing changed")
    p.add_argument("--resume", action="store_true",
                   help="pick up where a killed run stopped (also what a plain re-run does)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, build nothing")
    p.add_argument("-j", "--jobs", type=int, default=2, help="parallel builds (default 2)")
    p.add_argument("--sources", action="append", type=Path, default=[], metavar="DIR",
                   help="folders holding source tarballs (else fetched into .cache/sources)")
    p.add_argument("--skip-deps", action="store_true",
                   help="local: do not check BuildRequires (loudly warned)")
    p.add_argument("--forcearch", action="store_true",
                   help="mock: build foreign arches under emulation (~10x slower)")
    p.add_argument("--koji-config", type=Path, help="koji: client config file")
    p.add_argument("--koji-profile", help="koji: profile (default: the matrix's)")
    p.add_argument("--no-wait", action="store_true",
                   help="exit 2 at once when another run holds the tree's lock")
    p.add_argument("--koji-free-deadline", type=float, metavar="MIN",
                   help="koji: fail a build whose task no builder picks up for MIN minutes "
                        "(default 30)")
    p.add_argument("--koji-deadline", type=float, metavar="MIN",
                   help="koji: stop watching a build after MIN minutes (default: none)")
    p.add_argument("--cancel-on-interrupt", action="store_true",
                   help="koji: cancel the running tasks on Ctrl-C/SIGTERM (default: list them)")
    p.add_argument("--mock-template-repos", action="store_true",
                   help="mock: keep the mock-core-configs template's own repositories next to "
                        "the matrix's (default: only the vendor repositories of the matrix)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.dry_run:  # writes nothing: no lock
        return _run(args, ctx)
    with tree_lock(ctx.cache_dir, "build", wait=not args.no_wait, notify=ctx.note):
        return _run(args, ctx)


def _run(args: argparse.Namespace, ctx: Context) -> int:
    matrix = ctx.matrix()
    cells = select(matrix.cells, args.cells)
    if not cells:
        raise InputError(f"no cell matches {args.cells}")
    packages = args.packages or list(matrix.packages)
    for name in packages:
        if name not in matrix.packages:
            raise InputError(f"unknown package {name!r} (known: {', '.join(matrix.packages)})")
    arch_override = tuple(a for a in args.arch_override.replace(",", " ").split() if a)
    if arch_override and not args.scratch:
        raise InputError("--arch-override is for scratch builds only (koji refuses it otherwise)")
    builder = make_builder(args.backend, BackendOptions(
        skip_deps=args.skip_deps, forcearch=args.forcearch, koji_config=args.koji_config,
        koji_profile=args.koji_profile, koji_free_deadline=args.koji_free_deadline,
        koji_deadline=args.koji_deadline, cancel_on_interrupt=args.cancel_on_interrupt,
        mock_template_repos=args.mock_template_repos, workdir=ctx.cache_dir, matrix=matrix))
    builder.check_available()
    store = ResultStore(ctx.cache_dir / "results")
    steps, texts = buildplan.make_plan(matrix, cells, packages, builder, store, force=args.force)
    if args.dry_run:
        ctx.run_name = None  # a plan is not a run: keep the last real build's record
        return _print_plan(ctx, steps, args.json)
    options = RunOptions(jobs=args.jobs, scratch=args.scratch, arch_override=arch_override,
                         cache=ctx.cache_dir, local_dirs=tuple(args.sources))
    report = Runner(matrix, builder, store, texts, options, ProgressBoard(sys.stderr)).run(steps)
    ctx.emit_json(report.to_json())
    if not args.json:
        for item in report.unbuildable:
            ctx.say(f"not here {item['key']}: {item['reason']}")
        for item in report.skipped:
            ctx.say(f"skipped  {item['key']}: {item['reason']}")
        for item in report.built:
            ctx.say(f"built    {item['key']}: {' '.join(item['nevras'])} -> {item['result']}")
        for item in report.failed:
            ctx.say(f"FAILED   {item['key']}: {item['reason']}")
        ctx.say(f"build: built={len(report.built)} skipped={len(report.skipped)} "
                f"failed={len(report.failed)} not-buildable-here={len(report.unbuildable)}")
    return 1 if report.failed else 0


def _print_plan(ctx: Context, steps: list[Any], as_json: bool) -> int:
    if as_json:
        ctx.emit_json({"planned": [entry(s, action=s.action, reason=s.reason) for s in steps]})
        return 0
    for step in steps:
        deps = f" after {', '.join(step.unit.depends)}" if step.unit.depends else ""
        ctx.say(f"{step.action:11} {step.unit.key:36} arches={','.join(step.arches) or '-':14}"
                f" {step.fingerprint[:12]} {step.reason}{deps}")
    return 0
