"""The service checks on a copy of the tree with a defect put back: each scenario that proves
"libvirtd is restarted", "sockets masked under --listen", "KSM keeps its state", "the stock
set's extra subpackages are replaced" fails when the spec loses the fix.

Pre-flight stand-ins from the broken copy's rendered specs; the stand-in cache is shared with
the real tree (content-addressed), so only the changed package is rebuilt.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.core import cmd
from pipeline.upgrade import services
from tests.conftest import ROOT, CliResult

pytestmark = pytest.mark.integration


@pytest.fixture
def broken(tree: Path) -> Path:
    for tool in ("rpm", "rpmbuild", "dnf", "createrepo_c", "unshare"):
        if cmd.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    shared = ROOT / ".cache" / "upgrade"
    shared.mkdir(parents=True, exist_ok=True)
    # the checkout's stand-ins (content-addressed), hard-linked: a link to the folder would
    # lead the command's writes out of its tree, which the write guard refuses
    shutil.copytree(shared, tree / ".cache" / "upgrade", copy_function=os.link,
                    ignore=shutil.ignore_patterns("logs", "replay"))
    return tree


def _break(tree: Path, template: str, old: str, new: str) -> None:
    path = tree / "templates" / template
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def _run(cli: Callable[..., CliResult], tree: Path, scenario: str) -> dict[str, list[str]]:
    assert cli("-C", str(tree), "render").code == 0
    result = cli("-C", str(tree), "verify-upgrade", "--preflight", "--scenario", scenario,
                 "--json")
    data = result.json()["scenarios"][0]
    found: dict[str, list[str]] = {}
    for f in data["findings"]:
        found.setdefault(f["id"], []).append(f["detail"])
    assert result.code == (1 if found else 0)
    return found


def test_libvirtd_not_restarted_without_posttrans(broken: Path,
                                                  cli: Callable[..., CliResult]) -> None:
    _break(broken, "libvirt.spec.j2", "%posttrans daemon\n", "%posttrans daemon\nexit 0\n")
    found = _run(cli, broken, "bclinux7-qemu-kvm-ev")
    assert list(found) == ["service-not-restarted"], found
    assert "libvirtd.service was running before the upgrade" in found["service-not-restarted"][0]


def test_sockets_not_masked_under_listen(broken: Path, cli: Callable[..., CliResult]) -> None:
    _break(broken, "libvirt.spec.j2", '/usr/bin/systemctl mask "$unit"', ': "$unit"')
    found = _run(cli, broken, "bclinux-euler-listen")
    assert set(found) == {"socket-not-masked"}, found
    assert len(found["socket-not-masked"]) == 5


def test_ksm_state_lost_without_restore(broken: Path, cli: Callable[..., CliResult]) -> None:
    _break(broken, "qemu.spec.j2", "%posttrans\n", "%posttrans\nexit 0\n")
    found = _run(cli, broken, "bclinux7-ksm")
    assert set(found) == {"service-state-lost"}, found
    assert len(found["service-state-lost"]) == 4  # two units, enabled and active


def test_stock_subpackage_left_unreplaced_blocks_upgrade(broken: Path,
                                                         cli: Callable[..., CliResult]) -> None:
    matrix = broken / "matrix.yaml"
    lines = [line for line in matrix.read_text().splitlines(keepends=True)
             if "old: libvirt-daemon-driver-lxc, by: libvirt-daemon, last: \"6.2.0" not in line]
    matrix.write_text("".join(lines))
    found = _run(cli, broken, "bclinux-euler-stock")
    assert "legacy-leftover" in found or "final-set-mismatch" in found, found


def test_calls_parsed_without_options() -> None:
    assert services.parse_call("--no-reload disable --now ksm.service") == \
        ("disable", ["ksm.service"])
    assert services.restarts(["stop libvirtd.service", "start libvirtd.service"],
                             "libvirtd.service")
    assert not services.restarts(["stop libvirtd.service"], "libvirtd.service")


def test_ev_obsoletes_swap_back_is_found(broken: Path, cli: Callable[..., CliResult]) -> None:
    """Without our qemu-img obsoleting qemu-img-ev, ev's `Obsoletes: qemu-img < 15:0-0` (the
    ev repo still enabled) fights the second upgrade."""
    matrix = broken / "matrix.yaml"
    lines = [line for line in matrix.read_text().splitlines(keepends=True)
             if "old: qemu-img-ev, by: qemu-img" not in line]
    matrix.write_text("".join(lines))
    found = _run(cli, broken, "bclinux7-ev-repos-kept")
    assert "file-conflict" in found, found
    assert any("qemu-img-ev" in d and "/usr/bin/qemu-img" in d for d in found["file-conflict"])
