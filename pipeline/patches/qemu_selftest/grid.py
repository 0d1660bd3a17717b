"""The cross-version device grid: one row per machine type, device set, accelerator and
direction; the rows declared unsupported (``patches/qemu/unsupported-migrations.yaml``, also read
by the migration gate); the printed table and its counts.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import yamlsrc
from pipeline.patches.qemu_selftest.results import SelftestResult

#: The reviewed data files, next to the series in patches/qemu/.
ALLOW_LIST_FILE = "qtree-allow.yaml"
UNSUPPORTED_FILE = "unsupported-migrations.yaml"
#: Directions, named by the saving side first.
DIRECTIONS: tuple[str, ...] = ("2.12->6.2", "6.2->2.12")
ACCELS: tuple[str, ...] = ("tcg", "kvm")

PASS, FAIL, UNSUPPORTED, SKIP = "pass", "FAIL", "unsupported", "skip"


@dataclass(frozen=True)
class GridRow:
    """The outcome of one save/load pair.

    ``status`` is pass (loaded, no unexplained difference), FAIL, unsupported (failed, and
    declared so with a reason) or skip (not run, e.g. no usable /dev/kvm).
    """

    machine: str
    device_set: str
    accel: str
    direction: str
    status: str
    detail: str = ""


@dataclass(frozen=True)
class Unsupported:
    """A declared unsupported migration; each field but reason is a glob."""

    machine: str
    device_set: str
    direction: str
    accel: str
    reason: str

    def covers(self, machine: str, device_set: str, accel: str, direction: str) -> bool:
        return all(fnmatch.fnmatchcase(value, pattern) for value, pattern in (
            (machine, self.machine), (device_set, self.device_set),
            (direction, self.direction), (accel, self.accel)))


UNSUPPORTED_FIELDS = ("machine", "device_set", "direction", "accel", "reason")


def load_unsupported(path: Path) -> list[Unsupported]:
    """Read ``unsupported-migrations.yaml`` (``unsupported:`` list; all fields required)."""
    src = yamlsrc.load(path)
    entries = src.data.get("unsupported") if isinstance(src.data, dict) else None
    if not isinstance(entries, list):
        raise src.error("unsupported", "expected a list under 'unsupported'")
    declared: list[Unsupported] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise src.error(f"unsupported.{i}", "expected a mapping")
        for name in UNSUPPORTED_FIELDS:
            if not isinstance(entry.get(name), str) or not entry[name].strip():
                raise src.error(f"unsupported.{i}.{name}", "missing or empty")
        if entry["direction"] not in (*DIRECTIONS, "*"):
            raise src.error(f"unsupported.{i}.direction",
                            f"expected one of {', '.join(DIRECTIONS)} or *")
        declared.append(Unsupported(*(entry[name] for name in UNSUPPORTED_FIELDS)))
    return declared


def declared_reason(declared: Sequence[Unsupported], machine: str, device_set: str,
                    accel: str, direction: str) -> str | None:
    for entry in declared:
        if entry.covers(machine, device_set, accel, direction):
            return entry.reason
    return None


def classify(machine: str, device_set: str, accel: str, direction: str, failure: str,
             declared: Sequence[Unsupported]) -> GridRow:
    """A row from what one pair showed: ``failure`` is '' when it loaded cleanly."""
    if not failure:
        return GridRow(machine, device_set, accel, direction, PASS)
    reason = declared_reason(declared, machine, device_set, accel, direction)
    if reason is not None:
        return GridRow(machine, device_set, accel, direction, UNSUPPORTED,
                       f"{failure} [declared: {reason}]")
    return GridRow(machine, device_set, accel, direction, FAIL, failure)


def format_grid(rows: Sequence[GridRow], *, detail_width: int = 160) -> list[str]:
    """The table: a header, one aligned line per row, then counts per accelerator/direction."""
    if not rows:
        return []
    header = ("machine", "device-set", "accel", "direction", "result")
    table = [header, *((r.machine, r.device_set, r.accel, r.direction, r.status)
                       for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = []
    for line, row in zip(table, [None, *rows]):
        text = "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
        if row is not None and row.detail and row.status != PASS:
            text += "  " + row.detail[:detail_width]
        lines.append(text)
    return lines + grid_summary(rows)


def grid_summary(rows: Sequence[GridRow]) -> list[str]:
    """``accel direction: N pass, N FAIL, N unsupported, N skip`` per group, then the total."""
    groups: dict[tuple[str, str], Counter[str]] = {}
    for row in rows:
        groups.setdefault((row.accel, row.direction), Counter())[row.status] += 1
    total: Counter[str] = Counter(row.status for row in rows)
    lines = [f"{accel} {direction}: {counts_text(counts)}"
             for (accel, direction), counts in sorted(groups.items())]
    return [*lines, f"all: {counts_text(total)}"]


def counts_text(counts: Counter[str]) -> str:
    return ", ".join(f"{counts.get(s, 0)} {s}" for s in (PASS, FAIL, UNSUPPORTED, SKIP))


def grid_failed(rows: Sequence[GridRow]) -> bool:
    return any(r.status == FAIL for r in rows)


GRID_PREFIX = "grid:"


def row_result(row: GridRow) -> SelftestResult:
    """A grid row as a self-test result (``grid:machine:set:accel:direction``)."""
    name = f"{GRID_PREFIX}{row.machine}:{row.device_set}:{row.accel}:{row.direction}"
    return SelftestResult(name, row.status != FAIL, f"{row.status}: {row.detail}".rstrip(": "),
                          skipped=row.status == SKIP)


def rows_from_results(results: Sequence[SelftestResult]) -> list[GridRow]:
    """The grid rows back from the results :func:`row_result` made (for printing)."""
    rows = []
    for result in results:
        if not result.name.startswith(GRID_PREFIX):
            continue
        machine, device_set, accel, direction = result.name[len(GRID_PREFIX):].split(":", 3)
        status, _, detail = result.detail.partition(": ")
        rows.append(GridRow(machine, device_set, accel, direction, status, detail))
    return rows
