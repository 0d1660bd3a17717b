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
import re
import shlex
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from pipeline.core import cmd
from pipeline.core.errors import PipelineError
from pipeline.core.files import link_or_copy
from pipeline.matrix.model import Cell
from pipeline.specs import rpmspec
from pipeline.upgrade.capture import from_rpm_headers
from pipeline.upgrade.manifest import FileEntry, PackageManifest, self_dependency

__all__ = ["base_package", "build_rpms", "from_rpm_headers", "from_spec", "make_repo"]

#: bump when the generated spec changes, so cached RPMs are rebuilt
SYNTH_VERSION = "1"
BASE_NAME = "virt-pipeline-base"
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
               workdir: Path, jobs: int = 2) -> list[Path]:
    """Build (or reuse from ``out_dir``) one RPM per manifest; paths in input order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = [(pkg, out_dir / cache_key(pkg) / rpm_filename(pkg)) for pkg in packages]
    missing = list({cache_key(pkg): pkg for pkg, path in wanted
                    if not path.is_file()}.values())
    batches = plan_batches(missing, size=BATCH_SIZE)
    workdir.mkdir(parents=True, exist_ok=True)
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
    for entry in pkg.files:
        dest = root / entry.path.lstrip("/")
        if entry.kind == "dir":
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if entry.kind == "symlink":
            assert entry.target is not None
            os.symlink(entry.target, dest)
        else:
            dest.write_text(placeholder(pkg, entry), encoding="utf-8")


# ---------------------------------------------------------------- spec text

def _esc(text: str) -> str:
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
    lines = [f"%package -n {pkg.name}", f"Summary: {_esc(pkg.summary or pkg.name)}",
             "AutoReqProv: no"]
    for tag, deps in (("Provides", pkg.provides), ("Requires", pkg.requires),
                      ("Obsoletes", pkg.obsoletes), ("Conflicts", pkg.conflicts)):
        lines += [f"{tag}: {_esc(dep)}" for dep in deps]
    lines += ["", f"%description -n {pkg.name}", f"Stand-in for {pkg.nevra}.", ""]
    for name, body in sorted(pkg.scriptlets.items()):
        lines += [f"%{name} -n {pkg.name}", _esc(body).rstrip("\n"), ""]
    lines += [f"%files -n {pkg.name}", *(files_line(e) for e in pkg.files), ""]
    return lines


def files_line(entry: FileEntry) -> str:
    """One ``%files`` line for ``entry``."""
    path = f'"{_esc(entry.path)}"' if " " in entry.path else _esc(entry.path)
    if entry.kind == "symlink":
        return path
    attr = f"%attr({entry.mode:04o},root,root) "
    if entry.kind == "dir":
        return f"%dir {attr}{path}"
    return ("%config(noreplace) " if entry.config else "") + attr + path


# ---------------------------------------------------------------- base package and repos

@dataclass(frozen=True)
class _BaseLayout:
    applets: tuple[str, ...] = (
        "sh", "bash", "ls", "cat", "cp", "mv", "rm", "ln", "mkdir", "rmdir", "chmod", "chown",
        "touch", "echo", "printf", "test", "[", "true", "false", "sed", "grep", "awk", "find",
        "head", "tail", "sort", "uniq", "wc", "cut", "tr", "id", "env", "sleep", "install",
        "readlink", "stat", "xargs", "basename", "dirname", "date", "getent", "diff", "cmp")
    sbin_applets: tuple[str, ...] = ("ldconfig", "useradd", "groupadd", "adduser", "addgroup")
    provides: tuple[str, ...] = ("/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash",
                                 "rtld(GNU_HASH)", "shadow-utils", "coreutils", "bash",
                                 "glibc", "filesystem", "grep", "sed", "findutils")


def base_package(out_dir: Path, *, arch: str = "x86_64", workdir: Path,
                 provides: Sequence[str] = ()) -> Path:
    """The root-base RPM: static busybox as the shell and tools, the host's libc and ld.so.

    It makes an empty installroot usable: scriptlets find ``/bin/sh``, and the automatic
    requires of real binaries (``libc.so.6()(64bit)``, ``rtld(GNU_HASH)``) resolve. The
    layout is el7's merged /usr (``/bin`` -> ``usr/bin``, ``/lib64`` -> ``usr/lib64``).
    ``provides`` adds capabilities (e.g. ``systemd``) that the packages under test require
    from the OS. For ``arch="aarch64"`` the content stays x86-64 (a relabel), and the aarch64
    loader names are provided explicitly.
    """
    layout = _BaseLayout()
    extra = tuple(provides) + (_aarch64_provides() if arch == "aarch64" else ())
    key = hashlib.sha256(json.dumps([SYNTH_VERSION, arch, layout.applets, layout.provides,
                                     extra]).encode()).hexdigest()[:20]
    dest = out_dir / key / f"{BASE_NAME}-1-1.{arch}.rpm"
    if dest.is_file():
        return dest
    workdir.mkdir(parents=True, exist_ok=True)
    top = Path(tempfile.mkdtemp(prefix="base-", dir=workdir))
    try:
        root = top / "root"
        _base_tree(root, layout)
        spec = top / "base.spec"
        spec.write_text(_base_spec(root, layout.provides + extra), encoding="utf-8")
        rpmbuild(spec, top=top, arch=arch)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(top / "RPMS" / arch / dest.name, dest)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return dest


def _aarch64_provides() -> tuple[str, ...]:
    return ("ld-linux-aarch64.so.1()(64bit)", "ld-linux-aarch64.so.1(GLIBC_2.17)(64bit)")


def _host_busybox() -> Path:
    for candidate in (Path("/bin/busybox"), Path("/usr/bin/busybox")):
        if candidate.is_file():
            return candidate
    cmd.require("busybox")  # raises ToolMissing with a hint
    raise PipelineError("busybox not found")  # pragma: no cover


def _host_libs() -> list[Path]:
    """The host's libc and dynamic loader (real files, symlinks resolved)."""
    found = []
    for name in ("libc.so.6", "ld-linux-x86-64.so.2", "libm.so.6"):
        for folder in ("/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"):
            path = Path(folder) / name
            if path.exists():
                found.append(path)
                break
    return found


def _base_tree(root: Path, layout: _BaseLayout) -> None:
    for folder in ("usr/bin", "usr/sbin", "usr/lib64", "usr/lib", "etc", "var/lib", "var/tmp",
                   "var/log", "var/run", "run", "tmp", "usr/share", "usr/libexec", "root"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for link, target in (("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"),
                         ("lib64", "usr/lib64"), ("usr/lib/x86_64-linux-gnu", "../lib64")):
        os.symlink(target, root / link)
    busybox = root / "usr/bin/busybox"
    shutil.copy2(_host_busybox(), busybox)
    for applet in layout.applets:
        os.symlink("busybox", root / "usr/bin" / applet)
    for applet in layout.sbin_applets:
        os.symlink("../bin/busybox", root / "usr/sbin" / applet)
    for lib in _host_libs():
        shutil.copy2(lib.resolve(), root / "usr/lib64" / lib.name)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n", encoding="utf-8")
    (root / "etc/group").write_text("root:x:0:\n", encoding="utf-8")


def _base_spec(root: Path, provides: Sequence[str]) -> str:
    lines = [f"Name: {BASE_NAME}", "Version: 1", "Release: 1",
             "Summary: minimal root for stand-in installs (busybox, host libc)",
             "License: GPLv2 and LGPLv2+",
             *(f"Provides: {_esc(p)}" for p in provides),
             "", "%description", "Root base built by virt-pipeline.", "",
             "%install", f"cp -a '{root}/.' %{{buildroot}}/", "",
             "%files"]
    for path in sorted(root.rglob("*")):
        rel = "/" + path.relative_to(root).as_posix()
        if path.is_symlink() or not path.is_dir():
            lines.append(rel)
        else:
            lines.append(f"%dir {rel}")
    return "\n".join(lines) + "\n"


def make_repo(rpms: Sequence[Path], repo_dir: Path) -> Path:
    """A yum/dnf repository of exactly ``rpms`` in ``repo_dir`` (hard links when possible);
    other ``.rpm`` files already in ``repo_dir`` are removed."""
    repo_dir.mkdir(parents=True, exist_ok=True)
    wanted = {rpm.name for rpm in rpms}
    for stale in repo_dir.glob("*.rpm"):
        if stale.name not in wanted:
            stale.unlink()
    for rpm in rpms:
        link_or_copy(rpm, repo_dir / rpm.name)
    cmd.run(["createrepo_c", "--quiet", "--no-database", str(repo_dir)], timeout=600)
    return repo_dir


# ---------------------------------------------------------------- new set from rendered specs

#: section keywords that end a %files section
_SECTIONS = ("package", "description", "prep", "build", "install", "check", "clean", "files",
             "changelog", "pre", "post", "preun", "postun", "pretrans", "posttrans",
             "verifyscript", "triggerin", "triggerun", "triggerpostun", "triggerprein",
             "filetriggerin", "filetriggerun", "filetriggerpostun", "transfiletriggerin",
             "transfiletriggerun", "transfiletriggerpostun", "generate_buildrequires")
_SECTION_RE = re.compile(r"^%(" + "|".join(_SECTIONS) + r")(?:\s+(.*))?$")
_TOKEN_RE = re.compile(r'%[a-z_]+(?:\([^)]*\))?|"[^"]*"|\S+')
_EXEC_DIRS = re.compile(r"/(?:s?bin|libexec)/[^/]+$|\.so(?:\.[0-9.]+)?$")
_SCRIPT_NAMES = {"pre", "post", "preun", "postun", "pretrans", "posttrans"}


@dataclass(frozen=True)
class FilesLine:
    """One path of a ``%files`` section with its directives (rpm's view, before globbing)."""

    path: str
    dir: bool = False            # %dir: the folder only
    folder: bool = False         # PATH/ : the folder and everything in it
    config: bool = False
    mode: int | None = None      # from %attr / %defattr, None = rpm's default
    doc: bool = False            # %doc / %license with a relative path
    ghost: bool = False
    exclude: bool = False


@dataclass(frozen=True)
class SpecSections:
    """What ``from_spec`` needs from an expanded spec: %files lines and scriptlets per package."""

    files: dict[str, list[FilesLine]]
    scriptlets: dict[str, set[str]]


def _section_package(main: str, args: str) -> str:
    """The package a section header (``%files -n x``, ``%post sub``) belongs to."""
    words = shlex.split(args or "")
    name, index = main, 0
    while index < len(words):
        word = words[index]
        if word == "-n" and index + 1 < len(words):
            name, index = words[index + 1], index + 2
        elif word in ("-f", "-p") and index + 1 < len(words):
            index += 2
        elif word.startswith("-"):
            index += 1
        else:
            name, index = f"{main}-{word}", index + 1
    return name


def parse_spec_sections(expanded: str) -> SpecSections:
    """Split ``rpmspec -P`` output into %files lines and scriptlet names per package."""
    main_match = re.search(r"^Name:\s*(\S+)", expanded, re.M)
    main = main_match.group(1) if main_match else ""
    files: dict[str, list[FilesLine]] = {}
    scripts: dict[str, set[str]] = {}
    current: str | None = None
    defattr: tuple[int | None, int | None] = (None, None)
    for raw in expanded.splitlines():
        line = raw.strip()
        section = _SECTION_RE.match(line)
        if section:
            kind, args = section.group(1), section.group(2) or ""
            current = None
            if kind == "files":
                current = _section_package(main, args)
                files.setdefault(current, [])
                defattr = (None, None)
            elif kind in _SCRIPT_NAMES:
                scripts.setdefault(_section_package(main, args), set()).add(kind)
            continue
        if current is None or not line or line.startswith("#"):
            continue
        if line.startswith("%defattr"):
            defattr = _defattr(line)
            continue
        files[current].extend(parse_files_line(line, defattr=defattr))
    return SpecSections(files=files, scriptlets=scripts)


def _octal(text: str) -> int | None:
    text = text.strip()
    return int(text, 8) if re.fullmatch(r"[0-7]{3,4}", text) else None


def _defattr(line: str) -> tuple[int | None, int | None]:
    inner = line[line.find("(") + 1:line.rfind(")")].split(",")
    return _octal(inner[0]), _octal(inner[3]) if len(inner) > 3 else None


def parse_files_line(line: str, *, defattr: tuple[int | None, int | None] = (None, None),
                     ) -> list[FilesLine]:
    """The paths of one %files line with their directives (a pure function)."""
    flags: dict[str, object] = {}
    mode: int | None = None
    paths = []
    for token in _TOKEN_RE.findall(line):
        if token.startswith("%"):
            word = token[1:].split("(")[0]
            if word == "attr":
                mode = _octal(token[token.find("(") + 1:-1].split(",")[0])
            elif word in ("dir", "ghost", "exclude"):
                flags[word] = True
            elif word == "config":
                flags["config"] = True
            elif word in ("doc", "license"):
                flags["doc"] = True
            continue
        paths.append(token.strip('"'))
    out = []
    for path in paths:
        is_dir = bool(flags.get("dir"))
        folder = path.endswith("/") and not is_dir
        chosen = mode if mode is not None else (defattr[1] if is_dir or folder else defattr[0])
        out.append(FilesLine(path=path.rstrip("/") or "/", dir=is_dir, folder=folder,
                             config=bool(flags.get("config")), mode=chosen,
                             doc=bool(flags.get("doc")) and not path.startswith("/"),
                             ghost=bool(flags.get("ghost")), exclude=bool(flags.get("exclude"))))
    return out


def glob_regex(pattern: str) -> re.Pattern[str]:
    """rpm's %files glob as a regex: ``*``/``?`` stay within one path component."""
    out, index = "", 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.find("]", index)
            out += pattern[index:end + 1] if end > 0 else re.escape(char)
            index = end if end > 0 else index
        elif char == "{":
            end = pattern.find("}", index)
            alternatives = pattern[index + 1:end].split(",")
            out += "(?:" + "|".join(re.escape(a) for a in alternatives) + ")"
            index = end
        else:
            out += re.escape(char)
        index += 1
    return re.compile(out + r"\Z")


def representative(pattern: str, *, package: str) -> str:
    """One concrete path for a glob: ``*`` dropped (or the package name where that leaves a
    dangling ``.``/``-``), ``?`` -> ``x``, ``[..]`` -> its first character, ``{a,b}`` -> ``a``."""
    path = re.sub(r"\{([^,}]*)[^}]*\}", r"\1", pattern)
    path = re.sub(r"\[!?\^?(.)[^\]]*\]", r"\1", path).replace("?", "x")
    parts = []
    for part in path.split("/"):
        bare = part.replace("*", "")
        parts.append(part.replace("*", package) if "*" in part and
                     (not bare or bare[-1] in ".-_") else bare)
    return "/".join(parts)


def is_glob(path: str) -> bool:
    return any(c in path for c in "*?[{")


def from_spec(tree: Path, cell: Cell, spec: Path, *,
              known: Iterable[FileEntry] = ()) -> list[PackageManifest]:
    """New-set stand-ins from a rendered spec, for one cell (no build needed).

    Names, EVRs and Provides/Requires/Obsoletes/Conflicts are rpm's (``rpmspec -q``, self
    provides left to rpmbuild); files come from the expanded %files sections: ``%dir``,
    ``%config``, ``%attr``/``%defattr`` modes kept, ``%doc``/``%license`` relative names put
    under /usr/share/doc/NAME, ``%ghost`` and ``%exclude``d paths left out, ``-f`` lists
    ignored. A glob becomes one representative path plus every path of ``known`` (e.g. the
    legacy set's files) it matches, so a pre-flight sees conflicts inside globbed folders; a
    folder listed without ``%dir`` owns the ``known`` paths under it. Files default to 0644,
    0755 in bin/sbin/libexec folders and for shared objects. Content is the same for a path
    in every package of the spec (rpm then sees no conflict between them), and scriptlets
    become ``:``.
    """
    expanded = rpmspec.expand(tree, cell, spec)
    sections = parse_spec_sections(expanded)
    known_files = {entry.path: entry for entry in known}
    out = []
    for sp in rpmspec.packages(tree, cell, spec):
        entries = spec_files(sp.name, sections.files.get(sp.name, []), known=known_files)
        label = f"stand-in of {spec.stem} {sp.evr} for {cell.id}"
        entries = tuple(replace(e, content=f"{label}: {e.path}\n") if e.kind == "file" else e
                        for e in entries)
        scriptlets = {s: ":" for s in sorted(sections.scriptlets.get(sp.name, set()))}
        # rpmspec lists each scriptlet's interpreter (Requires(post): /bin/sh) as a plain
        # requirement; rpmbuild adds those back for the stand-in's own scriptlets
        requires = [r for r in sp.requires if not (scriptlets and r == "/bin/sh")]
        out.append(PackageManifest(
            name=sp.name, epoch=sp.epoch, version=sp.version, release=sp.release,
            arch=sp.arch, provides=tuple(d for d in sp.provides
                                         if not self_dependency(sp.name, sp.evr, d)),
            requires=tuple(dict.fromkeys(requires)), obsoletes=sp.obsoletes,
            conflicts=sp.conflicts, files=entries, scriptlets=scriptlets))
    return out


def spec_files(name: str, lines: Sequence[FilesLine], *,
               known: Mapping[str, FileEntry]) -> tuple[FileEntry, ...]:
    """The FileEntries of one package's %files lines (see :func:`from_spec`)."""
    excluded = [glob_regex(line.path) for line in lines if line.exclude]
    found: dict[str, FileEntry] = {}
    for line in lines:
        if line.exclude or line.ghost:
            continue
        path = f"/usr/share/doc/{name}/{line.path}" if line.doc else line.path
        for entry in _line_entries(name, path, line, known):
            if not any(rx.match(entry.path) or rx.match(_parent(entry.path))
                       for rx in excluded):
                found.setdefault(entry.path, entry)
    return tuple(found.values())


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0]


def _line_entries(name: str, path: str, line: FilesLine,
                  known: Mapping[str, FileEntry]) -> list[FileEntry]:
    if is_glob(path):
        rx = glob_regex(path)
        hits = [_like(known[p], line) for p in sorted(known) if rx.match(p)]
        return [*hits, _entry(representative(path, package=name), line,
                              is_dir=line.dir or line.folder)]
    if line.dir:  # `%dir PATH` owns the folder only
        return [_entry(path, line, is_dir=True)]
    below = [p for p in sorted(known) if p.startswith(path + "/")]
    if line.folder or below:  # a folder listed as such owns what is in it
        return [_entry(path, line, is_dir=True), *(_like(known[p], line) for p in below)]
    return [_entry(path, line, is_dir=False)]


def _like(entry: FileEntry, line: FilesLine) -> FileEntry:
    """A path the new package owns because a glob or a folder of it covers a known path."""
    if entry.kind == "dir":
        return FileEntry(path=entry.path, kind="dir", mode=line.mode or 0o755)
    return _entry(entry.path, line, is_dir=False)


def _entry(path: str, line: FilesLine, *, is_dir: bool) -> FileEntry:
    if is_dir:
        return FileEntry(path=path, kind="dir", mode=line.mode or 0o755)
    default = 0o755 if _EXEC_DIRS.search(path) else 0o644
    return FileEntry(path=path, mode=line.mode if line.mode is not None else default,
                     config=line.config)
