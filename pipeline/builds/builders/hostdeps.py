"""What this host really has, as RPM capabilities, so a local build keeps its BuildRequires check.

On an RPM host the rpm database answers. On Debian it is empty, so each BuildRequires name is
probed the way the host provides it (a pkg-config module, an executable, Python headers or a
module) and a tiny "build environment" package that Provides exactly what was found is put in
a private rpm database (``rpm --justdb``); rpmbuild then checks BuildRequires against it and
fails, like on a real builder, on anything the host lacks (environment.md).
"""

from __future__ import annotations

import functools
import shutil
import sysconfig
from collections.abc import Callable
from pathlib import Path

from pipeline.core import cmd

Probe = Callable[[], "str | None"]  # the version found, "" when unversioned, None if absent


def _ask(argv: list[str]) -> cmd.Completed | None:
    """Run a probe; None when its program is absent."""
    if shutil.which(argv[0]) is None:
        return None
    return cmd.run(argv, check=False, timeout=60)


@functools.cache
def _python_facts(python: str) -> tuple[str, bool, frozenset[str]]:
    """(version, has headers, importable modules of interest) of ``python``, in one call;
    ("", False, {}) when it is absent. Probed once per process."""
    code = ("import sysconfig,os,sys,importlib.util as u;"
            "p=sysconfig.get_paths()['include'];"
            "print(sys.version.split()[0]);print(os.path.exists(p+'/Python.h'));"
            "print(' '.join(m for m in ('setuptools',) if u.find_spec(m)))")
    done = _ask([python, "-c", code])
    if done is None or done.returncode != 0:
        return "", False, frozenset()
    version, headers, modules = ([*done.stdout.splitlines(), "", "", ""])[:3]
    return version, headers == "True", frozenset(modules.split())


def _pkgconfig(module: str) -> Probe:
    def probe() -> str | None:
        done = _ask(["pkg-config", "--modversion", module])
        return done.stdout.strip() if done and done.returncode == 0 else None
    return probe


def _exe(name: str) -> Probe:
    return lambda: "" if shutil.which(name) else None


def _python_headers(python: str) -> Probe:
    def probe() -> str | None:
        version, headers, _ = _python_facts(python)
        return version if headers else None
    return probe


def _python_module(python: str, module: str) -> Probe:
    return lambda: "" if module in _python_facts(python)[2] else None


#: RPM BuildRequires names and how this host provides them. Python 3 names of every OS map to
#: the host's /usr/bin/python3 (the interpreter local builds use; see host_macros).
PROBES: dict[str, Probe] = {
    "libvirt-devel": _pkgconfig("libvirt"),
    "gcc": _exe("gcc"),
    "gcc-c++": _exe("g++"),
    "make": _exe("make"),
    "pkgconfig": _exe("pkg-config"),
    "python3-devel": _python_headers("/usr/bin/python3"),
    "python36-devel": _python_headers("/usr/bin/python3"),
    "python3-setuptools": _python_module("/usr/bin/python3", "setuptools"),
    "python36-setuptools": _python_module("/usr/bin/python3", "setuptools"),
    "python2-devel": _python_headers("python2.7"),
}


def provides(names: list[str]) -> dict[str, str]:
    """name -> version ("" when unversioned) for every name the host has."""
    found = {}
    for name in names:
        probe = PROBES.get(name)
        version = probe() if probe else None
        if version is not None:
            found[name] = version
    return found


def host_macros() -> str:
    """Macros that point a local build at this host's Python 3 (not the target's)."""
    found = _python_facts("/usr/bin/python3")[0]
    version = ".".join(found.split(".")[:2]) if found else sysconfig.get_python_version()
    return ("# written by virt-pipeline: local builds use this host's Python 3\n"
            f"%__python3 /usr/bin/python3\n%python3_version {version}\n")


def make_buildenv_db(dbpath: Path, found: dict[str, str], workdir: Path) -> Path:
    """A private rpm database holding one package that Provides what the host has."""
    spec = workdir / "buildenv.spec"
    lines = [f"Provides: {n} = {v}" if v else f"Provides: {n}" for n, v in sorted(found.items())]
    spec.write_text("\n".join([
        "Name: virt-pipeline-buildenv", "Version: 1", "Release: 1", "License: MIT",
        "Summary: what the build host provides", "BuildArch: noarch", *lines,
        "%description", "Capabilities of the local build host, probed by virt-pipeline.",
        "%files", ""]), encoding="utf-8")
    top = workdir / "buildenv-top"
    cmd.run(["rpmbuild", "-bb", "--define", f"_topdir {top.resolve()}", str(spec)])
    rpm_file = next((top / "RPMS" / "noarch").glob("*.rpm"))
    dbpath.mkdir(parents=True, exist_ok=True)
    cmd.run(["rpm", "--dbpath", str(dbpath.resolve()), "--initdb"])
    cmd.run(["rpm", "--dbpath", str(dbpath.resolve()), "-i", "--justdb", "--nodeps",
             "--force-debian", str(rpm_file)] if _is_debian() else
            ["rpm", "--dbpath", str(dbpath.resolve()), "-i", "--justdb", "--nodeps",
             str(rpm_file)])
    return dbpath


def _is_debian() -> bool:
    return Path("/etc/debian_version").exists()
