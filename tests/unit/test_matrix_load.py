"""The matrix loader: cells, typed values, and one-line errors with file, line and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.matrix import load as matrix

CELLS = ["bclinux7-x86_64", "bclinux7-aarch64", "bclinux7-hygon", "bclinux-euler-x86_64",
         "bclinux-euler-aarch64", "bclinux-euler-hygon"]


def test_cells_and_dists(tree: Path) -> None:
    m = matrix.load(tree)
    assert [c.id for c in m.cells] == CELLS
    hygon = m.cell("bclinux-euler-hygon")
    assert (hygon.arch, hygon.flavor_name, hygon.dist) == ("x86_64", "hygon", ".oe2203.bclinux")
    assert m.cell("bclinux7-x86_64").dist == ".el7"


def test_select_patterns(tree: Path) -> None:
    m = matrix.load(tree)
    assert [c.id for c in matrix.select(m.cells, ["bclinux7-*"])] == CELLS[:3]
    assert [c.id for c in matrix.select(m.cells, ["*-hygon"])] == [CELLS[2], CELLS[5]]


def _edit(tree: Path, old: str, new: str) -> None:
    path = tree / "matrix.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _line_of(tree: Path, needle: str) -> int:
    for number, line in enumerate((tree / "matrix.yaml").read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


@pytest.mark.parametrize(("old", "new", "needle", "key", "words"), [
    ("    epoch: 10\n", "    epohc: 10\n", "epohc:",
     "packages.qemu.epohc", "did you mean 'epoch'"),
    ("  - --enable-kvm", "  - \"--enable-kvm %(id)\"", "%(id)",
     "packages.qemu.configure.0", "rpm would see this value"),
    ("  - --enable-kvm", "  - \"%{lua: os.execute('id')}\"", "%{lua:",
     "packages.qemu.configure.0", "rpm would see this value"),
    ("    arches: [x86_64, aarch64]\n    flavors: [hygon]\n    python2: true",
     "    arches: [x86_64, aarch65]\n    flavors: [hygon]\n    python2: true",
     "aarch65", "oses.bclinux7.arches.1", "unknown RPM arch"),
    ("    python2: true", "    python2: yes please", "yes please",
     "oses.bclinux7.python2", "expected true or false"),
])
def test_bad_values_name_file_line_key(tree: Path, old: str, new: str, needle: str, key: str,
                                      words: str) -> None:
    _edit(tree, old, new)
    with pytest.raises(InputError) as err:
        matrix.load(tree)
    message = str(err.value)
    assert message.startswith(f"matrix.yaml:{_line_of(tree, needle)}: {key}: ") or \
        message.startswith(f"{tree / 'matrix.yaml'}:{_line_of(tree, needle)}: {key}: "), message
    assert words in message
    assert "\n" not in message


def test_duplicate_key_is_an_error(tree: Path) -> None:
    _edit(tree, "    epoch: 10\n", "    epoch: 10\n    epoch: 11\n")
    with pytest.raises(InputError, match="duplicate key"):
        matrix.load(tree)


def test_duplicate_cell_id(tree: Path) -> None:
    # a flavor named like an arch makes two cells with one id
    _edit(tree, "flavors:\n  hygon:", "flavors:\n  x86_64:")
    text = (tree / "matrix.yaml").read_text().replace("flavors: [hygon]", "flavors: [x86_64]")
    text = text.replace("flavor_targets: {hygon:", "flavor_targets: {x86_64:")
    (tree / "matrix.yaml").write_text(text)
    with pytest.raises(InputError, match="duplicate cell id 'bclinux7-x86_64'"):
        matrix.load(tree)


def test_missing_patch_file_in_ledger(tree: Path) -> None:
    ledger = tree / "patches" / "libvirt-python" / "ledger.yaml"
    first = sorted((tree / "patches" / "libvirt-python").glob("*.patch"))[0]
    first.unlink()
    with pytest.raises(InputError, match="patch file not found") as err:
        matrix.load(tree)
    assert "patches/libvirt-python/ledger.yaml:" in str(err.value)
    assert ledger.exists()


def test_profile_overlay_rules(tree: Path) -> None:
    profile = tree / "p.yaml"
    profile.write_text(
        "packages:\n"
        "  libvirt-python:\n"
        "    version: 9.0.0\n"          # scalar: replaced
        "    buildrequires: [gcc]\n"    # list: replaced whole
        "    features: {python2: null}\n"  # null: key deleted
        "  qemu:\n"
        "    release: \"7\"\n")
    m = matrix.load(tree, [profile])
    lvp = m.packages["libvirt-python"]
    assert lvp.version == "9.0.0"
    assert [c.value for c in lvp.buildrequires] == ["gcc"]
    assert "python2" not in lvp.features
    assert lvp.url == "https://libvirt.org/"           # untouched keys stay
    assert m.packages["qemu"].release_for("bclinux7") == "7"
    assert m.packages["qemu"].epoch == 10


def test_profile_errors_point_at_the_profile(tree: Path) -> None:
    profile = tree / "p.yaml"
    profile.write_text("packages:\n  qemu:\n    epoch: ten\n")
    with pytest.raises(InputError) as err:
        matrix.load(tree, [profile])
    assert str(err.value).endswith(
        "p.yaml:3: packages.qemu.epoch: expected an integer, got a string")
    assert "p.yaml" in str(err.value)


def test_yaml_syntax_error_names_the_line(tree: Path) -> None:
    path = tree / "matrix.yaml"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, "broken: [a", "b: c"]) + "\n")
    with pytest.raises(InputError, match=r"matrix.yaml:\d+: invalid YAML") as err:
        matrix.load(tree)
    line = re.search(r"matrix.yaml:(\d+):", str(err.value))
    assert line and int(line.group(1)) >= len(lines)
