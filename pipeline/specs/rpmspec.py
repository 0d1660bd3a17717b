"""rpm's own view of a rendered spec, for one cell: expansion and queries through ``rpmspec``.

This host's rpm carries Debian's macro set, not the target's: every call loads the tree's
``macros/common.macros`` and the OS's macro file, defines the cell's ``%dist`` and passes
``--target`` the cell's arch, so names like ``python%{python3_pkgversion}-libvirt`` expand as
they will on the builder. Parsers of the output are pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import cmd
from pipeline.matrix.model import Cell

FIELD_SEP = "\x1f"
_QF = ("%{name}\t%{epochnum}\t%{version}\t%{release}\t%{arch}"
       "\t[%{PROVIDENEVRS}\x1f]\t[%{REQUIRENEVRS}\x1f]\t[%{OBSOLETENEVRS}\x1f]"
       "\t[%{CONFLICTNEVRS}\x1f]\n")


@dataclass(frozen=True)
class SpecPackage:
    """A binary package as rpm reports it for one cell (from the spec, before any build)."""

    name: str
    epoch: int | None
    version: str
    release: str
    arch: str
    provides: tuple[str, ...]
    requires: tuple[str, ...]
    obsoletes: tuple[str, ...]
    conflicts: tuple[str, ...]

    @property
    def evr(self) -> str:
        return (f"{self.epoch}:" if self.epoch else "") + f"{self.version}-{self.release}"

    @property
    def nevra(self) -> str:
        return f"{self.name}-{self.evr}.{self.arch}"


def macro_files(tree: Path, cell: Cell) -> list[Path]:
    return [tree / "macros" / "common.macros", tree / cell.os.macros]


def base_args(tree: Path, cell: Cell, *, sourcedir: Path | None = None) -> list[str]:
    """The options that make this host's rpm see the spec as the cell's builder does."""
    args = ["--target", cell.arch, "--define", f"dist {cell.dist}"]
    for macros in macro_files(tree, cell):
        args += ["--load", str(macros)]
    if sourcedir is not None:
        args += ["--define", f"_sourcedir {sourcedir}"]
    return args


def expand(tree: Path, cell: Cell, spec: Path, *, sourcedir: Path | None = None) -> str:
    """``rpmspec -P``: the spec with every macro expanded, %prep's patch commands included."""
    done = cmd.run(["rpmspec", "-P", *base_args(tree, cell, sourcedir=sourcedir), str(spec)])
    return done.stdout


def packages(tree: Path, cell: Cell, spec: Path) -> list[SpecPackage]:
    """The binary packages the spec builds for the cell, with their dependencies."""
    done = cmd.run(["rpmspec", "-q", "--builtrpms", "--qf", _QF, *base_args(tree, cell),
                    str(spec)])
    return parse_packages(done.stdout)


def parse_packages(text: str) -> list[SpecPackage]:
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, epoch, version, release, arch, prov, req, obs, conf = line.split("\t")
        out.append(SpecPackage(
            name=name, epoch=int(epoch) or None, version=version, release=release, arch=arch,
            provides=_deps(prov), requires=_deps(req), obsoletes=_deps(obs),
            conflicts=_deps(conf)))
    return out


def _deps(field: str) -> tuple[str, ...]:
    return tuple(d for d in field.split(FIELD_SEP) if d and d != "(none)")


_APPLIED = re.compile(r'^echo "Patch #(\d+) \((.+)\):"$', re.M)
_PREP = re.compile(r"^%prep\s*$(.*?)(?=^%(build|install|check|files|changelog|package)\b|\Z)",
                   re.M | re.S)


def applied_patches(expanded: str) -> list[tuple[int, str]]:
    """(number, file) of every patch that %prep applies, in order, from ``rpmspec -P`` text.

    Whatever the spelling in the spec (%patch -P, %autosetup, %autopatch), rpm expands each
    application into the same ``echo "Patch #N (FILE):"`` line.
    """
    match = _PREP.search(expanded)
    prep = match.group(1) if match else ""
    return [(int(n), f) for n, f in _APPLIED.findall(prep)]


def declared_patches(expanded: str) -> list[tuple[int, str]]:
    return [(int(n), f.strip()) for n, f in
            re.findall(r"^Patch(\d+):\s*(\S+)\s*$", expanded, re.M)]


def buildrequires(tree: Path, cell: Cell, spec: Path) -> list[str]:
    """The BuildRequires rpm sees for the cell (``rpmspec -q --buildrequires``)."""
    done = cmd.run(["rpmspec", "-q", "--buildrequires", *base_args(tree, cell), str(spec)])
    return sorted({line.strip() for line in done.stdout.splitlines() if line.strip()})
