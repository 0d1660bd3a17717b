"""Generated mock configs, loaded the way mock loads them (tests/support/mockloader.py), against
fake mock-core-configs trees of an old (40.5, CentOS 7 under templates/) and a new (44.2, under
eol/templates/) release. Also the loader's own fidelity to mock's rules (koji-mock.md 6.1)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pipeline.builds.builders import mockconfig
from pipeline.core.errors import InputError
from pipeline.matrix import load as matrix_mod
from pipeline.matrix.model import Cell, Matrix
from tests.support import mockloader

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "tests" / "data" / "mock-core-configs"
VERSIONS = {"40.5": (40, 5), "44.2": (44, 2)}


@pytest.fixture(scope="module")
def matrix() -> Matrix:
    return matrix_mod.load(ROOT)


def load(tmp_path: Path, text: str, version: str = "44.2") -> dict[str, Any]:
    cfg = tmp_path / "generated.cfg"
    cfg.write_text(text)
    opts = mockloader.load_config(CORE / version, str(cfg))
    mockloader.check_config(opts)
    return mockloader.expand_all(opts)


def render(cell: Cell, version: tuple[int, ...] | None = (44, 2), **kw: Any) -> str:
    args: dict[str, Any] = {"vendor_dist": cell.dist, "macros": {},
                            "core_configs_version": version}
    args.update(kw)
    return mockconfig.render_config(cell, **args)


def _expected_includes(cell: Cell, version: str) -> list[str]:
    if cell.os.family == "openeuler":
        return ["templates/openeuler-22.03.tpl"]
    folder = "templates" if version == "40.5" else "eol/templates"
    return [f"{folder}/centos-7.tpl", f"{folder}/epel-7.tpl"]


def test_matrix_has_the_six_cells(matrix: Matrix) -> None:
    assert {c.id for c in matrix.cells} == {
        "bclinux7-x86_64", "bclinux7-aarch64", "bclinux7-hygon",
        "bclinux-euler-x86_64", "bclinux-euler-aarch64", "bclinux-euler-hygon"}


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_every_cell_loads_with_mock_rules(matrix: Matrix, tmp_path: Path, version: str) -> None:
    for cell in matrix.cells:
        text = render(cell, VERSIONS[version], macros={"%vendor": matrix.vendor})
        opts = load(tmp_path, text, version)
        assert opts["root"] == f"virt-pipeline-{cell.id}"
        assert opts["target_arch"] == cell.arch
        assert opts["legal_host_arches"] == (cell.arch,)
        assert opts["macros"]["%dist"] == cell.dist
        assert opts["macros"]["%vendor"] == "BC-Linux"
        assert opts["package_manager"] == cell.os.mock.package_manager
        assert opts["releasever"] == cell.os.mock.releasever
        assert opts["chroot_setup_cmd"] == cell.os.mock.chroot_setup
        assert (opts["dnf_warning"], opts["use_bootstrap_image"]) == (False, False)
        assert opts["rpmbuild_networking"] is False
        includes = [str(CORE / version / p) for p in _expected_includes(cell, version)]
        files = [*includes, str(tmp_path / "generated.cfg"),
                 str(CORE / version / "site-defaults.cfg")]
        assert sorted(opts["config_paths"]) == sorted(files)
        _check_repos(cell, opts)


def _check_repos(cell: Cell, opts: dict[str, Any]) -> None:
    conf = opts["dnf.conf"]
    assert "[main]" in conf and "assumeyes=1" in conf and "reposdir=/dev/null" in conf
    # jinja rendered at access time, as mock does
    assert f"user_agent=Mock (virt-pipeline-{cell.id}; {cell.arch})" in conf
    sections = re.findall(r"^\[([^\]]+)\]$", conf, re.MULTILINE)
    # vendor-only: the template's repositories are gone, its [main] settings stay
    assert sections == ["main"] + [name for name, _ in cell.os.mock.repos]
    for name, baseurl in cell.os.mock.repos:
        block = conf.split(f"[{name}]\n", 1)[1].split("\n\n", 1)[0]
        assert f"baseurl={baseurl}\n" in block + "\n"
        assert "enabled=1" in block


def test_yum_conf_and_dnf_conf_are_one_option(matrix: Matrix, tmp_path: Path) -> None:
    text = render(matrix.cell("bclinux7-aarch64"))
    assert "config_opts['yum.conf'] += (" in text
    opts = mockloader.load_config(CORE / "44.2", str(_write(tmp_path, text)))
    assert opts["yum.conf"] == opts["dnf.conf"] == opts["dnf5.conf"]


def test_el7_template_jinja_sees_the_target_arch(matrix: Matrix, tmp_path: Path) -> None:
    opts = load(tmp_path, render(matrix.cell("bclinux7-aarch64")))
    assert opts["yum_install_command"] == "install yum yum-utils --disablerepo=fixture-sclo*"
    # the template's chroot_setup_cmd and dist label are overridden / kept as mock would
    assert opts["dist"] == "el7"


def test_hygon_cell_is_x86_64_with_its_own_root(matrix: Matrix, tmp_path: Path) -> None:
    opts = load(tmp_path, render(matrix.cell("bclinux-euler-hygon")))
    assert (opts["root"], opts["target_arch"]) == ("virt-pipeline-bclinux-euler-hygon", "x86_64")
    assert opts["macros"]["%dist"] == ".oe2203.bclinux"


def test_old_layout_config_fails_on_new_core_configs(matrix: Matrix, tmp_path: Path) -> None:
    text = render(matrix.cell("bclinux7-x86_64"), (41, 0))
    assert "include('templates/centos-7.tpl')" in text
    with pytest.raises(mockloader.ConfigError, match="Could not find included config file"):
        load(tmp_path, text, "44.2")
    assert load(tmp_path, text, "40.5")["root"] == "virt-pipeline-bclinux7-x86_64"


@pytest.mark.parametrize(("version", "folder"), [
    ((40, 5), "templates"), ((41, 0), "templates"), ((41, 1), "eol/templates"),
    ((44, 2), "eol/templates"), (None, "eol/templates")])
def test_template_includes_by_version(version: tuple[int, ...] | None, folder: str) -> None:
    assert mockconfig.template_includes("centos-7", version) == [
        f"{folder}/centos-7.tpl", f"{folder}/epel-7.tpl"]
    assert mockconfig.template_includes("openeuler-22.03", version) == [
        "templates/openeuler-22.03.tpl"]


def test_unknown_template_is_an_input_error() -> None:
    with pytest.raises(InputError, match="fedora-40"):
        mockconfig.template_includes("fedora-40", None)


def test_parse_version() -> None:
    assert mockconfig.parse_version("41.1-1.fc40") == (41, 1)
    assert mockconfig.parse_version("44.2") == (44, 2)


HOSTILE = [
    "x'); import os; os.system('false'); ('",
    '"""; config_opts["root"] = "pwned"; """',
    "%(echo pwned)",
    "%{lua: os.execute('x')} \\ back\\slash",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_values_cannot_break_out(matrix: Matrix, tmp_path: Path, value: str) -> None:
    cell = matrix.cell("bclinux-euler-x86_64")
    mock = replace(cell.os.mock, releasever=value, chroot_setup=value,
                   repos=((("evil"), f"https://example.invalid/{value.replace(' ', '')}/"),))
    cell = replace(cell, os=replace(cell.os, mock=mock))
    opts = load(tmp_path, render(cell, macros={"%evil": value}, vendor_dist=value))
    assert opts["root"] == "virt-pipeline-bclinux-euler-x86_64"
    assert opts["releasever"] == value
    assert opts["chroot_setup_cmd"] == value
    assert opts["macros"]["%evil"] == value
    assert opts["macros"]["%dist"] == value
    assert f"baseurl=https://example.invalid/{value.replace(' ', '')}/\n" in opts["dnf.conf"]


@pytest.mark.parametrize("value", ["{{ root }}", "a {% if x %}", "${#var}"])
def test_jinja_openers_are_refused(matrix: Matrix, value: str) -> None:
    with pytest.raises(InputError, match="jinja"):
        render(matrix.cell("bclinux7-x86_64"), macros={"%x": value})


@pytest.mark.parametrize(("name", "url", "message"), [
    ("ok", "https://user:pw@mirror.invalid/x/", "credentials"),
    ("ok", "https://mirror.invalid/x/?token=abc", "credentials"),
    ("ok", "https://mirror.invalid/x y/", "bad baseurl"),
    ("ok", "https://mirror.invalid/x/\nsslverify=0", "bad baseurl"),
    ("bad]\n[main", "https://mirror.invalid/x/", "bad repository id"),
])
def test_bad_repos_are_refused(matrix: Matrix, name: str, url: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        render(matrix.cell("bclinux7-x86_64"), extra_repos=[(name, url)])


@pytest.mark.parametrize("macros", [{"%x": ""}, {"%x": "a\nb"}, {"bad name": "1"}])
def test_bad_macros_are_refused(matrix: Matrix, macros: dict[str, str]) -> None:
    with pytest.raises(InputError):
        render(matrix.cell("bclinux7-x86_64"), macros=macros)


def test_extra_repos_and_bootstrap_image(matrix: Matrix, tmp_path: Path) -> None:
    text = render(matrix.cell("bclinux7-x86_64"), bootstrap_image=True,
                  extra_repos=[("local-deps", "file:///srv/repo/")])
    opts = load(tmp_path, text)
    assert opts["use_bootstrap_image"] is True
    assert opts["dnf.conf"].rstrip().endswith(
        "[local-deps]\nname=local-deps\nbaseurl=file:///srv/repo/\nenabled=1\ngpgcheck=0\n"
        "skip_if_unavailable=False")


def test_fingerprint_follows_the_text(matrix: Matrix) -> None:
    a = render(matrix.cell("bclinux7-x86_64"))
    b = render(matrix.cell("bclinux7-aarch64"))
    assert mockconfig.config_fingerprint(a) == mockconfig.config_fingerprint(a)
    assert mockconfig.config_fingerprint(a) != mockconfig.config_fingerprint(b)
    assert "secret" not in a.lower() and "password" not in a.lower()


# -- the loader itself follows mock's rules (koji-mock.md 6.1) --------------------------------


def _write(tmp_path: Path, text: str, name: str = "t.cfg") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _load_text(tmp_path: Path, text: str, configdir: Path | None = None) -> Any:
    return mockloader.load_config(configdir or tmp_path, str(_write(tmp_path, text)))


def test_loader_rebinding_config_opts_is_ignored(tmp_path: Path) -> None:
    opts = _load_text(tmp_path, "config_opts = {'root': 'x'}\n")
    with pytest.raises(mockloader.ConfigError, match="root"):
        mockloader.check_config(opts)


def test_loader_include_resolves_against_configdir(tmp_path: Path) -> None:
    confdir, other = tmp_path / "etc", tmp_path / "elsewhere"
    (confdir / "templates").mkdir(parents=True)
    other.mkdir()
    (confdir / "templates" / "a.tpl").write_text("config_opts['root'] = 'from-configdir'\n")
    (other / "templates").mkdir()
    (other / "templates" / "a.tpl").write_text("config_opts['root'] = 'from-file-dir'\n")
    cfg = _write(other, "include('templates/a.tpl')\ninclude('templates/a.tpl')\n")
    opts = mockloader.load_config(confdir, str(cfg))
    assert opts["root"] == "from-configdir"  # and the second include was skipped
    assert opts["chroot_name"] == "t"


def test_loader_include_errors(tmp_path: Path) -> None:
    with pytest.raises(mockloader.ConfigError, match="Could not find"):
        _load_text(tmp_path, "include('nope.tpl')\n")
    (tmp_path / "a.tpl").write_text("config_opts['root'] = 'a'\n")
    with pytest.raises(mockloader.ConfigError, match="Config error"):
        _load_text(tmp_path, "if True: include('a.tpl')\n")


def test_loader_processes_backslashes_in_included_text(tmp_path: Path) -> None:
    (tmp_path / "nl.tpl").write_text("config_opts['x'] = 'a\\nb'\n")
    with pytest.raises(mockloader.ConfigError):
        _load_text(tmp_path, "include('nl.tpl')\nconfig_opts['root'] = 'r'\n")
    (tmp_path / "d.tpl").write_text("config_opts['x'] = '\\d'\n")
    with pytest.raises(re.error):
        _load_text(tmp_path, "include('d.tpl')\n")
    opts = _load_text(tmp_path, "config_opts['root'] = 'r'\nconfig_opts['x'] = 'a\\nb'\n")
    assert opts["x"] == "a\nb"  # the same text at top level is fine


def test_loader_macros_are_normalised(tmp_path: Path) -> None:
    opts = _load_text(tmp_path, "config_opts['root'] = 'r'\n"
                                "config_opts['macros']['dist'] = '.el7'\n"
                                "config_opts['macros']['%n'] = None\n")
    assert opts["macros"]["%dist"] == ".el7" and "dist" not in opts["macros"]
    for bad in ("''", "0"):
        with pytest.raises(mockloader.BadCmdline):
            _load_text(tmp_path, f"config_opts['macros']['%x'] = {bad}\n")
    with pytest.raises(mockloader.BadCmdline):
        _load_text(tmp_path, "config_opts['macros']['%a b'] = '1'\n")


def test_loader_jinja_fails_at_access_not_at_load(tmp_path: Path) -> None:
    opts = _load_text(tmp_path, "config_opts['root'] = 'r'\n"
                                "config_opts['macros']['%x'] = 'echo ${#var}'\n")
    with pytest.raises(Exception, match="comment"):
        mockloader.expand_all(opts)


def test_loader_plus_equals_needs_the_default(tmp_path: Path) -> None:
    opts = _load_text(tmp_path, "config_opts['root'] = 'r'\n"
                                "config_opts['yum_install_command'] += ' x'\n")
    assert opts["yum_install_command"] == "install yum yum-utils x"
    with pytest.raises(mockloader.ConfigError, match=r"dnf\.conf"):
        _load_text(tmp_path, "config_opts['yum.conf'] += 'x'\n")


def test_loader_path_without_cfg_is_not_a_path(tmp_path: Path) -> None:
    _write(tmp_path, "config_opts['root'] = 'r'\n")
    with pytest.raises(mockloader.ConfigError, match="Non-existing"):
        mockloader.load_config(tmp_path / "none", str(tmp_path / "t"))
    assert mockloader.load_config(tmp_path, "t")["root"] == "r"  # NAME -> configdir/NAME.cfg


def test_simple_macros_of_the_os_files(matrix: Matrix) -> None:
    for os_ in matrix.oses.values():
        macros = mockconfig.simple_macros((ROOT / os_.macros).read_text(), file=os_.macros)
        assert macros["%python3_pkgversion"] in ("3", "36")
    el7 = mockconfig.simple_macros((ROOT / "macros" / "bclinux7.macros").read_text())
    assert el7["%rhel"] == "7" and el7["%__python"] == "%{__python2}"


@pytest.mark.parametrize("text", ["%a() body\n", "%a x\\\n  y\n", "not a macro\n"])
def test_simple_macros_refuse_what_mock_cannot_carry(text: str) -> None:
    with pytest.raises(InputError, match=r"f\.macros:1"):
        mockconfig.simple_macros(text, file="f.macros")


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_template_repos_are_kept_only_when_asked(matrix: Matrix, tmp_path: Path,
                                                 version: str) -> None:
    for cell in matrix.cells:
        kept = load(tmp_path, render(cell, VERSIONS[version], template_repos=True), version)
        sections = re.findall(r"^\[([^\]]+)\]$", kept["dnf.conf"], re.MULTILINE)
        template = ["fixture-OS"] if cell.os.family == "openeuler" else \
            ["fixture-base", "fixture-epel"]
        assert sections == ["main", *template, *(n for n, _ in cell.os.mock.repos)]
        vendor = load(tmp_path, render(cell, VERSIONS[version]), version)["dnf.conf"]
        assert not set(template) & set(re.findall(r"^\[([^\]]+)\]$", vendor, re.MULTILINE))
        main = kept["dnf.conf"].split("\n[", 2)[1]          # the [main] section is the same
        assert main in vendor


def test_vendor_only_needs_vendor_repositories(matrix: Matrix) -> None:
    import dataclasses

    cell = matrix.cell("bclinux7-x86_64")
    bare = dataclasses.replace(cell, os=dataclasses.replace(
        cell.os, mock=dataclasses.replace(cell.os.mock, repos=())))
    with pytest.raises(InputError, match="no vendor repositories"):
        render(bare)
    assert "include(" in render(bare, template_repos=True)
