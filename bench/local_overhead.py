"""The local backend building libvirt-python vs the bare rpmbuild command it wraps.

Same spec and sources, same run. The toolkit side is ``virt-pipeline build --force`` for one
unit, end to end (plan, SRPM, BuildRequires check, rpmbuild, manifest, per-OS repo). The bare
side replays the exact ``rpmbuild --rebuild`` command line the toolkit recorded in the build's
manifest, on a copy of the same SRPM. Three rounds, alternating; medians are compared.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from pipeline.builds.builders import hostdeps
from pipeline.cli import main as cli_main

from .common import ROOT, timed, tree_copy

CELL = "bclinux-euler-x86_64"


def _toolkit(tree: Path) -> dict:  # type: ignore[type-arg]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = cli_main(["-C", str(tree), "--profile", str(tree / "profiles/demo.yaml"),
                         "build", "--packages", "libvirt-python", "--cells", CELL, "--force",
                         "--sources", str(ROOT / ".cache/sources"), "--json"])
    if code != 0:
        raise RuntimeError(f"virt-pipeline build exited {code}")
    built: dict = json.loads(out.getvalue())["built"][0]  # type: ignore[type-arg]
    return built


def _bare_argv(result: Path, work: Path) -> list[str]:
    """The recorded command, pointed at a private copy of what it read."""
    manifest = json.loads((result / "manifest.json").read_text())
    argv = shlex.split(manifest["commands"][0])
    partial = Path(argv[-1]).parents[1]  # <partial>/srpm/<srpm>
    srpm = work / "srpm" / Path(argv[-1]).name
    srpm.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(result / manifest["srpm"], srpm)
    (work / "work").mkdir(exist_ok=True)
    (work / "work" / "host.macros").write_text(hostdeps.host_macros())
    return [a.replace(str(partial), str(work)) for a in argv]


def main() -> list[tuple[str, str]]:
    with tree_copy() as tree, tempfile.TemporaryDirectory() as tmp:
        first = _toolkit(tree)  # fetch sources, fill caches
        argv = _bare_argv(Path(first["result"]), Path(tmp))
        toolkit, bare = [], []
        for _ in range(3):
            toolkit.append(timed(lambda: _toolkit(tree))[0])
            shutil.rmtree(Path(tmp) / "work" / "top", ignore_errors=True)
            bare.append(timed(lambda: subprocess.run(argv, check=True,
                                                     capture_output=True))[0])
    tk, bw = statistics.median(toolkit), statistics.median(bare)
    return [("local-overhead-toolkit-seconds", f"{tk:.2f}"),
            ("local-overhead-bare-rpmbuild-seconds", f"{bw:.2f}"),
            ("local-overhead-ratio", f"{tk / bw:.3f}")]
