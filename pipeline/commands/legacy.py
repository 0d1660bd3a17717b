"""``virt-pipeline legacy capture``: write a legacy manifest from an installed host, RPM files,
a legacy spec or a repository's metadata.

    virt-pipeline legacy capture (--rpmdb ROOT | --rpms DIR | --spec FILE --os OS |
        --repo URL|DIR) [--dbpath PATH] [--id ID] [--os OS] [--packages GLOB ...]
        [--dist DIST] [--repository R --branch B --file F --commit C] -o FILE [--json]

The manifest (see :mod:`pipeline.upgrade.manifest`) records each package's NEVRA,
dependencies, files with modes and %config flags, and scriptlets, and is what the upgrade
checks build faithful stand-in RPMs from when the old hosts are out of reach. ``--spec`` reads
a spec as rpm expands it with the OS's macros (``rpmspec``, no build); ``--repo`` reads
``repodata/`` (primary, filelists) without downloading a package. Both record where the facts
came from (``sources``) and what the source cannot settle (``unverified``).
"""

from __future__ import annotations

import argparse
import fnmatch
from dataclasses import replace
from pathlib import Path

from pipeline.context import Context
from pipeline.core import files
from pipeline.core.errors import InputError
from pipeline.core.writeguard import OutputPath
from pipeline.upgrade import capture as capture_mod
from pipeline.upgrade import newset, repometa
from pipeline.upgrade.manifest import LegacySet, PackageManifest, dump_manifest, load_manifest

SPEC_UNVERIFIED = (
    "files: the spec's %files as rpmspec expands them (globs as one representative path)",
    "scriptlets: expanded with this tree's macros/*.macros, not the target build root's")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("legacy", help="legacy package sets: capture manifests")
    actions = parser.add_subparsers(dest="legacy_command", metavar="ACTION")
    actions.required = True
    cap = actions.add_parser("capture", help="write a legacy manifest from an rpm database, "
                                             "RPM files, a spec or a repository's metadata")
    source = cap.add_mutually_exclusive_group(required=True)
    source.add_argument("--rpmdb", type=Path, metavar="ROOT",
                        help="an installed root (its rpm database under --dbpath)")
    source.add_argument("--rpms", type=Path, metavar="DIR", help="a folder of .rpm files")
    source.add_argument("--spec", type=Path, metavar="FILE",
                        help="a legacy spec, expanded with --os's macros (no build)")
    source.add_argument("--repo", metavar="URL|DIR",
                        help="a repository (its repodata: primary and filelists)")
    cap.add_argument("--dbpath", default=capture_mod.DEFAULT_DBPATH,
                     help="database path inside ROOT (default: %(default)s)")
    cap.add_argument("--id", dest="set_id", help="manifest id (default: the output file's stem)")
    cap.add_argument("--os", dest="os_id",
                     help="matrix OS id (default: guessed from the releases: .el7, .oe2203)")
    cap.add_argument("--description", default="", help="one line saying what the set is")
    cap.add_argument("--dist", help="%%{dist} for --spec (default: the OS's; errata builds "
                                    "of el7 used .el7_7, .el7_8 ...)")
    cap.add_argument("--packages", nargs="+", default=[], metavar="GLOB",
                     help="only packages whose name matches one of these patterns")
    for name in ("repository", "branch", "file", "commit"):
        cap.add_argument(f"--{name}", default="",
                         help=f"provenance recorded in the manifest's sources: the {name} "
                              "the spec or repository was read from (--file: the spec's path "
                              "in that repository)")
    cap.add_argument("-o", "--output", type=OutputPath, required=True, metavar="FILE",
                     help="manifest file to write (YAML)")
    cap.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    cap.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    packages, sources = _capture(args, ctx)
    if not packages:
        raise InputError("no package matched",
                         file=str(args.rpmdb or args.rpms or args.spec or args.repo))
    legacy = LegacySet(
        id=args.set_id or args.output.name.split(".")[0],
        os=args.os_id or capture_mod.guess_os(packages),
        description=args.description, packages=tuple(packages), sources=sources)
    files.write_output(args.output, dump_manifest(legacy))
    load_manifest(args.output)  # what we write must read back
    if ctx.json:
        ctx.emit_json({"manifest": str(args.output), "id": legacy.id, "os": legacy.os,
                       "packages": [p.nevra for p in legacy.packages]})
    else:
        ctx.say(f"{args.output}: {len(legacy.packages)} packages ({legacy.id}, {legacy.os})")
    return 0


def _capture(args: argparse.Namespace, ctx: Context
             ) -> tuple[list[PackageManifest], dict[str, dict[str, str]]]:
    if args.spec is not None:
        return _from_spec(args, ctx)
    if args.repo is not None:
        found = repometa.from_repo(args.repo, patterns=args.packages)
        return _sourced(found, args, {"repo": args.repo}, ())
    return capture_mod.from_rpm_headers(_source(args), patterns=args.packages), {}


def _from_spec(args: argparse.Namespace, ctx: Context
               ) -> tuple[list[PackageManifest], dict[str, dict[str, str]]]:
    if not args.os_id:
        raise InputError("--spec needs --os (the OS whose macros expand the spec)")
    if not args.spec.is_file():
        raise InputError("no such file", file=str(args.spec))
    matrix = ctx.matrix()
    cells = [c for c in matrix.cells if c.os.id == args.os_id and c.arch == "x86_64"
             and c.flavor_name is None]
    if not cells:
        raise InputError(f"unknown OS {args.os_id!r} (matrix has "
                         f"{', '.join(sorted(matrix.oses))})", key="--os")
    cell = cells[0]
    if args.dist:
        cell = replace(cell, os=replace(cell.os, dist=args.dist, dist_suffix=""))
    found = newset.from_spec(ctx.tree, cell, args.spec.resolve())
    found = [p for p in found if not args.packages
             or any(fnmatch.fnmatchcase(p.name, g) for g in args.packages)]
    plain = [replace(p, files=tuple(replace(f, content=None) for f in p.files)) for p in found]
    return _sourced(plain, args, {"file": args.spec.name}, SPEC_UNVERIFIED)


def _sourced(packages: list[PackageManifest], args: argparse.Namespace, where: dict[str, str],
             unverified: tuple[str, ...]) -> tuple[list[PackageManifest],
                                                   dict[str, dict[str, str]]]:
    entry = {k: getattr(args, k) for k in ("repository", "branch") if getattr(args, k)}
    entry.update(where)
    if args.file:
        entry["file"] = args.file
    if args.commit:
        entry["commit"] = args.commit
    key = "spec" if args.spec is not None else "repo"
    return ([replace(p, source=key, unverified=p.unverified + unverified) for p in packages],
            {key: entry})


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
