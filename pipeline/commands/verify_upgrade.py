"""``virt-pipeline verify-upgrade``: prove every legacy set upgrades cleanly to the new set.

Scenarios come from ``upgrades.yaml``. Without ``--preflight`` each new package is the real RPM
from the build results (``.cache/results/<os>/repo`` and every ``--repo DIR``) where one exists
and a stand-in synthesized from its rendered spec otherwise; the report says which. With
``--preflight`` every new package is a stand-in: Obsoletes and file-conflict mistakes show up
in seconds, before any build. Exit 1 when any check fails.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.context import Context
from pipeline.core import files
from pipeline.core.errors import InputError
from pipeline.core.lock import tree_lock
from pipeline.core.writeguard import OutputPath
from pipeline.upgrade import junit, replay, scenarios
from pipeline.upgrade.checks import CHECKS, checks_run
from pipeline.upgrade.prepare import Inputs, prepare
from pipeline.upgrade.sandboxes import CONTAINER_KINDS, SANDBOXES
from pipeline.upgrade.verify import (
    Options,
    ScenarioResult,
    fast_roots,
    run_precheck_only,
    run_scenario,
    sweep_roots,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("verify-upgrade", help="verify that each legacy package set upgrades "
                                              "cleanly to the new set")
    p.add_argument("--scenario", action="append", metavar="PATTERN",
                   help="scenario ids to run (fnmatch, repeatable; default: all)")
    p.add_argument("--sandbox", choices=[*sorted(SANDBOXES), "none"], default="installroot",
                   help="where transactions run (default: installroot; none: only the pure "
                        "pre-checks on the manifests)")
    p.add_argument("--preflight", action="store_true",
                   help="new set synthesized from the rendered specs only (no build needed)")
    p.add_argument("--repo", action="append", type=Path, default=[], metavar="DIR",
                   help="folder of real new RPMs (repeatable; added to .cache/results/<os>/repo)")
    p.add_argument("--image", metavar="REF", help="container image (overrides upgrades.yaml)")
    p.add_argument("--image-base", action="store_true",
                   help="with --image: the image's rpm database lacks /bin/sh etc. (a test "
                        "image); install a provides-only base package first")
    p.add_argument("--package-manager", choices=("yum", "dnf"),
                   help="override the OS's package manager (e.g. a dnf-only test image)")
    p.add_argument("--scenarios-file", type=Path, metavar="FILE",
                   help="scenario file (default: upgrades.yaml in the tree)")
    p.add_argument("--keep-sandbox", action="store_true",
                   help="leave each root/container in place for debugging")
    p.add_argument("--junit", type=OutputPath, metavar="FILE", help="write JUnit XML here")
    p.add_argument("--no-wait", action="store_true",
                   help="exit 2 at once when another run holds the tree's lock")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.preflight:  # kept apart from the sandbox run: the report shows both
        ctx.run_name = "verify-upgrade-preflight"
    with tree_lock(ctx.cache_dir, "verify-upgrade", wait=not args.no_wait, notify=ctx.note):
        return _run(args, ctx)


def _run(args: argparse.Namespace, ctx: Context) -> int:
    matrix = ctx.matrix()
    path = args.scenarios_file or ctx.tree / scenarios.FILE_NAME
    loaded = scenarios.load(path, oses=matrix.oses, packages=matrix.packages)
    chosen = loaded.select(args.scenario)
    results = []
    for scenario in chosen:
        options = _options(args, ctx, loaded, scenario)
        result = _run_one(args, ctx, scenario, options)
        results.append(result)
        if not args.json:
            _say(ctx, result)
    if args.junit:
        files.write_output(args.junit, junit.to_xml(results, CHECKS))
    ctx.emit_json({"scenarios": [r.to_json() for r in results]})
    failed = [r.id for r in results if r.status != "passed"]
    ctx.say(f"verify-upgrade: {len(results)} scenarios, {len(failed)} failed"
            + (f" ({', '.join(failed)})" if failed else ""))
    return 1 if failed else 0


def _run_one(args: argparse.Namespace, ctx: Context, scenario: scenarios.Scenario,
             options: Options) -> ScenarioResult:
    """One scenario; a pre-flight whose inputs did not change is replayed (upgrade.replay)."""
    matrix = ctx.matrix()
    folder = ctx.cache_dir / "upgrade" / "replay"
    entry = None
    if replay.replayable(scenario, options) and not args.repo and not args.keep_sandbox:
        entry = replay.key(ctx.tree, matrix, scenario, options)
        cached = replay.load(folder, entry)
        if cached is not None:
            sweep_roots(scenario, options)
            return cached
    result = _fresh(args, ctx, scenario, options)
    if entry is not None:
        replay.store(folder, entry, result)
    return result


def _fresh(args: argparse.Namespace, ctx: Context, scenario: scenarios.Scenario,
           options: Options) -> ScenarioResult:
    matrix = ctx.matrix()
    inputs = Inputs(tree=ctx.tree, matrix=matrix, cache=ctx.cache_path("upgrade"),
                    result_repos=_result_repos(args, ctx, scenario.os),
                    preflight=args.preflight, base="root" if options.base else "none")
    if args.sandbox in CONTAINER_KINDS and options.base:
        inputs = Inputs(**{**inputs.__dict__, "base": "host"})
    prepared = prepare(scenario, inputs)
    if args.sandbox == "none":
        return run_precheck_only(scenario, prepared, options)
    return run_scenario(scenario, prepared, options)


def _options(args: argparse.Namespace, ctx: Context, loaded: scenarios.ScenarioFile,
             scenario: scenarios.Scenario) -> Options:
    tool = ctx.matrix().oses[scenario.os].package_manager
    image, base = args.image, True
    if args.sandbox in CONTAINER_KINDS:
        declared = loaded.images.get(scenario.os)
        base = args.image_base
        if image is None and declared is None:
            raise InputError(f"no image for {scenario.os}: add images.{scenario.os} to "
                             f"{loaded.path} or pass --image", file=str(loaded.path))
        if declared is not None and image in (None, declared.ref):
            image, base = declared.ref, declared.base
            tool = declared.package_manager or tool
    cache = ctx.cache_path("upgrade")
    return Options(cache=cache, sandbox=args.sandbox, roots=fast_roots(cache),
                   preflight=args.preflight, keep=args.keep_sandbox, image=image, base=base,
                   package_manager=args.package_manager or tool)


def _result_repos(args: argparse.Namespace, ctx: Context, os_id: str) -> tuple[Path, ...]:
    return (ctx.cache_dir / "results" / os_id / "repo", *args.repo)


def _say(ctx: Context, result: ScenarioResult) -> None:
    by_check: dict[str, list[str]] = {}
    for finding in result.findings:
        if finding.level == "error":
            by_check.setdefault(finding.id, []).append(finding.detail)
    ran = checks_run(result.sandbox)
    for check_id in list(ran) + sorted(set(by_check) - set(ran)):
        details = by_check.get(check_id)
        state = "FAIL" if details else "ok"
        first = f"  {details[0].splitlines()[0]}" if details else ""
        more = f" (+{len(details) - 1} more)" if details and len(details) > 1 else ""
        ctx.say(f"{result.id:28} {check_id:26} {state}{first}{more}")
    real = sorted(n for n, s in result.sources.items() if s == "real")
    mode = "preflight" if result.preflight else f"real: {', '.join(real) or 'none'}"
    ctx.say(f"{result.id:28} {'RESULT':26} {result.status.upper()} ({result.sandbox}, {mode};"
            f" final set: {' '.join(result.final_set)}; log: {result.log})")
