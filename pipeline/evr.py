"""EVR comparison and dependency-range matching, as rpm does it.

Uses the rpm bindings (``rpm.labelCompare``) when importable; otherwise a port of rpm's
``rpmvercmp`` (same segment rules: digits beat letters, ``~`` sorts first, ``^`` after).
"""

from __future__ import annotations

import re
from typing import Callable, Optional

EVR = tuple[Optional[str], str, Optional[str]]

_rpm_compare: Callable[[EVR, EVR], int] | None
try:  # pragma: no cover - depends on the host
    import rpm as _rpm

    def _rpm_label(a: EVR, b: EVR) -> int:
        return int(_rpm.labelCompare(a, b))

    _rpm_compare = _rpm_label
except ImportError:  # pragma: no cover
    _rpm_compare = None


def parse_evr(text: str) -> EVR:
    """``"10:2.12.0-44.1.el7"`` -> ("10", "2.12.0", "44.1.el7"); epoch/release may be None."""
    epoch: str | None = None
    if ":" in text:
        epoch, text = text.split(":", 1)
    version, sep, release = text.rpartition("-")
    if not sep:
        return epoch, text, None
    return epoch, version, release


def rpmvercmp(a: str, b: str) -> int:
    """rpm's version segment comparison (``rpmvercmp`` in rpmio/rpmvercmp.c)."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and not a[i].isalnum() and a[i] not in "~^":
            i += 1
        while j < len(b) and not b[j].isalnum() and b[j] not in "~^":
            j += 1
        for mark in "~^":
            ai, bj = i < len(a) and a[i] == mark, j < len(b) and b[j] == mark
            if ai or bj:
                if ai and bj:
                    i, j = i + 1, j + 1
                    break
                if mark == "~":
                    return -1 if ai else 1
                if ai:
                    return -1 if j < len(b) else 1
                return 1 if i < len(a) else -1
        else:
            if not (i < len(a) and j < len(b)):
                break
            isnum = a[i].isdigit()
            pat = re.compile(r"\d+" if isnum else r"[a-zA-Z]+")
            ma, mb = pat.match(a, i), pat.match(b, j)
            if mb is None:
                return 1 if isnum else -1
            sa, sb = ma.group(0) if ma else "", mb.group(0)
            i, j = i + len(sa), j + len(sb)
            if isnum:
                sa, sb = sa.lstrip("0"), sb.lstrip("0")
                if len(sa) != len(sb):
                    return 1 if len(sa) > len(sb) else -1
            if sa != sb:
                return 1 if sa > sb else -1
            continue
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


def _pure_compare(a: EVR, b: EVR) -> int:
    ea, eb = int(a[0] or 0), int(b[0] or 0)
    if ea != eb:
        return 1 if ea > eb else -1
    c = rpmvercmp(a[1], b[1])
    if c or a[2] is None or b[2] is None:
        return c
    return rpmvercmp(a[2], b[2])


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as EVR ``a`` sorts before, equal to or after ``b`` (a missing release in
    either side is not compared, as rpm does for dependency ranges)."""
    pa, pb = parse_evr(a), parse_evr(b)
    if _rpm_compare is not None and pa[2] is not None and pb[2] is not None:
        norm_a = (pa[0] or "0", pa[1], pa[2])
        norm_b = (pb[0] or "0", pb[1], pb[2])
        return _rpm_compare(norm_a, norm_b)
    return _pure_compare(pa, pb)


_DEP = re.compile(r"^\s*(\S+)\s*(?:(<=|>=|=|<|>)\s*(\S+))?\s*$")


def parse_dep(text: str) -> tuple[str, str | None, str | None]:
    """``"qemu-kvm-ev < 10:6.2.0-1"`` -> ("qemu-kvm-ev", "<", "10:6.2.0-1")."""
    match = _DEP.match(text)
    if not match:
        return text.strip(), None, None
    return match.group(1), match.group(2), match.group(3)


def range_covers(op: str | None, bound: str | None, evr: str) -> bool:
    """Whether a dependency range ``op bound`` includes the package EVR ``evr``.

    An epoch-less bound compares as epoch 0, so ``< 3`` does not cover ``10:2.12.0-44``:
    exactly the trap of an Obsoletes written without the legacy epoch.
    """
    if op is None or bound is None:
        return True
    c = compare(evr, bound)
    return {"<": c < 0, "<=": c <= 0, "=": c == 0, ">=": c >= 0, ">": c > 0}[op]
