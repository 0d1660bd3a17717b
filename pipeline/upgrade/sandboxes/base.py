"""What every upgrade sandbox offers: an isolated root where a package manager runs.

A sandbox is a context manager: entering creates the root (an empty installroot, a container),
leaving ALWAYS removes it, unless ``keep=True`` (``--keep-sandbox``) asks to leave it for
debugging. Repositories are named host folders (or URLs) fixed at creation, so that container
sandboxes can mount them. Every method returns what the tool printed; checks read observed
state only (the rpm database, files on disk), never exit codes alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol

from pipeline.core.cmd import Completed

#: rpm -qa format used by every sandbox: name, epoch (or "(none)"), version, release, arch
QF = "%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n"


@dataclass(frozen=True)
class SandboxConfig:
    """Options shared by every sandbox kind."""

    workdir: Path  # scratch folder owned by this sandbox (logs, caches, the root itself)
    repos: Mapping[str, str] = field(default_factory=dict)  # name -> folder or URL
    package_manager: str = "dnf"  # "dnf" | "yum": the tool the target OS runs
    image: str | None = None  # container sandboxes: the image reference
    keep: bool = False  # leave the root/container for debugging
    timeout: float = 900.0


class Sandbox(Protocol):
    """An isolated root for one upgrade scenario."""

    kind: str
    config: SandboxConfig

    def __enter__(self) -> Sandbox: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    @property
    def location(self) -> str:
        """Where the root lives (a path, a container name), for messages and --keep."""
        ...

    def package_manager(self, args: Sequence[str], *, repos: Sequence[str]) -> Completed:
        """Run the package manager (``-y`` implied) with only ``repos`` enabled; never raises
        on a non-zero exit."""
        ...

    def rpm(self, args: Sequence[str]) -> Completed:
        """Run ``rpm`` against the root's database; never raises on a non-zero exit."""
        ...

    def read_file(self, path: str) -> str | None:
        """The text of ``path`` inside the root, or None when it does not exist."""
        ...

    def write_file(self, path: str, text: str) -> None: ...

    def exists(self, path: str) -> bool: ...

    def run(self, argv: Sequence[str]) -> Completed:
        """Run a command inside the root (its own /bin/sh and tools); never raises."""
        ...


def repo_url(location: str) -> str:
    """A repo given as a folder becomes a file:// URL; URLs pass through."""
    if "://" in location:
        return location
    return Path(location).resolve().as_uri()


def repo_file(repos: Mapping[str, str], *, mounts: Mapping[str, str] | None = None) -> str:
    """A yum/dnf ``.repo`` file enabling ``repos`` (folders mapped through ``mounts``)."""
    parts = []
    for name, location in repos.items():
        url = repo_url(mounts[name]) if mounts and name in mounts else repo_url(location)
        parts.append(f"[vp-{name}]\nname=virt-pipeline {name}\nbaseurl={url}\n"
                     "enabled=0\ngpgcheck=0\nrepo_gpgcheck=0\nskip_if_unavailable=0\n")
    return "\n".join(parts)
