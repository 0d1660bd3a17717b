"""Stand-in RPMs: real rpm packages built from manifests, with placeholder file contents.

:func:`build_rpms` writes one spec per batch of packages that share epoch, version, release and
arch (each package a ``%package -n NAME`` of it, so 2,000 packages take a few rpmbuild calls),
with every Provides/Requires/Obsoletes/Conflicts, file mode, ``%config(noreplace)`` flag and
scriptlet of the manifest. Results are cached by a content hash of each package's manifest:
rebuilding an unchanged set costs nothing.

Stand-ins are placeholders. ``rpmbuild --target ARCH`` only relabels the package: an aarch64
stand-in (and the aarch64 base package) carries x86-64 or text content, which is fine because
nothing in them is ever executed except the base package's busybox on this x86-64 host.
Automatic dependencies are off for stand-ins (``AutoReqProv: no``) so a package depends on
exactly what its manifest says; rpm still adds ``Requires(post): /bin/sh`` for each scriptlet,
which :func:`base_package` provides.

Debian's rpmbuild needs: ``--dbpath`` (an empty private database, never ``~/.rpmdb``), no
BuildRequires, ``_topdir`` in a work folder, and no debuginfo or brp post-processing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline.core import cmd, files
from pipeline.core.errors import PipelineError
from pipeline.core.files import link_or_copy
from pipeline.upgrade.manifest import FileEntry, PackageManifest

#: bump when the generated spec changes, so cached RPMs are rebuilt
SYNTH_VERSION = "1"
#: packages per rpmbuild call (rpm's spec parser slows down past a few hundred subpackages)
BATCH_SIZE = 250

_RPMBUILD_DEFINES = {
    "debug_package": "%{nil}",
    "__os_install_post": "%{nil}",
    "_build_id_links": "none",
    "_binary_payload": "w1.gzdio",
    "_buildhost": "virt-pipeline-standin",
    "_source_date_epoch_from_changelog": "0",
    "_binary_filedigest_algorithm": "8",
    # rpm's OpenMP package writers spend most of their time waiting on each other here:
    # one thread per rpmbuild, and parallel rpmbuild calls instead, is ~4x faster
    "_smp_build_nthreads": "1",
}


def placeholder(pkg: PackageManifest, entry: FileEntry) -> str:
    """The content of a stand-in file that has none in its manifest."""
    return entry.content if entry.content is not None else \
        f"stand-in {entry.path} of {pkg.name}-{pkg.evr}\n"


def cache_key(pkg: PackageManifest) -> str:
    data = asdict(pkg)
    data["_synth"] = SYNTH_VERSION
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def rpm_filename(pkg: PackageManifest) -> str:
    return f"{pkg.name}-{pkg.version}-{pkg.release}.{pkg.arch}.rpm"


def build_rpms(packages: Sequence[PackageManifest], out_dir: Path, *,
               workdir: Path, jobs: int = 2, roots: Sequence[Path] = ()) -> list[Path]:
    """Build (or reuse from ``out_dir``) one RPM per manifest; paths in input order.

    rpmbuild runs in a fresh folder under ``workdir``; both folders must resolve inside
    ``roots`` (default: their parents), so a link planted at them cannot lead the build out.
    """
    files.make_dir(out_dir, *(roots or [out_dir.parent]))
    wanted = [(pkg, out_dir / cache_key(pkg) / rpm_filename(pkg)) for pkg in packages]
    missing = list({cache_key(pkg): pkg for pkg, path in wanted
                    if not path.is_file()}.values())
    batches = plan_batches(missing, size=BATCH_SIZE)
    workdir = files.make_dir(workdir, *(roots or [workdir.parent]))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(_build_batch, batch, out_dir, workdir) for batch in batches]
        for future in futures:
            future.result()
    return [path for _, path in wanted]


def plan_batches(packages: Iterable[PackageManifest], *,
                 size: int = BATCH_SIZE) -> list[list[PackageManifest]]:
    """Group packages that can share one spec: same E:V-R.arch, no file path used twice.

    Packages of one batch share a build root, so a path that is a file in one of them may
    appear in no other (directories may be shared).
    """
    batches: list[_Batch] = []
    for pkg in packages:
        group = (pkg.epoch, pkg.version, pkg.release, pkg.arch)
        files = {f.path for f in pkg.files if f.kind != "dir"}
        dirs = {f.path for f in pkg.files if f.kind == "dir"}
        for batch in batches:
            if batch.key == group and len(batch.members) < size \
                    and not files & (batch.files | batch.dirs) and not dirs & batch.files:
                break
        else:
            batch = _Batch(group)
            batches.append(batch)
        batch.members.append(pkg)
        batch.files |= files
        batch.dirs |= dirs
    return [batch.members for batch in batches]


@dataclass
class _Batch:
    key: tuple[object, ...]
    members: list[PackageManifest] = field(default_factory=list)
    files: set[str] = field(default_factory=set)
    dirs: set[str] = field(default_factory=set)


def _build_batch(batch: list[PackageManifest], out_dir: Path, workdir: Path) -> None:
    top = Path(tempfile.mkdtemp(prefix="synth-", dir=workdir))
    try:
        root = top / "root"
        for pkg in batch:
            _materialize(pkg, root)
        spec = top / "standins.spec"
        spec.write_text(batch_spec(batch, root=root), encoding="utf-8")
        rpmbuild(spec, top=top, arch=batch[0].arch)
        for pkg in batch:
            built = top / "RPMS" / pkg.arch / rpm_filename(pkg)
            if not built.is_file():
                raise PipelineError(f"rpmbuild did not produce {built.name}")
            dest = out_dir / cache_key(pkg)
            dest.mkdir(parents=True, exist_ok=True)
            os.replace(built, dest / built.name)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def rpmbuild(spec: Path, *, top: Path, arch: str) -> None:
    """``rpmbuild -bb`` with Debian's quirks handled (private db, no debuginfo, no brp)."""
    dbpath = top / "rpmdb"
    dbpath.mkdir(exist_ok=True)
    argv = ["rpmbuild", "-bb", "--quiet", "--dbpath", str(dbpath),
            "--target", "x86_64" if arch == "noarch" else arch,
            "--define", f"_topdir {top}"]
    for name, value in _RPMBUILD_DEFINES.items():
        argv += ["--define", f"{name} {value}"]
    cmd.run([*argv, str(spec)], cwd=top, timeout=1800)


def _materialize(pkg: PackageManifest, root: Path) -> None:
    """Write the package's files (placeholders), dirs and symlinks under ``root``."""
    for entry in pkg.files:  # never through a '..' or a symlink of an earlier entry
        dest = root / entry.path.lstrip("/")
        if entry.kind == "dir":
            files.make_dir(dest, root)
            continue
        files.make_dir(dest.parent, root)
        if entry.kind == "symlink":
            assert entry.target is not None
            os.symlink(entry.target, dest)
        else:
            files.write_text(dest, placeholder(pkg, entry), root)


# ---------------------------------------------------------------- spec text

def escape(text: str) -> str:
    return text.replace("%", "%%")


def batch_spec(batch: Sequence[PackageManifest], *, root: Path) -> str:
    """The spec that builds every package of ``batch`` as a subpackage (pure function)."""
    first = batch[0]
    digest = hashlib.sha256("\n".join(p.nevra for p in batch).encode()).hexdigest()[:12]
    lines = [f"Name: standins-{digest}", f"Version: {first.version}",
             f"Release: {first.release}"]
    if first.epoch is not None:
        lines.append(f"Epoch: {first.epoch}")
    lines += ["Summary: stand-in packages", "License: Public Domain"]
    if first.arch == "noarch":
        lines.append("BuildArch: noarch")
    lines += ["", "%description", "Stand-ins built by virt-pipeline.", "",
              "%install", f"cp -a '{root}/.' %{{buildroot}}/" if _has_files(batch)
              else ":", ""]
    for pkg in batch:
        lines += package_section(pkg)
    return "\n".join(lines) + "\n"


def _has_files(batch: Sequence[PackageManifest]) -> bool:
    return any(pkg.files for pkg in batch)


def package_section(pkg: PackageManifest) -> list[str]:
    lines = [f"%package -n {pkg.name}", f"Summary: {escape(pkg.summary or pkg.name)}",
             "AutoReqProv: no"]
    for tag, deps in (("Provides", pkg.provides), ("Requires", pkg.requires),
                      ("Obsoletes", pkg.obsoletes), ("Conflicts", pkg.conflicts)):
        lines += [f"{tag}: {escape(dep)}" for dep in deps]
    lines += ["", f"%description -n {pkg.name}", f"Stand-in for {pkg.nevra}.", ""]
    for name, body in sorted(pkg.scriptlets.items()):
        lines += [f"%{name} -n {pkg.name}", escape(body).rstrip("\n"), ""]
    lines += [f"%files -n {pkg.name}", *(files_line(e) for e in pkg.files), ""]
    return lines


def files_line(entry: FileEntry) -> str:
    """One ``%files`` line for ``entry``."""
    path = f'"{escape(entry.path)}"' if " " in entry.path else escape(entry.path)
    if entry.kind == "symlink":
        return path
    attr = f"%attr({entry.mode:04o},root,root) "
    if entry.kind == "dir":
        return f"%dir {attr}{path}"
    return ("%config(noreplace) " if entry.config else "") + attr + path


def make_repo(rpms: Sequence[Path], repo_dir: Path, *, roots: Sequence[Path] = ()) -> Path:
    """A yum/dnf repository of exactly ``rpms`` in ``repo_dir`` (hard links when possible);
    other ``.rpm`` files already in ``repo_dir`` are removed. createrepo_c writes there (and
    replaces ``repodata/``): ``repo_dir`` is checked first (:func:`files.tool_dir`) against
    ``roots`` (default: its parent)."""
    files.tool_dir(repo_dir, *(roots or [repo_dir.parent]))
    wanted = {rpm.name for rpm in rpms}
    for stale in repo_dir.glob("*.rpm"):
        if stale.name not in wanted:
            stale.unlink()
    for rpm in rpms:
        link_or_copy(rpm, repo_dir / rpm.name)
    cmd.run(["createrepo_c", "--quiet", "--no-database", str(repo_dir)], timeout=600)
    return repo_dir
