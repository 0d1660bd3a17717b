"""MockBuilder driving a fake ``mock`` (tests/support/fakemock.py) that loads the generated config
with mock's loading rules and really rebuilds a tiny SRPM with rpmbuild.

Needs ``rpm`` and ``rpmbuild`` (Debian: ``apt-get install rpm``).
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.builds.builders.base import BuildJob, BuildOutcome
from pipeline.builds.builders.mock import MockBuilder
from pipeline.matrix import load as matrix_mod
from pipeline.matrix.model import Matrix

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "tests" / "data" / "mock-core-configs"
HOST = platform.machine()
AVAILABLE = ["bash", "make", "gcc = 12.2.0"]

SPEC = """\
Name: vp-hello
Version: 1.0
Release: 1%{?dist}
Summary: A tiny package for the mock backend tests
License: MIT
BuildRequires: make
BuildRequires: gcc >= 4.8
@EXTRA_BR@
%description
A tiny package.

%package doc
Summary: Its documentation
BuildArch: noarch
%description doc
Docs.

%prep
%build
@BUILD@
echo hello > hello.txt
%install
mkdir -p %{buildroot}/usr/share/vp-hello
cp hello.txt %{buildroot}/usr/share/vp-hello/
echo dist=%{dist} > %{buildroot}/usr/share/vp-hello/dist.txt

%files
/usr/share/vp-hello/hello.txt
/usr/share/vp-hello/dist.txt
%files doc

%changelog
"""

pytest.importorskip("jinja2")
if not (shutil.which("rpm") and shutil.which("rpmbuild")):
    pytest.skip("rpm and rpmbuild needed (apt-get install rpm)", allow_module_level=True)


@pytest.fixture(scope="module")
def matrix() -> Matrix:
    return matrix_mod.load(ROOT)


@pytest.fixture()
def fake_mock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install the fake mock as ``mock`` on PATH; returns its settings file."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    settings = bindir / "fakemock.json"
    settings.write_text(json.dumps({
        "basedir": str(tmp_path / "var-lib-mock"), "available": AVAILABLE,
        "qemu_dir": str(tmp_path / "qemu"), "host_arch": HOST}))
    (tmp_path / "qemu").mkdir()
    wrapper = bindir / "mock"
    wrapper.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(ROOT)!r})\n"
        "from pathlib import Path\nfrom tests.support.fakemock import main\n"
        f"sys.exit(main(sys.argv[1:], settings_file=Path({str(settings)!r})))\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return settings


def make_srpm(tmp_path: Path, *, build: str = "", extra_br: str = "") -> Path:
    top = tmp_path / "srpm-top"
    spec = tmp_path / "vp-hello.spec"
    spec.write_text(SPEC.replace("@BUILD@", build).replace("@EXTRA_BR@", extra_br))
    subprocess.run(["rpmbuild", "-bs", "--define", f"_topdir {top}", "--define", "dist .host",
                    str(spec)], check=True, capture_output=True)
    (srpm,) = (top / "SRPMS").glob("*.src.rpm")
    assert srpm.name == "vp-hello-1.0-1.host.src.rpm"
    return srpm


def job_for(matrix: Matrix, srpm: Path, os_id: str, *, flavor: str | None = None,
            arches: tuple[str, ...] = (HOST,)) -> BuildJob:
    os_ = matrix.oses[os_id]
    cells = tuple(c.id for c in matrix.cells
                  if c.os.id == os_id and c.flavor_name == flavor and c.arch in arches)
    key = f"{os_id}+{flavor}/vp-hello" if flavor else f"{os_id}/vp-hello"
    return BuildJob(key=key, os_id=os_id, flavor=flavor, package="vp-hello",
                    nvr=f"vp-hello-1.0-1{os_.full_dist}", srpm=srpm, spec=srpm,
                    dist=os_.full_dist, arches=arches, cells=cells, macros=(),
                    koji_target=os_.koji.target, koji_channel=None)


def builder(matrix: Matrix, tmp_path: Path, version: str = "44.2", **kw: object) -> MockBuilder:
    return MockBuilder(matrix=matrix, config_dir=tmp_path / "mock-configs",
                       configdir=CORE / version, host_arch=HOST, host_name="ci-host",
                       core_configs_version=tuple(int(x) for x in version.split(".")),
                       **kw)  # type: ignore[arg-type]


def run_build(b: MockBuilder, job: BuildJob, result: Path) -> tuple[BuildOutcome, list[str]]:
    seen: list[str] = []
    outcome = b.build(job, result, lambda key, text: seen.append(f"{key}: {text}"))
    return outcome, seen


def rpm_query(path: Path, fmt: str) -> str:
    return subprocess.run(["rpm", "-qp", "--qf", fmt, str(path)], check=True,
                          capture_output=True, text=True).stdout


@pytest.mark.parametrize(("os_id", "version", "dist"), [
    ("bclinux-euler", "44.2", ".oe2203.bclinux"), ("bclinux7", "40.5", ".el7")])
def test_build_uses_the_config_dist(matrix: Matrix, tmp_path: Path, fake_mock: Path,
                                    os_id: str, version: str, dist: str) -> None:
    srpm = make_srpm(tmp_path)
    b = builder(matrix, tmp_path, version)
    job = job_for(matrix, srpm, os_id)
    outcome, progress = run_build(b, job, tmp_path / "result")
    assert outcome.ok, outcome.reason + "\n" + outcome.log_tail
    res = tmp_path / "result" / HOST
    cfg = tmp_path / "mock-configs" / f"virt-pipeline-{os_id}-{HOST}.cfg"
    assert outcome.commands == [
        f"mock -r {cfg} --rebuild {srpm} --resultdir {res} --uniqueext {os_id}-vp-hello "
        f"--configdir {CORE / version}"]
    assert sorted(p.name for p in outcome.rpms) == [
        f"vp-hello-1.0-1{dist}.{HOST}.rpm", f"vp-hello-doc-1.0-1{dist}.noarch.rpm"]
    assert outcome.srpm is not None and outcome.srpm.name == f"vp-hello-1.0-1{dist}.src.rpm"
    assert rpm_query(outcome.rpms[0], "%{RELEASE}") == f"1{dist}"
    payload = subprocess.run(f"rpm2cpio {outcome.rpms[0]} | cpio -i --to-stdout '*dist.txt'",
                             shell=True, capture_output=True, text=True, check=True).stdout
    assert payload == f"dist={dist}\n"
    assert {p.name for p in outcome.logs} >= {"build.log", "root.log", "state.log"}
    assert (res / "build.log").read_text().startswith("Mock Version:")
    assert "Start: chroot init" in (res / "state.log").read_text()
    assert (res / "mock-config.cfg").read_text() == cfg.read_text()
    assert progress == [f"{job.key}: mock {HOST}"]


def test_config_kept_and_logs_appended_on_rebuild(matrix: Matrix, tmp_path: Path,
                                                  fake_mock: Path) -> None:
    srpm = make_srpm(tmp_path)
    b = builder(matrix, tmp_path)
    job = job_for(matrix, srpm, "bclinux-euler")
    assert run_build(b, job, tmp_path / "r")[0].ok
    cfg = tmp_path / "mock-configs" / f"virt-pipeline-bclinux-euler-{HOST}.cfg"
    os.utime(cfg, (1_000_000_000, 1_000_000_000))
    assert run_build(b, job, tmp_path / "r")[0].ok
    assert cfg.stat().st_mtime == 1_000_000_000  # unchanged text: not rewritten (root cache)
    build_log = (tmp_path / "r" / HOST / "build.log").read_text()
    assert build_log.count("Mock Version:") == 2
    b2 = builder(matrix, tmp_path, macros={"%vendor": "Other"})
    b2.write_config(matrix.cell(f"bclinux-euler-{HOST}"))
    assert cfg.stat().st_mtime != 1_000_000_000 and "'Other'" in cfg.read_text()


def test_rpmbuild_failure_gives_reason_and_tail(matrix: Matrix, tmp_path: Path,
                                                fake_mock: Path) -> None:
    srpm = make_srpm(tmp_path, build="echo 'vp-hello: intentional failure' >&2; exit 1")
    res = tmp_path / "result"
    (res / HOST).mkdir(parents=True)
    (res / HOST / "build.log").write_text("Mock Version: 6.0\nerror: OLD RUN failure\n")
    outcome, _ = run_build(builder(matrix, tmp_path), job_for(matrix, srpm, "bclinux7"), res)
    assert not outcome.ok
    assert outcome.failed_arch == HOST
    assert outcome.reason.startswith(f"{HOST}: mock exit 1: build failed")
    assert "Bad exit status from" in outcome.reason and "(%build)" in outcome.reason
    assert "vp-hello: intentional failure" in outcome.log_tail
    assert "OLD RUN" not in outcome.log_tail
    assert outcome.rpms == [] and not list((res / HOST).glob("*.rpm"))


def test_unsatisfiable_buildrequires_is_exit_30(matrix: Matrix, tmp_path: Path,
                                                fake_mock: Path) -> None:
    srpm = make_srpm(tmp_path, extra_br="BuildRequires: libvp-devel >= 2")
    outcome, _ = run_build(builder(matrix, tmp_path), job_for(matrix, srpm, "bclinux-euler"),
                           tmp_path / "result")
    assert not outcome.ok
    assert "mock exit 30: package manager failed" in outcome.reason
    assert "No matching package to install: 'libvp-devel >= 2'" in outcome.reason
    assert "libvp-devel" in outcome.log_tail


def test_version_of_buildrequires_is_checked(matrix: Matrix, tmp_path: Path,
                                             fake_mock: Path) -> None:
    srpm = make_srpm(tmp_path, extra_br="BuildRequires: gcc >= 99")
    outcome, _ = run_build(builder(matrix, tmp_path), job_for(matrix, srpm, "bclinux-euler"),
                           tmp_path / "result")
    assert not outcome.ok and "mock exit 30" in outcome.reason
    assert "gcc >= 99" in outcome.log_tail


def test_locked_root_is_exit_60(matrix: Matrix, tmp_path: Path, fake_mock: Path) -> None:
    srpm = make_srpm(tmp_path)
    root = f"virt-pipeline-bclinux-euler-{HOST}-bclinux-euler-vp-hello"
    chroot = tmp_path / "var-lib-mock" / root
    chroot.mkdir(parents=True)
    with (chroot / "buildroot.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        outcome, _ = run_build(builder(matrix, tmp_path), job_for(matrix, srpm, "bclinux-euler"),
                               tmp_path / "result")
    assert not outcome.ok and "mock exit 60: build root locked" in outcome.reason
    assert "locked by another process" in outcome.log_tail


def test_bad_config_is_exit_3_without_logs(matrix: Matrix, tmp_path: Path,
                                           fake_mock: Path) -> None:
    srpm = make_srpm(tmp_path)
    # configs for the new layout (eol/templates) against an old mock-core-configs tree
    b = MockBuilder(matrix=matrix, config_dir=tmp_path / "cfg", configdir=CORE / "40.5",
                    host_arch=HOST, core_configs_version=(44, 2))
    outcome, _ = run_build(b, job_for(matrix, srpm, "bclinux7"), tmp_path / "result")
    assert not outcome.ok and "mock exit 3: mock config error" in outcome.reason
    assert "eol/templates/centos-7.tpl" in outcome.log_tail
    assert not (tmp_path / "result" / HOST / "build.log").exists()


def test_foreign_arch_needs_emulation_and_qemu(matrix: Matrix, tmp_path: Path,
                                               fake_mock: Path) -> None:
    other = "aarch64" if HOST == "x86_64" else "x86_64"
    srpm = make_srpm(tmp_path)
    job = job_for(matrix, srpm, "bclinux-euler", arches=(HOST, other))
    native = builder(matrix, tmp_path)
    assert native.buildable_arches(job) == (HOST,)
    outcome, _ = run_build(native, job, tmp_path / "r0")
    assert not outcome.ok and outcome.failed_arch == other
    assert "not buildable here" in outcome.reason
    assert not (tmp_path / "r0").exists()  # nothing started
    emulating = builder(matrix, tmp_path, allow_emulation=True)
    assert emulating.buildable_arches(job) == (HOST, other)
    outcome, _ = run_build(emulating, job, tmp_path / "r1")
    assert not outcome.ok and "mock exit 6" in outcome.reason  # no qemu-*-static yet
    (tmp_path / "qemu" / f"qemu-{other}-static").write_text("")
    outcome, progress = run_build(emulating, job, tmp_path / "r2")
    assert outcome.ok, outcome.reason + outcome.log_tail
    assert outcome.commands[1].endswith(f"--forcearch {other}")
    assert "--forcearch" not in outcome.commands[0]
    assert f"vp-hello-1.0-1.oe2203.bclinux.{other}.rpm" in {p.name for p in outcome.rpms}
    assert any("about 10x slower" in line for line in progress)


def test_hygon_builds_only_where_declared(matrix: Matrix, tmp_path: Path,
                                         fake_mock: Path) -> None:
    srpm = make_srpm(tmp_path)
    job = job_for(matrix, srpm, "bclinux7", flavor="hygon", arches=("x86_64",))
    if HOST != "x86_64":
        pytest.skip("the hygon flavor is x86_64")
    here = builder(matrix, tmp_path)
    assert here.buildable_arches(job) == ()
    outcome, _ = run_build(here, job, tmp_path / "r0")
    assert not outcome.ok and "hygon-builder-01" in outcome.reason
    declared = builder(matrix, tmp_path, compatible_flavors=("hygon",))
    outcome, _ = run_build(declared, job, tmp_path / "r1")
    assert outcome.ok, outcome.reason
    assert "--uniqueext bclinux7-hygon-vp-hello" in outcome.commands[0]
    assert "virt-pipeline-bclinux7-hygon.cfg" in outcome.commands[0]


def test_settings_fingerprint_follows_config(matrix: Matrix, tmp_path: Path) -> None:
    srpm = tmp_path / "x.src.rpm"
    job = job_for(matrix, srpm, "bclinux7")
    a = builder(matrix, tmp_path).settings_fingerprint(job)
    assert a == builder(matrix, tmp_path).settings_fingerprint(job)
    assert a != builder(matrix, tmp_path, macros={"%x": "1"}).settings_fingerprint(job)
    assert a != builder(matrix, tmp_path, "40.5").settings_fingerprint(job)


def test_fake_mock_cli_errors_leave_no_logs(matrix: Matrix, tmp_path: Path,
                                            fake_mock: Path) -> None:
    srpm = make_srpm(tmp_path)
    cfg = builder(matrix, tmp_path).write_config(matrix.cell("bclinux7-x86_64"))
    res = tmp_path / "res"
    base = ["mock", "--configdir", str(CORE / "44.2"), "--resultdir", str(res)]
    cases = [
        ([*base, "-r", str(cfg), "--rebuild", str(srpm), "--isolation", "weird"], 5),
        ([*base, "-r", str(cfg.with_suffix("")), "--rebuild", str(srpm)], 3),
        ([*base, "-r", str(cfg), "--rebuild", str(srpm), "--uniqueext"], 2),  # argparse
        ([*base, "-r", str(cfg), "--rebuild", str(tmp_path / "missing.src.rpm")], 1),
    ]
    for argv, code in cases:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert done.returncode == code, (argv, done.stderr)
        if code != 1:
            assert not res.exists()
    assert "Cannot find/open srpm" in done.stderr
    assert (res / "build.log").read_text().startswith("Mock Version:")
    # mock's parse_known_args: an unknown option is one more "SRPM", which cannot be opened
    done = subprocess.run([*base, "-r", str(cfg), "--rebuild", str(srpm), "--bogus"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "Cannot find/open srpm: --bogus" in done.stderr


# --- issue 12: emulated el7, qemu on non-Red Hat hosts ---------------------------------------


def test_el7_foreign_arch_is_refused_before_running(matrix: Matrix, tmp_path: Path,
                                                    fake_mock: Path) -> None:
    other = "aarch64" if HOST == "x86_64" else "x86_64"
    srpm = make_srpm(tmp_path)
    (tmp_path / "qemu" / f"qemu-{other}-static").write_text("")
    job = job_for(matrix, srpm, "bclinux7", arches=(HOST, other))
    emulating = builder(matrix, tmp_path, "40.5", allow_emulation=True)
    assert emulating.buildable_arches(job) == (HOST,)
    outcome, _ = run_build(emulating, job, tmp_path / "r0")
    assert not outcome.ok and outcome.failed_arch == other
    assert "yum (el7) has no such option" in outcome.reason
    assert "native" in outcome.reason and "koji" in outcome.reason
    assert not (tmp_path / "r0").exists()                  # nothing ran
    # what would have happened: the fake mock, like mock, hands --forcearch to yum
    cfg = emulating.write_config(matrix.cell(f"bclinux7-{other}"))
    res = tmp_path / "res"
    done = subprocess.run(["mock", "--configdir", str(CORE / "40.5"), "-r", str(cfg),
                           "--rebuild", str(srpm), "--resultdir", str(res),
                           "--forcearch", other], capture_output=True, text=True, check=False)
    assert done.returncode == 30
    assert "no such option: --forcearch" in (res / "root.log").read_text()


def test_missing_qemu_is_exit_6_only_on_red_hat_hosts(matrix: Matrix, tmp_path: Path,
                                                      fake_mock: Path) -> None:
    other = "aarch64" if HOST == "x86_64" else "x86_64"
    srpm = make_srpm(tmp_path)
    cfg = builder(matrix, tmp_path).write_config(matrix.cell(f"bclinux-euler-{other}"))
    argv = ["mock", "--configdir", str(CORE / "44.2"), "-r", str(cfg), "--rebuild", str(srpm),
            "--resultdir", str(tmp_path / "res"), "--forcearch", other]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 6 and "qemu-user-static" in done.stderr
    settings = json.loads(fake_mock.read_text())
    fake_mock.write_text(json.dumps({**settings, "rh_family": False}))
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "will likely fail with missing" in done.stderr
