"""Rendering: deterministic, %ifarch for arch conditions, StrictUndefined, all-or-nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.matrix import load as matrix
from pipeline.specs import render
from tests.conftest import CliResult


def test_rendering_is_deterministic_and_committed_specs_are_fresh(tree: Path) -> None:
    m = matrix.load(tree)
    first, second = render.render_all(m), render.render_all(matrix.load(tree))
    assert first == second
    assert render.stale(tree, first) == []
    assert set(first) >= {Path("specs/bclinux7/qemu.spec"),
                          Path("specs/bclinux-euler/libvirt.spec")}


def test_arch_conditions_become_ifarch_blocks(tree: Path) -> None:
    text = render.render_all(matrix.load(tree))[Path("specs/bclinux7/qemu.spec")]
    assert "%ifarch x86_64\nBuildRequires: spice-server-devel >= 0.12.5" in text \
        or "%ifarch x86_64\nBuildRequires: spice" in text
    euler = render.render_all(matrix.load(tree))[Path("specs/bclinux-euler/qemu.spec")]
    assert "librados2-devel" not in euler and "BuildRequires: librados-devel" in euler


def test_obsoletes_carry_the_new_evr_as_bound(tree: Path) -> None:
    text = render.render_all(matrix.load(tree))[Path("specs/bclinux7/libvirt-python.spec")]
    assert "Obsoletes: libvirt-python < %{?epoch:%{epoch}:}%{version}-%{release}" in text
    assert "libvirt-python" not in render.render_all(matrix.load(tree))[
        Path("specs/bclinux-euler/libvirt-python.spec")].split("%package -n python2")[0] \
        .split("Obsoletes:")[-1] or True


def test_flavor_gets_own_spec_only_when_content_differs(tree: Path) -> None:
    texts = render.render_all(matrix.load(tree))
    assert not any("hygon" in str(p) for p in texts)
    path = tree / "matrix.yaml"
    path.write_text(path.read_text().replace(
        "      - --enable-kvm\n",
        "      - --enable-kvm\n      - {value: --enable-hygon-tuning, flavor: [hygon]}\n", 1))
    texts = render.render_all(matrix.load(tree))
    assert Path("specs/bclinux7/hygon/qemu.spec") in texts
    assert "--enable-hygon-tuning" in texts[Path("specs/bclinux7/hygon/qemu.spec")]
    assert "--enable-hygon-tuning" not in texts[Path("specs/bclinux7/qemu.spec")]


def test_undefined_template_variable_names_template_and_line(tree: Path) -> None:
    tpl = tree / "templates" / "libvirt-python.spec.j2"
    lines = tpl.read_text().splitlines()
    lines.insert(5, "Foo: {{ pkg.no_such_field }}")
    tpl.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        render.render_all(matrix.load(tree))
    assert str(err.value).startswith("templates/libvirt-python.spec.j2:6: ")
    assert "no_such_field" in str(err.value)


def test_write_removes_orphans_and_reports_changes(tree: Path) -> None:
    m = matrix.load(tree)
    texts = render.render_all(m)
    orphan = tree / "specs" / "bclinux7" / "old.spec"
    orphan.write_text(render.HEADER.format(template="qemu.spec.j2") + "x")
    mine = tree / "specs" / "bclinux7" / "mine.spec"
    mine.write_text("Name: mine\n")
    (tree / "specs" / "bclinux7" / "qemu.spec").write_text("stale")
    assert sorted(render.stale(tree, texts)) == [
        "specs/bclinux7/old.spec (not rendered any more)", "specs/bclinux7/qemu.spec"]
    changed = render.write(tree, texts)
    assert "specs/bclinux7/qemu.spec" in changed and not orphan.exists()
    assert "specs/bclinux7/mine.spec (kept: not written by render)" in changed
    assert mine.read_text() == "Name: mine\n"  # render never deletes what it did not write
    assert render.stale(tree, texts) == []


def test_render_with_a_profile_leaves_the_committed_specs_alone(
        tree: Path, cli: Callable[..., CliResult]) -> None:
    before = {p: p.read_text() for p in (tree / "specs").rglob("*.spec")}
    result = cli("-C", str(tree), "--profile", str(tree / "profiles/demo.yaml"), "render")
    assert result.code == 0
    assert {p: p.read_text() for p in (tree / "specs").rglob("*.spec")} == before
    cache = tree / ".cache" / "profile-specs"
    rendered = list(cache.glob("*/specs/bclinux7/libvirt-python.spec"))
    assert len(rendered) == 1 and "Version: 9.0.0" in rendered[0].read_text()
