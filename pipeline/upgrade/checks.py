"""Upgrade checks: pure functions from observed state (and tool output) to findings.

Every check has a stable id (``CHECKS``) and reports its evidence: the output lines or the
installed set that made it fire. Parsers of rpm/dnf/yum output are pure and tested against
captured text. Nothing here runs a tool.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pipeline.core.evr import EVR, compare_evr, matches, parse_dependency
from pipeline.core.findings import Finding
from pipeline.upgrade import services
from pipeline.upgrade.manifest import PackageManifest
from pipeline.upgrade.scenarios import Scenario

#: check id -> what it proves (one JUnit testcase per scenario and check)
CHECKS: dict[str, str] = {
    "transaction-failed": "the legacy install and the upgrade transaction succeeded",
    "final-set-mismatch": "the installed set equals the expected final set",
    "legacy-leftover": "no legacy package is left behind",
    "new-package-missing": "every expected new package is installed",
    "replacement-mismatch": "each legacy package is replaced by the expected new one",
    "file-conflict": "no file is owned by two packages that do not replace each other",
    "broken-dependency": "every dependency is satisfied during and after the transaction",
    "scriptlet-failed": "every scriptlet succeeded",
    "rpm-va-changed": "rpm -Va is clean apart from declared exceptions and edited configs",
    "config-edit-lost": "locally edited %config(noreplace) files keep their edits",
    "rpmnew-missing": "the new default of an edited config file lands as .rpmnew",
    "obsoletes-matches-nothing": "every Obsoletes of a legacy name matches the legacy EVR",
    "upgrade-not-idempotent": "a repeated upgrade is a no-op",
    **services.CHECKS,
}


#: the checks that need no sandbox (``--sandbox none``)
PRECHECKS = ("obsoletes-matches-nothing", "file-conflict")


def checks_run(sandbox: str) -> dict[str, str]:
    """The checks a run in ``sandbox`` performs (all of them, or the pure pre-checks)."""
    if sandbox == "none":
        return {k: CHECKS[k] for k in PRECHECKS}
    return dict(CHECKS)


@dataclass(frozen=True)
class Installed:
    name: str
    epoch: int | None
    version: str
    release: str
    arch: str

    @property
    def evr(self) -> EVR:
        return EVR(self.epoch or 0, self.version, self.release)

    @property
    def nevra(self) -> str:
        epoch = f"{self.epoch}:" if self.epoch is not None else ""
        return f"{self.name}-{epoch}{self.version}-{self.release}.{self.arch}"


@dataclass(frozen=True)
class Step:
    """One command's outcome, as evidence."""

    command: str
    returncode: int
    output: str


@dataclass
class Observation:
    """What a sandbox run saw; every check reads only this."""

    legacy_install: Step
    before: list[Installed]
    upgrade: Step
    after: list[Installed]
    verify: Step  # rpm -Va (files and dependencies)
    configs: dict[str, str | None] = field(default_factory=dict)  # edited path -> content
    rpmnew: dict[str, bool] = field(default_factory=dict)  # edited path -> .rpmnew exists
    rpmsave: dict[str, bool] = field(default_factory=dict)
    again: Step | None = None
    after_again: list[Installed] | None = None
    services: services.ServiceRecord | None = None  # systemctl calls and unit state
    via: Step | None = None  # the upgrade to an intermediate release (scenario ``via``)


# ---------------------------------------------------------------- parsers

def parse_rpm_qa(text: str) -> list[Installed]:
    """Lines of ``rpm -qa --qf base.QF``."""
    out = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 5:
            continue
        name, epoch, version, release, arch = parts
        out.append(Installed(name, None if epoch == "(none)" else int(epoch), version,
                             release, arch))
    return sorted(out, key=lambda p: p.nevra)


_SCRIPTLET = re.compile(r"(scriptlet failed|Error in \S+ scriptlet|error: %\S+ scriptlet)",
                        re.I)
_CONFLICT = re.compile(r"file (/\S*) (?:from install of (\S+) )?conflicts with file from "
                       r"package (\S+)")
_NOTHING_PROVIDES = re.compile(r"nothing provides (.+?) needed by (\S+)")
_NEEDED_BY = re.compile(r"^\s*(.+?) is needed by (?:\(installed\) )?(\S+)")
_YUM_REQUIRES = re.compile(r"^Error: Package: (\S+).*\n\s+Requires: (.+)$", re.M)
_VA_LINE = re.compile(r"^(missing|[.SM5DLUGTP?]{8,9})\s+([cdglr ]?)\s*(/.*)$")
_REPLACING = re.compile(r"^\s+replacing\s+(\S+?)\.(\w+)\s+(\S+)")
_ROW = re.compile(r"^ (\S+)\s")


def scriptlet_failures(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if _SCRIPTLET.search(line)]


def file_conflicts(output: str) -> list[tuple[str, str, str]]:
    """(path, installing package or "", owning package) from transaction-check errors."""
    return [(m.group(1), m.group(2) or "", m.group(3)) for m in _CONFLICT.finditer(output)]


def unsatisfied(output: str) -> list[str]:
    """Dependency problems from dnf/yum transaction output and from ``rpm -Va``."""
    found = [f"nothing provides {m.group(1)} needed by {m.group(2)}"
             for m in _NOTHING_PROVIDES.finditer(output)]
    found += [f"{m.group(2)} requires {m.group(1)}" for m in _YUM_REQUIRES.finditer(output)]
    for line in output.splitlines():
        m = _NEEDED_BY.match(line)
        if m:
            found.append(f"{m.group(1)} is needed by {m.group(2)}")
    return sorted(set(found))


def verify_lines(output: str) -> list[tuple[str, str, str]]:
    """(flags, attribute marker, path) of each ``rpm -Va`` file line."""
    out = []
    for line in output.splitlines():
        m = _VA_LINE.match(line)
        if m:
            out.append((m.group(1), m.group(2).strip(), m.group(3)))
    return out


def replacements(output: str) -> dict[str, str]:
    """legacy name -> replacing name from dnf's and yum's ``replacing`` lines."""
    found: dict[str, str] = {}
    current = ""
    for line in output.splitlines():
        rep = _REPLACING.match(line)
        if rep and current:
            found[rep.group(1)] = current
            continue
        row = _ROW.match(line)
        if row and not line.startswith("  "):
            current = row.group(1)
    return found


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


# ---------------------------------------------------------------- checks on observed state

@dataclass(frozen=True)
class Universe:
    """The names under test: what the legacy set and the new set contain."""

    legacy: frozenset[str]
    new: frozenset[str]

    def covers(self, name: str, expected: Iterable[str]) -> bool:
        return name in self.legacy or name in self.new or name in set(expected)


def _f(check: str, scenario: Scenario, detail: str, package: str | None = None) -> Finding:
    return Finding(id=check, level="error", cell=scenario.id, package=package, detail=detail)


def check_transactions(obs: Observation, scenario: Scenario) -> list[Finding]:
    out = []
    for label, step in (("legacy install", obs.legacy_install), ("upgrade", obs.upgrade),
                        ("intermediate upgrade", obs.via)):
        if step is not None and step.returncode != 0:
            out.append(_f("transaction-failed", scenario,
                          f"{label} exited {step.returncode}: $ {step.command}\n"
                          f"{_tail(step.output)}"))
    return out


def check_final_set(obs: Observation, scenario: Scenario, universe: Universe) -> list[Finding]:
    expected = set(scenario.expect.final_set)
    after = {p.name for p in obs.after if universe.covers(p.name, expected)}
    before = {p.name for p in obs.before if universe.covers(p.name, expected)}
    out = []
    for name in sorted(after - expected):
        check = "legacy-leftover" if name in universe.legacy else "final-set-mismatch"
        out.append(_f(check, scenario, f"{name} is installed after the upgrade but is not "
                                       "in the expected final set", name))
    for name in sorted(expected - after):
        check = "new-package-missing" if name in universe.new else "final-set-mismatch"
        out.append(_f(check, scenario, f"{name} is expected after the upgrade but is not "
                                       "installed", name))
    if after != expected:
        nothing = " (the upgrade changed nothing)" if {p.nevra for p in obs.before} == \
            {p.nevra for p in obs.after} else ""
        out.append(_f("final-set-mismatch", scenario,
                      f"expected {sorted(expected)}{nothing}\nobserved {sorted(after)}\n"
                      f"legacy installed before: {sorted(before)}"))
    out += _check_upgraded(obs, scenario)
    return out


def _check_upgraded(obs: Observation, scenario: Scenario) -> list[Finding]:
    before = {p.name: p for p in obs.before}
    after = {p.name: p for p in obs.after}
    out = []
    for name in scenario.expect.upgraded:
        old, new = before.get(name), after.get(name)
        if old is None or new is None or compare_evr(new.evr, old.evr) <= 0:
            was = old.nevra if old else "not installed"
            now = new.nevra if new else "not installed"
            out.append(_f("final-set-mismatch", scenario,
                          f"{name} should be upgraded in place: before {was}, after {now}",
                          name))
    for name in scenario.expect.removed:
        if name in after:
            out.append(_f("legacy-leftover", scenario,
                          f"{name} should be removed, still {after[name].nevra}", name))
    return out


def check_new_versions(obs: Observation, scenario: Scenario,
                       new_packages: Sequence[PackageManifest]) -> list[Finding]:
    """A package of the new set's name that is still at its legacy EVR was not upgraded."""
    new = {p.name: p for p in new_packages}
    before = {p.name: p for p in obs.before}
    out = []
    for pkg in obs.after:
        want = new.get(pkg.name)
        old = before.get(pkg.name)
        if want is None or old is None or compare_evr(pkg.evr, manifest_evr(want)) == 0:
            continue
        if pkg.nevra == old.nevra:
            newer = compare_evr(old.evr, manifest_evr(want)) > 0
            why = " (the legacy EVR is newer than the new one)" if newer else ""
            out.append(_f("legacy-leftover", scenario,
                          f"{pkg.name} is still the legacy {pkg.nevra}, not the new "
                          f"{want.nevra}{why}", pkg.name))
    return out


def check_replacements(obs: Observation, scenario: Scenario) -> list[Finding]:
    seen = replacements(obs.upgrade.output + (obs.via.output if obs.via else ""))
    installed_before = {p.name for p in obs.before}
    out = []
    for old, new in sorted(scenario.expect.replaced.items()):
        if old not in installed_before:
            out.append(_f("replacement-mismatch", scenario,
                          f"{old} (expected to be replaced by {new}) was not installed "
                          "by the legacy set", old))
        elif seen.get(old) != new:
            got = seen.get(old) or "nothing (no 'replacing' line in the transaction)"
            out.append(_f("replacement-mismatch", scenario,
                          f"{old} should be replaced by {new}, the transaction replaced it "
                          f"with {got}", old))
    return out


def check_conflicts(obs: Observation, scenario: Scenario) -> list[Finding]:
    out = []
    for step in (obs.legacy_install, obs.upgrade, *([obs.via] if obs.via else [])):
        for path, new, old in file_conflicts(step.output):
            out.append(_f("file-conflict", scenario,
                          f"{path}: {new or 'a new package'} conflicts with {old}", new or None))
    return out


def check_dependencies(obs: Observation, scenario: Scenario) -> list[Finding]:
    problems = unsatisfied(obs.upgrade.output + (obs.via.output if obs.via else ""))
    problems += unsatisfied(obs.verify.output)
    return [_f("broken-dependency", scenario, line) for line in sorted(set(problems))]


def check_scriptlets(obs: Observation, scenario: Scenario) -> list[Finding]:
    out = []
    for label, step in (("legacy install", obs.legacy_install), ("upgrade", obs.upgrade)):
        for line in scriptlet_failures(step.output):
            out.append(_f("scriptlet-failed", scenario, f"{label}: {line}"))
    return out


def check_verify(obs: Observation, scenario: Scenario) -> list[Finding]:
    edited = {e.path for e in scenario.config_edits}
    out = []
    for flags, attr, path in verify_lines(obs.verify.output):
        if path in edited and attr == "c" and flags != "missing":
            continue  # our own edit: expected to differ
        if any(exc.covers(path) for exc in scenario.va_exceptions):
            continue
        out.append(_f("rpm-va-changed", scenario, " ".join(x for x in (flags, attr, path) if x)))
    return out


def check_configs(obs: Observation, scenario: Scenario) -> list[Finding]:
    out = []
    for edit in scenario.config_edits:
        content = obs.configs.get(edit.path)
        if content is None or edit.append not in content:
            state = "missing" if content is None else f"now:\n{_tail(content, 5)}"
            saved = " (an .rpmsave copy exists)" if obs.rpmsave.get(edit.path) else ""
            out.append(_f("config-edit-lost", scenario,
                          f"{edit.path} lost the local edit {edit.append!r}: {state}{saved}"))
        if edit.expect_rpmnew and not obs.rpmnew.get(edit.path):
            out.append(_f("rpmnew-missing", scenario,
                          f"{edit.path}.rpmnew does not exist: the new default did not land"))
    return out


def check_idempotent(obs: Observation, scenario: Scenario) -> list[Finding]:
    if obs.again is None or obs.after_again is None:
        return []
    out = []
    if obs.again.returncode != 0:
        out.append(_f("upgrade-not-idempotent", scenario,
                      f"the repeated upgrade exited {obs.again.returncode}:\n"
                      f"{_tail(obs.again.output)}"))
    first = {p.nevra for p in obs.after}
    second = {p.nevra for p in obs.after_again}
    if first != second:
        out.append(_f("upgrade-not-idempotent", scenario,
                      f"the repeated upgrade changed the set: removed {sorted(first - second)},"
                      f" added {sorted(second - first)}"))
    return out


def observed_findings(obs: Observation, scenario: Scenario, universe: Universe,
                      new_packages: Sequence[PackageManifest]) -> list[Finding]:
    """Every check on a sandbox run."""
    found = check_transactions(obs, scenario) + check_final_set(obs, scenario, universe)
    found += check_new_versions(obs, scenario, new_packages)
    found += check_replacements(obs, scenario) + check_conflicts(obs, scenario)
    found += check_dependencies(obs, scenario) + check_scriptlets(obs, scenario)
    found += check_verify(obs, scenario) + check_configs(obs, scenario)
    found += check_idempotent(obs, scenario)
    found += services.check_services(obs.services, scenario.expect.services, scenario.id)
    legacy = [(p.name, p.evr) for p in obs.before if p.name in universe.legacy]
    found += obsoletes_matching(new_packages, legacy, scenario)
    return found


# ---------------------------------------------------------------- pure pre-checks

def obsoletes_matching(new_packages: Sequence[PackageManifest],
                       legacy: Sequence[tuple[str, EVR]], scenario: Scenario) -> list[Finding]:
    """An Obsoletes naming a legacy package whose range misses the legacy EVR matches nothing.

    Obsoletes of names absent from this legacy set (``-rhev``, ``-ma`` aliases) are not
    judged here: another legacy set may carry them.
    """
    by_name = {name: evr for name, evr in legacy}
    out = []
    for pkg in new_packages:
        for text in pkg.obsoletes:
            dep = parse_dependency(text)
            evr = by_name.get(dep.name)
            if evr is None or matches(dep, dep.name, evr):
                continue
            out.append(_f("obsoletes-matches-nothing", scenario,
                          f"{pkg.nevra}: 'Obsoletes: {text}' does not match the installed "
                          f"{dep.name} {evr}", pkg.name))
    return out


def manifest_evr(pkg: PackageManifest) -> EVR:
    return EVR(pkg.epoch or 0, pkg.version, pkg.release)


def file_conflicts_static(legacy: Sequence[PackageManifest], new: Sequence[PackageManifest],
                          scenario: Scenario) -> list[Finding]:
    """Files shipped by a legacy package that stays (nothing upgrades or obsoletes it) and by a
    new package (rpm would refuse the transaction), or by two new packages with different
    content."""
    leaving = _leaving(legacy, new)
    owners: dict[str, list[tuple[PackageManifest, bool]]] = {}
    for pkg, is_new in [(p, False) for p in legacy] + [(p, True) for p in new]:
        for entry in pkg.files:
            if entry.kind != "dir":
                owners.setdefault(entry.path, []).append((pkg, is_new))
    out = []
    for path, pkgs in sorted(owners.items()):
        for index, (a, a_new) in enumerate(pkgs):
            for b, b_new in pkgs[index + 1:]:
                if _clash(a, a_new, b, b_new, path, leaving):
                    out.append(_f("file-conflict", scenario,
                                  f"{path} is shipped by {a.nevra} and {b.nevra}", b.name))
    return out


def _leaving(legacy: Sequence[PackageManifest],
             new: Sequence[PackageManifest]) -> set[str]:
    """Legacy names the transaction removes: upgraded by name, or obsoleted."""
    new_names = {p.name for p in new}
    obsoleted: dict[str, list[str]] = {}
    for pkg in new:
        for text in pkg.obsoletes:
            obsoleted.setdefault(parse_dependency(text).name, []).append(text)
    out = set()
    for old in legacy:
        evr = manifest_evr(old)
        if old.name in new_names or any(matches(parse_dependency(t), old.name, evr)
                                         for t in obsoleted.get(old.name, ())):
            out.add(old.name)
    return out


def _clash(a: PackageManifest, a_new: bool, b: PackageManifest, b_new: bool, path: str,
           leaving: set[str]) -> bool:
    if a_new and b_new:
        return a.name != b.name and _content(a, path) != _content(b, path)
    if not a_new and not b_new:
        return False
    old = b if a_new else a
    return old.name not in leaving


def _content(pkg: PackageManifest, path: str) -> tuple[str, int, str | None]:
    for entry in pkg.files:
        if entry.path == path:
            return (entry.content or f"{pkg.nevra}:{path}", entry.mode, entry.target)
    return ("", 0, None)
