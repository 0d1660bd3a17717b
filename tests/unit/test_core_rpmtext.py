"""The rpm macro allowlist (pipeline.core.rpmtext): what values and macro files may say."""

from __future__ import annotations

import pytest

from pipeline.core import rpmtext


@pytest.mark.parametrize("value", ["%{version}", "%{?dist}", "%_libdir/x", "a%% b", "%%",
                                   "%{python3_pkgversion}", "100%% sure"])
def test_allowlist_accepts(value: str) -> None:
    assert rpmtext.value_problem(value, rpmtext.STATIC_ALLOWED | {"python3_pkgversion"}) is None


@pytest.mark.parametrize("value", ["%", "50% off", "%{?dist:x}", "%{!?dist}", "%{version:x}",
                                   "%{_libdir", "%%{x}", "%%name", "%%%", "%{nosuch}", "%1",
                                   "%*", "%{-x}", "%{?version:%%(id)}"])
def test_allowlist_refuses(value: str) -> None:
    assert rpmtext.value_problem(value, rpmtext.STATIC_ALLOWED) is not None


def test_macro_file_names_and_checks() -> None:
    text = "# c\n%a 1\n%b() x %{?*}\\\n  more %1\n%c %{a}/%{?b}\n"
    assert rpmtext.macro_file_names(text) == (frozenset({"a", "c"}), frozenset({"b"}))
    assert rpmtext.macro_file_problem(text) is None
    hit = rpmtext.macro_file_problem("%a 1\n%b x \\\n %(id)\n")
    assert hit is not None and hit[0] == 3 and "%(id)" in hit[1]
    assert rpmtext.macro_file_problem("%define x 1\n")[0] == 1  # type: ignore[index]
    assert rpmtext.macro_file_problem("not a definition\n")[0] == 1  # type: ignore[index]
