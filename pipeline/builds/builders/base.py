"""The interface every build backend satisfies, and the data passed across it.

The planner (pure) decides *what* to build and hands each backend one :class:`BuildJob` at a
time with a private result folder; the backend turns the job's SRPM into RPMs there and says
what happened in a :class:`BuildOutcome`. Backends never decide order, caching or skipping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class BuildJob:
    """One build: a package for one (OS release, flavor) on the arches the backend may build."""

    key: str                 # stable id, e.g. "bclinux7/libvirt-python" or "bclinux7+hygon/qemu"
    os_id: str
    flavor: str | None
    package: str
    nvr: str                 # name-version-release of the SRPM, with the cell's dist
    srpm: Path
    spec: Path
    dist: str                # the full %dist, e.g. ".oe2203.bclinux"
    arches: tuple[str, ...]  # RPM arches wanted (cells of this OS/flavor)
    cells: tuple[str, ...]   # cell ids this build serves
    macros: tuple[Path, ...] # OS macro files (used where the build root lacks them)
    koji_target: str
    koji_channel: str | None
    scratch: bool = False
    arch_override: tuple[str, ...] = ()
    wait_for: tuple[str, ...] = ()  # NVRs that must be in the build root first (libvirt-devel)


@dataclass
class BuildOutcome:
    """What a backend did; ``ok`` only when every wanted arch produced packages."""

    ok: bool
    rpms: list[Path] = field(default_factory=list)
    srpm: Path | None = None
    logs: list[Path] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)   # copy-pasteable lines run
    task_ids: list[int] = field(default_factory=list)   # koji
    reason: str = ""                                     # why it failed (one line)
    failed_arch: str | None = None
    log_tail: str = ""


#: progress callback: (job key, short status text)
Progress = Callable[[str, str], None]


class Builder(Protocol):
    """A build backend (``builders/{rpmbuild,mock,koji}.py``)."""

    name: str

    def check_available(self) -> None:
        """Raise ToolMissing (exit 3) naming exactly what is missing."""

    def buildable_arches(self, job: BuildJob) -> tuple[str, ...]:
        """The arches of ``job`` this backend can really build here (others are reported)."""

    def settings_fingerprint(self, job: BuildJob) -> str:
        """A stable text of every backend setting and build-root input that affects the result
        (mock config text, koji target and profile, host rpm version...): part of the cache key."""

    def build(self, job: BuildJob, result_dir: Path, progress: Progress) -> BuildOutcome:
        """Build ``job`` into ``result_dir`` (created, empty). Never raise for a failed build:
        return ``BuildOutcome(ok=False, reason=...)``; raise only for a missing tool/service."""
