"""Results of the QEMU self-test, the machine-type constants, and the pure helpers that read QEMU's
output.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.errors import CommandFailed

RHEL7_MACHINES: tuple[str, ...] = (
    *(f"pc-i440fx-rhel7.{n}.0" for n in range(7)),
    *(f"pc-q35-rhel7.{n}.0" for n in range(3, 7)),
)
#: Upstream machine type that must keep the 6.1+ PS/2 state (extended-state=true).


CURRENT_MACHINE = "pc-i440fx-6.2"
#: Name of the single result that stands for the legacy checks when they are skipped.


LEGACY_SKIPPED = "legacy-migration"
#: Run state of a guest started with ``-S`` and never continued.  The stream's last section
#: (``globalstate``) carries it, so a destination that loaded everything reports it too, while
#: one that stopped reading early (a misparsed section can look like the end of the stream)
#: falls back to ``paused``.


SAVED_RUNSTATE = "prelaunch"
#: A file name part that identifies the server-mode reconnect fix in the series.


FIX_PATCH_MARK = "never-arm-reconnect"


@dataclass(frozen=True)
class SelftestResult:
    """One check: a stable name, whether it passed, and what was observed."""

    name: str
    passed: bool
    detail: str
    skipped: bool = False  # not run (counts as passed); printed as SKIP


def parse_machine_help(text: str) -> dict[str, str]:
    """Map machine name -> description from ``qemu-system-* -machine help`` output."""
    machines: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("Supported machines"):
            continue
        name, _, desc = line.strip().partition(" ")
        machines[name] = desc.strip()
    return machines


def default_machine(machines: dict[str, str]) -> str | None:
    """The machine marked ``(default)`` in parsed ``-machine help`` output."""
    for name, desc in machines.items():
        if desc.endswith("(default)"):
            return name
    return None


def alias_target(machines: dict[str, str], alias: str) -> str | None:
    """What ``alias`` (e.g. ``pc``) points to, from parsed ``-machine help`` output."""
    found = re.search(r"\(alias of ([^)]+)\)", machines.get(alias, ""))
    return found.group(1) if found else None


def qtree_property(qtree: str, device: str, prop: str) -> str | None:
    """The value of ``prop`` of the first ``dev: device`` block of ``info qtree`` text."""
    lines = qtree.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"\s*dev: {re.escape(device)}(,|$)", line):
            indent = len(line) - len(line.lstrip())
            for inner in lines[i + 1:]:
                if inner.strip() and len(inner) - len(inner.lstrip()) <= indent:
                    break
                found = re.match(rf"\s*{re.escape(prop)} = (\S+)", inner)
                if found:
                    return found.group(1).strip('"')
    return None


def qtree_has_device(qtree: str, device: str) -> bool:
    """Whether ``info qtree`` text lists a ``dev: device`` node."""
    return re.search(rf"^\s*dev: {re.escape(device)}(,|$)", qtree, re.MULTILINE) is not None


def find_fix_patch(series: Sequence[Path]) -> Path | None:
    """The patch of the series that keeps listening sockets from reconnecting."""
    for path in series:
        if FIX_PATCH_MARK in path.name:
            return path
    return None


def series_stamp(series: Sequence[Path]) -> str:
    """A digest of the series (names and contents) to decide whether a workdir is reusable."""
    digest = hashlib.sha256()
    for path in series:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def format_result(result: SelftestResult) -> str:
    """``PASS name``, ``FAIL name: detail`` or ``SKIP name: detail``."""
    if result.skipped:
        return f"SKIP {result.name}: {result.detail}"
    return f"PASS {result.name}" if result.passed else f"FAIL {result.name}: {result.detail}"


def format_results(results: Sequence[SelftestResult]) -> list[str]:
    """One line per result (see :func:`format_result`)."""
    return [format_result(r) for r in results]


def common_machines(ours: dict[str, str], legacy: dict[str, str]) -> list[str]:
    """The BC-Linux 7 machine types both parsed ``-machine help`` outputs list, in order."""
    return [m for m in RHEL7_MACHINES if m in ours and m in legacy]


def incoming_loaded(status: dict[str, Any]) -> bool:
    """Whether ``query-status`` shows the source's run state, received with the last section."""
    return status.get("status") == SAVED_RUNSTATE and not status.get("running")


def failure_detail(what: str, exc: Exception, stderr_tail: str) -> str:
    """``what: exc; stderr`` without repeating a stderr tail the exception already quotes."""
    text = str(exc)
    return f"{what}: {text}" if stderr_tail and stderr_tail in text else \
        f"{what}: {text}; {stderr_tail}"


def exit_code(results: Sequence[SelftestResult]) -> int:
    return 0 if results and all(r.passed for r in results) else 1


def step(name: str, action: Callable[[], object]) -> SelftestResult:
    """Run a preparation step; a failed command becomes a FAIL result with its output tail."""
    try:
        action()
    except CommandFailed as exc:
        tail = " | ".join(exc.output.strip().splitlines()[-5:])
        return SelftestResult(name, False, f"exit {exc.returncode}: {tail}")
    return SelftestResult(name, True, "")
