"""Run an upgrade scenario: prepare the repos, run the transaction in a sandbox, check it.

The flow, per scenario: build (or reuse) the legacy stand-ins and the new set (real RPMs from
the build results where they exist, stand-ins synthesized from the rendered specs otherwise,
or only stand-ins with ``preflight``); run the pure pre-checks on the manifests; then, in a
sandbox, install the legacy set, make the declared config edits, run the upgrade with both
the legacy and new repos enabled (what a host's ``yum upgrade``/``dnf upgrade`` sees), observe
the rpm database, the files and ``rpm -Va``, run the upgrade again, and check everything.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import files, writeguard
from pipeline.core.errors import shell_line
from pipeline.core.findings import Finding
from pipeline.upgrade import checks
from pipeline.upgrade.checks import Observation, Step, Universe
from pipeline.upgrade.prepare import Prepared
from pipeline.upgrade.rootbase import SYSTEMCTL_LOG, SYSTEMCTL_STATE
from pipeline.upgrade.sandboxes import create as create_sandbox
from pipeline.upgrade.sandboxes.base import QF, Sandbox, SandboxConfig
from pipeline.upgrade.scenarios import Scenario
from pipeline.upgrade.services import HostServices, ServiceRecord


@dataclass(frozen=True)
class Options:
    """How scenarios run."""

    cache: Path  # .cache/upgrade: stand-in RPMs, repos, roots
    sandbox: str = "installroot"
    preflight: bool = False
    keep: bool = False
    image: str | None = None  # container sandboxes
    base: bool = True  # install the root-base package first (installroot, test images)
    package_manager: str = "dnf"
    roots: Path | None = None  # where roots live (default: cache/roots); a tmpfs is faster


def fast_roots(cache: Path, shm: Path = Path("/dev/shm")) -> Path:
    """A folder for throw-away roots: under /dev/shm when it is a writable tmpfs (rpm's
    database writes are an order of magnitude faster there), else ``cache/roots``. One folder
    per tree: a run removes roots its tree's killed runs left, never another tree's."""
    if shm.is_dir() and os.access(shm, os.W_OK):
        mine = shm / f"virt-pipeline-{os.getuid()}"
        if _own_folder(mine):  # /dev/shm is everyone's: another user may have made the name
            tree = hashlib.sha256(str(cache.resolve()).encode()).hexdigest()[:16]
            return mine / tree / "roots"
    return cache / "roots"


def _own_folder(path: Path) -> bool:
    """``path`` is (or now is) a real folder of ours that only we can write; the write guard
    lets the command write there once that is known."""
    try:
        if not os.path.lexists(path):
            writeguard.allow(path)
            path.mkdir(mode=0o700)
        st = os.lstat(path)
    except OSError:
        return False
    if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022:
        writeguard.allow(path)
        return True
    return False


@dataclass
class ScenarioResult:
    id: str
    os: str
    sandbox: str
    preflight: bool
    findings: list[Finding]
    final_set: list[str]
    sources: dict[str, str]  # new package name -> "real" | "stand-in"
    log: str = ""

    @property
    def status(self) -> str:
        return "failed" if any(f.level == "error" for f in self.findings) else "passed"

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "os": self.os, "sandbox": self.sandbox,
                "preflight": self.preflight, "status": self.status,
                "final_set": self.final_set, "sources": self.sources, "log": self.log,
                "findings": [{"id": f.id, "level": f.level, "package": f.package,
                              "detail": f.detail} for f in self.findings]}


def run_scenario(scenario: Scenario, prepared: Prepared, options: Options) -> ScenarioResult:
    """Pre-checks plus the sandbox run, as one result."""
    findings = precheck(scenario, prepared)
    sweep_roots(scenario, options)
    parent = options.roots or options.cache / "roots"
    workdir = files.fresh_dir(parent, _anchor(parent, options.cache), prefix=f"{scenario.id}-")
    config = SandboxConfig(workdir=workdir, repos=prepared.repos,
                           package_manager=options.package_manager, image=options.image,
                           keep=options.keep)
    with create_sandbox(options.sandbox, config) as sandbox:
        obs = observe(sandbox, scenario, prepared)
        location = sandbox.location
    log = workdir / "commands.log"
    kept = options.keep
    if not kept:
        log = _keep_log(log, options.cache / "logs" / f"{scenario.id}.log")
        shutil.rmtree(workdir, ignore_errors=True)
        _prune(parent)
    legacy_names = {*prepared.legacy_names, *(p.name for p in prepared.legacy)}
    universe = Universe(frozenset(legacy_names),
                        frozenset(p.name for p in prepared.new.packages))
    findings += checks.observed_findings(obs, scenario, universe, prepared.new.packages)
    final = sorted(p.name for p in obs.after
                   if universe.covers(p.name, scenario.expect.final_set))
    return ScenarioResult(id=scenario.id, os=scenario.os, sandbox=options.sandbox,
                          preflight=options.preflight, findings=_unique(findings),
                          final_set=final, sources=dict(prepared.new.sources),
                          log=str(log) + (f" (kept: {location})" if kept else ""))


def run_precheck_only(scenario: Scenario, prepared: Prepared,
                      options: Options) -> ScenarioResult:
    """Only the pure checks (``--sandbox none``): no root, no package manager."""
    return ScenarioResult(id=scenario.id, os=scenario.os, sandbox="none",
                          preflight=options.preflight,
                          findings=_unique(precheck(scenario, prepared)), final_set=[],
                          sources=dict(prepared.new.sources))


def precheck(scenario: Scenario, prepared: Prepared) -> list[Finding]:
    """The pure checks on manifests: no sandbox, milliseconds."""
    legacy_evrs = [(p.name, checks.manifest_evr(p)) for p in prepared.legacy]
    found = checks.obsoletes_matching(prepared.new.packages, legacy_evrs, scenario)
    found += checks.file_conflicts_static(prepared.legacy, prepared.new.packages, scenario)
    return found


def observe(sandbox: Sandbox, scenario: Scenario, prepared: Prepared) -> Observation:
    """Install the legacy set, edit configs, upgrade, look, upgrade again, look again."""
    legacy = _step(sandbox, ["install", *prepared.base_names, *prepared.legacy_names],
                   repos=prepared.legacy_repos)
    before = _installed(sandbox)
    _set_services(sandbox, scenario.services)
    logged = len(_systemctl_log(sandbox))
    for edit in scenario.config_edits:
        text = sandbox.read_file(edit.path)
        if text is not None:
            sandbox.write_file(edit.path, text + ("" if text.endswith("\n") else "\n")
                               + edit.append + "\n")
    via = (_step(sandbox, list(scenario.command), repos=prepared.via_repos)
           if prepared.via_repos else None)
    upgrade = _step(sandbox, list(scenario.command), repos=list(prepared.repos))
    after = _installed(sandbox)
    done = sandbox.rpm(["-Va"])
    obs = Observation(legacy_install=legacy, before=before, upgrade=upgrade, after=after,
                      verify=Step(shell_line(done.argv), done.returncode, done.output),
                      services=_services(sandbox, scenario, logged), via=via)
    for edit in scenario.config_edits:
        obs.configs[edit.path] = sandbox.read_file(edit.path)
        obs.rpmnew[edit.path] = sandbox.exists(edit.path + ".rpmnew")
        obs.rpmsave[edit.path] = sandbox.exists(edit.path + ".rpmsave")
    obs.again = _step(sandbox, list(scenario.command), repos=list(prepared.repos))
    obs.after_again = _installed(sandbox)
    return obs


def _set_services(sandbox: Sandbox, host: HostServices) -> None:
    """The host's unit state before the upgrade, as the stand-in systemctl keeps it."""
    for kind, units in (("enabled", host.enabled), ("active", host.active)):
        for unit in units:
            sandbox.write_file(f"{SYSTEMCTL_STATE}/{kind}/{unit}", "")


def _systemctl_log(sandbox: Sandbox) -> list[str]:
    return (sandbox.read_file(SYSTEMCTL_LOG) or "").splitlines()


def _services(sandbox: Sandbox, scenario: Scenario, logged: int) -> ServiceRecord | None:
    """The systemctl calls of the upgrade step and the state of the units the scenario names;
    None where the root base's systemctl is not the one installed (an OS image: there the
    service checks cannot observe anything and are not run)."""
    if SYSTEMCTL_LOG not in (sandbox.read_file("/usr/bin/systemctl") or ""):
        return None
    record = ServiceRecord(calls=_systemctl_log(sandbox)[logged:])
    units = scenario.expect.services.units()
    for kind, found in (("enabled", record.enabled), ("active", record.active),
                        ("masked", record.masked)):
        found.update(u for u in units if sandbox.exists(f"{SYSTEMCTL_STATE}/{kind}/{u}"))
    return record


def _step(sandbox: Sandbox, args: list[str], *, repos: Sequence[str]) -> Step:
    done = sandbox.package_manager(args, repos=repos)
    return Step(shell_line(done.argv), done.returncode, done.output)


def _installed(sandbox: Sandbox) -> list[checks.Installed]:
    return checks.parse_rpm_qa(sandbox.rpm(["-qa", "--qf", QF]).stdout)


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str | None, str]] = set()
    out = []
    for f in findings:
        key = (f.id, f.package, f.detail)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _keep_log(log: Path, dest: Path) -> Path:
    if not log.is_file():
        return log
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(log, dest)
    return dest


def sweep_roots(scenario: Scenario, options: Options) -> None:
    """Remove the roots ``scenario``'s killed runs left (the tree's lock is held: no other run
    owns them), then the roots folder itself once empty. Every run of the scenario does it,
    a replayed one too (it starts no sandbox of its own)."""
    parent = options.roots or options.cache / "roots"
    if options.keep or not parent.is_dir():
        return
    mine = re.compile(re.escape(scenario.id) + r"-[a-z0-9_]{8}")  # mkdtemp's names
    for stale in parent.iterdir():
        if mine.fullmatch(stale.name) and stale.is_dir():
            files.remove_tree(stale, parent)
    _prune(parent)


def _prune(roots: Path) -> None:
    """Remove the roots folder (and a per-tree folder under /dev/shm) once empty."""
    for folder in (roots, roots.parent if roots.parent.parent.name.startswith("virt-pipeline-")
                   else None):
        if folder is not None:
            with contextlib.suppress(OSError):
                folder.rmdir()


def _anchor(roots: Path, cache: Path) -> Path:
    """The folder the roots folder must resolve inside: the cache, /dev/shm (where anyone may
    plant a link at our name), or, for a folder the caller chose elsewhere, its parent."""
    for anchor in (cache, Path("/dev/shm")):
        if roots.absolute().is_relative_to(anchor.absolute()):
            return anchor
    return roots.parent
