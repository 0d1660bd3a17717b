"""Manifests from a repository's metadata (``repodata/``: primary and filelists), without
downloading a package: what ``legacy capture --repo URL|DIR`` reads.

The metadata holds each package's NEVRA, summary, Provides/Requires/Obsoletes/Conflicts and
its paths (``dir`` and ``ghost`` marked); it holds no file modes, symlink targets, ``%config``
flags or scriptlets. Captured files therefore get rpm's default modes (0755 for directories,
programs in bin/sbin/libexec folders and shared objects; 0644 otherwise), no ``%config`` flag
and no scriptlets, and every package says so in its ``unverified`` list. ``rpmlib(...)``
requires and the self-provides rpmbuild adds are left out, as in ``capture``.
"""

from __future__ import annotations

import bz2
import fnmatch
import gzip
import lzma
import re
import tempfile
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core import cmd
from pipeline.core.errors import InputError
from pipeline.core.evr import compare_evr, parse_evr
from pipeline.upgrade.manifest import FileEntry, PackageManifest, self_dependency

_NS = {"c": "http://linux.duke.edu/metadata/common",
       "rpm": "http://linux.duke.edu/metadata/rpm",
       "f": "http://linux.duke.edu/metadata/filelists",
       "r": "http://linux.duke.edu/metadata/repo"}
_FLAGS = {"EQ": "=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}
_EXEC = re.compile(r"/(?:s?bin|libexec)/[^/]+$|\.so(?:\.[0-9.]+)?$")
UNVERIFIED = ("files: modes, symlinks and %config flags are not in repository metadata "
              "(rpm defaults assumed)", "scriptlets: not in repository metadata")


@dataclass
class _Package:
    name: str
    arch: str
    epoch: int | None
    version: str
    release: str
    summary: str = ""
    deps: dict[str, list[str]] = field(default_factory=dict)
    files: list[tuple[str, str]] = field(default_factory=list)  # (path, type)


def read(location: str) -> bytes:
    """A file of a repository given as a folder, a file:// or an http(s):// URL."""
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme in ("http", "https", "file"):
        try:
            with urllib.request.urlopen(location, timeout=60) as response:  # noqa: S310
                data: bytes = response.read()
                return data
        except OSError as exc:
            raise InputError(f"cannot read {location}: {exc}") from exc
    path = Path(location)
    if not path.is_file():
        raise InputError("no such file", file=str(path))
    return path.read_bytes()


def _xml(data: bytes) -> ET.Element:
    # expat resolves no external entities and (>= 2.4.1) caps entity amplification
    return ET.fromstring(data)  # noqa: S314


def _join(base: str, href: str) -> str:
    if urllib.parse.urlparse(base).scheme:
        return base.rstrip("/") + "/" + href
    return str(Path(base) / href)


def _decompress(name: str, data: bytes) -> bytes:
    if name.endswith(".gz"):
        return gzip.decompress(data)
    if name.endswith(".xz"):
        return lzma.decompress(data)
    if name.endswith(".bz2"):
        return bz2.decompress(data)
    if name.endswith(".zst"):
        cmd.require("zstd")
        with tempfile.TemporaryDirectory(prefix="repometa-") as tmp:
            packed = Path(tmp) / "metadata.zst"
            packed.write_bytes(data)
            return cmd.run(["zstd", "-dcq", packed]).stdout.encode()
    return data


def metadata_files(repo: str) -> dict[str, str]:
    """``{"primary": location, "filelists": location}`` from ``repodata/repomd.xml``."""
    root = _xml(read(_join(repo, "repodata/repomd.xml")))
    out = {}
    for data in root.findall("r:data", _NS):
        kind = data.get("type", "")
        href = data.find("r:location", _NS)
        if kind in ("primary", "filelists") and href is not None:
            out[kind] = _join(repo, href.get("href", ""))
    missing = {"primary", "filelists"} - set(out)
    if missing:
        raise InputError(f"repomd.xml lists no {', '.join(sorted(missing))} metadata",
                         file=_join(repo, "repodata/repomd.xml"))
    return out


def _dep(entry: ET.Element) -> str:
    name = entry.get("name", "")
    flags = entry.get("flags")
    if flags not in _FLAGS:
        return name
    epoch = entry.get("epoch")
    evr = (f"{epoch}:" if epoch and epoch != "0" else "") + entry.get("ver", "")
    if entry.get("rel"):
        evr += "-" + entry.get("rel", "")
    return f"{name} {_FLAGS[flags]} {evr}"


def _primary(xml: bytes, patterns: Sequence[str]) -> dict[tuple[str, str, str], _Package]:
    out: dict[tuple[str, str, str], _Package] = {}
    for pkg in _xml(xml).findall("c:package", _NS):
        name = pkg.findtext("c:name", "", _NS)
        if patterns and not any(fnmatch.fnmatchcase(name, p) for p in patterns):
            continue
        arch = pkg.findtext("c:arch", "", _NS)
        if arch == "src":
            continue
        ver = pkg.find("c:version", _NS)
        epoch = ver.get("epoch") if ver is not None else None
        # metadata writes epoch="0" for a package without one: rpm's (none)
        item = _Package(name=name, arch=arch, epoch=int(epoch) if epoch and epoch != "0" else None,
                        version=ver.get("ver", "") if ver is not None else "",
                        release=ver.get("rel", "") if ver is not None else "",
                        summary=pkg.findtext("c:summary", "", _NS).strip())
        for kind in ("provides", "requires", "obsoletes", "conflicts"):
            block = pkg.find(f"c:format/rpm:{kind}", _NS)
            entries = block.findall("rpm:entry", _NS) if block is not None else []
            item.deps[kind] = [_dep(e) for e in entries]
        out[(name, arch, ver.get("rel", "") if ver is not None else "")] = item
    return out


def _filelists(xml: bytes) -> Iterator[tuple[tuple[str, str, str], list[tuple[str, str]]]]:
    for pkg in _xml(xml).findall("f:package", _NS):
        ver = pkg.find("f:version", _NS)
        key = (pkg.get("name", ""), pkg.get("arch", ""),
               ver.get("rel", "") if ver is not None else "")
        yield key, [(f.text or "", f.get("type", "file")) for f in pkg.findall("f:file", _NS)]


def _manifest(item: _Package) -> PackageManifest:
    evr = (f"{item.epoch}:" if item.epoch is not None else "") + f"{item.version}-{item.release}"
    files = []
    for path, kind in sorted(set(item.files)):
        if kind == "ghost" or not path.startswith("/"):
            continue
        if kind == "dir":
            files.append(FileEntry(path, kind="dir", mode=0o755))
        else:
            files.append(FileEntry(path, mode=0o755 if _EXEC.search(path) else 0o644))
    requires = [d for d in item.deps.get("requires", []) if not d.startswith("rpmlib(")
                and d != "/bin/sh"]
    return PackageManifest(
        name=item.name, epoch=item.epoch, version=item.version, release=item.release,
        arch=item.arch, summary=item.summary,
        provides=tuple(dict.fromkeys(d for d in item.deps.get("provides", [])
                                     if not self_dependency(item.name, evr, d))),
        requires=tuple(dict.fromkeys(requires)),
        obsoletes=tuple(dict.fromkeys(item.deps.get("obsoletes", []))),
        conflicts=tuple(dict.fromkeys(item.deps.get("conflicts", []))),
        files=tuple(files), unverified=UNVERIFIED)


def from_repo(repo: str, *, patterns: Sequence[str] = ()) -> list[PackageManifest]:
    """Every binary package of ``repo`` (matching ``patterns``) as a manifest entry; the
    newest build of a name and arch wins when the repository keeps several."""
    where = metadata_files(repo)
    packages = _primary(_decompress(where["primary"], read(where["primary"])), patterns)
    for key, files in _filelists(_decompress(where["filelists"], read(where["filelists"]))):
        if key in packages:
            packages[key].files += files
    newest: dict[tuple[str, str], PackageManifest] = {}
    for item in packages.values():
        pkg = _manifest(item)
        seen = newest.get((pkg.name, pkg.arch))
        if seen is None or _newer(pkg, seen):
            newest[(pkg.name, pkg.arch)] = pkg
    return sorted(newest.values(), key=lambda p: (p.name, p.arch))


def _newer(a: PackageManifest, b: PackageManifest) -> bool:
    return compare_evr(parse_evr(a.evr), parse_evr(b.evr)) > 0
