"""release-below-stock: our EVR must sort above every legacy EVR of the same name on its OS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.specs import stock
from tests.conftest import CliResult

pytestmark = pytest.mark.integration


def _below(result: CliResult) -> list[dict[str, str]]:
    return [f for f in result.json()["findings"] if f["id"] == "release-below-stock"]


def test_refreshed_stock_above_our_release_is_found(tree: Path,
                                                    cli: Callable[..., CliResult]) -> None:
    """The stock manifest refreshed with a newer 22.03 qemu (release 90): our 84.1 loses."""
    manifest = tree / "legacy" / "oe2203-stock.yaml"
    text = manifest.read_text()
    assert "release: 84.oe2203" in text
    manifest.write_text(text.replace("release: 84.oe2203", "release: 90.oe2203"))
    result = cli("-C", str(tree), "validate", "--json", "--no-rpmlint",
                 "--cells", "bclinux-euler-x86_64")
    assert result.code == 1
    found = _below(result)
    names = {f["detail"].split()[0] for f in found}
    assert {"qemu", "qemu-img", "qemu-guest-agent"} <= names
    assert "does not sort above 10:6.2.0-90.oe2203 of legacy set oe2203-stock" in found[0]["detail"]


def test_lowered_matrix_release_is_found(tree: Path, cli: Callable[..., CliResult]) -> None:
    matrix = tree / "matrix.yaml"
    text = matrix.read_text()
    old = '- {value: "55.1", os: [bclinux-euler]}'
    assert old in text
    matrix.write_text(text.replace(old, '- {value: "50", os: [bclinux-euler]}'))
    assert cli("-C", str(tree), "render").code == 0
    result = cli("-C", str(tree), "validate", "--json", "--no-rpmlint",
                 "--cells", "bclinux-euler-x86_64")
    assert result.code == 1
    assert {f["package"] for f in _below(result)} == {"libvirt"}


def test_committed_legacy_sets_sort_below_ours(tree: Path) -> None:
    legacy = stock.load_stock(tree / "legacy")
    assert {p.manifest for p in legacy} >= {"oe2203-stock", "el7-qemu-kvm-ev", "el7-base"}
    assert stock.below_stock("c", "bclinux-euler", "qemu", [("qemu", "10:6.2.0-84")],
                             legacy) != []
