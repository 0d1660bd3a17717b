"""A fake ``mock`` for integration tests on hosts where mock cannot be installed.

It avoids the traps of shared notes koji-mock.md 7.4:

1. the config is loaded with :mod:`tests.support.mockloader` (mock's loading rules): a bad
   config exits 3, a bad command line or macro exits 5, and neither leaves logs in the resultdir;
2. logs are opened in append mode and start with ``Mock Version:``; an rpmbuild failure exits 1
   with logs and no RPMs; an unsatisfiable BuildRequires exits 30 (checked with
   ``rpm -q --whatprovides`` against a fixture rpm database, then by rpmbuild's own check);
3. the SRPM is really rebuilt (``rpmbuild -rs`` then ``-rb``) with the config's macros, so
   output names carry the config's ``%dist`` and real arches (noarch subpackages);
4. ``target_arch``/``legal_host_arches``/``--forcearch`` are honoured: emulation needs
   ``qemu-<arch>-static`` (exit 6 on Red Hat family hosts; elsewhere mock only warns and goes
   on, mock.py ``check_arch_combination``); mock hands ``--forcearch`` to the package manager,
   which yum (el7) does not have: chroot setup fails, exit 30;
5. ``--uniqueext`` renames the root and a ``buildroot.lock`` is held during the build (exit 60).

Not modelled (trap 6): stdin prompts, network and podman. Settings come from a JSON file next
to the installed wrapper: ``configdir``, ``basedir``, ``available`` (capabilities the chroot's
repositories provide, ``"name"`` or ``"name = version"``), ``qemu_dir``, ``host_arch``,
``rh_family`` (default true).

Command line as mock's ``parse_known_args``: an unknown option is not an error but one more
SRPM argument (which then cannot be opened: exit 1); an argparse error (an option missing its
value) exits 2.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tests.support import mockloader

VERSION = mockloader.MOCK_VERSION


class MockExit(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Settings:
    configdir: Path
    basedir: Path
    available: list[str]
    qemu_dir: Path
    host_arch: str
    rh_family: bool = True

    @classmethod
    def read(cls, path: Path | None) -> Settings:
        data: dict[str, Any] = json.loads(path.read_text()) if path and path.exists() else {}
        return cls(configdir=Path(data.get("configdir", "/etc/mock")),
                   basedir=Path(data.get("basedir", "/var/lib/mock")),
                   available=list(data.get("available", [])),
                   qemu_dir=Path(data.get("qemu_dir", "/usr/bin")),
                   host_arch=str(data.get("host_arch", platform.machine())),
                   rh_family=bool(data.get("rh_family", True)))


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own error: usage, exit 2
        raise MockExit(2, f"mock: error: {message}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="mock", add_help=False)
    parser.add_argument("-r", "--root", dest="chroot", default="default")
    parser.add_argument("--rebuild", dest="mode", action="store_const", const="rebuild")
    parser.add_argument("--resultdir")
    parser.add_argument("--uniqueext")
    parser.add_argument("--forcearch")
    parser.add_argument("--configdir")
    parser.add_argument("--no-cleanup-after", dest="cleanup", action="store_false", default=None)
    parser.add_argument("--isolation")
    parser.add_argument("-v", "--verbose", action="store_true")
    options, rest = parser.parse_known_args(argv)   # unknown options stay in ``rest``
    if options.isolation not in (None, "simple", "nspawn", "auto"):
        raise MockExit(5, f"bad --isolation value {options.isolation!r}")
    options.srpms = rest
    if options.mode != "rebuild" or not rest:
        raise MockExit(50, "this fake mock only does --rebuild SRPM")
    if len(rest) > 1 and not options.resultdir:
        raise MockExit(5, "several SRPMs need --resultdir")
    return options


class Logs:
    """build.log, root.log and state.log in the resultdir, opened for appending."""

    def __init__(self, resultdir: Path) -> None:
        self.files: dict[str, IO[str]] = {
            name: (resultdir / f"{name}.log").open("a", encoding="utf-8")
            for name in ("state", "build", "root")}
        for name in self.files:
            self.write(name, f"Mock Version: {VERSION}")

    def write(self, name: str, message: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        prefix = {"state": f"{stamp},000 - ", "root": "INFO fakemock.py:1:  ", "build": ""}
        for line in message.rstrip("\n").splitlines() or [""]:
            self.files[name].write(prefix[name] + line + "\n")
        self.files[name].flush()

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()


def main(argv: list[str], *, settings_file: Path | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    settings = Settings.read(settings_file)
    try:
        return _run(argv, settings)
    except MockExit as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return exc.code
    except (mockloader.ConfigError, mockloader.BadCmdline) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # mock: any unhandled exception exits 1
        print(f"ERROR: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _run(argv: list[str], settings: Settings) -> int:
    options = parse_args(argv)
    configdir = Path(options.configdir) if options.configdir else settings.configdir
    opts = mockloader.load_config(configdir, options.chroot)
    mockloader.check_config(opts)
    config = mockloader.expand_all(opts)  # a jinja error surfaces here: exit 1, as in mock
    if options.uniqueext:
        config["root"] = f"{config['root']}-{options.uniqueext}"
    _check_arch(config, options.forcearch, settings)
    chroot = settings.basedir / config["root"]
    chroot.mkdir(parents=True, exist_ok=True)
    resultdir = _resultdir(options.resultdir, settings.basedir, config)
    with _locked(chroot / "buildroot.lock"):
        logs = Logs(resultdir)
        try:
            for srpm in options.srpms:      # an unknown option lands here as an "SRPM"
                _check_srpm(Path(srpm))
            return _rebuild(Path(options.srpms[0]), config, chroot, resultdir, logs, settings)
        finally:
            logs.close()
            if options.cleanup is not False:
                shutil.rmtree(chroot / "root", ignore_errors=True)


def _check_arch(config: dict[str, Any], forcearch: str | None, settings: Settings) -> None:
    target = str(config["target_arch"])
    legal = tuple(config.get("legal_host_arches", ()))
    if not forcearch and settings.host_arch not in legal:
        forcearch = target  # mock switches to forcearch silently
    if forcearch:
        qemu = settings.qemu_dir / f"qemu-{forcearch}-static"
        if not qemu.exists():
            if settings.rh_family:
                raise MockExit(6, f"The --forcearch={forcearch} feature requires the {qemu} "
                                  "file to be installed (typically qemu-user-static* package)")
            logging.warning("Mock with --forcearch=%s will likely fail with missing %s",
                            forcearch, qemu)
        config["macros"]["%_platform_multiplier"] = "10"
        config["__forcearch"] = forcearch


def _resultdir(option: str | None, basedir: Path, config: dict[str, Any]) -> Path:
    path = Path(option).expanduser() if option else basedir / config["root"] / "result"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MockExit(70, f"Result dir {path} not accessible: {exc}") from exc
    return path


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise MockExit(60, "Build root is locked by another process.") from exc
        yield


def _rebuild(srpm: Path, config: dict[str, Any], chroot: Path, resultdir: Path, logs: Logs,
             settings: Settings) -> int:
    _check_srpm(srpm)
    root = chroot / "root"
    topdir = root / "builddir" / "build"
    topdir.mkdir(parents=True, exist_ok=True)
    logs.write("state", "Start: chroot init")
    if config.get("__forcearch") and config.get("package_manager") == "yum":
        logs.write("root", f"Executing command: ['/usr/bin/yum', '--forcearch', "
                           f"'{config['__forcearch']}', 'install', ...]\n"
                           "Command line error: no such option: --forcearch")
        raise MockExit(30, "Command failed: /usr/bin/yum --forcearch ... install")
    db = _init_buildroot_db(root, settings.available, logs)
    logs.write("root", f"Installing chroot setup: {config['chroot_setup_cmd']}")
    logs.write("state", "Finish: chroot init")
    logs.write("state", "Start: rpmbuild " + srpm.name)
    defines = _defines(config, topdir)
    rebuilt = _rpmbuild(["-rs", str(srpm)], defines, db, logs, topdir / "SRPMS")
    _check_buildrequires(rebuilt, db, logs)
    _rpmbuild(["-rb", str(rebuilt), "--target", str(config["target_arch"])], defines, db, logs,
              None)
    for rpm in [*sorted((topdir / "RPMS").rglob("*.rpm")), rebuilt]:
        shutil.copy2(rpm, resultdir / rpm.name)
    (resultdir / "hw_info.log").write_text(f"CPU info: {settings.host_arch}\n")
    (resultdir / "installed_pkgs.log").write_text("fakemock-buildroot-1-1.noarch\n")
    logs.write("state", "Finish: rpmbuild " + srpm.name)
    return 0


def _check_srpm(srpm: Path) -> None:
    if not srpm.is_file():
        raise MockExit(1, f"Cannot find/open srpm: {srpm}")
    out = subprocess.run(["rpm", "-qp", "--qf", "%{SOURCERPM}", str(srpm)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0 or out.stdout.strip() != "(none)":
        raise MockExit(1, f"File is not an srpm: {srpm}")


def _defines(config: dict[str, Any], topdir: Path) -> list[str]:
    args: list[str] = []
    for name, value in config["macros"].items():
        if value is None or name == "%_topdir":
            continue
        args += ["--define", f"{name.lstrip('%')} {value}"]
    return [*args, "--define", f"_topdir {topdir}"]


def _init_buildroot_db(root: Path, available: list[str], logs: Logs) -> Path:
    """An rpm database holding one package that provides what the fixture repos offer."""
    work = root / "var" / "tmp" / "fakemock"
    work.mkdir(parents=True, exist_ok=True)
    provides = "".join(f"Provides: {cap}\n" for cap in available)
    spec = work / "buildroot.spec"
    spec.write_text(
        "Name: fakemock-buildroot\nVersion: 1\nRelease: 1\nSummary: fake chroot content\n"
        f"License: MIT\nBuildArch: noarch\n{provides}%description\nfake\n%files\n")
    _quiet(["rpmbuild", "-bb", "--define", f"_topdir {work}", str(spec)], logs)
    db = root / "var" / "lib" / "rpm"
    db.mkdir(parents=True, exist_ok=True)
    _quiet(["rpm", "--dbpath", str(db), "--initdb"], logs)
    package = next((work / "RPMS" / "noarch").glob("*.rpm"))
    _quiet(["rpm", "--dbpath", str(db), "-i", "--justdb", "--nodeps", "--force-debian",
            str(package)], logs)
    return db


def _quiet(argv: list[str], logs: Logs) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        logs.write("root", done.stdout + done.stderr)
        raise MockExit(20, f"chroot setup failed: {' '.join(argv)}")


def _check_buildrequires(srpm: Path, db: Path, logs: Logs) -> None:
    out = subprocess.run(["rpm", "-qp", "--requires", str(srpm)],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.strip() else ""
        if not name or name.startswith("rpmlib("):
            continue
        found = subprocess.run(["rpm", "--dbpath", str(db), "-q", "--whatprovides", name],
                               capture_output=True, text=True, check=False)
        logs.write("root", f"Checking BuildRequires {line.strip()}: {found.stdout.strip()}")
        if found.returncode != 0:
            logs.write("root", f"No matching package to install: '{line.strip()}'")
            logs.write("root", "Error: Not all dependencies satisfied")
            raise MockExit(30, "Failed to install BuildRequires: "
                           f"No matching package to install: '{line.strip()}'")


def _rpmbuild(args: list[str], defines: list[str], db: Path, logs: Logs,
              srpm_dir: Path | None) -> Path:
    argv = ["rpmbuild", *args, *defines, "--dbpath", str(db)]
    logs.write("build", "Executing command: " + " ".join(argv))
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    logs.write("build", done.stdout + done.stderr)
    if done.returncode != 0:
        if "Failed build dependencies" in done.stderr:
            logs.write("root", done.stderr)
            raise MockExit(30, "Failed to install BuildRequires (version not satisfiable)")
        logs.write("build", "Child return code was: 1")
        raise MockExit(1, "Command failed: rpmbuild " + " ".join(args[:1]))
    if srpm_dir is None:
        return Path()
    built = re.findall(r"^Wrote: (\S+\.src\.rpm)$", done.stdout, re.MULTILINE)
    if len(built) != 1:
        raise MockExit(40, "Expected exactly one rebuilt SRPM")
    return Path(built[0])
