"""The typed model of the matrix: frozen dataclasses, built once at the edge by ``matrix.py``.

Nothing past the loader sees raw dicts. A ``When`` predicate selects cells (by OS, arch, flavor
and package version, with fnmatch patterns); a ``Cond`` pairs a value with one.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

#: The value a predicate's ``flavor`` list matches for a cell that has no flavor.
NO_FLAVOR = "none"


@dataclass(frozen=True)
class When:
    """Where something applies; an empty field matches everything."""

    os: tuple[str, ...] = ()
    arch: tuple[str, ...] = ()
    flavor: tuple[str, ...] = ()
    version: tuple[str, ...] = ()

    def matches(self, *, os: str, arch: str | None, flavor: str | None, version: str) -> bool:
        """True when the cell matches; ``arch=None`` means "any arch" (decided by %ifarch)."""
        return (
            _any(self.os, os)
            and (arch is None or _any(self.arch, arch))
            and _any(self.flavor, flavor or NO_FLAVOR)
            and _any(self.version, version)
        )

    def matches_cell(self, cell: Cell, version: str) -> bool:
        return self.matches(os=cell.os.id, arch=cell.arch, flavor=cell.flavor_name,
                            version=version)


def _any(patterns: Sequence[str], value: str) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(value, p) for p in patterns)


@dataclass(frozen=True)
class Cond(Generic[T]):
    """A value that applies where ``when`` matches."""

    value: T
    when: When = When()


@dataclass(frozen=True)
class Flavor:
    name: str
    arch: str
    summary: str
    cpu_model: str
    koji_channel: str | None
    hosts: tuple[str, ...]
    release_suffix: str


@dataclass(frozen=True)
class KojiSettings:
    profile: str
    target: str
    flavor_targets: dict[str, str]


@dataclass(frozen=True)
class MockSettings:
    template: str
    releasever: str
    package_manager: str
    repos: tuple[tuple[str, str], ...]  # (name, baseurl)
    chroot_setup: str


@dataclass(frozen=True)
class OsRelease:
    id: str
    name: str
    family: str  # "el7" or "openeuler"
    dist: str
    dist_suffix: str
    macros: str  # path of the OS macro file, relative to the tree
    package_manager: str
    arches: tuple[str, ...]
    flavors: tuple[str, ...]
    python2: bool
    koji: KojiSettings
    mock: MockSettings

    @property
    def full_dist(self) -> str:
        return self.dist + self.dist_suffix


@dataclass(frozen=True)
class Cell:
    """One build/test cell: an OS release, an RPM arch, and an optional flavor."""

    id: str
    os: OsRelease
    arch: str
    flavor: Flavor | None

    @property
    def flavor_name(self) -> str | None:
        return self.flavor.name if self.flavor else None

    @property
    def dist(self) -> str:
        return self.os.full_dist


@dataclass(frozen=True)
class SourceFile:
    url: str
    sha256: str | None
    mirrors: tuple[str, ...] = ()
    #: ``name==version`` of a Python sdist, fetched by pip's downloader when the URL and the
    #: mirrors fail (the registry's host is pip's business, never written in the tree)
    pip: str | None = None

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Replacement:
    """A legacy package that a new (sub)package replaces via Obsoletes (and Provides)."""

    old: str
    by: str
    last: str  # the newest legacy EVR that must be covered, "E:V-R"
    bound: str | None  # explicit Obsoletes bound; default: the new package's own EVR
    provide: bool
    when: When


@dataclass(frozen=True)
class ChangelogEntry:
    date: str
    author: str
    evr: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Patch:
    """One entry of a package's patch ledger."""

    number: int
    file: str
    category: str
    why: str
    upstream: tuple[str, ...]
    when: When


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    releases: tuple[Cond[str], ...]  # the first that matches the OS wins
    epoch: int | None
    template: str
    summary: str
    license: str
    url: str
    sources: tuple[SourceFile, ...]
    buildrequires: tuple[Cond[str], ...]
    requires: tuple[Cond[str], ...]
    configure: tuple[Cond[str], ...]
    features: dict[str, tuple[When, ...]]
    replaces: tuple[Replacement, ...]
    depends_on: tuple[str, ...]
    changelog: tuple[ChangelogEntry, ...]
    patches: tuple[Patch, ...] = field(default=())

    def release_for(self, os_id: str) -> str:
        """The release (without %dist) on ``os_id``: the first entry whose OS matches."""
        for cond in self.releases:
            if cond.when.matches(os=os_id, arch=None, flavor=None, version=self.version):
                return cond.value
        raise KeyError(f"{self.name}: no release for {os_id}")


@dataclass(frozen=True)
class Matrix:
    root: str  # the tree, as given
    vendor: str
    packager: str
    oses: dict[str, OsRelease]
    flavors: dict[str, Flavor]
    cells: tuple[Cell, ...]
    packages: dict[str, Package]
    files: tuple[str, ...]  # the matrix and overlay files, in load order
    specs_dir: str = ""  # where rendered specs are read from: <root>/specs, or a profile's copy

    def cell(self, cell_id: str) -> Cell:
        for cell in self.cells:
            if cell.id == cell_id:
                return cell
        raise KeyError(cell_id)
