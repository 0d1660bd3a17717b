"""The patched QEMU tree: copy the pristine tree, apply the series with --fuzz=0, build
x86_64-softmmu.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import files
from pipeline.core.cmd import run
from pipeline.core.errors import ToolMissing
from pipeline.patches.qemu_selftest.results import SelftestResult, series_stamp

REQUIRED_TOOLS: tuple[str, ...] = ("gcc", "ninja", "meson", "patch", "python3")


CONFIGURE_ARGS: tuple[str, ...] = (
    "--target-list=x86_64-softmmu", "--disable-docs", "--disable-tools",
    "--disable-gtk", "--disable-sdl", "--disable-vnc", "--disable-opengl",
    "--disable-spice", "--disable-capstone", "--disable-user", "--disable-guest-agent",
    "--enable-slirp=system", "--enable-fdt=system", "--disable-werror",
)


BUILD_TIMEOUT = 3600.0


@dataclass(frozen=True)
class QemuBuild:
    """The patched source copy and its build directory inside the workdir."""

    src: Path
    build: Path
    logs: Path

    @property
    def binary(self) -> Path:
        return self.build / "qemu-system-x86_64"

    @property
    def firmware(self) -> Path:
        return self.src / "pc-bios"


def check_tools() -> None:
    """Raise ToolMissing (exit 3) when a tool the build needs is absent."""
    for tool in REQUIRED_TOOLS:
        if shutil.which(tool) is None:
            raise ToolMissing(tool, "apt-get install gcc ninja-build meson patch python3")


def rbd_configure_flag() -> str:
    """Build the rbd driver (patched by the series) when librbd's header is installed."""
    return "--enable-rbd" if Path("/usr/include/rbd/librbd.h").exists() else "--disable-rbd"


def apply_patch(src: Path, patch: Path, *, logs: Path, reverse: bool = False) -> None:
    argv = ["patch", "-p1", "--fuzz=0", "--forward", "-i", os.fspath(patch.resolve())]
    if reverse:
        argv = ["patch", "-p1", "--fuzz=0", "-R", "-i", os.fspath(patch.resolve())]
    run(argv, cwd=src, timeout=120, logfile=logs / "patch.log")


def prepare_tree(tree: Path, series: Sequence[Path], workdir: Path) -> QemuBuild:
    """Copy ``tree`` into ``workdir/src`` and apply ``series``, unless that is already done.

    A previous copy is reused only when it was made from the same series (stamp file); any
    other copy is discarded together with its build directory, because a file that goes back
    to its pristine content also goes back to an old mtime that ninja would not rebuild.
    """
    build = QemuBuild(workdir / "src", workdir / "build", workdir / "logs")
    files.make_dir(build.logs, workdir)
    stamp_file = workdir / "series.stamp"
    stamp = series_stamp(series)
    if build.src.is_dir() and stamp_file.exists() and stamp_file.read_text() == stamp:
        files.tool_dir(build.src, workdir)  # kept across runs: patch and ninja write in it
        return build
    stamp_file.unlink(missing_ok=True)
    for old in (build.src, build.build):
        files.remove_tree(old, workdir)  # a link planted there is removed, never followed
    shutil.copytree(tree, build.src, symlinks=True)
    files.tool_dir(build.src, workdir)  # no copied link may lead out of the workdir
    for patch in series:
        apply_patch(build.src, patch, logs=build.logs)
    stamp_file.write_text(stamp)
    return build


def build_qemu(build: QemuBuild) -> None:
    """Configure once (an existing build directory is reused), then build incrementally.

    The build directory persists across runs, so it is checked (:func:`files.tool_dir`, about
    15 ms on a QEMU 6.2 build folder of 2,200 entries) before configure or ninja writes in it.
    """
    files.tool_dir(build.build, build.src.parent)
    if not (build.build / "build.ninja").exists():
        meson = shutil.which("meson") or "meson"
        run([os.fspath(build.src / "configure"), *CONFIGURE_ARGS, f"--meson={meson}",
             rbd_configure_flag()], cwd=build.build, timeout=BUILD_TIMEOUT,
            logfile=build.logs / "configure.log")
    run(["ninja", "-C", os.fspath(build.build), "qemu-system-x86_64"],
        timeout=BUILD_TIMEOUT, logfile=build.logs / "ninja.log")


def patch_and_build(build: QemuBuild, patch: Path, *, reverse: bool) -> None:
    apply_patch(build.src, patch, logs=build.logs, reverse=reverse)
    build_qemu(build)


def check_rbd_compiled(build: QemuBuild) -> SelftestResult:
    objects = sorted(build.build.glob("**/block_rbd.c.o"))
    found = os.fspath(objects[0].relative_to(build.build)) if objects else "none"
    return SelftestResult("rbd-driver-compiled", bool(objects),
                          f"block_rbd.c.o: {found} (configured {rbd_configure_flag()})")
