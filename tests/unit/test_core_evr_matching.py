"""EVR comparison and dependency matching (pure port checked against rpm's own rules)."""

from __future__ import annotations

import pytest

from pipeline.core.evr import EVR, compare_evr, matches, parse_dependency, parse_evr, rpmvercmp

CASES = [
    ("1.0", "1.0", 0), ("1.0", "2.0", -1), ("2.0.1", "2.0", 1), ("2.0.1a", "2.0.1", 1),
    ("5.5p1", "5.5p10", -1), ("10xyz", "10.1xyz", -1), ("xyz10", "xyz10.1", -1),
    ("1.0~rc1", "1.0", -1), ("1.0~rc1", "1.0~rc2", -1), ("1.0^", "1.0", 1),
    ("1.0^git1", "1.0.1", -1), ("1.0a", "1.0.a", 0), ("2.12.0", "6.2.0", -1),
    ("44.1.el7_8.1", "44.el7", 1), ("1.el7", "0.el7", 1), ("a", "1", -1),
    ("1.0010", "1.9", 1), ("1.05", "1.5", 0), ("", "1", -1),
]


@pytest.mark.parametrize(("a", "b", "expected"), CASES)
def test_rpmvercmp(a: str, b: str, expected: int) -> None:
    assert rpmvercmp(a, b) == expected
    assert rpmvercmp(b, a) == -expected


@pytest.mark.parametrize(("a", "b", "expected"), CASES)
def test_pure_agrees_with_rpm_bindings(a: str, b: str, expected: int) -> None:
    rpm = pytest.importorskip("rpm")
    if not a or not b:
        pytest.skip("rpm rejects empty versions")
    assert rpm.labelCompare(("0", a, "1"), ("0", b, "1")) == expected


def test_epoch_dominates_and_missing_release_is_not_compared() -> None:
    assert compare_evr(parse_evr("10:1.5.3-175.el7"), parse_evr("6.2.0-1"), pure=True) == 1
    assert compare_evr(parse_evr("6.2.0"), parse_evr("6.2.0-1.el7"), pure=True) == 0
    assert compare_evr(parse_evr("6.2.0"), parse_evr("6.2.0-1.el7")) == 0


def test_wrong_epoch_obsoletes_matches_nothing() -> None:
    legacy = EVR(10, "2.12.0", "44.1.el7_8.1")
    assert not matches(parse_dependency("qemu-kvm-ev < 3"), "qemu-kvm-ev", legacy)
    assert matches(parse_dependency("qemu-kvm-ev < 10:6.2.0-1.el7"), "qemu-kvm-ev", legacy)
    assert matches(parse_dependency("qemu-kvm-ev"), "qemu-kvm-ev", legacy)
    assert not matches(parse_dependency("qemu-kvm < 15:0-0"), "qemu-kvm-ev", legacy)
    assert matches(parse_dependency("libvirt-python <= 4.5.0-1.el7"), "libvirt-python",
                   EVR(0, "4.5.0", "1.el7"))
