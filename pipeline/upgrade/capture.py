"""Manifests from real packages: an installed rpm database or a folder of RPM files.

Headers are read with the rpm Python bindings when ``import rpm`` works (in the venv, the
PyPI ``rpm`` shim loads the system's python3-rpm), else with ``rpm -q --qf``. What rpmbuild
adds by itself is left out, so that a captured stand-in equals its source manifest:
``rpmlib(...)`` requires, scriptlet interpreter requires (``Requires(post): /bin/sh``), and the
self-provides ``NAME = EVR``, ``NAME(ARCH) = EVR``, ``config(NAME) = EVR``. Automatic library
dependencies of real packages are kept as plain Requires/Provides. ``%ghost`` files are not
captured (a manifest has no ghost entries); ``%config`` without ``noreplace`` is captured as
``config: true``; scriptlets in another interpreter than ``/bin/sh`` (lua) are replaced by ``:``.
"""

from __future__ import annotations

import fnmatch
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from pipeline.core import cmd
from pipeline.core.errors import InputError
from pipeline.upgrade.manifest import (
    SCRIPTLETS,
    FileEntry,
    LegacySet,
    PackageManifest,
    self_dependency,
)

RPMSENSE_INTERP = 1 << 8
RPMSENSE_RPMLIB = 1 << 24
RPMFILE_CONFIG = 1
RPMFILE_GHOST = 1 << 6
DEFAULT_DBPATH = "/var/lib/rpm"


@dataclass(frozen=True)
class RpmDb:
    """An installed root's rpm database (``rpm --root ROOT --dbpath DBPATH``)."""

    root: Path
    dbpath: str = DEFAULT_DBPATH


Source = Union[RpmDb, Sequence[Path]]


@dataclass(frozen=True)
class RawHeader:
    """The header fields a manifest is made of, as rpm reports them."""

    name: str
    epoch: int | None
    version: str
    release: str
    arch: str
    summary: str
    provides: tuple[str, ...]
    requires: tuple[tuple[str, int], ...]   # (dependency, flags)
    obsoletes: tuple[str, ...]
    conflicts: tuple[str, ...]
    files: tuple[tuple[str, int, int, str], ...]  # (path, mode, flags, link target)
    scripts: tuple[tuple[str, str, str], ...]  # (scriptlet, interpreter, body)


def from_rpm_headers(source: Source, *, patterns: Sequence[str] = (),
                     use_bindings: bool | None = None) -> list[PackageManifest]:
    """Manifests of the packages in ``source`` whose names match ``patterns`` (all if empty)."""
    headers = read_headers(source, use_bindings=use_bindings)
    wanted = [h for h in headers
              if not patterns or any(fnmatch.fnmatchcase(h.name, p) for p in patterns)]
    return [to_manifest(h) for h in sorted(wanted, key=lambda h: h.name)]


def capture(source: Source, *, set_id: str, os_id: str, description: str = "",
            patterns: Sequence[str] = (), use_bindings: bool | None = None) -> LegacySet:
    packages = from_rpm_headers(source, patterns=patterns, use_bindings=use_bindings)
    if not packages:
        raise InputError("no package matched", file=_describe(source))
    return LegacySet(id=set_id, os=os_id, description=description, packages=tuple(packages))


def guess_os(packages: Sequence[PackageManifest]) -> str:
    """The matrix OS id the releases point at (``.el7`` / ``.oe2203``), else ``unknown``."""
    releases = " ".join(p.release for p in packages)
    if re.search(r"\.el7", releases):
        return "bclinux7"
    if ".oe2203" in releases:
        return "bclinux-euler"
    return "unknown"


def _describe(source: Source) -> str:
    if isinstance(source, RpmDb):
        return f"{source.root}{source.dbpath}"
    return ", ".join(str(p) for p in source) or "(no RPM files)"


# ---------------------------------------------------------------- header to manifest

def to_manifest(header: RawHeader) -> PackageManifest:
    evr = (f"{header.epoch}:" if header.epoch is not None else "") + \
        f"{header.version}-{header.release}"

    def own(dep: str) -> bool:
        return self_dependency(header.name, evr, dep)

    requires = [dep for dep, flags in header.requires
                if not flags & (RPMSENSE_INTERP | RPMSENSE_RPMLIB)
                and not dep.startswith("rpmlib(") and not own(dep)]
    summary = "" if header.summary == header.name else header.summary
    return PackageManifest(
        name=header.name, epoch=header.epoch, version=header.version, release=header.release,
        arch=header.arch, summary=summary,
        provides=_unique(p for p in header.provides if not own(p)),
        requires=_unique(requires), obsoletes=_unique(header.obsoletes),
        conflicts=_unique(header.conflicts), files=_files(header),
        scriptlets=_scripts(header))


def _unique(items: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _files(header: RawHeader) -> tuple[FileEntry, ...]:
    out = []
    for path, mode, flags, target in header.files:
        if flags & RPMFILE_GHOST:
            continue
        perms = stat.S_IMODE(mode)
        if stat.S_ISDIR(mode):
            out.append(FileEntry(path=path, kind="dir", mode=perms))
        elif stat.S_ISLNK(mode):
            out.append(FileEntry(path=path, kind="symlink", mode=perms, target=target))
        else:
            out.append(FileEntry(path=path, mode=perms, config=bool(flags & RPMFILE_CONFIG)))
    return tuple(out)


def _scripts(header: RawHeader) -> dict[str, str]:
    out = {}
    for name, prog, body in header.scripts:
        if not body and not prog:
            continue
        out[name] = body.strip("\n") if prog in ("/bin/sh", "") else ":"
    return out


# ---------------------------------------------------------------- reading headers

def read_headers(source: Source, *, use_bindings: bool | None = None) -> list[RawHeader]:
    """Headers of ``source``, with the bindings when available (or when asked)."""
    rpm_mod = _bindings() if use_bindings in (None, True) else None
    if use_bindings and rpm_mod is None:
        raise InputError("the rpm Python bindings are not importable (pip install rpm)")
    if rpm_mod is not None:
        return _read_with_bindings(rpm_mod, source)
    return _read_with_cli(source)


def _bindings() -> Any:
    try:
        import rpm  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    return rpm


def _read_with_bindings(rpm: Any, source: Source) -> list[RawHeader]:
    if isinstance(source, RpmDb):
        rpm.addMacro("_dbpath", source.dbpath)
        try:
            ts = rpm.TransactionSet(str(source.root))
            return [_from_binding_header(rpm, h) for h in ts.dbMatch()]
        finally:
            rpm.delMacro("_dbpath")
    ts = rpm.TransactionSet()
    ts.setVSFlags(rpm._RPMVSF_NOSIGNATURES | rpm._RPMVSF_NODIGESTS)
    out = []
    for path in source:
        with open(path, "rb") as fh:
            try:
                header = ts.hdrFromFdno(fh.fileno())
            except rpm.error as exc:
                raise InputError(f"not a readable RPM: {exc}", file=str(path)) from None
        out.append(_from_binding_header(rpm, header))
    return out


_SCRIPT_TAGS = {"pre": ("PREIN", "PREINPROG"), "post": ("POSTIN", "POSTINPROG"),
                "preun": ("PREUN", "PREUNPROG"), "postun": ("POSTUN", "POSTUNPROG"),
                "pretrans": ("PRETRANS", "PRETRANSPROG"),
                "posttrans": ("POSTTRANS", "POSTTRANSPROG")}


def _from_binding_header(rpm: Any, h: Any) -> RawHeader:
    def tag(name: str) -> Any:
        return h[getattr(rpm, f"RPMTAG_{name}")]

    scripts = []
    for name in SCRIPTLETS:
        body_tag, prog_tag = _SCRIPT_TAGS[name]
        prog = tag(prog_tag)
        prog_str = " ".join(prog) if isinstance(prog, list) else (prog or "")
        body = tag(body_tag) or ""
        scripts.append((name, prog_str, body))
    names, modes = tag("FILENAMES"), tag("FILEMODES")
    flags, links = tag("FILEFLAGS"), tag("FILELINKTOS")
    return RawHeader(
        name=tag("NAME"), epoch=tag("EPOCH"), version=tag("VERSION"), release=tag("RELEASE"),
        arch=tag("ARCH") or "noarch", summary=tag("SUMMARY") or "",
        provides=tuple(tag("PROVIDENEVRS")),
        requires=tuple(zip(tag("REQUIRENEVRS"), tag("REQUIREFLAGS"))),
        obsoletes=tuple(tag("OBSOLETENEVRS")), conflicts=tuple(tag("CONFLICTNEVRS")),
        files=tuple((n, m & 0xFFFF, f, link) for n, m, f, link in zip(names, modes, flags, links)),
        scripts=tuple(scripts))


# The command-line fallback: one record per package, fields and list items delimited by
# control characters that never occur in header data.
_FS, _IS, _RS, _SS = "\x1f", "\x1e", "\x1d", "\x1c"
_QF = _FS.join([
    "%{NAME}", "%{EPOCH}", "%{VERSION}", "%{RELEASE}", "%{ARCH}", "%{SUMMARY}",
    f"[%{{PROVIDENEVRS}}{_IS}]", f"[%{{REQUIRENEVRS}}{_SS}%{{REQUIREFLAGS}}{_IS}]",
    f"[%{{OBSOLETENEVRS}}{_IS}]", f"[%{{CONFLICTNEVRS}}{_IS}]",
    f"[%{{FILENAMES}}{_SS}%{{FILEMODES}}{_SS}%{{FILEFLAGS}}{_SS}%{{FILELINKTOS}}{_IS}]",
    *(f"%{{{prog}}}{_SS}%{{{body}}}" for body, prog in
      (_SCRIPT_TAGS[name] for name in SCRIPTLETS)),
]) + _RS


def _read_with_cli(source: Source) -> list[RawHeader]:
    if isinstance(source, RpmDb):
        argv = ["rpm", "--root", str(source.root), "--dbpath", source.dbpath, "-qa",
                "--qf", _QF]
    else:
        if not source:
            return []
        argv = ["rpm", "-qp", "--nosignature", "--nodigest", "--qf", _QF,
                *(str(p) for p in source)]
    return parse_qf_output(cmd.run(argv).stdout)


def parse_qf_output(text: str) -> list[RawHeader]:
    """Parse the ``rpm -q --qf`` output of :data:`_QF` (a pure function)."""
    out = []
    for record in text.split(_RS):
        if not record.strip():
            continue
        fields = record.lstrip("\n").split(_FS)
        name, epoch, version, release, arch, summary = fields[:6]
        prov, req, obs, conf, files = (_items(f) for f in fields[6:11])
        scripts = []
        for script, raw in zip(SCRIPTLETS, fields[11:]):
            prog, _, body = raw.partition(_SS)
            scripts.append((script, _none(prog), _none(body)))
        out.append(RawHeader(
            name=name, epoch=None if epoch == "(none)" else int(epoch), version=version,
            release=release, arch=_none(arch) or "noarch", summary=_none(summary),
            provides=tuple(prov),
            requires=tuple((d, int(f)) for d, f in (r.split(_SS) for r in req)),
            obsoletes=tuple(obs), conflicts=tuple(conf),
            files=tuple(_file_item(item) for item in files), scripts=tuple(scripts)))
    return out


def _items(field: str) -> list[str]:
    return [item for item in field.split(_IS) if item]


def _none(value: str) -> str:
    return "" if value == "(none)" else value


def _file_item(item: str) -> tuple[str, int, int, str]:
    path, mode, flags, link = item.split(_SS)
    return path, int(mode) & 0xFFFF, int(flags), link
