"""The whole self-test: prepare and build the tree, run every check, and the command line."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import pipeline.patches.qemu_selftest as package
from pipeline.core.errors import InputError, ToolMissing
from pipeline.patches.qemu_selftest.devices import GridOptions, check_devices
from pipeline.patches.qemu_selftest.grid import (
    ALLOW_LIST_FILE,
    GRID_PREFIX,
    UNSUPPORTED_FILE,
    format_grid,
    rows_from_results,
)
from pipeline.patches.qemu_selftest.legacy import check_legacy, legacy_machines
from pipeline.patches.qemu_selftest.liveguest import check_live_guest, format_observed
from pipeline.patches.qemu_selftest.machines import check_machine, check_machine_help
from pipeline.patches.qemu_selftest.results import (
    CURRENT_MACHINE,
    FIX_PATCH_MARK,
    RHEL7_MACHINES,
    SelftestResult,
    exit_code,
    find_fix_patch,
    format_results,
    step,
)
from pipeline.patches.qemu_selftest.tree import (
    QemuBuild,
    build_qemu,
    check_rbd_compiled,
    check_tools,
    prepare_tree,
)
from pipeline.patches.qemu_selftest.vhost_user import check_reconnect_survives, without_fix


def run_selftest(tree: Path, series: list[Path], workdir: Path, *, keep: bool = False,
                 legacy_qemu: Path | None = None,
                 grid: GridOptions | None = None,
                 live_guest: bool = False) -> list[SelftestResult]:
    """Apply ``series`` to a copy of ``tree`` in ``workdir``, build it and run every check.

    ``legacy_qemu`` (a qemu-kvm-ev 2.12 binary) adds the cross-version save/load checks;
    ``live_guest`` the running Linux guest migrated live both ways.
    """
    check_tools()
    check_legacy_binary(legacy_qemu)
    if workdir.resolve().is_relative_to(tree.resolve()):
        raise InputError("the workdir must not be inside the pristine tree", file=str(workdir))
    workdir.mkdir(parents=True, exist_ok=True)
    holder: dict[str, QemuBuild] = {}
    results = [step("series-applies", lambda: holder.setdefault(
        "build", prepare_tree(tree, series, workdir)))]
    if not results[0].passed:
        return results
    build = holder["build"]
    results.append(step("build-x86_64-softmmu", lambda: build_qemu(build)))
    if not results[-1].passed:
        return results
    scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=workdir))
    try:
        results += run_checks(build, scratch, series, workdir, legacy_qemu)
        grid = grid or default_grid(series)
        results += check_devices(build.binary, build.firmware, scratch, legacy_qemu,
                                 legacy_common(results), grid)
        if live_guest:
            results += check_live_guest(build.binary, build.firmware, scratch, legacy_qemu,
                                        legacy_common(results), grid.unsupported,
                                        workdir / "guest-cache")
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return results


def check_legacy_binary(legacy_qemu: Path | None) -> None:
    if legacy_qemu is not None and not (legacy_qemu.is_file()
                                        and os.access(legacy_qemu, os.X_OK)):
        raise InputError("--legacy-qemu: not an executable file", file=str(legacy_qemu))


def run_live_only(binary: Path, workdir: Path, legacy_qemu: Path | None, unsupported: Path, *,
                  keep: bool = False) -> list[SelftestResult]:
    """Only the live-guest group, against an already built ``binary`` (firmware: the
    ``pc-bios`` next to it, as a build directory has): nothing is patched or rebuilt.
    """
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise InputError("--binary: not an executable file", file=str(binary))
    check_legacy_binary(legacy_qemu)
    workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=workdir))
    try:
        results: list[SelftestResult] = []
        machines: list[str] = []
        if legacy_qemu is not None:
            machines, listed = legacy_machines(binary, legacy_qemu)
            results.append(listed)
        return results + check_live_guest(binary, binary.parent / "pc-bios", scratch,
                                          legacy_qemu, machines, unsupported,
                                          workdir / "guest-cache")
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


def default_grid(series: Sequence[Path]) -> GridOptions:
    """All sets and accelerators; the data files next to the series (patches/qemu/)."""
    data = series[0].parent if series else Path("patches/qemu")
    return GridOptions(None, None, data / ALLOW_LIST_FILE, data / UNSUPPORTED_FILE)


def legacy_common(results: Sequence[SelftestResult]) -> list[str]:
    """The machine types the legacy checks found in both builds (from their load results)."""
    prefix = "legacy-load:"
    return [r.name[len(prefix):] for r in results if r.name.startswith(prefix)]


def run_checks(build: QemuBuild, scratch: Path, series: Sequence[Path], workdir: Path,
               legacy_qemu: Path | None = None) -> list[SelftestResult]:
    results = [check_rbd_compiled(build), *check_machine_help(build)]
    for machine in (*RHEL7_MACHINES, CURRENT_MACHINE):
        results += check_machine(build, scratch, machine)
    results += check_legacy(build, scratch, legacy_qemu)
    results.append(check_reconnect_survives(build, scratch))
    fix = find_fix_patch(series)
    if fix is None:
        results.append(SelftestResult("fix-patch-in-series", False,
                                      f"no patch named *{FIX_PATCH_MARK}* in the series"))
        return results
    return results + without_fix(build, scratch, fix, workdir)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline.patches.qemu_selftest",
                                     description=(package.__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tree", type=Path,
                        help="pristine QEMU 6.2.0 source tree (unpacked release tarball); "
                             "required unless --binary")
    parser.add_argument("--series", type=Path, nargs="+", required=True,
                        help="patch files, in series order")
    parser.add_argument("--workdir", type=Path, required=True,
                        help="scratch directory (source copy and build dir are reused)")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--keep", action="store_true",
                        help="keep guest logs, sockets and saved states")
    parser.add_argument("--device-sets", metavar="GLOBS",
                        help="run only these device sets of the grid (comma-separated globs, "
                             "e.g. 'libvirt,nic-*'); default: all")
    parser.add_argument("--accels", metavar="LIST", help="tcg,kvm (default: both)")
    parser.add_argument("--allow-list", type=Path, metavar="FILE",
                        help=f"reviewed qtree differences (default: {ALLOW_LIST_FILE} next to "
                             "the series)")
    parser.add_argument("--unsupported", type=Path, metavar="FILE",
                        help=f"declared unsupported rows (default: {UNSUPPORTED_FILE} next to "
                             "the series)")
    parser.add_argument("--legacy-qemu", type=Path, metavar="BINARY",
                        help="qemu-kvm-ev 2.12 qemu-system-x86_64 (or /usr/libexec/qemu-kvm): "
                             "also save guests there and load them in 6.2, and back")
    parser.add_argument("--live-guest", action="store_true",
                        help="also migrate a running Linux guest (Debian kernel + busybox, "
                             "fetched with apt-get download) live both ways on every type "
                             "(needs --legacy-qemu)")
    parser.add_argument("--binary", type=Path, metavar="BINARY",
                        help="an already built patched qemu-system-x86_64 (with pc-bios/ "
                             "next to it): run only the live-guest group against it, "
                             "without patching or building anything")
    args = parser.parse_args(argv)
    if args.tree is None and args.binary is None:
        parser.error("--tree is required (or --binary for the live-guest group alone)")
    return args


def grid_options(args: argparse.Namespace) -> GridOptions:
    defaults = default_grid([p.resolve() for p in args.series])
    return GridOptions(args.device_sets, args.accels,
                       args.allow_list.resolve() if args.allow_list else defaults.allow_list,
                       args.unsupported.resolve() if args.unsupported
                       else defaults.unsupported)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    legacy = args.legacy_qemu.resolve() if args.legacy_qemu else None
    try:
        if args.binary is not None:
            results = run_live_only(args.binary.resolve(), args.workdir.resolve(), legacy,
                                    grid_options(args).unsupported, keep=args.keep)
        else:
            results = run_selftest(args.tree.resolve(), [p.resolve() for p in args.series],
                                   args.workdir.resolve(), keep=args.keep, legacy_qemu=legacy,
                                   grid=grid_options(args), live_guest=args.live_guest)
    except (ToolMissing, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        print("\n".join(format_results([r for r in results
                                         if not r.name.startswith(GRID_PREFIX)])))
        observed = format_observed(results)
        if observed:
            print("\n".join(observed))
        rows = rows_from_results(results)
        if rows:
            print("\n".join(format_grid(rows)))
    return exit_code(results)
