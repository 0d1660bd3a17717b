"""rpm version comparison and dependency matching, for pre-checks that need no package manager.

:func:`compare_evr` uses ``rpm.labelCompare`` when the rpm bindings import, and otherwise a pure
port of rpm's ``rpmvercmp`` (lib/rpmvercmp.c: alternating digit/alpha segments, ``~`` sorts
before everything, ``^`` after the end but before any other segment). A dependency's missing
epoch counts as 0 and a missing release is not compared, as in ``rpmdsCompare``; that is why
``Obsoletes: qemu-kvm-ev < 3`` does not match ``10:2.12.0-44.1.el7_8.1``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

_SEGMENT = re.compile(r"(\d+|[A-Za-z]+|~|\^)")
_OPS = ("<=", ">=", "<", ">", "=")


@dataclass(frozen=True)
class EVR:
    epoch: int
    version: str
    release: str | None  # None: not given (a dependency bound without release)

    def __str__(self) -> str:
        return f"{self.epoch}:{self.version}" + (f"-{self.release}" if self.release else "")


def parse_evr(text: str) -> EVR:
    """``[E:]V[-R]`` into an EVR (epoch 0 when absent)."""
    epoch = 0
    if ":" in text:
        head, text = text.split(":", 1)
        epoch = int(head) if head else 0
    version, _, release = text.partition("-")
    return EVR(epoch, version, release or None)


def rpmvercmp(a: str, b: str) -> int:
    """rpm's version segment comparison: -1, 0 or 1."""
    if a == b:
        return 0
    sa, sb = _segments(a), _segments(b)
    for x, y in zip(sa, sb):
        result = _compare_segment(x, y)
        if result:
            return result
    return _compare_tail(sa[len(sb):], sb[len(sa):])


def _segments(text: str) -> list[str]:
    return _SEGMENT.findall(text)


def _compare_segment(x: str, y: str) -> int:
    for special in ("~", "^"):
        if x == special or y == special:
            if x == y:
                return 0
            if special == "~":
                return -1 if x == "~" else 1
            return -1 if x == "^" else 1  # ^ against a real segment: the segment wins
    if x.isdigit() and y.isdigit():
        nx, ny = int(x), int(y)
        return (nx > ny) - (nx < ny)
    if x.isdigit() != y.isdigit():
        return 1 if x.isdigit() else -1  # numeric segments are newer than alpha ones
    return (x > y) - (x < y)


def _compare_tail(rest_a: list[str], rest_b: list[str]) -> int:
    # One side ran out: "~" on the longer side makes it older, "^" newer only vs. the end.
    if rest_a:
        return -1 if rest_a[0] == "~" else 1
    if rest_b:
        return 1 if rest_b[0] == "~" else -1
    return 0


def _pure_compare(a: EVR, b: EVR) -> int:
    if a.epoch != b.epoch:
        return 1 if a.epoch > b.epoch else -1
    result = rpmvercmp(a.version, b.version)
    if result or a.release is None or b.release is None:
        return result
    return rpmvercmp(a.release, b.release)


def _rpm_compare() -> Callable[[EVR, EVR], int] | None:
    try:
        import rpm  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None

    def compare(a: EVR, b: EVR) -> int:
        if a.epoch != b.epoch:
            return 1 if a.epoch > b.epoch else -1
        ra, rb = a.release, b.release
        if ra is None or rb is None:
            ra = rb = ""
        return int(rpm.labelCompare((str(a.epoch), a.version, ra),
                                    (str(b.epoch), b.version, rb)))

    return compare


_RPM_COMPARE = _rpm_compare()


def compare_evr(a: EVR, b: EVR, *, pure: bool = False) -> int:
    """-1, 0 or 1; a release missing on either side is not compared."""
    if _RPM_COMPARE is not None and not pure:
        return _RPM_COMPARE(a, b)
    return _pure_compare(a, b)


@dataclass(frozen=True)
class Dependency:
    name: str
    op: str | None
    evr: EVR | None

    def __str__(self) -> str:
        return self.name + (f" {self.op} {self.evr}" if self.op else "")


def parse_dependency(text: str) -> Dependency:
    """``name``, ``name OP [E:]V[-R]`` (rich dependencies keep the whole text as name)."""
    parts = text.split()
    if len(parts) == 3 and parts[1] in _OPS:
        return Dependency(parts[0], parts[1], parse_evr(parts[2]))
    return Dependency(text.strip(), None, None)


def matches(dep: Dependency, name: str, evr: EVR) -> bool:
    """Whether a package ``name`` at ``evr`` satisfies (or is obsoleted by) ``dep``."""
    if dep.name != name:
        return False
    if dep.op is None or dep.evr is None:
        return True
    result = compare_evr(evr, dep.evr)
    return {"<": result < 0, "<=": result <= 0, "=": result == 0,
            ">=": result >= 0, ">": result > 0}[dep.op]


def parse_dep(text: str) -> tuple[str, str | None, str | None]:
    """``"qemu-kvm-ev < 10:6.2.0-1"`` -> ("qemu-kvm-ev", "<", "10:6.2.0-1")."""
    dep = parse_dependency(text)
    raw = text.split()
    return dep.name, dep.op, raw[2] if dep.op else None


def range_covers(op: str | None, bound: str | None, evr: str) -> bool:
    """Whether a dependency range ``op bound`` includes the package EVR ``evr``.

    An epoch-less bound compares as epoch 0, so ``< 3`` does not cover ``10:2.12.0-44``:
    exactly the trap of an Obsoletes written without the legacy epoch.
    """
    if op is None or bound is None:
        return True
    return matches(Dependency("x", op, parse_evr(bound)), "x", parse_evr(evr))
