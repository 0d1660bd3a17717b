"""The embedded default sandbox: an empty root populated by the package manager.

Every command that runs package code (dnf/yum with ``--installroot``, ``rpm -V``/``-q`` on
the root, scriptlets, triggers, ``%verifyscript``) runs inside a bubblewrap cage (:func:`cage`):
private mount, pid, network, ipc and uts namespaces; the host's file system read-only but for
the sandbox's own work folder; a private ``/dev`` with only the harmless nodes (null, zero,
random, tty...); a private ``/proc`` in which pid 1 is the cage's own; and the capabilities
cut down to those rpm needs to install files (chown, file modes, chroot for scriptlets): no
CAP_MKNOD, no CAP_SYS_ADMIN (mount), no CAP_NET_*, no CAP_SYS_PTRACE, no CAP_KILL. A scriptlet
cannot make a device node for a host disk, mount anything, write a host file (through ``..``,
a chroot escape or ``/proc/1/root``), see or signal a host process, or reach the host's
network. The repos are local folders. Debian's rpm keeps its database under ``~/.rpmdb``;
dnf reloads the rpm configuration, so it runs with ``HOME`` set to a folder whose
``.rpmmacros`` says ``%_dbpath /var/lib/rpm`` (see notes/environment.md). On an RPM host the
OS's own tool is used (yum for el7 roots when it is installed), with a private yum.conf and
repo file.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from pipeline.core import cmd, files
from pipeline.core.cmd import Completed
from pipeline.upgrade.sandboxes.base import SandboxConfig, repo_file, repo_url

#: what rpm needs as root to unpack and own files and chroot for scriptlets; nothing more
CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_SETUID", "CAP_SETGID", "CAP_SETFCAP", "CAP_SYS_CHROOT")
_NAMESPACES = ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
               "--unshare-cgroup-try", "--die-with-parent", "--new-session")


def cage(*, writable: Sequence[Path] = (), root: Path | None = None) -> list[str]:
    """The bwrap prefix: with ``root``, that folder is ``/``; else the host read-only with
    ``writable`` folders bound read-write (the package manager drives an ``--installroot``)."""
    argv = ["bwrap", *_NAMESPACES, "--cap-drop", "ALL"]
    for cap in CAPS:
        argv += ["--cap-add", cap]
    if root is not None:
        argv += ["--bind", str(root), "/"]
    else:
        argv += ["--ro-bind", "/", "/"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/run"]
    for folder in writable:
        argv += ["--bind", str(folder), str(folder)]
    return argv


class InstallRoot:
    """A throw-away ``--installroot`` under ``config.workdir``."""

    kind = "installroot"

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.root = config.workdir / "root"
        self.home = config.workdir / "home"
        self.cache = config.workdir / "cache"
        self.log = config.workdir / "commands.log"
        self.tool = _tool(config.package_manager)

    @property
    def location(self) -> str:
        return str(self.root)

    def __enter__(self) -> InstallRoot:
        cmd.require("bwrap")
        for folder in (self.root, self.home, self.cache):
            files.remove_tree(folder, self.config.workdir)  # a root left by a killed run
            folder.mkdir(parents=True)
        (self.home / ".rpmmacros").write_text("%_dbpath /var/lib/rpm\n", encoding="utf-8")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.config.keep:
            return
        for folder in (self.root, self.cache, self.home):
            shutil.rmtree(folder, ignore_errors=True)

    def _env(self) -> dict[str, str]:
        return {"HOME": str(self.home)}

    def _cage(self) -> list[str]:
        work = self.config.workdir.resolve()
        repos = [Path(p).resolve() for p in self.config.repos.values()]
        argv = cage(writable=[work])
        for repo in repos:  # the repos, read-only even when they live in the work folder
            if repo.is_dir():
                argv += ["--ro-bind", str(repo), str(repo)]
        return argv

    def package_manager(self, args: Sequence[str], *, repos: Sequence[str]) -> Completed:
        argv = [*self._cage(), *self.command(args, repos=repos)]
        return cmd.run(argv, env=self._env(), check=False, timeout=self.config.timeout,
                       logfile=self.log)

    def command(self, args: Sequence[str], *, repos: Sequence[str]) -> list[str]:
        """The bare package-manager command line (without the namespace wrapper)."""
        if self.tool == "yum":
            return self._yum(args, repos=repos)
        argv = [self.tool, "-y", f"--installroot={self.root}", "--releasever=1",
                "--setopt=reposdir=/dev/null", f"--setopt=cachedir={self.cache}",
                "--setopt=install_weak_deps=False", "--setopt=keepcache=False",
                "--nogpgcheck", "--disableplugin=*"]
        for name in repos:
            argv.append(f"--repofrompath={name},{repo_url(self.config.repos[name])}")
        return argv + list(args)

    def _yum(self, args: Sequence[str], *, repos: Sequence[str]) -> list[str]:
        reposdir = self.config.workdir / "yum.repos.d"
        reposdir.mkdir(exist_ok=True)
        (reposdir / "vp.repo").write_text(repo_file(self.config.repos), encoding="utf-8")
        conf = self.config.workdir / "yum.conf"
        conf.write_text(f"[main]\ncachedir={self.cache}\nreposdir={reposdir}\nkeepcache=0\n"
                        "gpgcheck=0\nplugins=0\n", encoding="utf-8")
        enable = ",".join(f"vp-{name}" for name in repos)
        return ["yum", "-y", "-c", str(conf), f"--installroot={self.root}", "--releasever=7",
                "--disablerepo=*", f"--enablerepo={enable}", *args]

    def rpm(self, args: Sequence[str]) -> Completed:
        argv = [*self._cage(), "rpm", "--root", str(self.root), "--dbpath", "/var/lib/rpm",
                *args]
        return cmd.run(argv, env=self._env(), check=False, timeout=self.config.timeout,
                       logfile=self.log)

    def _host_path(self, path: str) -> Path | None:
        """``path`` inside the root as a host path; None when a link points out of the root."""
        candidate = self.root / path.lstrip("/")
        resolved = Path(os.path.realpath(candidate))
        root = Path(os.path.realpath(self.root))
        if resolved != root and root not in resolved.parents:
            return None
        return resolved

    def read_file(self, path: str) -> str | None:
        host = self._host_path(path)
        if host is None or not host.is_file():
            return None
        return host.read_text(encoding="utf-8", errors="replace")

    def write_file(self, path: str, text: str) -> None:
        host = self._host_path(path)
        if host is None:
            raise ValueError(f"{path} leaves the sandbox root")
        host.parent.mkdir(parents=True, exist_ok=True)
        host.write_text(text, encoding="utf-8")

    def exists(self, path: str) -> bool:
        host = self._host_path(path)
        return host is not None and (host.exists() or host.is_symlink())

    def run(self, argv: Sequence[str]) -> Completed:
        full = [*cage(root=self.root.resolve()), *argv]
        return cmd.run(full, env=self._env(), check=False, timeout=self.config.timeout,
                       logfile=self.log)


def _tool(wanted: str) -> str:
    """The OS's own package manager when this host has it, else dnf (Debian hosts)."""
    if wanted == "yum" and cmd.which("yum"):
        return "yum"
    return "dnf"
