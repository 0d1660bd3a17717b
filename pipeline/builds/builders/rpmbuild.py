"""The local backend (the embedded default): ``rpmbuild --rebuild`` on this host.

The SRPM is rebuilt with the cell's ``%dist`` and the OS's macro files in a private topdir.
BuildRequires stay checked: against the host's rpm database on an RPM host, or, on Debian,
against a private database holding a package that Provides what the host really has
(:mod:`.hostdeps`). ``skip_deps`` turns the check off, loudly. Only the host's own arch is
built: ``--target`` only relabels, so other arches are reported as not buildable here.
On a non-RPM host, auto-requires that describe this host's ABI (python(abi), Debian's
libvirt symbol versions) are filtered: they would name the build host, not the target.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import shutil
import time
from pathlib import Path

from pipeline.builds.builders import hostdeps
from pipeline.builds.builders.base import BuildJob, BuildOutcome, Progress
from pipeline.core import cmd, files
from pipeline.core.errors import CommandFailed, shell_line

log = logging.getLogger("virt-pipeline.rpmbuild")

#: auto-requires naming the *build host* when building on a non-target (Debian) host
#: (backslashes doubled: rpm expands the macro once before compiling the regex)
FOREIGN_HOST_REQUIRES_EXCLUDE = r"^(python\\(abi\\)|libvirt(-qemu|-lxc)?\\.so\\.0)"


class RpmbuildBuilder:
    name = "local"

    def __init__(self, *, skip_deps: bool = False, timeout: float = 4 * 3600,
                 cache_dir: Path | None = None) -> None:
        self.skip_deps = skip_deps
        self.cache_dir = cache_dir
        self._host_fingerprint: str | None = None
        self.timeout = timeout
        self.foreign_host = not Path("/etc/redhat-release").exists() and not Path(
            "/etc/openEuler-release").exists()

    def check_available(self) -> None:
        for tool in ("rpmbuild", "rpm"):
            cmd.require(tool)

    def buildable_arches(self, job: BuildJob) -> tuple[str, ...]:
        host = platform.machine()
        return tuple(a for a in job.arches if a == host)

    def settings_fingerprint(self, job: BuildJob) -> str:
        """Host facts, probed once per run (they do not vary between jobs)."""
        if self._host_fingerprint is None:
            self._host_fingerprint = self._probe_host()
        return self._host_fingerprint

    def _probe_host(self) -> str:
        rpm_version = cmd.run(["rpmbuild", "--version"]).stdout.strip()
        found = hostdeps.provides(sorted(hostdeps.PROBES))
        return "\n".join([self.name, rpm_version, platform.machine(),
                          f"skip_deps={self.skip_deps}", f"foreign={self.foreign_host}",
                          FOREIGN_HOST_REQUIRES_EXCLUDE if self.foreign_host else "",
                          hostdeps.host_macros() if self.foreign_host else "",
                          *(f"{k}={v}" for k, v in sorted(found.items()))])

    def argv(self, job: BuildJob, topdir: Path, host_macros: Path | None,
             dbpath: Path | None) -> list[str]:
        argv = ["rpmbuild", "--rebuild", "--define", f"_topdir {topdir.resolve()}",
                "--define", f"dist {job.dist}", "--define", "debug_package %{nil}"]
        for macros in (*job.macros, *([host_macros] if host_macros else [])):
            argv += ["--load", str(macros.resolve())]
        if self.foreign_host:
            argv += ["--define", f"__requires_exclude {FOREIGN_HOST_REQUIRES_EXCLUDE}"]
        if self.skip_deps:
            argv.append("--nodeps")
        elif dbpath is not None:
            argv += ["--dbpath", str(dbpath.resolve())]
        return [*argv, str(job.srpm.resolve())]

    def build(self, job: BuildJob, result_dir: Path, progress: Progress) -> BuildOutcome:
        work = result_dir / "work"
        work.mkdir(parents=True, exist_ok=True)
        logs = result_dir / "logs"
        logs.mkdir(exist_ok=True)
        host_macros = dbpath = None
        if self.foreign_host:
            host_macros = work / "host.macros"
            host_macros.write_text(hostdeps.host_macros(), encoding="utf-8")
        if self.skip_deps:
            log.warning("%s: BuildRequires NOT checked (--skip-deps)", job.key)
        elif self.foreign_host:
            progress(job.key, "probing build host")
            dbpath = self._buildenv(job, work)
        argv = self.argv(job, work / "top", host_macros, dbpath)
        progress(job.key, "rpmbuild --rebuild")
        build_log = logs / "build.log"
        started = time.monotonic()
        try:
            cmd.run(argv, timeout=self.timeout, logfile=build_log)
        except CommandFailed as exc:
            return BuildOutcome(ok=False, commands=[shell_line(argv)], logs=[build_log],
                                reason=_reason(exc.output), failed_arch=platform.machine(),
                                log_tail=_tail(exc.output))
        log.info("%s: rpmbuild took %.1f s", job.key, time.monotonic() - started)
        return self._collect(job, work / "top", result_dir, argv, build_log)

    def _buildenv(self, job: BuildJob, work: Path) -> Path:
        """The build-environment rpm database, cached by what it provides."""
        found = hostdeps.provides(_buildrequires_of(job.srpm))
        if self.cache_dir is None:
            return hostdeps.make_buildenv_db(work / "rpmdb", found, work)
        digest = hashlib.sha256(repr(sorted(found.items())).encode()).hexdigest()[:16]
        cached = self.cache_dir / digest
        root = self.cache_dir.parent  # .cache: rpm and rpmbuild write nowhere outside it
        if not cached.exists() and not cached.is_symlink():
            tmp = files.fresh_dir(self.cache_dir, root, prefix=f".{digest}-")
            hostdeps.make_buildenv_db(tmp / "rpmdb", found, tmp)
            try:
                os.replace(tmp, cached)  # first writer wins; a racing one is discarded
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
        return files.tool_dir(cached, root) / "rpmdb"  # rpm may write lock/journal files there

    def _collect(self, job: BuildJob, top: Path, result_dir: Path, argv: list[str],
                 build_log: Path) -> BuildOutcome:
        rpms_dir = result_dir / "rpms"
        rpms_dir.mkdir(exist_ok=True)
        rpms = []
        for rpm in sorted((top / "RPMS").rglob("*.rpm")):
            rpms.append(Path(shutil.move(str(rpm), rpms_dir / rpm.name)))
        shutil.rmtree(result_dir / "work", ignore_errors=True)
        if not rpms:
            return BuildOutcome(ok=False, logs=[build_log], commands=[shell_line(argv)],
                                reason="rpmbuild succeeded but produced no RPMs")
        return BuildOutcome(ok=True, rpms=rpms, srpm=job.srpm, logs=[build_log],
                            commands=[shell_line(argv)])


def _buildrequires_of(srpm: Path) -> list[str]:
    done = cmd.run(["rpm", "-qp", "--requires", str(srpm)])
    names = []
    for line in done.stdout.splitlines():
        name = line.split()[0] if line.strip() else ""
        if name and not name.startswith("rpmlib("):
            names.append(name)
    return sorted(set(names))


def _reason(output: str) -> str:
    for line in output.splitlines():
        if "Failed build dependencies" in line:
            missing = [x.strip() for x in output.split("Failed build dependencies:", 1)[1]
                       .splitlines() if "is needed by" in x]
            return "missing BuildRequires: " + ", ".join(m.split(" is needed")[0] for m in missing)
    errors = [line for line in output.splitlines() if line.startswith(("error:", "    "))]
    return (errors[-1].strip() if errors else "rpmbuild failed")[:300]


def _tail(output: str, lines: int = 25) -> str:
    return "\n".join(output.rstrip().splitlines()[-lines:])


def from_options(options: object) -> RpmbuildBuilder:
    workdir = Path(getattr(options, "workdir", Path(".cache")))
    return RpmbuildBuilder(skip_deps=bool(getattr(options, "skip_deps", False)),
                           cache_dir=workdir / "buildenv")
