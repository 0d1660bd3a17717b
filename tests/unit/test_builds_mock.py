"""MockBuilder's pure parts: exit-code reasons, log parsing, command lines, arch planning and
the availability check (no external tool runs here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.builds.builders import mock as mockmod
from pipeline.builds.builders.base import BuildJob
from pipeline.builds.builders.mock import MockBuilder
from pipeline.core.errors import ToolMissing
from pipeline.matrix import load as matrix_mod
from pipeline.matrix.model import Matrix

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "tests" / "data" / "mock-core-configs"


@pytest.fixture(scope="module")
def matrix() -> Matrix:
    return matrix_mod.load(ROOT)


def make(matrix: Matrix, tmp_path: Path, **kw: object) -> MockBuilder:
    args: dict[str, object] = {"matrix": matrix, "config_dir": tmp_path / "cfg",
                               "configdir": CORE / "44.2", "core_configs_version": (44, 2),
                               "host_arch": "x86_64", "host_name": "ci"}
    args.update(kw)
    return MockBuilder(**args)  # type: ignore[arg-type]


def job(os_id: str = "bclinux7", flavor: str | None = None,
        arches: tuple[str, ...] = ("x86_64", "aarch64")) -> BuildJob:
    key = f"{os_id}+{flavor}/qemu" if flavor else f"{os_id}/qemu"
    return BuildJob(key=key, os_id=os_id, flavor=flavor, package="qemu", nvr="qemu-6.2.0-1.el7",
                    srpm=Path("/s/qemu-6.2.0-1.el7.src.rpm"), spec=Path("/s/qemu.spec"),
                    dist=".el7", arches=arches, cells=(), macros=(), koji_target="t",
                    koji_channel=None)


@pytest.mark.parametrize(("code", "words"), [
    (1, "build failed"), (2, "command line"), (120, "builddep tool is missing"),
    (3, "config error"), (5, "command line"), (6, "qemu-user-static"),
    (10, "dynamic BuildRequires"), (30, "BuildRequires not satisfiable"), (60, "locked"),
    (143, "signal 15"), (124, "timeout"), (99, "unknown")])
def test_exit_codes_are_explained(code: int, words: str) -> None:
    assert mockmod.explain_exit(code).startswith(f"mock exit {code}: ")
    assert words in mockmod.explain_exit(code)


def test_last_run_of_an_appended_log() -> None:
    text = "Mock Version: 6.6\nold\nerror: old one\nMock Version: 6.7\nnew\n"
    assert mockmod.last_run(text) == "Mock Version: 6.7\nnew\n"
    assert mockmod.last_run("no marker\n") == "no marker\n"


def test_failure_detail_prefers_the_log_of_the_exit_code() -> None:
    logs = {"build.log": "Mock Version: 6.7\n+ exit 1\nerror: Bad exit status from "
                         "/var/tmp/rpm-tmp.x (%build)\n",
            "root.log": "DEBUG No matching package to install: 'foo-devel'\n"}
    assert mockmod.failure_detail(1, logs, "").startswith("error: Bad exit status")
    assert mockmod.failure_detail(30, logs, "") == "No matching package to install: 'foo-devel'"
    assert mockmod.failure_detail(60, {}, "ERROR: Build root is locked") == \
        "ERROR: Build root is locked"


def test_slug() -> None:
    assert mockmod.slug("bclinux7+hygon/qemu") == "bclinux7-hygon-qemu"
    assert mockmod.slug("bclinux-euler/libvirt-python") == "bclinux-euler-libvirt-python"


def test_command_line(matrix: Matrix, tmp_path: Path) -> None:
    b = make(matrix, tmp_path, configdir=Path("/etc/mock"), allow_emulation=True, keep_roots=True)
    argv = b.command(job(), "aarch64", Path("/c/x.cfg"), Path("/r/aarch64"))
    assert argv == ["mock", "-r", "/c/x.cfg", "--rebuild", "/s/qemu-6.2.0-1.el7.src.rpm",
                    "--resultdir", "/r/aarch64", "--uniqueext", "bclinux7-qemu",
                    "--forcearch", "aarch64", "--no-cleanup-after"]
    assert make(matrix, tmp_path).command(job(), "x86_64", Path("/c/x.cfg"), Path("/r")) == [
        "mock", "-r", "/c/x.cfg", "--rebuild", "/s/qemu-6.2.0-1.el7.src.rpm", "--resultdir",
        "/r", "--uniqueext", "bclinux7-qemu", "--configdir", str(CORE / "44.2")]


def test_buildable_arches(matrix: Matrix, tmp_path: Path) -> None:
    assert make(matrix, tmp_path).buildable_arches(job()) == ("x86_64",)
    assert make(matrix, tmp_path, host_arch="aarch64").buildable_arches(job()) == ("aarch64",)
    # el7 (yum) cannot be emulated: yum has no --forcearch; openEuler (dnf) can
    emulating = make(matrix, tmp_path, allow_emulation=True)
    assert emulating.buildable_arches(job()) == ("x86_64",)
    assert "yum (el7) has no such option" in str(emulating._arch_problem(job(), "aarch64"))
    assert emulating.buildable_arches(job("bclinux-euler")) == ("x86_64", "aarch64")
    hygon = job(flavor="hygon", arches=("x86_64",))
    assert make(matrix, tmp_path).buildable_arches(hygon) == ()
    assert make(matrix, tmp_path, host_name="hygon-builder-02").buildable_arches(hygon) == (
        "x86_64",)
    assert make(matrix, tmp_path, compatible_flavors=("hygon",)).buildable_arches(hygon) == (
        "x86_64",)


def test_write_config_only_when_changed(matrix: Matrix, tmp_path: Path) -> None:
    b = make(matrix, tmp_path)
    cell = matrix.cell("bclinux7-aarch64")
    path = b.write_config(cell)
    assert path == tmp_path / "cfg" / "virt-pipeline-bclinux7-aarch64.cfg"
    os.utime(path, (1, 1))
    assert b.write_config(cell).stat().st_mtime == 1
    make(matrix, tmp_path, bootstrap_image=True).write_config(cell)
    assert path.stat().st_mtime != 1
    assert "config_opts['use_bootstrap_image'] = True" in path.read_text()


@pytest.fixture()
def mock_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "mock").write_text("#!/bin/sh\nexit 0\n")
    (bindir / "mock").chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))


def test_check_available_names_what_is_missing(matrix: Matrix, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissing, match="required tool not found: mock") as info:
        make(matrix, tmp_path).check_available()
    assert info.value.exit_code == 3


def test_check_available_templates(matrix: Matrix, tmp_path: Path, mock_on_path: None) -> None:
    make(matrix, tmp_path).check_available()
    make(matrix, tmp_path, configdir=CORE / "40.5", core_configs_version=(40, 5)).check_available()
    with pytest.raises(ToolMissing, match=r"40\.5/eol/templates/centos-7\.tpl"):
        make(matrix, tmp_path, configdir=CORE / "40.5").check_available()


def test_check_available_group(matrix: Matrix, tmp_path: Path, mock_on_path: None,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(mockmod, "_in_group", lambda name: False)
    with pytest.raises(ToolMissing, match="'mock' group"):
        make(matrix, tmp_path).check_available()
    monkeypatch.setattr(mockmod, "_in_group", lambda name: True)
    make(matrix, tmp_path).check_available()


def test_check_available_qemu_when_emulating(matrix: Matrix, tmp_path: Path,
                                             mock_on_path: None) -> None:
    if Path("/usr/bin/qemu-aarch64-static").exists():
        pytest.skip("qemu-user-static is installed here")
    with pytest.raises(ToolMissing, match="qemu-aarch64-static"):
        make(matrix, tmp_path, allow_emulation=True).check_available()


def test_config_pins_the_os_macros(matrix: Matrix, tmp_path: Path) -> None:
    from tests.support import mockloader

    path = make(matrix, tmp_path, macros={"%vendor": "BC-Linux"}).write_config(
        matrix.cell("bclinux7-x86_64"))
    opts = mockloader.expand_all(mockloader.load_config(CORE / "44.2", str(path)))
    assert opts["macros"]["%dist"] == ".el7"
    assert opts["macros"]["%rhel"] == "7"
    assert opts["macros"]["%python3_pkgversion"] == "36"
    assert opts["macros"]["%vendor"] == "BC-Linux"


def test_user_configs_are_in_the_fingerprint(matrix: Matrix, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert mockmod.user_configs(home) == ["~/.mock/user.cfg=absent", "~/.config/mock.cfg=absent"]
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "mock.cfg").write_text("config_opts['root'] = 'elsewhere'\n")
    lines = mockmod.user_configs(home)
    assert lines[0].endswith("=absent") and not lines[1].endswith("=absent")


def test_fingerprint_changes_with_the_users_mock_cfg(matrix: Matrix, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    home = tmp_path / "home"
    fake_pwd = types.SimpleNamespace(getpwuid=lambda uid: types.SimpleNamespace(
        pw_dir=str(home), pw_name="builder"))
    monkeypatch.setattr(mockmod, "pwd", fake_pwd)
    b = make(matrix, tmp_path)
    before = b.settings_fingerprint(job())
    (home / ".mock").mkdir(parents=True)
    (home / ".mock" / "user.cfg").write_text("config_opts['root'] = 'x'\n")
    assert b.settings_fingerprint(job()) != before
