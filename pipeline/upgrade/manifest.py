"""Legacy manifests: what a set of installed RPMs looks like, enough to build faithful stand-ins.

A manifest (``legacy/<id>.yaml``) names each package's NEVRA, its dependencies (Provides,
Requires, Obsoletes, Conflicts as rpm prints them), the files it owns with their modes and
``%config(noreplace)`` flags, and its scriptlets. :mod:`pipeline.upgrade.synth` turns it into
real RPMs; :mod:`pipeline.upgrade.capture` writes one from an rpm database or a folder of RPMs.

YAML layout (``defaults`` fills epoch/version/release/arch of packages that omit them)::

    id: el7-qemu-kvm-ev
    os: bclinux7
    description: CentOS Virt SIG qemu-kvm-ev 2.12 on el7
    defaults: {epoch: 10, version: 2.12.0, release: 44.1.el7_8.1, arch: x86_64}
    packages:
      - name: qemu-img-ev
        provides: ["qemu-img = 10:2.12.0-44.1.el7_8.1"]
        files:
          - /usr/bin/qemu-img                      # a file, mode 0644
          - {path: /usr/bin/qemu-nbd, mode: "0755"}
          - {path: /etc/qemu-kvm/bridge.conf, config: true}
          - {path: /usr/share/qemu-kvm, kind: dir}  # mode 0755
          - {path: /usr/bin/kvm, kind: symlink, target: qemu-kvm}
        scriptlets: {post: ":"}
        source: ev-spec                            # a key of `sources`
        unverified: [files]                        # what the source did not settle

``sources`` names where the facts came from: ``{ev-spec: {repository: C2Devel/qemu-kvm,
branch: centos-7.8, file: qemu-kvm.spec, commit: b733a556...}}`` (or ``repo:`` a repository
URL for ``legacy capture --repo``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from pipeline.core import yamlsrc
from pipeline.core.schema import Origin, Reader

KINDS = ("file", "dir", "symlink")
SCRIPTLETS = ("pre", "post", "preun", "postun", "posttrans", "pretrans")
ARCHES = ("x86_64", "aarch64", "noarch")
DEFAULT_MODES = {"file": 0o644, "dir": 0o755, "symlink": 0o777}

_NAME = re.compile(r"^(?!\.)(?!.*\.\.)[A-Za-z0-9_+.-]+$")  # safe: becomes a file name
_VER = re.compile(r"^[A-Za-z0-9_.+~^]+$")
#: ``name``, ``name OP evr`` (evr: [epoch:]version[-release]); ``(...)`` rich deps pass as-is.
_DEP = re.compile(r"^[^\s<>=()]+(?:\([^\s()]*\))*(?:\([^\s()]*\))?"
                  r"(?: (?:<|>|<=|>=|=) (?:\d+:)?[A-Za-z0-9_.+~^]+(?:-[A-Za-z0-9_.+~^]+)?)?$")
_FILE_KEYS = ("path", "kind", "mode", "config", "target", "content")
_PKG_KEYS = ("name", "epoch", "version", "release", "arch", "summary", "provides", "requires",
             "obsoletes", "conflicts", "files", "scriptlets", "source", "unverified")
_TOP_KEYS = ("id", "os", "description", "defaults", "sources", "packages")
_SOURCE_KEYS = ("repository", "branch", "file", "commit", "repo", "note")


@dataclass(frozen=True)
class FileEntry:
    """One path a package owns."""

    path: str
    kind: str = "file"
    mode: int = 0o644
    config: bool = False
    target: str | None = None
    content: str | None = None


@dataclass(frozen=True)
class PackageManifest:
    """One binary package: NEVRA, dependencies, files and scriptlets."""

    name: str
    epoch: int | None
    version: str
    release: str
    arch: str
    summary: str = ""
    provides: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    obsoletes: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    files: tuple[FileEntry, ...] = ()
    scriptlets: dict[str, str] = field(default_factory=dict)
    source: str = ""  # a key of LegacySet.sources: where these facts were read
    unverified: tuple[str, ...] = ()  # what that source did not settle

    @property
    def evr(self) -> str:
        return (f"{self.epoch}:" if self.epoch is not None else "") + \
            f"{self.version}-{self.release}"

    @property
    def nevra(self) -> str:
        return f"{self.name}-{self.evr}.{self.arch}"

    def canonical(self) -> PackageManifest:
        """The same package with dependencies and files in rpm's (sorted) order, without
        provenance (``source``, ``unverified``: not part of what rpm installs)."""
        return replace(self, source="", unverified=(),
                       provides=tuple(sorted(set(self.provides))),
                       requires=tuple(sorted(set(self.requires))),
                       obsoletes=tuple(sorted(set(self.obsoletes))),
                       conflicts=tuple(sorted(set(self.conflicts))),
                       files=tuple(sorted(self.files, key=lambda f: f.path)))

    def __hash__(self) -> int:  # scriptlets is a dict: hash the rest
        return hash((self.nevra, self.provides, self.requires, self.obsoletes,
                     self.conflicts, self.files, tuple(sorted(self.scriptlets.items()))))


@dataclass(frozen=True)
class LegacySet:
    """A named set of packages installed together on one OS (``legacy/<id>.yaml``)."""

    id: str
    os: str
    description: str
    packages: tuple[PackageManifest, ...]
    sources: dict[str, dict[str, str]] = field(default_factory=dict)

    def canonical(self) -> LegacySet:
        """Packages sorted by name, each :meth:`PackageManifest.canonical`: compare these."""
        return replace(self, sources={},
                       packages=tuple(sorted((p.canonical() for p in self.packages),
                                             key=lambda p: p.name)))

    def package(self, name: str) -> PackageManifest:
        for pkg in self.packages:
            if pkg.name == name:
                return pkg
        raise KeyError(name)


def valid_dependency(dep: str) -> bool:
    """A loose check of an rpm dependency string (``name``, ``name OP [E:]V[-R]``, ``(rich)``)."""
    if dep.startswith("("):
        return dep.endswith(")") and dep.count("(") == dep.count(")")
    return bool(_DEP.match(dep))


def self_dependency(name: str, evr: str, dep: str) -> bool:
    """True for what rpmbuild provides by itself: ``NAME = EVR``, ``NAME(ARCH) = EVR``,
    ``config(NAME) = EVR``."""
    for head in (name, f"config({name})"):
        if dep == f"{head} = {evr}":
            return True
    return bool(re.fullmatch(rf"{re.escape(name)}\([^)]*\) = {re.escape(evr)}", dep))


# ---------------------------------------------------------------- loading

def load_manifest(path: Path) -> LegacySet:
    """Read ``legacy/<id>.yaml``; InputError naming FILE:LINE: KEY on any bad value."""
    source = yamlsrc.load(path)
    origin = Origin({k: (str(source.path), v) for k, v in source.lines.items()})
    if not source.lines:
        origin.places[""] = (str(source.path), 1)
    return parse_manifest(source.data, origin)


def parse_manifest(data: Any, origin: Origin) -> LegacySet:
    top = Reader(data, "", origin)
    top.only(_TOP_KEYS)
    defaults = _defaults(top)
    raw = top.list("packages")
    if not raw:
        raise top.error("packages", "a manifest needs at least one package")
    packages = tuple(_package(Reader(item, f"packages.{i}", origin), defaults)
                     for i, item in enumerate(raw))
    seen: set[str] = set()
    sources = _sources(top)
    for index, pkg in enumerate(packages):
        if pkg.name in seen:
            raise origin.error(f"packages.{index}.name", f"package {pkg.name} listed twice")
        if pkg.source and pkg.source not in sources:
            raise origin.error(f"packages.{index}.source",
                               f"unknown source {pkg.source!r} (not a key of sources)")
        seen.add(pkg.name)
    return LegacySet(id=_matching(top, "id", _NAME), os=_matching(top, "os", _NAME),
                     description=top.str("description", ""), packages=packages,
                     sources=sources)


def _sources(top: Reader) -> dict[str, dict[str, str]]:
    if not top.has("sources"):
        return {}
    sub = top.sub("sources")
    out: dict[str, dict[str, str]] = {}
    for key in sub.data:
        entry = sub.sub(str(key))
        entry.only(_SOURCE_KEYS)
        out[str(key)] = {k: entry.prose(k) for k in _SOURCE_KEYS if entry.has(k)}
    return out


def _defaults(top: Reader) -> dict[str, Any]:
    if not top.has("defaults"):
        return {}
    sub = top.sub("defaults")
    sub.only(("epoch", "version", "release", "arch"))
    return dict(sub.data)


def _matching(reader: Reader, name: str, pattern: re.Pattern[str]) -> str:
    value = reader.str(name)
    if not pattern.match(value):
        raise reader.error(name, f"invalid value {value!r}")
    return value


def _package(reader: Reader, defaults: dict[str, Any]) -> PackageManifest:
    reader.only(_PKG_KEYS)
    for key, value in defaults.items():
        reader.data.setdefault(key, value)
    arch = reader.str("arch")
    if arch not in ARCHES:
        raise reader.error("arch", f"unknown arch {arch!r} (one of {', '.join(ARCHES)})")
    epoch = reader.int("epoch")
    if epoch is not None and epoch < 0:
        raise reader.error("epoch", "epoch must be >= 0")
    return PackageManifest(
        name=_matching(reader, "name", _NAME), epoch=epoch,
        version=_matching(reader, "version", _VER), release=_matching(reader, "release", _VER),
        arch=arch, summary=reader.str("summary", ""),
        provides=_deps(reader, "provides"), requires=_deps(reader, "requires"),
        obsoletes=_deps(reader, "obsoletes"), conflicts=_deps(reader, "conflicts"),
        files=_files(reader), scriptlets=_scriptlets(reader),
        source=reader.str("source", ""), unverified=reader.prose_list("unverified"))


def _deps(reader: Reader, name: str) -> tuple[str, ...]:
    deps = reader.str_list(name)
    for index, dep in enumerate(deps):
        if not valid_dependency(dep):
            raise reader.error(f"{name}.{index}", f"not an rpm dependency: {dep!r}")
    return deps


def _files(reader: Reader) -> tuple[FileEntry, ...]:
    out: list[FileEntry] = []
    seen: set[str] = set()
    for index, item in enumerate(reader.list("files")):
        key = f"files.{index}"
        if isinstance(item, str):
            item = {"path": item}
        entry = _file(Reader(item, reader._k(key), reader.origin))
        if entry.path in seen:
            raise reader.error(key, f"path {entry.path} listed twice")
        seen.add(entry.path)
        out.append(entry)
    return tuple(out)


def _file(reader: Reader) -> FileEntry:
    reader.only(_FILE_KEYS)
    path = reader.str("path")
    if not path.startswith("/") or "//" in path or path.endswith("/") or "/../" in path + "/":
        raise reader.error("path", f"not a clean absolute path: {path!r}")
    kind = reader.str("kind", "file")
    if kind not in KINDS:
        raise reader.error("kind", f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
    target = reader.opt_str("target")
    if (kind == "symlink") != (target is not None):
        raise reader.error("target", "a symlink needs a target, and only a symlink has one")
    content = reader.str("content", line=False) if reader.has("content") else None
    if content is not None and kind != "file":
        raise reader.error("content", "only a file has content")
    return FileEntry(path=path, kind=kind, mode=_mode(reader, kind),
                     config=reader.bool("config"), target=target, content=content)


def _mode(reader: Reader, kind: str) -> int:
    raw = reader.raw("mode")
    if raw is None:
        return DEFAULT_MODES[kind]
    if not isinstance(raw, str) or not re.fullmatch(r"0?[0-7]{3,4}", raw):
        raise reader.error("mode", f"expected a quoted octal mode like \"0755\", got {raw!r}")
    return int(raw, 8)


def _scriptlets(reader: Reader) -> dict[str, str]:
    if not reader.has("scriptlets"):
        return {}
    sub = reader.sub("scriptlets")
    sub.only(SCRIPTLETS)
    # rpm keeps a scriptlet without its surrounding newlines: so does the manifest
    return {name: sub.str(name, line=False).strip("\n") for name in SCRIPTLETS
            if sub.has(name)}


# ---------------------------------------------------------------- dumping

def dump_manifest(legacy: LegacySet) -> str:
    """Deterministic YAML for ``legacy`` that :func:`load_manifest` reads back to the same set."""
    data: dict[str, Any] = {"id": legacy.id, "os": legacy.os,
                            "description": legacy.description}
    if legacy.sources:
        data["sources"] = {k: dict(v) for k, v in legacy.sources.items()}
    data["packages"] = [_package_data(p) for p in legacy.packages]
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=100)


def _package_data(pkg: PackageManifest) -> dict[str, Any]:
    data: dict[str, Any] = {"name": pkg.name}
    if pkg.epoch is not None:
        data["epoch"] = pkg.epoch
    data.update(version=pkg.version, release=pkg.release, arch=pkg.arch)
    if pkg.summary:
        data["summary"] = pkg.summary
    for key in ("provides", "requires", "obsoletes", "conflicts"):
        values = getattr(pkg, key)
        if values:
            data[key] = list(values)
    if pkg.files:
        data["files"] = [_file_data(f) for f in pkg.files]
    if pkg.scriptlets:
        data["scriptlets"] = {k: pkg.scriptlets[k] for k in SCRIPTLETS if k in pkg.scriptlets}
    if pkg.source:
        data["source"] = pkg.source
    if pkg.unverified:
        data["unverified"] = list(pkg.unverified)
    return data


def _file_data(entry: FileEntry) -> Any:
    data: dict[str, Any] = {"path": entry.path}
    if entry.kind != "file":
        data["kind"] = entry.kind
    if entry.mode != DEFAULT_MODES[entry.kind]:
        data["mode"] = f"{entry.mode:04o}"
    if entry.config:
        data["config"] = True
    if entry.target is not None:
        data["target"] = entry.target
    if entry.content is not None:
        data["content"] = entry.content
    if list(data) == ["path"]:
        return entry.path
    return _Flow(data)


class _Flow(dict):  # type: ignore[type-arg]
    """A mapping dumped on one line (file entries)."""


class _Dumper(yaml.SafeDumper):
    pass


def _flow_repr(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", dict(data), flow_style=True)


def _str_repr(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(_Flow, _flow_repr)
_Dumper.add_representer(str, _str_repr)

