"""The mock backend: one ``mock --rebuild`` per arch of a job, with a generated config per cell.

Choices (see shared notes koji-mock.md 6-7):

- The config of a cell lives at a stable path (``<config_dir>/<root>.cfg``) and is rewritten
  only when its text changes: mock's root cache is invalidated when any config file is newer
  than the cached tarball, so a config written afresh for every build would defeat it. A copy
  goes into each arch's result folder for the record.
- ``--uniqueext <job key slug>`` gives every job its own chroot and lock (parallel builds of
  two packages for one cell would otherwise collide, exit 60) while the root and package
  caches stay shared (they are keyed on the config's root).
- No ``--no-cleanup-after`` by default: with ``--resultdir`` mock removes the chroot after the
  build, which with one chroot per job (``--uniqueext``) keeps disk use bounded; the root cache
  makes the next init cheap. ``keep_roots=True`` is the one switch to keep them for debugging.
- stdin is /dev/null (``cmd.run``) and the config sets ``dnf_warning=False``: mock may otherwise
  wait on "Press Enter to continue".
- Logs are appended to by mock: only the part after the last ``Mock Version:`` line is read.
"""

from __future__ import annotations

import grp
import os
import platform
import pwd
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.builds.builders import mockconfig
from pipeline.builds.builders.base import BuildJob, BuildOutcome, Progress
from pipeline.core import cmd
from pipeline.core.errors import PipelineError, ToolMissing, shell_line
from pipeline.matrix.model import Cell, Matrix

MOCK_LOGS = ("build.log", "root.log", "state.log")
DEFAULT_CONFIGDIR = Path("/etc/mock")
TAIL_LINES = 40

#: mock exit codes (mockbuild/exception.py, mock.py) -> what they mean for a build.
EXIT_REASONS: dict[int, str] = {
    1: "build failed (rpmbuild, or a mock error such as a bad SRPM)",
    2: "bad mock command line (argparse), or mock run without its setuid wrapper",
    3: "mock config error (bad config, missing include or root)",
    4: "only some packages of a chain were built",
    5: "bad mock command line or macro definition",
    6: "forcearch needs qemu-user-static (/usr/bin/qemu-ARCH-static missing)",
    7: "mock was interrupted",
    10: "build failed: dynamic BuildRequires could not be resolved",
    11: "rpmbuild timed out inside mock (rpmbuild_timeout)",
    20: "chroot setup failed",
    25: "LVM error",
    30: "package manager failed: BuildRequires not satisfiable, or a repository unreachable",
    31: "external BuildRequires failed",
    40: "mock found no build results or could not install the SRPM",
    50: "mock command error (missing arguments or logging.ini)",
    60: "build root locked by another mock process",
    65: "LVM thin pool locked",
    70: "result directory not accessible",
    80: "unshare failed",
    90: "bootstrap chroot error",
    110: "mock state error",
    120: "the builddep tool is missing (dnf-utils/dnf-plugins-core or yum-utils)",
    124: "mock killed by virt-pipeline after its timeout",
}
#: which log explains a failure with that exit code
_LOG_FOR_EXIT = {1: "build.log", 10: "build.log", 11: "build.log", 20: "root.log",
                 30: "root.log", 31: "root.log", 40: "root.log", 90: "root.log"}


def explain_exit(code: int) -> str:
    """A one-line reason for a mock exit code."""
    if code in EXIT_REASONS:
        return f"mock exit {code}: {EXIT_REASONS[code]}"
    if code > 128:
        return f"mock exit {code}: killed by signal {code - 128}"
    return f"mock exit {code}: unknown failure"


def last_run(text: str) -> str:
    """The part of an appended mock log written by its last run."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if "Mock Version:" in line]
    return "".join(lines[starts[-1]:]) if starts else text


def failure_detail(code: int, logs: Mapping[str, str], output: str) -> str:
    """The most telling line of a failed run (its last error), or ''."""
    text = logs.get(_LOG_FOR_EXIT.get(code, ""), "") or output
    patterns = (r"error: Bad exit status from .*", r"No matching package to install: .*",
                r"No Package found for .*", r"Failed build dependencies:?.*", r"ERROR: .*",
                r"error: .*")
    for pattern in patterns:
        found = re.findall(pattern, text)
        if found:
            return str(found[-1]).strip()
    return ""


def slug(key: str) -> str:
    """``bclinux7+hygon/qemu`` -> ``bclinux7-hygon-qemu`` (safe in a mock root name)."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", key).strip("-.") or "job"


@dataclass
class MockBuilder:
    """Build jobs with mock on this host (see the module docstring for the choices made)."""

    matrix: Matrix
    config_dir: Path
    configdir: Path = DEFAULT_CONFIGDIR
    allow_emulation: bool = False
    compatible_flavors: tuple[str, ...] = ()  # flavors whose builders this host stands for
    bootstrap_image: bool = False
    keep_roots: bool = False
    template_repos: bool = False   # keep the template's repositories (default: vendor only)
    timeout: float = 8 * 3600
    extra_repos: tuple[tuple[str, str], ...] = ()
    macros: Mapping[str, str] = field(default_factory=dict)
    core_configs_version: tuple[int, ...] | None = None
    host_arch: str = field(default_factory=platform.machine)
    host_name: str = field(default_factory=platform.node)
    name: str = "mock"

    # -- availability -------------------------------------------------------------------------

    def check_available(self) -> None:
        cmd.require("mock")
        if os.geteuid() != 0 and not _in_group("mock"):
            raise ToolMissing("membership of the 'mock' group for user "
                              f"{pwd.getpwuid(os.getuid()).pw_name}",
                              "usermod -a -G mock USER, then log in again")
        version = self.installed_core_configs()
        for os_ in {cell.os.id: cell.os for cell in self.matrix.cells}.values():
            for include in mockconfig.template_includes(os_.mock.template, version):
                if not (self.configdir / include).is_file():
                    raise ToolMissing(f"mock-core-configs template {self.configdir / include}",
                                      "dnf install mock-core-configs")
        if self.allow_emulation:
            for arch in sorted({c.arch for c in self.matrix.cells} - {self.host_arch}):
                if not Path(f"/usr/bin/qemu-{arch}-static").exists():
                    raise ToolMissing(f"/usr/bin/qemu-{arch}-static (emulated {arch} builds)",
                                      "dnf install qemu-user-static")

    def installed_core_configs(self) -> tuple[int, ...] | None:
        """The mock-core-configs version: given, from rpm, or from the files in configdir."""
        if self.core_configs_version is not None:
            return self.core_configs_version
        if cmd.which("rpm"):
            done = cmd.run(["rpm", "-q", "--qf", "%{VERSION}", "mock-core-configs"], check=False)
            if done.returncode == 0 and re.match(r"^\d", done.stdout):
                return mockconfig.parse_version(done.stdout.strip())
        if (self.configdir / "templates" / "centos-7.tpl").is_file():
            return (41, 0)  # the pre-41.1 layout is what is installed
        return None

    # -- planning -----------------------------------------------------------------------------

    def buildable_arches(self, job: BuildJob) -> tuple[str, ...]:
        return tuple(a for a in job.arches if self._arch_problem(job, a) is None)

    def _arch_problem(self, job: BuildJob, arch: str) -> str | None:
        """Why ``arch`` of ``job`` cannot be built on this host, or None."""
        flavor = self.matrix.flavors.get(job.flavor) if job.flavor else None
        if (flavor is not None and flavor.hosts and flavor.name not in self.compatible_flavors
                and self.host_name not in flavor.hosts):
            return (f"flavor {flavor.name} builds only on {', '.join(flavor.hosts)} "
                    f"(this host is {self.host_name}; declare it compatible to build here)")
        if arch in (self.host_arch, "noarch"):
            return None
        if not self.allow_emulation:
            return f"{arch} needs an {arch} host, or emulation allowed (--forcearch)"
        if self._cell(job, arch).os.mock.package_manager == "yum":
            return (f"{arch} cannot be built by emulation for {job.os_id}: mock hands "
                    "--forcearch to the package manager and yum (el7) has no such option, so "
                    f"chroot setup would fail; build {arch} on a native {arch} host or "
                    "with koji")
        return None

    def settings_fingerprint(self, job: BuildJob) -> str:
        """Config texts, tool versions, and the user's own mock configs: mock reads
        ``~/.mock/user.cfg`` and ``~/.config/mock.cfg`` after the ``-r`` config (they can
        change even the root) and has no option to skip them."""
        texts = [f"{arch}:{self.config_text(self._cell(job, arch))}" for arch in job.arches]
        versions = self._tool_versions()
        return mockconfig.config_fingerprint("\n".join([versions, *user_configs(), *texts]))

    def _tool_versions(self) -> str:
        installed = tool_versions_line(("mock", "mock-core-configs")) if cmd.which("rpm") else ""
        return f"{installed} core-configs={self.installed_core_configs()}"

    def config_text(self, cell: Cell) -> str:
        """The cell's config: the OS macro file (what the rendered specs rely on, which a
        plain base-OS chroot lacks) and ``self.macros`` pinned, ``%dist`` = the cell's dist."""
        macro_file = Path(self.matrix.root) / cell.os.macros
        macros = {**mockconfig.simple_macros(macro_file.read_text(encoding="utf-8"),
                                             file=cell.os.macros), **self.macros}
        return mockconfig.render_config(
            cell, vendor_dist=cell.dist, macros=macros,
            core_configs_version=self.installed_core_configs(),
            bootstrap_image=self.bootstrap_image, extra_repos=self.extra_repos,
            template_repos=self.template_repos)

    def _cell(self, job: BuildJob, arch: str) -> Cell:
        for cell in self.matrix.cells:
            if (cell.os.id == job.os_id and cell.flavor_name == job.flavor
                    and cell.arch == arch and (not job.cells or cell.id in job.cells)):
                return cell
        raise PipelineError(f"{job.key}: no cell of {job.os_id} builds {arch}")

    # -- building -----------------------------------------------------------------------------

    def build(self, job: BuildJob, result_dir: Path, progress: Progress) -> BuildOutcome:
        outcome = BuildOutcome(ok=bool(job.arches), reason="" if job.arches else "no arch to build")
        for arch in job.arches:
            problem = self._arch_problem(job, arch)
            if problem is not None:
                return _failed(outcome, f"{arch} not buildable here: {problem}", arch)
        for arch in job.arches:
            if arch not in (self.host_arch, "noarch"):
                progress(job.key, f"{arch}: emulated with --forcearch (about 10x slower, "
                                  "needs qemu-user-static)")
            progress(job.key, f"mock {arch}")
            if not self._build_arch(job, arch, result_dir / arch, outcome):
                return outcome
        return outcome

    def write_config(self, cell: Cell) -> Path:
        """The cell's config at its stable path, rewritten only when its text changed."""
        text = self.config_text(cell)
        path = self.config_dir / f"{mockconfig.root_name(cell)}.cfg"
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            self.config_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".cfg.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
        return path

    def command(self, job: BuildJob, arch: str, config: Path, resultdir: Path) -> list[str]:
        argv = ["mock", "-r", str(config), "--rebuild", str(job.srpm),
                "--resultdir", str(resultdir), "--uniqueext", slug(job.key)]
        if self.configdir != DEFAULT_CONFIGDIR:
            argv += ["--configdir", str(self.configdir)]
        if arch != self.host_arch and arch != "noarch":
            argv += ["--forcearch", arch]
        if self.keep_roots:
            argv.append("--no-cleanup-after")
        return argv

    def _build_arch(self, job: BuildJob, arch: str, resultdir: Path, out: BuildOutcome) -> bool:
        cell = self._cell(job, arch)
        config = self.write_config(cell)
        resultdir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(config, resultdir / "mock-config.cfg")
        argv = self.command(job, arch, config, resultdir)
        out.commands.append(shell_line(argv))
        output_log = resultdir / "mock_output.log"
        done = cmd.run(argv, timeout=self.timeout, check=False, logfile=output_log)
        out.logs += [p for p in (resultdir / n for n in (*MOCK_LOGS, "mock_output.log"))
                     if p.is_file()]
        logs = {n: last_run(p.read_text(encoding="utf-8", errors="replace"))
                for n in MOCK_LOGS if (p := resultdir / n).is_file()}
        rpms = sorted(resultdir.glob("*.rpm"))
        binaries = [p for p in rpms if not p.name.endswith(".src.rpm")]
        if done.returncode == 0 and binaries:
            out.rpms += binaries
            out.srpm = out.srpm or next((p for p in rpms if p.name.endswith(".src.rpm")), None)
            return True
        reason = explain_exit(done.returncode) if done.returncode else \
            "mock exit 0 but no binary RPMs in the result folder"
        detail = failure_detail(done.returncode, logs, done.output)
        _failed(out, f"{arch}: {reason}" + (f": {detail}" if detail else ""), arch)
        log_name = _LOG_FOR_EXIT.get(done.returncode, "")
        out.log_tail = _tail(logs.get(log_name) or done.output)
        return False


def _failed(out: BuildOutcome, reason: str, arch: str) -> BuildOutcome:
    out.ok = False
    out.reason = reason
    out.failed_arch = arch
    return out


def _tail(text: str) -> str:
    return "\n".join(text.rstrip().splitlines()[-TAIL_LINES:])


def _in_group(name: str) -> bool:
    try:
        gid = grp.getgrnam(name).gr_gid
    except KeyError:
        return False
    return gid in os.getgroups() or gid == os.getgid()


def user_configs(home: Path | None = None) -> list[str]:
    """``path=<sha256>`` (or ``path=absent``) of the per-user configs mock always reads."""
    if home is None:
        home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    lines = []
    for rel in (".mock/user.cfg", ".config/mock.cfg"):
        path = home / rel
        digest = mockconfig.config_fingerprint(path.read_text(encoding="utf-8", errors="replace")
                                               ) if path.is_file() else "absent"
        lines.append(f"~/{rel}={digest}")
    return lines


def tool_versions_line(packages: Sequence[str]) -> str:
    """``rpm -q`` of ``packages`` (for reports); missing ones are marked with '?'."""
    parts = []
    for package in packages:
        done = cmd.run(["rpm", "-q", package], check=False)
        parts.append(done.stdout.strip() if done.returncode == 0 else f"{package}?")
    return " ".join(parts)


def from_options(options: object) -> MockBuilder:
    """The registry's factory (``builders.make_builder``).

    Needs the matrix (``options.matrix``), profiles applied.
    """
    workdir = Path(getattr(options, "workdir", Path(".cache")))
    matrix = getattr(options, "matrix", None)
    if not isinstance(matrix, Matrix):
        raise TypeError("the mock backend needs BackendOptions.matrix")
    return MockBuilder(matrix=matrix, config_dir=workdir / "mock" / "configs",
                       allow_emulation=bool(getattr(options, "forcearch", False)),
                       template_repos=bool(getattr(options, "mock_template_repos", False)))
