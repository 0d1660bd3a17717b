"""Class 1 of the promises: nothing in the tree's data makes rpm run code.

Each form of :mod:`tests.support.hostile` (macros that would ``touch`` a marker, run as rpm
would run them: proven by tests/integration/test_matrix_hostile_rpm.py) goes through every field
and file name that reaches rpm; every command refuses it with exit 2 and one line naming the
file, line and key, and the marker proves nothing ran.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from pipeline.core.errors import InputError
from pipeline.matrix import load as matrix
from pipeline.upgrade import manifest, scenarios
from tests.conftest import CliResult
from tests.support.hostile import LEDGER_FIELDS, MATRIX_FIELDS, inject, macro_forms

COMMANDS = (["render"], ["validate", "--no-rpmlint"], ["srpm"], ["build", "--backend", "local"])
Cli = Callable[..., CliResult]


def _refused(result: CliResult, marker: Path, where: str) -> None:
    assert result.code == 2, (result.code, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and where in lines[0], result.err
    assert "Traceback" not in result.err + result.out
    assert not marker.exists(), "the payload ran"


@pytest.mark.parametrize("field", MATRIX_FIELDS)
def test_every_form_in_every_matrix_field_is_refused(tree: Path, cli: Cli, tmp_path: Path,
                                                     field: str) -> None:
    marker = tmp_path / "ran"
    original = (tree / "matrix.yaml").read_text()
    key = field.rstrip("+")
    for form, _ in macro_forms(marker):
        (tree / "matrix.yaml").write_text(original)
        inject(tree / "matrix.yaml", field, form)
        _refused(cli("-C", str(tree), "render"), marker, f"{key}")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_every_form_is_refused_by_every_command(tree: Path, cli: Cli, tmp_path: Path,
                                                command: list[str]) -> None:
    marker = tmp_path / "ran"
    original = (tree / "matrix.yaml").read_text()
    for form, _ in macro_forms(marker):
        for field in ("packages.qemu.configure.0", "oses.bclinux-euler.dist_suffix"):
            (tree / "matrix.yaml").write_text(original)
            inject(tree / "matrix.yaml", field, form)
            _refused(cli("-C", str(tree), *command), marker, f"{field}: rpm would see")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_every_field_is_guarded_for_every_command(tree: Path, cli: Cli, tmp_path: Path,
                                                  command: list[str]) -> None:
    marker = tmp_path / "ran"
    form = f"%{{expand:%%(touch {marker})}}"
    original = (tree / "matrix.yaml").read_text()
    for field in MATRIX_FIELDS:
        (tree / "matrix.yaml").write_text(original)
        inject(tree / "matrix.yaml", field, form)
        _refused(cli("-C", str(tree), *command), marker, "rpm would see")


@pytest.mark.parametrize("field", LEDGER_FIELDS)
def test_ledger_values_are_refused(tree: Path, cli: Cli, tmp_path: Path, field: str) -> None:
    marker = tmp_path / "ran"
    ledger = tree / "patches" / "qemu" / "ledger.yaml"
    original = ledger.read_text()
    for index, (form, _) in enumerate(macro_forms(marker)):
        ledger.write_text(original)
        inject(ledger, field, form)
        for command in (COMMANDS[0], COMMANDS[1 + index % 3]):
            _refused(cli("-C", str(tree), *command), marker, "patches/qemu/ledger.yaml:")


def test_profile_values_are_refused(tree: Path, cli: Cli, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    profile = tmp_path / "evil.yaml"
    for index, (form, _) in enumerate(macro_forms(marker)):
        profile.write_text(yaml.safe_dump({"packages": {"libvirt": {"summary": form}}}))
        for command in (COMMANDS[0], COMMANDS[1 + index % 3]):
            _refused(cli("-C", str(tree), "--profile", str(profile), *command), marker,
                     "packages.libvirt.summary: rpm would see")


def test_patch_and_source_file_names_are_refused(tree: Path, cli: Cli, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A file name cannot hold '/': the payload touches a name in the working folder."""
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "ran"
    ledger = tree / "patches" / "qemu" / "ledger.yaml"
    names = ["0001-%(touch ran).patch", "0001-%{lua:io.open('ran','w')}.patch",
             "%{expand:%%(touch ran)}.patch", "x%%(touch ran).patch", "%[%(touch ran)].patch"]
    original = ledger.read_text()
    for name in names:
        shutil.copy(ledger.parent / yaml.safe_load(original)["patches"][0]["file"],
                    ledger.parent / name)
        ledger.write_text(original)
        inject(ledger, "patches.0.file", name)
        for command in COMMANDS:
            _refused(cli("-C", str(tree), *command), marker, "patches.0.file: rpm would see")
    matrix_text = (tree / "matrix.yaml").read_text()
    for name in names:
        (tree / "matrix.yaml").write_text(matrix_text)
        inject(tree / "matrix.yaml", "packages.qemu.sources.0.url",
               f"https://download.qemu.org/{name}")
        for command in COMMANDS:
            _refused(cli("-C", str(tree), *command), marker, "sources.0.url: rpm would see")


def test_os_macro_files_are_checked(tree: Path, cli: Cli, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    macros = tree / "macros" / "bclinux7.macros"
    original = macros.read_text()
    for index, (form, _) in enumerate(macro_forms(marker)):
        macros.write_text(original + f"%evil {form}\n")
        for command in (COMMANDS[0], COMMANDS[1 + index % 3]):
            _refused(cli("-C", str(tree), *command), marker, "macros/bclinux7.macros:")
    macros.write_text(original + "%expand %(touch ran)\n")
    _refused(cli("-C", str(tree), "render"), marker, "built-in %expand")


def test_os_macro_files_must_be_inside_the_tree(tree: Path, cli: Cli, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    outside = tmp_path / "outside.macros"
    outside.write_text("%rhel 7\n")
    original = (tree / "matrix.yaml").read_text()
    for value in (str(outside), "../outside.macros", "macros/link.macros"):
        (tree / "macros" / "link.macros").unlink(missing_ok=True)
        (tree / "macros" / "link.macros").symlink_to(outside)
        (tree / "matrix.yaml").write_text(original)
        inject(tree / "matrix.yaml", "oses.bclinux7.macros", value)
        _refused(cli("-C", str(tree), "render"), marker, "outside the tree")


def test_allowed_references_still_render(tree: Path, cli: Cli) -> None:
    """The allowlist is not a ban: %{version}, %{?dist}, path and OS macros, %% pass."""
    inject(tree / "matrix.yaml", "packages.qemu.configure.0",
           "--docdir=%{_docdir}/%{name}-%{version}%{?dist} --py=%{__python3} --pct=50%%")
    result = cli("-C", str(tree), "render")
    assert result.code == 0, result.err
    spec = (tree / "specs" / "bclinux7" / "qemu.spec").read_text()
    assert "--docdir=%{_docdir}/%{name}-%{version}%{?dist} --py=%{__python3}" in spec


@pytest.mark.parametrize("field", ["description", "packages.0.summary", "packages.0.provides.0",
                                   "packages.0.files.0", "packages.0.release"])
def test_legacy_manifest_values_are_refused(tree: Path, tmp_path: Path, field: str) -> None:
    """Legacy manifests become stand-in specs (upgrade/synth): the same allowlist applies."""
    marker = tmp_path / "ran"
    path = tree / "legacy" / "el7-base.yaml"
    original = path.read_text()
    for form, _ in macro_forms(marker):
        path.write_text(original)
        inject(path, field, form)
        with pytest.raises(InputError, match=r"rpm would see"):
            manifest.load_manifest(path)
        assert not marker.exists()


@pytest.mark.parametrize("field", ["scenarios.bclinux7-el7-base.description",
                                   "scenarios.bclinux7-el7-base.config_edits.0.append"])
def test_scenario_values_are_refused(tree: Path, tmp_path: Path, field: str) -> None:
    marker = tmp_path / "ran"
    path = tree / "upgrades.yaml"
    original = path.read_text()
    m = matrix.load(tree)
    for form, _ in macro_forms(marker):
        path.write_text(original)
        inject(path, field, form)
        with pytest.raises(InputError, match=r"rpm would see"):
            scenarios.load(path, oses=m.oses, packages=m.packages)
        assert not marker.exists()
