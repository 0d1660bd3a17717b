"""``virt-pipeline [-C TREE] [--profile FILE] COMMAND``: the one place that prints errors, exits.

Exit codes: 0 ok, 1 checks found problems, 2 bad input or usage, 3 a required tool or service
is missing. Each command lives in ``pipeline/commands/<name>.py`` with ``add_parser``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pipeline import __version__
from pipeline.context import Context
from pipeline.core import runs, writeguard
from pipeline.core.errors import PipelineError, environment_fault
from pipeline.core.redact import redact, redact_data

#: command modules, in help order
COMMANDS = ("targets", "render", "validate", "diff", "patches", "srpm", "build",
            "verify_upgrade", "legacy", "migcheck", "report")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"virt-pipeline: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="virt-pipeline",
        description="One source of qemu, libvirt and libvirt-python: render the specs per OS, "
                    "validate them with rpm, build them, and verify upgrades from legacy "
                    "packages.",
        epilog="exit codes: 0 ok, 1 checks found problems, 2 bad input or usage, "
               "3 a required tool or service is missing")
    parser.add_argument("-C", dest="tree", default=".", metavar="TREE",
                        help="packaging tree holding matrix.yaml (default: .)")
    parser.add_argument("--profile", action="append", default=[], metavar="FILE",
                        help="overlay file merged onto matrix.yaml (repeatable; also "
                             "VIRT_PIPELINE_PROFILE, colon-separated)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every command run")
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f".commands.{name}", __package__).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(name)s: %(message)s", stream=sys.stderr)
    tree = Path(args.tree)
    profiles = [Path(p) for p in args.profile]
    env_profiles = os.environ.get("VIRT_PIPELINE_PROFILE", "")
    profiles = [Path(p) for p in env_profiles.split(":") if p] + profiles
    ctx = Context(tree=tree, profiles=profiles, json=bool(getattr(args, "json", False)),
                  run_name=args.command)
    if not (tree / "matrix.yaml").is_file():
        print(f"virt-pipeline: {tree / 'matrix.yaml'}: no matrix here (use -C TREE)",
              file=sys.stderr)
        return 2
    _sigterm_as_interrupt()
    outputs = [v for v in vars(args).values() if isinstance(v, writeguard.OutputPath)]
    with writeguard.guarded(tree, outputs) as guard:
        started = time.time()
        code, error = _run(args, ctx)
        if code == 130:
            print("virt-pipeline: interrupted", file=sys.stderr)
            return code
        if guard.refused:  # raised, or caught by a retry or a fallback that went on
            code, error = 2, redact(str(guard.refused[0]))
        if error:
            print(f"virt-pipeline: {error}", file=sys.stderr)
        _keep_record(ctx, argv, started, code, error)
        if guard.refused and not error:  # the record's own write was refused
            print(f"virt-pipeline: {redact(str(guard.refused[0]))}", file=sys.stderr)
            code = 2
    return code


def _run(args: argparse.Namespace, ctx: Context) -> tuple[int, str | None]:
    """The command's exit code and, when it failed, its one line."""
    try:
        return int(args.func(args, ctx)), None
    except (PipelineError, writeguard.WriteRefused) as exc:
        return exc.exit_code, redact(str(exc))
    except OSError as exc:  # the machine, not the input: a read-only .cache, a full disk
        fault = environment_fault(exc)
        return fault.exit_code, redact(str(fault))
    except KeyboardInterrupt:
        return 130, None


def _keep_record(ctx: Context, argv: Sequence[str] | None, started: float, code: int,
                 error: str | None) -> None:
    """The one place a run's record is written (``.cache/runs/<command>.json``, or
    ``<command>@<tag>.json`` for one of parallel runs): what the command emitted, or the error
    of a run that could not do its work (a missing tool). Bad input (exit 2) leaves the
    previous record alone."""
    if ctx.run_name is None or code == 2 or (ctx.result is None and error is None):
        return
    try:
        record = {
            "command": ctx.run_name, "argv": list(sys.argv[1:] if argv is None else argv),
            "profiles": [str(p) for p in ctx.profiles], "exit_code": code, "error": error,
            "started": started, "finished": time.time(),
            "duration_s": round(time.time() - started, 3), "result": ctx.result}
        runs.write_record(ctx.cache_dir, ctx.run_name,
                          redact_data(json.loads(json.dumps(record, default=str))),
                          tag=os.environ.get(runs.TAG_ENV, ""))
    except OSError as exc:  # a read-only tree still gets its result printed
        if isinstance(exc, writeguard.WriteRefused):
            return  # main says it, as the run's one line
        # a run that already failed said what is wrong in its one line; say it only once
        log = logging.getLogger(__name__)
        (log.debug if error else log.warning)("run record not written: %s", exc)


def _sigterm_as_interrupt() -> None:
    """SIGTERM ends a run like the first Ctrl-C (koji tasks listed or cancelled, exit 130)."""
    import signal
    import threading

    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
