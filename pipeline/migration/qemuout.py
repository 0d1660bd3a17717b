"""Pure readers of what the emulator answers (QMP replies, HMP text), tested on captured output."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

#: ``Block Name  PSize  Offset  Used  Total`` (PSize like ``4 KiB`` or ``2 MiB``)
_RAMBLOCK = re.compile(r"^\s*(\S+)\s+\d+\s+[KMG]iB\s+0x[0-9a-fA-F]+\s+(0x[0-9a-fA-F]+)\s+"
                       r"0x[0-9a-fA-F]+\s*$")


def parse_ramblock(text: str) -> dict[str, int]:
    """Block name -> used size in bytes, from HMP ``info ramblock``."""
    blocks: dict[str, int] = {}
    for line in text.splitlines():
        found = _RAMBLOCK.match(line)
        if found:
            blocks[found.group(1)] = int(found.group(2), 16)
    return blocks


def pci_slot_prefix(devfn: int, domain: int = 0, bus: int = 0) -> str:
    """The ramblock name prefix of a device on the root bus (``0000:00:02.0/``)."""
    return f"{domain:04x}:{bus:02x}:{devfn >> 3:02x}.{devfn & 7:x}/"


def rom_block(blocks: dict[str, int], devfn: int) -> int:
    """The option ROM block size of the device at ``devfn`` (0: it has no ROM)."""
    prefix = pci_slot_prefix(devfn)
    return next((size for name, size in blocks.items()
                 if name.startswith(prefix) and name.endswith(".rom")), 0)


def machine_names(reply: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Machine name -> what it is (``alias of X``, ``default``, or empty), from
    ``query-machines``; aliases are listed under their own name too."""
    out: dict[str, str] = {}
    for entry in reply:
        name = str(entry.get("name", ""))
        out[name] = "default" if entry.get("is-default") else ""
        alias = entry.get("alias")
        if alias:
            out[str(alias)] = f"alias of {name}"
    return out


def children_of_type(qom_list: Sequence[dict[str, Any]], qom_type: str) -> list[str]:
    """Child names of type ``child<qom_type>`` in a ``qom-list`` reply."""
    return [str(e["name"]) for e in qom_list if e.get("type") == f"child<{qom_type}>"]


def host_features(expansion: dict[str, Any]) -> dict[str, bool]:
    """Feature name -> present, from ``query-cpu-model-expansion`` (model ``host``)."""
    props = (expansion.get("model") or {}).get("props") or {}
    return {str(k): bool(v) for k, v in props.items() if isinstance(v, bool)}


def power_of_two_at_least(size: int) -> int:
    """A ROM file's RAM block size: its size rounded up to a power of two."""
    block = 1
    while block < size:
        block <<= 1
    return block
