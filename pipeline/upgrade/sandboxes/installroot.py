"""The embedded default sandbox: an empty root populated by the package manager.

dnf runs with ``--installroot`` inside private mount, pid and network namespaces (``unshare
--mount --pid --net --fork``), so nothing reaches the host's rpm database or the network: the
repos are local folders. Debian's rpm keeps its database under ``~/.rpmdb``; dnf reloads the
rpm configuration, so it runs with ``HOME`` set to a folder whose ``.rpmmacros`` says
``%_dbpath /var/lib/rpm`` (see notes/environment.md). On an RPM host the OS's own tool is used
(yum for el7 roots when it is installed), with a private yum.conf and repo file.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from pipeline.core import cmd
from pipeline.core.cmd import Completed
from pipeline.upgrade.sandboxes.base import SandboxConfig, repo_file, repo_url

UNSHARE = ("unshare", "--mount", "--pid", "--net", "--fork", "--kill-child")


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
        cmd.require("unshare")
        for folder in (self.root, self.home, self.cache):
            if folder.exists():
                shutil.rmtree(folder)
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

    def package_manager(self, args: Sequence[str], *, repos: Sequence[str]) -> Completed:
        argv = [*UNSHARE, *self.command(args, repos=repos)]
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
        argv = ["rpm", "--root", str(self.root), "--dbpath", "/var/lib/rpm", *args]
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
        full = [*UNSHARE, "--root", str(self.root), *argv]
        return cmd.run(full, env=self._env(), check=False, timeout=self.config.timeout,
                       logfile=self.log)


def _tool(wanted: str) -> str:
    """The OS's own package manager when this host has it, else dnf (Debian hosts)."""
    if wanted == "yum" and cmd.which("yum"):
        return "yum"
    return "dnf"
