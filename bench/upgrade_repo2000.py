"""Benchmark data: a legacy repo of 2,000 stand-in packages and a new repo of 2,000 replacing them.

Half of the new packages upgrade a legacy package of the same name (2.0 over 1.0), the other
half carry a new name and ``Obsoletes``/``Provides`` the old one; every new package ships the
old one's files (one of them a ``%config(noreplace)`` file) plus one new file, and requires
its neighbour so the dependency graph is not trivial. Packages are built in batches of
subpackages (``synth.BATCH_SIZE`` per rpmbuild call), and cached like any stand-in: a second
run only re-creates the repositories.

    python bench/upgrade_repo2000.py [WORKDIR]      # prints the generation time

``make_repos(workdir) -> (legacy_repo, new_repo)`` is what the pre-flight benchmark calls.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from pipeline.upgrade import rootbase, synth
from pipeline.upgrade.manifest import FileEntry, PackageManifest

COUNT = 2000
DIST = ".el7"


def _files(index: int, *, new: bool) -> tuple[FileEntry, ...]:
    base = f"/usr/share/bench/p{index:04d}"
    files = [FileEntry(path=base, kind="dir"),
             FileEntry(path=f"{base}/data", mode=0o644),
             FileEntry(path=f"/usr/bin/bench-{index:04d}", mode=0o755),
             FileEntry(path=f"/etc/bench/p{index:04d}.conf", config=True)]
    if new:
        files.append(FileEntry(path=f"{base}/new-in-2.0", mode=0o644))
    return tuple(files)


def legacy_packages(count: int = COUNT) -> list[PackageManifest]:
    return [PackageManifest(
        name=f"legacy-pkg-{i:04d}", epoch=None, version="1.0", release=f"1{DIST}",
        arch="x86_64", summary=f"legacy package {i}",
        requires=(f"legacy-pkg-{(i + 1) % count:04d}",) if i % 10 else (),
        files=(FileEntry(path="/etc/bench", kind="dir"), *_files(i, new=False)),
        scriptlets={"post": ":"} if i % 100 == 0 else {}) for i in range(count)]


def new_packages(count: int = COUNT) -> list[PackageManifest]:
    out = []
    for i in range(count):
        renamed = i % 2 == 1
        name = f"new-pkg-{i:04d}" if renamed else f"legacy-pkg-{i:04d}"
        neighbour = (i + 1) % count
        next_name = f"new-pkg-{neighbour:04d}" if neighbour % 2 else f"legacy-pkg-{neighbour:04d}"
        out.append(PackageManifest(
            name=name, epoch=None, version="2.0", release=f"1{DIST}", arch="x86_64",
            summary=f"new package {i}",
            provides=(f"legacy-pkg-{i:04d} = 2.0-1{DIST}",) if renamed else (),
            obsoletes=(f"legacy-pkg-{i:04d} < 2.0-1{DIST}",) if renamed else (),
            requires=(next_name,) if i % 10 else (),
            files=(FileEntry(path="/etc/bench", kind="dir"), *_files(i, new=True)),
            scriptlets={"post": ":"} if i % 100 == 0 else {}))
    return out


def make_repos(workdir: Path) -> tuple[Path, Path]:
    """Build (or reuse) both sets under ``workdir`` and return (legacy_repo, new_repo)."""
    cache = workdir / "rpms"
    scratch = workdir / "scratch"
    base = rootbase.base_package(cache, workdir=scratch)
    old = synth.build_rpms(legacy_packages(), cache, workdir=scratch)
    new = synth.build_rpms(new_packages(), cache, workdir=scratch)
    return (synth.make_repo([base, *old], workdir / "legacy-repo"),
            synth.make_repo([base, *new], workdir / "new-repo"))


def main(argv: list[str] | None = None) -> list[tuple[str, str]]:
    args = sys.argv[1:] if argv is None else argv
    workdir = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix="repo2000-"))
    started = time.monotonic()
    legacy, new = make_repos(workdir)
    elapsed = time.monotonic() - started
    rows = [("legacy_repo", str(legacy)), ("new_repo", str(new)),
            ("packages", str(2 * COUNT)), ("generate_seconds", f"{elapsed:.1f}")]
    for key, value in rows:
        print(f"{key}: {value}")
    return rows


if __name__ == "__main__":
    main()
