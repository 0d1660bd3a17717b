"""Resolve a scenario's inputs into repos and manifests, building stand-ins where needed.

Legacy set: stand-in RPMs built from ``legacy/<id>.yaml`` manifests, plus any real repos the
scenario names (folders or URLs). New set: the binary packages the rendered specs build for
the OS's x86_64 cell; each comes from a real RPM found in the result folders (``--repo DIR``,
``.cache/results/<os>/repo``) when one exists and ``preflight`` is off, and from a stand-in
synthesized from the spec otherwise. Stand-ins and repos are cached by content hash, so a
re-run only pays for the sandbox.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core import cmd
from pipeline.core.errors import InputError
from pipeline.matrix.model import Matrix
from pipeline.specs import render
from pipeline.upgrade import newset, rootbase, synth
from pipeline.upgrade.capture import from_rpm_headers
from pipeline.upgrade.manifest import PackageManifest, load_manifest
from pipeline.upgrade.scenarios import Scenario

#: capabilities an OS image provides that stand-ins may require (provides-only base package)
HOST_PROVIDES = ("/bin/sh", "/usr/bin/sh", "/bin/bash", "rtld(GNU_HASH)", "bash", "coreutils",
                 "glibc", "filesystem", "shadow-utils", "grep", "sed", "findutils", "systemd")
HOST_BASE = "virt-pipeline-host-provides"
OS_PROVIDES = "virt-pipeline-os-provides"


@dataclass
class NewSet:
    packages: list[PackageManifest]  # what the new set contains (real headers or stand-ins)
    rpms: list[Path]
    sources: dict[str, str]  # name -> "real" | "stand-in"


@dataclass
class Prepared:
    """Everything a sandbox run needs, resolved to folders and manifests."""

    legacy: list[PackageManifest]
    legacy_names: list[str]
    new: NewSet
    repos: dict[str, str]  # name -> folder/URL, in enable order
    base_names: list[str] = field(default_factory=list)

    @property
    def legacy_repos(self) -> list[str]:
        return [n for n in self.repos if n == "base" or n.startswith("legacy")]

    @property
    def via_repos(self) -> list[str]:
        """The repos of the intermediate upgrade (none without ``via``)."""
        return [*self.legacy_repos, "via"] if "via" in self.repos else []


@dataclass(frozen=True)
class Inputs:
    tree: Path
    matrix: Matrix
    cache: Path  # .cache/upgrade
    result_repos: tuple[Path, ...] = ()  # folders holding real new RPMs
    preflight: bool = False
    base: str = "root"  # "root": busybox root base; "host": provides-only; "none"


def prepare(scenario: Scenario, inputs: Inputs) -> Prepared:
    legacy = load_legacy(scenario)
    repos: dict[str, str] = {}
    base_names: list[str] = []
    base_rpms = [_os_provides(scenario, inputs)]
    base_names = [OS_PROVIDES]
    base_rpm = _base(inputs)
    if base_rpm is not None:
        base_rpms.append(base_rpm)
        base_names.append(rootbase.BASE_NAME if inputs.base == "root" else HOST_BASE)
    repos["base"] = str(repo_of(base_rpms, inputs.cache))
    names = [p.name for p in legacy]
    if legacy:
        rpms = _stand_ins(legacy, inputs)
        repos["legacy"] = str(repo_of(rpms, inputs.cache))
    for index, location in enumerate(scenario.legacy_repos):
        repos[f"legacy-{index + 1}"] = location
        names += repo_names(location)
    if scenario.via:
        via = [p for path in scenario.via for p in load_manifest(path).packages]
        rpms = _stand_ins(via, inputs)
        repos["via"] = str(repo_of(rpms, inputs.cache))
    new = new_set(scenario, inputs)
    repos["new"] = str(repo_of(new.rpms, inputs.cache))
    for index, location in enumerate(scenario.new_repos):
        repos[f"new-{index + 1}"] = location
    return Prepared(legacy=legacy, legacy_names=sorted(set(names)), new=new, repos=repos,
                    base_names=base_names)


def _stand_ins(packages: Sequence[PackageManifest], inputs: Inputs) -> list[Path]:
    """Stand-in RPMs, built in fresh folders under the checked upgrade cache."""
    return synth.build_rpms(packages, inputs.cache / "rpms", workdir=inputs.cache / "build",
                            roots=[inputs.cache])


def load_legacy(scenario: Scenario) -> list[PackageManifest]:
    out: list[PackageManifest] = []
    for path in scenario.legacy_manifests:
        legacy = load_manifest(path)
        if legacy.os != scenario.os:
            raise InputError(f"legacy set {legacy.id} is for {legacy.os}, the scenario "
                             f"{scenario.id} for {scenario.os}", file=str(path))
        out += legacy.packages
    return out


def _os_provides(scenario: Scenario, inputs: Inputs) -> Path:
    """A stand-in for the OS repos: provides what the scenario declares the OS offers."""
    pkg = PackageManifest(name=OS_PROVIDES, epoch=None, version="1", release="1",
                          arch="noarch", summary=f"capabilities of the {scenario.os} repos",
                          provides=scenario.os_provides)
    return _stand_ins([pkg], inputs)[0]


def _base(inputs: Inputs) -> Path | None:
    if inputs.base == "root":
        return rootbase.base_package(inputs.cache / "base", workdir=inputs.cache / "build",
                                     roots=[inputs.cache])
    if inputs.base == "host":
        pkg = PackageManifest(name=HOST_BASE, epoch=None, version="1", release="1",
                              arch="noarch", summary="capabilities of the OS image",
                              provides=HOST_PROVIDES)
        return _stand_ins([pkg], inputs)[0]
    return None


def new_set(scenario: Scenario, inputs: Inputs) -> NewSet:
    """Real RPMs of the matrix's version where the results hold them, stand-ins otherwise.

    A result RPM of another upstream version (a demo build of a newer binding, say) is not
    this matrix's package: it is left out, and its source entry says so.
    """
    standins = spec_standins(scenario, inputs)
    real = {} if inputs.preflight else real_rpms(inputs.result_repos)
    headers = {p.name: p for p in read_headers([real[n] for n in sorted(real)])}
    use = {p.name for p in standins if p.name in headers
           and headers[p.name].version == p.version}
    keep = [p for p in standins if p.name not in use]
    rpms = _stand_ins(keep, inputs)
    sources = {}
    for pkg in standins:
        other = headers.get(pkg.name)
        sources[pkg.name] = "real" if pkg.name in use else "stand-in" if other is None else \
            f"stand-in (ignored {other.nevra}: not version {pkg.version})"
    chosen = [headers[n] for n in sorted(use)]
    return NewSet(packages=keep + chosen, rpms=rpms + [real[n] for n in sorted(use)],
                  sources=sources)


def spec_standins(scenario: Scenario, inputs: Inputs) -> list[PackageManifest]:
    """Stand-ins for every binary package the OS's x86_64 specs build."""
    matrix = inputs.matrix
    cell = matrix.cell(f"{scenario.os}-x86_64")
    out: list[PackageManifest] = []
    for name in scenario.new_packages or sorted(matrix.packages):
        spec = render.spec_path(matrix, scenario.os, None, name)
        out += newset.from_spec(inputs.tree, cell, spec)
    return out


def real_rpms(folders: Sequence[Path]) -> dict[str, Path]:
    """name -> newest-looking x86_64/noarch binary RPM found in ``folders``."""
    found: dict[str, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.rpm")):
            if path.name.endswith(".src.rpm") or "debug" in path.name:
                continue
            done = cmd.run(["rpm", "-qp", "--nosignature", "--qf", "%{NAME} %{ARCH}", str(path)],
                           check=False)
            parts = done.stdout.split()
            if len(parts) == 2 and parts[1] in ("x86_64", "noarch"):
                found[parts[0]] = path
    return found


def read_headers(paths: Sequence[Path]) -> list[PackageManifest]:
    """Manifests read from real RPM headers (the reader ``legacy capture`` uses)."""
    return from_rpm_headers(list(paths)) if paths else []


def repo_names(location: str) -> list[str]:
    """Names of the packages a legacy repo holds (folder: RPM headers; URL: repoquery)."""
    if "://" not in location:
        return sorted({p.name for p in read_headers(sorted(Path(location).rglob("*.rpm")))
                       if p.arch != "src"})
    with tempfile.TemporaryDirectory(prefix="vp-repoquery-") as scratch:  # not /var/cache/dnf
        done = cmd.run(["dnf", "repoquery", "-q", "--setopt=reposdir=/dev/null",
                        f"--setopt=cachedir={scratch}/cache", f"--setopt=logdir={scratch}/log",
                        f"--setopt=persistdir={scratch}/lib",
                        f"--repofrompath=legacy,{location}", "--qf", "%{name}"])
    return sorted(set(done.stdout.split()))


def repo_of(rpms: Sequence[Path], cache: Path) -> Path:
    """A repo of exactly ``rpms``, reused when the same files were made into one before."""
    digest = hashlib.sha256()
    for path in sorted(p.resolve() for p in rpms):
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    repo = cache / "repos" / digest.hexdigest()[:16]
    if (repo / "repodata" / "repomd.xml").is_file():
        return repo
    return synth.make_repo(rpms, repo, roots=[cache])
