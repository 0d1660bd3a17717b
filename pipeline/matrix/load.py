"""Load ``matrix.yaml`` (plus profile overlays) into the typed :class:`~pipeline.model.Matrix`.

Every key is checked here, once: unknown keys, wrong types, unsafe rpm expansions, duplicate
cells, missing templates and patches all fail with ``FILE:LINE: KEY: reason`` (exit 2).
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from pipeline.core import rpmtext
from pipeline.core.errors import InputError
from pipeline.core.schema import Origin, Reader, checked_name, checked_str
from pipeline.matrix import ledger
from pipeline.matrix.model import (
    Cell,
    ChangelogEntry,
    Cond,
    Flavor,
    KojiSettings,
    Matrix,
    MockSettings,
    OsRelease,
    Package,
    Replacement,
    SourceFile,
    When,
)
from pipeline.matrix.overlay import load_layers

_WHEN_KEYS = ("os", "arch", "flavor", "version")
KNOWN_ARCHES = ("x86_64", "aarch64", "ppc64le", "s390x", "noarch")


def load(tree: Path, profiles: list[Path] | None = None) -> Matrix:
    data, origin, files = load_layers(tree, list(profiles or []))
    top = Reader(data, "", origin)
    top.only(["schema", "vendor", "packager", "flavors", "oses", "packages"])
    if top.int("schema", 1) != 1:
        raise top.error("schema", "unsupported schema version (this tool reads 1)")
    origin.macros = rpmtext.STATIC_ALLOWED | _tree_macros(tree, top)
    flavors = {name: _flavor(name, r) for name, r in _named(top, "flavors")}
    oses = {name: _os(name, r, flavors) for name, r in _named(top, "oses")}
    if not oses:
        raise top.error("oses", "at least one OS release is required")
    cells = _cells(oses, flavors, origin)
    packages = {name: _package(name, r, tree, oses) for name, r in _named(top, "packages")}
    for name, pkg in packages.items():
        for dep in pkg.depends_on:
            if dep not in packages:
                raise origin.error(f"packages.{name}.depends_on", f"unknown package {dep!r}")
    return Matrix(root=str(tree), vendor=top.str("vendor"), packager=top.str("packager"),
                  oses=oses, flavors=flavors, cells=cells, packages=packages, files=files,
                  specs_dir=str(tree / "specs"))


def _named(r: Reader, key: str) -> list[tuple[str, Reader]]:
    """The entries of mapping ``key``, whose names become folder names: safe names only."""
    out = r.items(key)
    for name, _ in out:
        checked_name(name, r._k(f"{key}.{name}"), r.origin)
    return out


def macro_file(tree: Path, relative: str, key: str, origin: Origin) -> Path:
    """The OS macro file ``relative``: inside ``tree``, a file, free of code-running macros."""
    root = tree.resolve()
    path = (tree / relative).resolve()
    if not path.is_relative_to(root):
        raise origin.error(key, f"macro file {relative!r} is outside the tree; refused")
    if not path.is_file():
        raise origin.error(key, f"macro file not found: {relative}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise origin.error(key, f"{relative}: not UTF-8 (byte {exc.start})") from None
    bad = rpmtext.macro_file_problem(text)
    if bad:
        raise InputError(bad[1], file=relative, line=bad[0])
    return path


def _tree_macros(tree: Path, top: Reader) -> frozenset[str]:
    """Parameterless names that ``macros/common.macros`` and every ``oses.*.macros`` define."""
    names: set[str] = set()
    files = [("macros/common.macros", "oses")]
    for os_id, r in top.items("oses"):
        if isinstance(r.raw("macros"), str):
            files.append((r.raw("macros"), f"oses.{os_id}.macros"))
    for relative, key in files:
        if relative == "macros/common.macros" and not (tree / relative).exists():
            continue
        path = macro_file(tree, relative, key, top.origin)
        names |= rpmtext.macro_file_names(path.read_text(encoding="utf-8"))[0]
    return frozenset(names)


def _flavor(name: str, r: Reader) -> Flavor:
    r.only(["arch", "summary", "cpu_model", "koji_channel", "hosts", "release_suffix"])
    arch = _arch(r, "arch")
    return Flavor(name=name, arch=arch, summary=r.str("summary"), cpu_model=r.str("cpu_model", ""),
                  koji_channel=r.opt_str("koji_channel"), hosts=r.str_list("hosts"),
                  release_suffix=r.str("release_suffix", ""))


def _arch(r: Reader, key: str) -> str:
    arch = r.str(key)
    if arch not in KNOWN_ARCHES:
        raise r.error(key, f"unknown RPM arch {arch!r} (known: {', '.join(KNOWN_ARCHES)})")
    return arch


def _os(name: str, r: Reader, flavors: dict[str, Flavor]) -> OsRelease:
    r.only(["name", "family", "dist", "dist_suffix", "macros", "package_manager", "arches",
            "flavors", "python2", "koji", "mock"])
    family = r.str("family")
    if family not in ("el7", "openeuler"):
        raise r.error("family", f"unknown OS family {family!r} (el7 or openeuler)")
    arches = r.str_list("arches")
    for index, arch in enumerate(arches):
        if arch not in KNOWN_ARCHES:
            raise r.error(f"arches.{index}", f"unknown RPM arch {arch!r}")
    for index, flavor in enumerate(r.str_list("flavors")):
        if flavor not in flavors:
            raise r.error(f"flavors.{index}", f"unknown flavor {flavor!r}")
    manager = r.str("package_manager")
    if manager not in ("yum", "dnf"):
        raise r.error("package_manager", "expected yum or dnf")
    return OsRelease(id=name, name=r.str("name"), family=family, dist=r.str("dist"),
                     dist_suffix=r.str("dist_suffix", ""), macros=r.str("macros"),
                     package_manager=manager, arches=arches, flavors=r.str_list("flavors"),
                     python2=r.bool("python2"), koji=_koji(r.sub("koji")),
                     mock=_mock(r.sub("mock")))


def _koji(r: Reader) -> KojiSettings:
    r.only(["profile", "target", "flavor_targets"])
    ft = r.sub("flavor_targets", required=False)
    targets = {checked_name(k, ft._k(str(k)), r.origin): ft.str(str(k)) for k in ft.data}
    return KojiSettings(profile=r.str("profile"), target=r.str("target"), flavor_targets=targets)


def _mock(r: Reader) -> MockSettings:
    r.only(["template", "releasever", "package_manager", "repos", "chroot_setup"])
    repos = []
    for index, item in enumerate(r.list("repos")):
        repo = Reader(item, f"{r.key}.repos.{index}", r.origin)
        repo.only(["name", "baseurl"])
        repos.append((repo.str("name"), repo.str("baseurl")))
    return MockSettings(template=r.str("template"), releasever=r.str("releasever"),
                        package_manager=r.str("package_manager"), repos=tuple(repos),
                        chroot_setup=r.str("chroot_setup"))


def _cells(oses: dict[str, OsRelease], flavors: dict[str, Flavor],
           origin: Origin) -> tuple[Cell, ...]:
    cells: list[Cell] = []
    seen: set[str] = set()
    for os_ in oses.values():
        parts: list[tuple[str, str, Flavor | None]] = [(a, a, None) for a in os_.arches]
        parts += [(f, flavors[f].arch, flavors[f]) for f in os_.flavors]
        for suffix, arch, flavor in parts:
            cell_id = f"{os_.id}-{suffix}"
            if cell_id in seen:
                raise origin.error(f"oses.{os_.id}", f"duplicate cell id {cell_id!r}")
            seen.add(cell_id)
            cells.append(Cell(id=cell_id, os=os_, arch=arch, flavor=flavor))
    return tuple(cells)


def when_of(r: Reader) -> When:
    return When(os=r.str_list("os"), arch=r.str_list("arch"), flavor=r.str_list("flavor"),
                version=r.str_list("version"))


def _conds(r: Reader, name: str) -> tuple[Cond[str], ...]:
    out: list[Cond[str]] = []
    for index, item in enumerate(r.list(name)):
        key = f"{name}.{index}"
        if isinstance(item, dict):
            sub = Reader(item, f"{r.key}.{key}", r.origin)
            sub.only(("value", *_WHEN_KEYS))
            out.append(Cond(sub.str("value"), when_of(sub)))
        elif isinstance(item, (str, int)) and not isinstance(item, bool):
            out.append(Cond(checked_str(str(item), f"{r.key}.{key}", r.origin)))
        else:
            raise r.error(key, "expected a string or a mapping with 'value'")
    return tuple(out)


def _package(name: str, r: Reader, tree: Path, oses: dict[str, OsRelease]) -> Package:
    r.only(["version", "release", "epoch", "template", "summary", "license", "url", "sources",
            "buildrequires", "requires", "configure", "features", "replaces", "depends_on",
            "changelog"])
    template = r.str("template")
    if not (tree / "templates" / template).is_file():
        raise r.error("template", f"template not found: templates/{template}")
    features = {}
    fr = r.sub("features", required=False)
    for fname in fr.data:
        checked_name(fname, fr._k(str(fname)), r.origin)
        whens = []
        for index, item in enumerate(fr.list(str(fname))):
            sub = Reader(item, f"{fr.key}.{fname}.{index}", r.origin)
            sub.only(_WHEN_KEYS)
            whens.append(when_of(sub))
        features[str(fname)] = tuple(whens)
    pkg = Package(
        name=name, version=r.str("version"), releases=_releases(r, oses), epoch=r.int("epoch"),
        template=template, summary=r.str("summary"), license=r.str("license"), url=r.str("url"),
        sources=_sources(r), buildrequires=_conds(r, "buildrequires"),
        requires=_conds(r, "requires"), configure=_conds(r, "configure"), features=features,
        replaces=_replaces(r), depends_on=r.str_list("depends_on"), changelog=_changelog(r),
        patches=ledger.load(tree, name),
    )
    _check_oses(pkg, r, oses)
    return pkg


def _check_oses(pkg: Package, r: Reader, oses: dict[str, OsRelease]) -> None:
    """Every OS pattern in a predicate must match some OS: a typo would silently drop a line."""
    for field_name in ("buildrequires", "requires", "configure"):
        for index, cond in enumerate(getattr(pkg, field_name)):
            for pattern in cond.when.os:
                if not any(fnmatch.fnmatchcase(o, pattern) for o in oses):
                    raise r.error(f"{field_name}.{index}.os", f"{pattern!r} matches no OS")


def _releases(r: Reader, oses: dict[str, OsRelease]) -> tuple[Cond[str], ...]:
    """``release: "1"``, or a list of ``{value, os}`` (first match wins), covering every OS."""
    raw = r.raw("release")
    conds = (Cond(r.str("release")),) if not isinstance(raw, list) else _conds(r, "release")
    version = r.str("version")
    for os_id in oses:
        if not any(c.when.matches(os=os_id, arch=None, flavor=None, version=version)
                   for c in conds):
            raise r.error("release", f"no release for OS {os_id!r}")
    return conds


def _sources(r: Reader) -> tuple[SourceFile, ...]:
    out = []
    for index, item in enumerate(r.list("sources")):
        sub = Reader(item, f"{r.key}.sources.{index}", r.origin)
        sub.only(["url", "sha256", "mirrors", "pip"])
        sha = sub.opt_str("sha256")
        if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
            raise sub.error("sha256", "expected 64 lowercase hex digits")
        pip = sub.opt_str("pip")
        if pip is not None and not re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!-]+", pip):
            raise sub.error("pip", "expected NAME==VERSION (an sdist pip can download)")
        source = SourceFile(url=sub.str("url"), sha256=sha, mirrors=sub.str_list("mirrors"),
                            pip=pip)
        checked_name(source.filename, sub._k("url"), sub.origin)  # the cached file's name
        out.append(source)
    if not out:
        raise r.error("sources", "at least one source is required")
    return tuple(out)


def _replaces(r: Reader) -> tuple[Replacement, ...]:
    out = []
    for index, item in enumerate(r.list("replaces")):
        sub = Reader(item, f"{r.key}.replaces.{index}", r.origin)
        sub.only(("old", "by", "last", "bound", "provide", *_WHEN_KEYS))
        out.append(Replacement(old=sub.str("old"), by=sub.str("by"), last=sub.str("last"),
                               bound=sub.opt_str("bound"), provide=sub.bool("provide", True),
                               when=when_of(sub)))
    return tuple(out)


def _changelog(r: Reader) -> tuple[ChangelogEntry, ...]:
    out = []
    for index, item in enumerate(r.list("changelog")):
        sub = Reader(item, f"{r.key}.changelog.{index}", r.origin)
        sub.only(["date", "author", "evr", "lines"])
        out.append(ChangelogEntry(date=sub.str("date"), author=sub.str("author"),
                                  evr=sub.str("evr"), lines=sub.str_list("lines")))
    return tuple(out)


def select(cells: tuple[Cell, ...], patterns: list[str] | None) -> tuple[Cell, ...]:
    """Cells whose id matches any fnmatch pattern (all cells when there is no pattern)."""
    if not patterns:
        return cells
    return tuple(c for c in cells if any(fnmatch.fnmatchcase(c.id, p) for p in patterns))
