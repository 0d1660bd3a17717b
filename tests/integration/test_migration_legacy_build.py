"""Opt-in: the data describes the legacy emulator itself.

``VP_LEGACY_QEMU=PATH`` names a qemu-kvm-ev 2.12 x86_64-softmmu build (the C2Devel/qemu-kvm
tree, branch centos-7.8, with its own pc-bios/ files): ``migcheck --emulator`` on it must find
every legacy x86 type offered and looking exactly as ``migration.yaml`` says (no finding);
with one compat fact changed, the gate must name it. Skipped, saying so, without such a build.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipeline import cli
from pipeline.migration import data
from tests.support.tree import work_tree_fixture

pytestmark = pytest.mark.integration

TREE = Path(__file__).resolve().parents[2]
WORK: list[Path] = []  # the CLI runs on a copy of the tree (see work_tree_fixture)
_work_tree = work_tree_fixture(WORK, "migcheck")


LEGACY = os.environ.get("VP_LEGACY_QEMU", "")


@pytest.fixture(scope="module", autouse=True)
def _legacy() -> None:
    if not LEGACY or not os.access(LEGACY, os.X_OK):
        pytest.skip("no legacy emulator: set VP_LEGACY_QEMU to a qemu-kvm-ev 2.12 build "
                    "(x86_64-softmmu/qemu-system-x86_64) to check migration.yaml against it")


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = cli.main(["-C", str(WORK[0]), "migcheck", "--json", "--emulator", LEGACY, *args])
    return code, json.loads(capsys.readouterr().out)


def test_the_data_matches_the_legacy_build(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _run(capsys)
    machines = report["machine_types"]
    assert isinstance(machines, list)
    assert {m["name"] for m in machines} == set(data.load(TREE / data.FILE_NAME)
                                               .machine_types("x86_64"))
    assert all(m["offered"] for m in machines)
    assert (code, report["findings"]) == (0, [])


def test_a_changed_fact_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = (TREE / data.FILE_NAME).read_text()
    old = "rtl8139: {romfile: rhel6-rtl8139.rom, rom_block: 0x10000}"
    assert old in text
    changed = tmp_path / "migration.yaml"
    changed.write_text(text.replace(old, old.replace("0x10000", "0x20000")))
    code, report = _run(capsys, "--data", str(changed))
    assert code == 1
    findings = report["findings"]
    assert isinstance(findings, list)
    rhel6 = {f"machine:rhel6.{n}.0" for n in range(7)}
    assert {(f["id"], f["cell"]) for f in findings} == {("compat-rom-size", c) for c in rhel6}
