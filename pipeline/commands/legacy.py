"""``virt-pipeline legacy capture``: write a legacy manifest from an installed host or RPM files.

    virt-pipeline legacy capture (--rpmdb ROOT | --rpms DIR) [--dbpath PATH] [--id ID]
        [--os OS] [--packages GLOB ...] -o FILE [--json]

The manifest (see :mod:`pipeline.upgrade.manifest`) records each package's NEVRA,
dependencies, files with modes and %config flags, and scriptlets, and is what the upgrade
checks build faithful stand-in RPMs from when the old hosts are out of reach.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.context import Context
from pipeline.core.errors import InputError
from pipeline.upgrade import capture as capture_mod
from pipeline.upgrade.manifest import LegacySet, dump_manifest, load_manifest


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("legacy", help="legacy package sets: capture manifests")
    actions = parser.add_subparsers(dest="legacy_command", metavar="ACTION")
    actions.required = True
    cap = actions.add_parser("capture", help="write a legacy manifest from an rpm database "
                                             "or a folder of RPMs")
    source = cap.add_mutually_exclusive_group(required=True)
    source.add_argument("--rpmdb", type=Path, metavar="ROOT",
                        help="an installed root (its rpm database under --dbpath)")
    source.add_argument("--rpms", type=Path, metavar="DIR", help="a folder of .rpm files")
    cap.add_argument("--dbpath", default=capture_mod.DEFAULT_DBPATH,
                     help="database path inside ROOT (default: %(default)s)")
    cap.add_argument("--id", dest="set_id", help="manifest id (default: the output file's stem)")
    cap.add_argument("--os", dest="os_id",
                     help="matrix OS id (default: guessed from the releases: .el7, .oe2203)")
    cap.add_argument("--description", default="", help="one line saying what the set is")
    cap.add_argument("--packages", nargs="+", default=[], metavar="GLOB",
                     help="only packages whose name matches one of these patterns")
    cap.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                     help="manifest file to write (YAML)")
    cap.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    cap.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    source = _source(args)
    packages = capture_mod.from_rpm_headers(source, patterns=args.packages)
    if not packages:
        raise InputError("no package matched", file=str(args.rpmdb or args.rpms))
    legacy = LegacySet(
        id=args.set_id or args.output.name.split(".")[0],
        os=args.os_id or capture_mod.guess_os(packages),
        description=args.description, packages=tuple(packages))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(dump_manifest(legacy), encoding="utf-8")
    load_manifest(args.output)  # what we write must read back
    if ctx.json:
        ctx.emit_json({"manifest": str(args.output), "id": legacy.id, "os": legacy.os,
                       "packages": [p.nevra for p in legacy.packages]})
    else:
        ctx.say(f"{args.output}: {len(legacy.packages)} packages ({legacy.id}, {legacy.os})")
    return 0


def _source(args: argparse.Namespace) -> capture_mod.Source:
    if args.rpmdb is not None:
        if not args.rpmdb.is_dir():
            raise InputError("not a folder", file=str(args.rpmdb))
        return capture_mod.RpmDb(args.rpmdb, args.dbpath)
    if not args.rpms.is_dir():
        raise InputError("not a folder", file=str(args.rpms))
    rpms = sorted(p for p in args.rpms.glob("*.rpm") if not p.name.endswith(".src.rpm"))
    if not rpms:
        raise InputError("no .rpm files here", file=str(args.rpms))
    return rpms
