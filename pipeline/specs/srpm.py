"""Source RPMs: one per build unit (package x OS release x flavor-with-own-spec).

Sources are fetched once into the cache (by URL and sha256) or taken from local folders; the
patches of the spec's series come from ``patches/<package>/``; ``rpmbuild -bs`` runs with the
OS's macros and ``%dist`` so the SRPM's name is the one the builders will produce.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pipeline.core import cmd, files
from pipeline.core.errors import PipelineError
from pipeline.core.files import link_or_copy
from pipeline.matrix.model import Cell, Matrix
from pipeline.specs import rpmspec, sources


def stage_sources(matrix: Matrix, package: str, sourcedir: Path, *, cache: Path,
                  local_dirs: Sequence[Path] = ()) -> list[Path]:
    """Put the package's sources and every ledger patch into ``sourcedir``."""
    files.make_dir(sourcedir, sourcedir.parent)
    pkg = matrix.packages[package]
    staged = []
    for src in pkg.sources:
        found = sources.fetch(src, cache=cache, local_dirs=list(local_dirs))
        staged.append(link_or_copy(found, sourcedir / src.filename))
    for patch in pkg.patches:
        staged.append(link_or_copy(Path(matrix.root, "patches", package, patch.file),
                                   sourcedir / patch.file))
    return staged


def make_srpm(matrix: Matrix, cell: Cell, package: str, spec_text: str, topdir: Path, *,
              cache: Path, local_dirs: Sequence[Path] = (), logfile: Path | None = None) -> Path:
    """Build the SRPM of ``package`` for ``cell``'s OS/flavor in ``topdir``; its path."""
    tree = Path(matrix.root)
    # rpmbuild writes under topdir: no link in it may lead out (the caller checks topdir)
    files.tool_dir(topdir, topdir)
    for sub in ("SOURCES", "SPECS", "SRPMS"):
        files.make_dir(topdir / sub, topdir)
    stage_sources(matrix, package, topdir / "SOURCES", cache=cache, local_dirs=local_dirs)
    spec = files.write_text(topdir / "SPECS" / f"{package}.spec", spec_text, topdir)
    for old in (topdir / "SRPMS").glob("*.src.rpm"):
        old.unlink()
    # no --target: rpmbuild re-reads its configuration for a target and drops --load files
    argv = ["rpmbuild", "-bs", "--define", f"_topdir {topdir.resolve()}",
            "--define", f"dist {cell.dist}"]
    for macros in rpmspec.macro_files(tree, cell):
        argv += ["--load", str(macros.resolve())]
    cmd.run([*argv, str(spec)], logfile=logfile)
    found = sorted((topdir / "SRPMS").glob("*.src.rpm"))
    if len(found) != 1:
        raise PipelineError(f"rpmbuild -bs made {len(found)} SRPMs in {topdir}/SRPMS")
    return found[0]
