"""Compare the device trees (``info qtree``) and CPU properties of the two sides of a migration,
and filter the differences through a reviewed allow-list (``patches/qemu/qtree-allow.yaml``).

Only properties both sides have are compared: a property one QEMU version does not have at all
is not guest-visible state of the other one (6.2 has many more knobs than 2.12). A device that
only one side has is a difference.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import yamlsrc

#: One device node of ``info qtree``: its type and a key unique in the tree (type#n, id).
_DEV = re.compile(r"^(\s*)dev: ([^,\s]+)(?:, id \"([^\"]*)\")?")
_PROP = re.compile(r"^\s+([A-Za-z0-9_.\-]+) = (.*)$")

QtreeProps = dict[str, dict[str, str]]  # device key -> property -> value
#: ``512 (0x200)`` (2.12) and ``512 (512 B)`` (6.2) print the same number differently.
_NUMBER_WITH_GLOSS = re.compile(r"^(-?\d+) \(.*\)$")


def normalize_value(value: str) -> str:
    """A qtree value as compared: a number followed by a parenthesised gloss is the number."""
    found = _NUMBER_WITH_GLOSS.match(value.strip())
    return found.group(1) if found else value.strip()


def parse_qtree(text: str) -> QtreeProps:
    """Device key -> {property: value} from ``info qtree`` text.

    A device's key is ``TYPE`` plus ``#N`` for the N-th (from 0) device of that type in tree
    order, so the same command line gives the same keys on both sides. Values keep QEMU's
    text (``"pxe-virtio.rom"``, ``true``) except that a number's gloss is dropped
    (``16 (0x10)`` -> ``16``, see :func:`normalize_value`).
    """
    devices: QtreeProps = {}
    seen: dict[str, int] = {}
    stack: list[tuple[int, str]] = []  # (indent, key) of the open device blocks
    for line in text.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        while stack and indent <= stack[-1][0]:
            stack.pop()
        dev = _DEV.match(line)
        if dev:
            dtype = dev.group(2)
            key = f"{dtype}#{seen.get(dtype, 0)}"
            seen[dtype] = seen.get(dtype, 0) + 1
            devices[key] = {}
            stack.append((indent, key))
            continue
        prop = _PROP.match(line)
        if prop and stack and not line.lstrip().startswith(("bus:", "dev:")):
            devices[stack[-1][1]].setdefault(prop.group(1), normalize_value(prop.group(2)))
    return devices


@dataclass(frozen=True)
class Difference:
    """One difference between the two sides: ``prop`` is '' for a device only one side has."""

    device: str
    prop: str
    source: str | None  # value on the saving side (None: absent)
    target: str | None  # value on the loading side

    def text(self) -> str:
        where = f"{self.device}.{self.prop}" if self.prop else self.device
        return f"{where}: {self.source} != {self.target}"


def diff_props(source: QtreeProps, target: QtreeProps) -> list[Difference]:
    """Devices one side lacks, and values of properties both sides have that differ."""
    diffs: list[Difference] = []
    for key in sorted(set(source) | set(target)):
        if key not in source or key not in target:
            diffs.append(Difference(key, "", "present" if key in source else None,
                                    "present" if key in target else None))
            continue
        left, right = source[key], target[key]
        for prop in sorted(set(left) & set(right)):
            if left[prop] != right[prop]:
                diffs.append(Difference(key, prop, left[prop], right[prop]))
    return diffs


@dataclass(frozen=True)
class Allowed:
    """A reviewed difference: glob patterns for device key, property and machine, and why."""

    device: str
    prop: str
    machine: str
    reason: str

    def covers(self, diff: Difference, machine: str) -> bool:
        return (fnmatch.fnmatchcase(diff.device, self.device)
                and fnmatch.fnmatchcase(diff.prop, self.prop)
                and fnmatch.fnmatchcase(machine, self.machine))


ALLOW_FIELDS = ("device", "property", "reason")


def load_allow_list(path: Path) -> list[Allowed]:
    """Read the allow-list; every entry needs device, property and a non-empty reason."""
    src = yamlsrc.load(path)
    entries = src.data.get("allowed") if isinstance(src.data, dict) else None
    if not isinstance(entries, list):
        raise src.error("allowed", "expected a list under 'allowed'")
    allowed: list[Allowed] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise src.error(f"allowed.{i}", "expected a mapping")
        for name in ALLOW_FIELDS:
            if not isinstance(entry.get(name), str):
                raise src.error(f"allowed.{i}.{name}", "missing (a string)")
            if name != "property" and not entry[name].strip():  # '': device on one side
                raise src.error(f"allowed.{i}.{name}", "empty")
        allowed.append(Allowed(entry["device"], entry["property"],
                               str(entry.get("machine", "*")), entry["reason"]))
    return allowed


def unexplained(diffs: Iterable[Difference], allowed: Sequence[Allowed],
                machine: str) -> list[Difference]:
    """The differences no allow-list entry covers for ``machine``."""
    return [d for d in diffs if not any(a.covers(d, machine) for a in allowed)]


def cpu_props_as_qtree(props: dict[str, object]) -> QtreeProps:
    """CPU properties (``qom-get`` values) as a pseudo device ``cpu#0`` for :func:`diff_props`."""
    return {"cpu#0": {name: str(value).lower() if isinstance(value, bool) else str(value)
                      for name, value in props.items()}}
