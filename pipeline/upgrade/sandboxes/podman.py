"""Container sandboxes: the scenario inside a container of the target OS's image.

In production the image is the target OS's own (bclinux7 runs yum, bclinux-euler dnf: they
treat Obsoletes differently); tests use a locally built image. The container starts detached
with ``sleep infinity``, no network, each repo folder mounted read-only under ``/vp-repos``;
the package manager, rpm and file access run through ``exec``; leaving removes the container
(``rm -f``) unless ``keep``. Podman on this kind of host needs runc, ``--network none`` and
ulimits at or under the host's hard limits: a private containers.conf passed through
``CONTAINERS_CONF`` sets them (notes/environment.md). Docker uses the same class.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from pipeline.core import cmd
from pipeline.core.cmd import Completed
from pipeline.core.errors import CommandFailed
from pipeline.upgrade.sandboxes.base import SandboxConfig, repo_file

MOUNT_ROOT = "/vp-repos"
REPO_FILE = "/etc/yum.repos.d/virt-pipeline.repo"
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
netns = "none"

[engine]
runtime = "runc"
"""


class Podman:
    """One container per scenario run."""

    kind = "podman"
    engine = "podman"

    def __init__(self, config: SandboxConfig) -> None:
        if not config.image:
            raise ValueError("a container sandbox needs an image")
        self.config = config
        self.image = config.image
        self.name = f"vp-upgrade-{uuid.uuid4().hex[:12]}"
        self.log = config.workdir / "commands.log"
        self.mounts = {name: f"{MOUNT_ROOT}/{name}" for name, loc in config.repos.items()
                       if "://" not in loc}

    @property
    def location(self) -> str:
        return f"{self.engine} container {self.name}"

    def _env(self) -> dict[str, str]:
        if self.engine != "podman":
            return {}
        conf = self.config.workdir / "containers.conf"
        if not conf.is_file():
            conf.parent.mkdir(parents=True, exist_ok=True)
            conf.write_text(CONTAINERS_CONF, encoding="utf-8")
        return {"CONTAINERS_CONF": str(conf)}

    def _engine(self, args: Sequence[str], *, check: bool = False,
                input: str | None = None) -> Completed:
        return cmd.run([self.engine, *args], env=self._env(), check=check, input=input,
                       timeout=self.config.timeout, logfile=self.log)

    def __enter__(self) -> Podman:
        cmd.require(self.engine)
        self.config.workdir.mkdir(parents=True, exist_ok=True)
        volumes: list[str] = []
        for name, target in self.mounts.items():
            volumes += ["-v", f"{Path(self.config.repos[name]).resolve()}:{target}:ro"]
        self._engine(["run", "-d", "--name", self.name, "--network", "none", *self._limits(),
                      *volumes, self.image, "sleep", "infinity"], check=True)
        try:
            self.write_file(REPO_FILE, repo_file(self.config.repos, mounts=self.mounts))
        except BaseException:
            self._remove()
            raise
        return self

    def _limits(self) -> list[str]:
        return ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self.config.keep:
            self._remove()

    def _remove(self) -> None:
        self._engine(["rm", "-f", "-t", "0", self.name])

    def exec(self, argv: Sequence[str], *, input: str | None = None) -> Completed:
        flags = ["-i"] if input is not None else []
        return self._engine(["exec", *flags, self.name, *argv], input=input)

    def package_manager(self, args: Sequence[str], *, repos: Sequence[str]) -> Completed:
        tool = self.config.package_manager
        enable = ",".join(f"vp-{name}" for name in repos)
        argv = [tool, "-y", "--disablerepo=*", f"--enablerepo={enable}"]
        if tool == "dnf":
            argv += ["--setopt=install_weak_deps=False", "--nogpgcheck"]
        return self.exec([*argv, *args])

    def rpm(self, args: Sequence[str]) -> Completed:
        return self.exec(["rpm", "--dbpath", "/var/lib/rpm", *args])

    def read_file(self, path: str) -> str | None:
        done = self.exec(["cat", path])
        return done.stdout if done.returncode == 0 else None

    def write_file(self, path: str, text: str) -> None:
        done = self.exec(["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", path],
                         input=text)
        if done.returncode != 0:
            raise CommandFailed(list(done.argv), done.returncode, done.output)

    def exists(self, path: str) -> bool:
        return self.exec(["test", "-e", path]).returncode == 0

    def run(self, argv: Sequence[str]) -> Completed:
        return self.exec(argv)


class Docker(Podman):
    """The same sandbox with the docker CLI (where docker is the engine)."""

    kind = "docker"
    engine = "docker"
