"""The local backend building libvirt-python vs the bare rpmbuild command it wraps.

Same spec and sources, same run. The toolkit side is ``virt-pipeline build --force`` for one
unit (SRPM, BuildRequires check, rpmbuild, manifest, per-OS repo); the bare side is the
``rpmbuild -ba`` a packager would type for the same rendered spec and sources (no dependency
check). Each side runs twice, alternating; the best of each is compared.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import tempfile
from pathlib import Path

from pipeline import rpmspec, srpm
from pipeline.cli import main as cli_main
from pipeline.context import Context

from .common import ROOT, timed, tree_copy

CELL = "bclinux-euler-x86_64"


def _toolkit(tree: Path) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = cli_main(["-C", str(tree), "--profile", str(tree / "profiles/demo.yaml"),
                         "build", "--packages", "libvirt-python", "--cells", CELL, "--force",
                         "--sources", str(ROOT / ".cache/sources"), "--json"])
    if code != 0:
        raise RuntimeError(f"virt-pipeline build exited {code}")


def _bare(tree: Path, work: Path) -> None:
    ctx = Context(tree=tree, profiles=[tree / "profiles/demo.yaml"])
    m = ctx.matrix()
    cell = m.cell(CELL)
    top = work / "top"
    shutil.rmtree(top, ignore_errors=True)
    srpm.stage_sources(m, "libvirt-python", top / "SOURCES", cache=ROOT / ".cache/sources")
    spec = Path(m.specs_dir) / "bclinux-euler" / "libvirt-python.spec"
    host = work / "host.macros"
    argv = ["rpmbuild", "-ba", "--define", f"_topdir {top}", "--define", f"dist {cell.dist}",
            "--define", "debug_package %{nil}"]
    for macros in [*rpmspec.macro_files(tree, cell), host]:
        argv += ["--load", str(macros)]
    subprocess.run([*argv, "--nodeps", str(spec)], check=True, capture_output=True)


def main() -> list[tuple[str, str]]:
    from pipeline.builders import hostdeps

    with tree_copy() as tree, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "host.macros").write_text(hostdeps.host_macros())
        _toolkit(tree)  # first run: fetch, caches
        toolkit, bare = [], []
        for _ in range(2):
            toolkit.append(timed(lambda: _toolkit(tree))[0])
            bare.append(timed(lambda: _bare(tree, work))[0])
    return [("local-build-toolkit-seconds", f"{min(toolkit):.2f}"),
            ("local-build-bare-rpmbuild-seconds", f"{min(bare):.2f}"),
            ("local-build-overhead-ratio", f"{min(toolkit) / min(bare):.3f}")]
