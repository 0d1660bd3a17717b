"""Upgrade scenarios as data (``upgrades.yaml`` at the tree root), loaded into frozen dataclasses.

Each scenario names an OS of the matrix, a legacy set (manifests under ``legacy/`` from which
stand-in RPMs are built, and/or real repos given by URL or folder), the new set (source
packages of the matrix, or ``all``), the local config edits to make before upgrading, and the
expected transaction: which legacy package is replaced by which new one, which are upgraded in
place, which are removed, and the exact final set of names. Errors name FILE:LINE: KEY.

Layout::

    schema: 1
    images:                        # container images per OS (podman/docker sandboxes)
      bclinux7: {ref: "registry.example/bclinux/7:latest", base: false}
    os_provides:                   # capabilities the OS repos offer (one stand-in provides them)
      bclinux7: [systemd, /sbin/ldconfig, seabios-bin]
    scenarios:
      bclinux7-qemu-kvm-ev:
        os: bclinux7
        description: CentOS Virt SIG qemu-kvm-ev 2.12 + libvirt 4.5 -> new
        legacy: {manifests: [legacy/el7-qemu-kvm-ev.yaml], repos: []}
        new: {packages: all, repos: []}
        command: [upgrade]
        config_edits:
          - {path: /etc/libvirt/qemu.conf, append: "# edited by QA"}
        expect:
          replaced: {qemu-kvm-ev: qemu}
          upgraded: [libvirt]
          removed: []
          final_set: [qemu, libvirt]
        rpm_va_exceptions:
          - {path: /var/log/*, reason: logs change}
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.core import yamlsrc
from pipeline.core.errors import InputError
from pipeline.core.schema import Origin, Reader, checked_name
from pipeline.upgrade.services import HostServices, ServiceExpect

FILE_NAME = "upgrades.yaml"
_TOP = ("schema", "images", "os_provides", "scenarios")
_SCENARIO = ("os", "description", "legacy", "new", "command", "config_edits", "expect",
             "rpm_va_exceptions", "services", "via")
_EXPECT = ("replaced", "upgraded", "removed", "final_set", "services")


@dataclass(frozen=True)
class Image:
    """The container image a podman/docker sandbox uses for one OS."""

    ref: str
    base: bool = False  # install a provides-only base first (images whose rpmdb lacks /bin/sh)
    package_manager: str | None = None  # default: the OS's (matrix package_manager)


@dataclass(frozen=True)
class ConfigEdit:
    path: str
    append: str
    expect_rpmnew: bool = True


@dataclass(frozen=True)
class VaException:
    path: str  # fnmatch pattern
    reason: str

    def covers(self, path: str) -> bool:
        return fnmatch.fnmatchcase(path, self.path)


@dataclass(frozen=True)
class Expectation:
    replaced: dict[str, str]
    upgraded: tuple[str, ...]
    removed: tuple[str, ...]
    final_set: tuple[str, ...]
    services: ServiceExpect = field(default_factory=ServiceExpect)


@dataclass(frozen=True)
class Scenario:
    id: str
    os: str
    description: str
    legacy_manifests: tuple[Path, ...]
    legacy_repos: tuple[str, ...]
    new_packages: tuple[str, ...] | None  # source package names; None: every matrix package
    new_repos: tuple[str, ...]
    command: tuple[str, ...]
    config_edits: tuple[ConfigEdit, ...]
    expect: Expectation
    va_exceptions: tuple[VaException, ...] = ()
    os_provides: tuple[str, ...] = ()  # what the OS repos provide (stand-in capabilities)
    services: HostServices = field(default_factory=HostServices)  # units before the upgrade
    # manifests of an intermediate release: the host upgrades to it first, then to the new
    # set, with the legacy repos enabled throughout
    via: tuple[Path, ...] = ()
    source: str = ""  # FILE:LINE of the scenario, for messages


@dataclass(frozen=True)
class ScenarioFile:
    path: Path
    images: dict[str, Image]
    scenarios: tuple[Scenario, ...] = field(default=())

    def select(self, patterns: Sequence[str] | None) -> list[Scenario]:
        """Scenarios whose id matches any fnmatch pattern (all without patterns)."""
        if not patterns:
            return list(self.scenarios)
        chosen = [s for s in self.scenarios
                  if any(fnmatch.fnmatchcase(s.id, p) for p in patterns)]
        if not chosen:
            known = ", ".join(s.id for s in self.scenarios)
            raise InputError(f"no scenario matches {', '.join(patterns)} (known: {known})",
                             file=str(self.path))
        return chosen


def load(path: Path, *, oses: Iterable[str], packages: Iterable[str]) -> ScenarioFile:
    """Read ``upgrades.yaml``; ``oses``/``packages`` are the matrix ids scenarios may name."""
    source = yamlsrc.load(path)
    origin = Origin({k: (str(source.path), v) for k, v in source.lines.items()})
    origin.places.setdefault("", (str(source.path), 1))
    return parse(source.data, origin, path=path, oses=set(oses), packages=set(packages))


def parse(data: Any, origin: Origin, *, path: Path, oses: set[str],
          packages: set[str]) -> ScenarioFile:
    top = Reader(data, "", origin)
    top.only(_TOP)
    if top.int("schema", 1) != 1:
        raise top.error("schema", "unsupported schema (this program reads schema 1)")
    images = {name: _image(r, oses) for name, r in _entries(top, "images")}
    entries = _entries(top, "scenarios")
    if not entries:
        raise top.error("scenarios", "no scenarios declared")
    tree = path.parent
    provides = _os_provides(top, oses)
    scenarios = tuple(_scenario(sid, r, tree=tree, oses=oses, packages=packages,
                                provides=provides) for sid, r in entries)
    return ScenarioFile(path=path, images=images, scenarios=scenarios)


def _entries(top: Reader, name: str) -> list[tuple[str, Reader]]:
    mapping = top.sub(name, required=False)
    return [(checked_name(k, mapping._k(str(k)), top.origin),
             Reader(v, mapping._k(str(k)), top.origin)) for k, v in mapping.data.items()]


def _os_provides(top: Reader, oses: set[str]) -> dict[str, tuple[str, ...]]:
    sub = top.sub("os_provides", required=False)
    sub.only(sorted(oses))
    return {os_id: sub.str_list(os_id) for os_id in sub.data}


def _image(reader: Reader, oses: set[str]) -> Image:
    os_id = reader.key.rsplit(".", 1)[-1]
    if os_id not in oses:
        raise reader.origin.error(reader.key, f"unknown OS {os_id!r} (matrix has "
                                              f"{', '.join(sorted(oses))})")
    if isinstance(reader.data, str):  # pragma: no cover - Reader rejects non-mappings
        return Image(ref=reader.data)
    reader.only(("ref", "base", "package_manager"))
    tool = reader.opt_str("package_manager")
    if tool not in (None, "yum", "dnf"):
        raise reader.error("package_manager", f"expected yum or dnf, got {tool!r}")
    return Image(ref=reader.str("ref"), base=reader.bool("base"), package_manager=tool)


def _scenario(sid: str, r: Reader, *, tree: Path, oses: set[str], packages: set[str],
              provides: dict[str, tuple[str, ...]]) -> Scenario:
    r.only(_SCENARIO)
    os_id = r.str("os")
    if os_id not in oses:
        raise r.error("os", f"unknown OS {os_id!r} (matrix has {', '.join(sorted(oses))})")
    legacy = r.sub("legacy")
    legacy.only(("manifests", "repos"))
    manifests = tuple(tree / m for m in legacy.str_list("manifests"))
    if not manifests and not legacy.str_list("repos"):
        raise legacy.error("manifests", "a legacy set needs manifests or repos")
    new = r.sub("new")
    new.only(("packages", "repos"))
    command = r.str_list("command") or ("upgrade",)
    file, line = r.origin.of(r.key)
    return Scenario(
        id=sid, os=os_id, description=r.str("description", ""),
        legacy_manifests=manifests, legacy_repos=legacy.str_list("repos"),
        new_packages=_new_packages(new, packages), new_repos=new.str_list("repos"),
        command=command, config_edits=_edits(r), expect=_expect(r.sub("expect")),
        va_exceptions=_exceptions(r), os_provides=provides.get(os_id, ()),
        services=_host_services(r), via=tuple(tree / m for m in r.str_list("via")),
        source=f"{file}:{line}" if line else file)


def _host_services(r: Reader) -> HostServices:
    if not r.has("services"):
        return HostServices()
    sub = r.sub("services")
    sub.only(("enabled", "active"))
    return HostServices(enabled=sub.str_list("enabled"), active=sub.str_list("active"))


def _expect_services(r: Reader) -> ServiceExpect:
    if not r.has("services"):
        return ServiceExpect()
    sub = r.sub("services")
    sub.only(("restarted", "enabled", "active", "masked"))
    return ServiceExpect(restarted=sub.str_list("restarted"), enabled=sub.str_list("enabled"),
                         active=sub.str_list("active"), masked=sub.str_list("masked"))


def _new_packages(new: Reader, packages: set[str]) -> tuple[str, ...] | None:
    raw = new.raw("packages")
    if raw is None or raw == "all":
        return None
    names = new.str_list("packages")
    for index, name in enumerate(names):
        if name not in packages:
            raise new.error(f"packages.{index}", f"{name!r} is not a matrix package "
                                                 f"(known: {', '.join(sorted(packages))})")
    return names


def _edits(r: Reader) -> tuple[ConfigEdit, ...]:
    out = []
    for index, item in enumerate(r.list("config_edits")):
        sub = Reader(item, r._k(f"config_edits.{index}"), r.origin)
        sub.only(("path", "append", "expect_rpmnew"))
        path = sub.str("path")
        if not path.startswith("/"):
            raise sub.error("path", "must be an absolute path")
        out.append(ConfigEdit(path=path, append=sub.str("append"),
                              expect_rpmnew=sub.bool("expect_rpmnew", True)))
    return tuple(out)


def _exceptions(r: Reader) -> tuple[VaException, ...]:
    out = []
    for index, item in enumerate(r.list("rpm_va_exceptions")):
        sub = Reader(item, r._k(f"rpm_va_exceptions.{index}"), r.origin)
        sub.only(("path", "reason"))
        out.append(VaException(path=sub.str("path"), reason=sub.str("reason")))
    return tuple(out)


def _expect(r: Reader) -> Expectation:
    r.only(_EXPECT)
    replaced_r = r.sub("replaced", required=False)
    replaced = {str(k): replaced_r.str(str(k)) for k in replaced_r.data}
    final = r.str_list("final_set")
    if not final:
        raise r.error("final_set", "the exact final set of package names is required")
    expect = Expectation(replaced=replaced, upgraded=r.str_list("upgraded"),
                         removed=r.str_list("removed"), final_set=final,
                         services=_expect_services(r))
    _consistent(expect, r)
    return expect


def _consistent(expect: Expectation, r: Reader) -> None:
    final = set(expect.final_set)
    for old, new in expect.replaced.items():
        if new not in final:
            raise r.error(f"replaced.{old}", f"{new} replaces {old} but is not in final_set")
        if old in final and old != new:
            raise r.error(f"replaced.{old}", f"{old} is replaced but still in final_set")
    for index, name in enumerate(expect.upgraded):
        if name not in final:
            raise r.error(f"upgraded.{index}", f"{name} is upgraded but not in final_set")
    for index, name in enumerate(expect.removed):
        if name in final:
            raise r.error(f"removed.{index}", f"{name} is removed but still in final_set")
