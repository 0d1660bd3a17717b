from __future__ import annotations

import pytest

from pipeline.core import evr


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("1.0", "1.0", 0), ("1.0", "1.0.1", -1), ("2.12.0", "6.2.0", -1), ("1.0a", "1.0", 1),
    ("1.0~rc1", "1.0", -1), ("1.0^git1", "1.0", 1), ("1.0^git1", "1.0.1", -1),
    ("el7_8", "el7", 1), ("10", "9", 1), ("007", "7", 0), ("a", "1", -1),
])
def test_rpmvercmp_matches_rpm(a: str, b: str, expected: int) -> None:
    assert evr.rpmvercmp(a, b) == expected
    assert evr.compare_evr(evr.parse_evr(f"{a}-1"), evr.parse_evr(f"{b}-1"), pure=True) == expected


def test_epochless_obsoletes_bound_misses_epoch_10() -> None:
    # the el7 trap: `Obsoletes: qemu-kvm-ev < 3` matches nothing of 10:2.12.0
    assert not evr.range_covers("<", "3", "10:2.12.0-44.1.el7_8.1")
    assert evr.range_covers("<", "10:6.2.0-1.el7", "10:2.12.0-44.1.el7_8.1")
    assert evr.range_covers("<=", "4.5.0-1.el7", "4.5.0-1.el7")
    assert not evr.range_covers("<", "4.5.0-1.el7", "4.5.0-1.el7")


def test_parse_dep() -> None:
    assert evr.parse_dep("qemu-kvm-ev < 10:6.2.0-1") == ("qemu-kvm-ev", "<", "10:6.2.0-1")
    assert evr.parse_dep("libvirt-python") == ("libvirt-python", None, None)
