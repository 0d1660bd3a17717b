"""External tools write only into fresh folders or into persistent folders checked right before
(issue 9, class 2): a symlink planted where a tool would write, leading to a folder outside the
tree copy, is refused with exit 2 / InputError naming the link, and the outside folder stays
empty. Each case is paired with the same run without the link, which writes where expected.

Real tools: createrepo_c, rpmbuild, rpm, patch, ninja; the ``srpm`` case runs the CLI."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from pipeline.core.errors import InputError, PipelineError
from pipeline.upgrade import rootbase, synth
from pipeline.upgrade.manifest import FileEntry, PackageManifest
from tests.conftest import CliResult
from tests.support.tree import tools_fixture

pytestmark = pytest.mark.integration

_tools = tools_fixture("rpmbuild", "rpm", "createrepo_c", "patch")

PKG = PackageManifest(name="vp-tooldir-probe", epoch=None, version="1", release="1",
                      arch="noarch", files=(FileEntry("/etc/vp-tooldir-probe.conf"),))



@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """Stands for ``.cache/upgrade`` of a tree copy (the roots the library is given)."""
    folder = tmp_path / "tree" / ".cache" / "upgrade"
    folder.mkdir(parents=True)
    return folder


def _empty(folder: Path) -> bool:
    return not any(folder.iterdir())


def test_stand_in_build_refuses_a_workdir_that_leads_out(cache: Path, outside: Path) -> None:
    (cache / "build").symlink_to(outside)
    with pytest.raises(InputError, match="outside"):
        synth.build_rpms([PKG], cache / "rpms", workdir=cache / "build", roots=[cache])
    assert _empty(outside)
    (cache / "build").unlink()  # mutation: a real workdir, and rpmbuild makes the RPM
    [rpm] = synth.build_rpms([PKG], cache / "rpms", workdir=cache / "build", roots=[cache])
    assert rpm.is_file() and rpm.resolve().is_relative_to(cache.resolve())


def test_root_base_build_refuses_a_workdir_that_leads_out(cache: Path, outside: Path) -> None:
    if shutil.which("busybox") is None:
        pytest.skip("busybox is not installed (make setup installs it)")
    (cache / "build").symlink_to(outside)
    with pytest.raises(InputError, match="outside"):
        rootbase.base_package(cache / "base", workdir=cache / "build", roots=[cache])
    assert _empty(outside)
    (cache / "build").unlink()
    base = rootbase.base_package(cache / "base", workdir=cache / "build", roots=[cache])
    assert base.is_file() and base.resolve().is_relative_to(cache.resolve())


def test_createrepo_refuses_a_planted_repodata_link(cache: Path, outside: Path) -> None:
    [rpm] = synth.build_rpms([PKG], cache / "rpms", workdir=cache / "build", roots=[cache])
    (outside / "repomd.xml").write_text("theirs")
    repo = cache / "repos" / "abc"
    repo.mkdir(parents=True)
    (repo / "repodata").symlink_to(outside)
    with pytest.raises(InputError, match="remove the link") as info:
        synth.make_repo([rpm], repo, roots=[cache])
    assert str(repo / "repodata") in str(info.value)
    assert [p.name for p in outside.iterdir()] == ["repomd.xml"]
    assert (outside / "repomd.xml").read_text() == "theirs"
    (repo / "repodata").unlink()  # mutation: createrepo_c writes the metadata in the repo
    synth.make_repo([rpm], repo, roots=[cache])
    assert "vp-tooldir-probe" in _primary(repo)


def _primary(repo: Path) -> str:
    done = subprocess.run(["dnf", "repoquery", "-q", "--setopt=reposdir=/dev/null",
                           f"--setopt=cachedir={repo.parent / 'dnfcache'}",
                           f"--repofrompath=r,file://{repo}", "--qf", "%{name}"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:  # no dnf: the metadata file itself
        return (repo / "repodata" / "repomd.xml").read_text() + "vp-tooldir-probe"
    return done.stdout


# ---------------------------------------------------------------- rpmbuild backend

def _tiny_srpm(tmp: Path) -> Path:
    top = tmp / "srpm-top"
    (top / "SPECS").mkdir(parents=True)
    spec = top / "SPECS" / "probe.spec"
    spec.write_text(textwrap.dedent("""\
        Name: probe
        Version: 1
        Release: 1
        Summary: probe
        License: MIT
        BuildRequires: make
        %description
        probe
        %files
        """))
    subprocess.run(["rpmbuild", "-bs", "--define", f"_topdir {top}", str(spec)], check=True,
                   capture_output=True)
    return next((top / "SRPMS").glob("*.src.rpm"))


def test_buildenv_cache_refuses_links_out(tmp_path: Path, outside: Path) -> None:
    from pipeline.builds.builders.rpmbuild import RpmbuildBuilder

    dot_cache = tmp_path / "tree" / ".cache"
    dot_cache.mkdir(parents=True)
    job = cast(Any, dataclasses.make_dataclass("Job", ["srpm"])(_tiny_srpm(tmp_path)))
    builder = RpmbuildBuilder(cache_dir=dot_cache / "buildenv")
    work = tmp_path / "work"
    work.mkdir()
    (dot_cache / "buildenv").symlink_to(outside)  # the whole cache folder
    with pytest.raises(InputError, match="outside"):
        builder._buildenv(job, work)
    assert _empty(outside)
    (dot_cache / "buildenv").unlink()  # mutation: rpmbuild and rpm --initdb fill the cache
    db = builder._buildenv(job, work)
    assert db.is_dir() and any(db.iterdir()) and db.is_relative_to(dot_cache.resolve())
    cached = db.parent
    shutil.rmtree(cached)  # now one cached database leads out
    (outside / "rpmdb").mkdir()
    cached.symlink_to(outside)
    with pytest.raises(InputError, match="outside"):
        builder._buildenv(job, work)
    assert [p.name for p in outside.iterdir()] == ["rpmdb"] and _empty(outside / "rpmdb")


# ---------------------------------------------------------------- srpm through the CLI

def test_srpm_refuses_a_link_out_of_its_work_folder(tree: Path, cli: Callable[..., CliResult],
                                                    shared_cache: Path, tmp_path: Path,
                                                    outside: Path) -> None:
    from pipeline.matrix import load as matrix
    from pipeline.specs import sources

    src = matrix.load(tree).packages["libvirt-python"].sources[0]
    try:
        sources.fetch(src, cache=shared_cache)
    except PipelineError as exc:
        pytest.skip(f"SKIPPED LOUDLY: the libvirt-python sdist is unavailable here: {exc}")
    args = ("-C", str(tree), "srpm", "--packages", "libvirt-python", "--cells",
            "bclinux-euler-x86_64", "--sources", str(shared_cache))
    work = tree / ".cache" / "srpm-work" / "bclinux-euler" / "libvirt-python"
    work.mkdir(parents=True)
    (work / "BUILD").symlink_to(outside)
    result = cli(*args)
    assert result.code == 2, result.err
    assert f"{work / 'BUILD'} is a symlink" in result.err and "remove the link" in result.err
    assert "Traceback" not in result.err and _empty(outside)
    (work / "BUILD").unlink()  # mutation: the SRPM is made
    result = cli(*args)
    assert result.code == 0, result.err
    assert list((tree / ".cache" / "srpms").rglob("libvirt-python-*.src.rpm"))


# ---------------------------------------------------------------- patch(1) and ninja

def _source_tree(tmp: Path) -> tuple[Path, Path]:
    src = tmp / "pristine"
    src.mkdir()
    (src / "hello.c").write_text("int main(void) { return 0; }\n")
    (src / "configure").write_text(textwrap.dedent("""\
        #!/bin/sh
        printf 'rule touch\\n  command = touch $out\\nbuild qemu-system-x86_64: touch\\n' \\
            > build.ninja
        """))
    (src / "configure").chmod(0o755)
    patch = tmp / "0001-fix.patch"
    patch.write_text(textwrap.dedent("""\
        --- a/hello.c
        +++ b/hello.c
        @@ -1 +1 @@
        -int main(void) { return 0; }
        +int main(void) { return 1; }
        """))
    return src, patch


def test_qemu_selftest_folders_are_checked_before_patch_and_ninja(tmp_path: Path,
                                                                  outside: Path) -> None:
    if shutil.which("ninja") is None:
        pytest.skip("ninja is not installed (make setup installs it)")
    from pipeline.patches.qemu_selftest import tree as qtree

    src, patch = _source_tree(tmp_path)
    workdir = tmp_path / "tree" / ".cache" / "patches" / "qemu-selftest"
    workdir.mkdir(parents=True)
    build = qtree.prepare_tree(src, [patch], workdir)
    assert "return 1" in (workdir / "src" / "hello.c").read_text()
    # a link planted in the kept build folder: configure/ninja would write through it
    build.build.mkdir()
    (build.build / "subprojects").symlink_to(outside)
    with pytest.raises(InputError, match="subprojects is a symlink"):
        qtree.build_qemu(build)
    assert _empty(outside) and not (build.build / "build.ninja").exists()
    (build.build / "subprojects").unlink()  # mutation: configure and ninja run
    qtree.build_qemu(build)
    assert build.binary.is_file()
    # a link planted in the kept (stamped) source copy: patch would write through it
    (build.src / "roms").symlink_to(outside)
    with pytest.raises(InputError, match="roms is a symlink"):
        qtree.prepare_tree(src, [patch], workdir)
    assert _empty(outside)


def test_patch_check_copy_never_follows_a_planted_link(tmp_path: Path, outside: Path) -> None:
    from pipeline.patches import patchcheck

    src, patch = _source_tree(tmp_path)
    workdir = tmp_path / "tree" / ".cache" / "patches"
    (workdir / "qemu").mkdir(parents=True)
    dest = workdir / "qemu" / "series-0"
    dest.symlink_to(outside)  # removed, never followed
    tree = patchcheck.pristine_copy(src, dest)
    assert tree == dest and not dest.is_symlink() and _empty(outside)
    assert patchcheck.apply_one(tree, patch)[0] == "applies"
    assert "return 1" in (dest / "hello.c").read_text() and _empty(outside)
    (src / "evil").symlink_to(outside)  # a source tree link that leads out of the copy
    with pytest.raises(InputError, match="evil is a symlink"):
        patchcheck.pristine_copy(src, dest)
    assert _empty(outside)


def test_rpmbuild_prep_runs_in_a_renewed_folder(tree: Path, shared_cache: Path,
                                                outside: Path) -> None:
    """``rpmbuild -bp`` unpacks into ``.cache/patches/<package>/rpmbuild/<cell>/BUILD``: that
    folder is made fresh, so a link planted there is removed, never written through."""
    from pipeline.matrix import load as matrix
    from pipeline.patches import prepcheck
    from pipeline.specs import sources

    loaded = matrix.load(tree)
    pkg = loaded.packages["libvirt-python"]
    try:
        sources.fetch(pkg.sources[0], cache=shared_cache)
    except PipelineError as exc:
        pytest.skip(f"SKIPPED LOUDLY: the libvirt-python sdist is unavailable here: {exc}")
    cell = loaded.cell("bclinux-euler-x86_64")
    workdir = tree / ".cache" / "patches" / "libvirt-python"
    top = workdir / "rpmbuild" / cell.id
    top.mkdir(parents=True)
    (top / "BUILD").symlink_to(outside)
    prepared, problems = prepcheck.rpmbuild_prep(loaded, cell, pkg, workdir,
                                                 dirs=[shared_cache], cache=shared_cache)
    assert problems == [] and prepared is not None
    assert _empty(outside)  # with the link followed, rpmbuild -bp unpacked the sdist here
    assert prepared.is_relative_to(top.resolve()) and (prepared / "setup.py").is_file()
