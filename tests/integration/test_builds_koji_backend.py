"""KojiBuilder against the stand-in hub, through the real koji client library.

Needs the koji client (``pip install --no-deps koji ...``) and rpm/rpmbuild (the test SRPMs are
built here, and the stand-in rebuilds them per arch).
"""

from __future__ import annotations

import dataclasses
import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.builds.builders.base import BuildJob, BuildOutcome
from pipeline.builds.builders.kojiwatch import Backoff
from pipeline.core.cmd import run
from pipeline.core.errors import ToolMissing

koji = pytest.importorskip("koji")
from pipeline.builds.builders.koji import KojiBuilder  # noqa: E402
from tests.support.kojihub import KojiHub, setup_virt_hub, write_profile  # noqa: E402
from tests.support.kojisim import HubConfig  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("rpmbuild") is None, reason="rpmbuild not installed"),
]

LIBVIRT_SPEC = """\
Name: libvirt
Version: 6.2.0
Release: 1%{?dist}
Summary: stand-in libvirt
License: LGPLv2+
BuildRequires: gcc
%description
test
%package devel
Summary: headers
Requires: %{name} = %{version}-%{release}
%description devel
test
%install
mkdir -p %{buildroot}/usr/share/libvirt
echo 6.2.0 > %{buildroot}/usr/share/libvirt/VERSION
%files
/usr/share/libvirt/VERSION
%files devel
%changelog
"""

PYTHON_SPEC = """\
Name: libvirt-python
Version: 6.2.0
Release: 1%{?dist}
Summary: stand-in bindings
License: LGPLv2+
BuildRequires: libvirt-devel >= 6.2.0
BuildRequires: python3-devel
%description
test
%package -n python3-libvirt
Summary: bindings
%description -n python3-libvirt
test
%install
mkdir -p %{buildroot}/usr/share/libvirt-python
echo ok > %{buildroot}/usr/share/libvirt-python/OK
%files -n python3-libvirt
/usr/share/libvirt-python/OK
%changelog
"""


def make_srpm(folder: Path, spec_text: str, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / f"{name}.spec"
    spec.write_text(spec_text, encoding="utf-8")
    run(["rpmbuild", "-bs", "--define", f"_topdir {folder / 'top'}",
         "--define", f"_sourcedir {folder}", "--define", "dist .el7", str(spec)])
    (srpm,) = (folder / "top" / "SRPMS").glob("*.src.rpm")
    return srpm


@pytest.fixture(scope="module")
def srpms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("srpms")
    return {"libvirt": make_srpm(base / "libvirt", LIBVIRT_SPEC, "libvirt"),
            "libvirt-python": make_srpm(base / "python", PYTHON_SPEC, "libvirt-python")}


class Env:
    def __init__(self, tmp: Path, hub: KojiHub) -> None:
        self.tmp = tmp
        self.hub = hub
        self.sleeps: list[float] = []
        self.events: list[tuple[str, str]] = []
        self.runs = 0
        self.profile = write_profile(tmp / "koji.conf", hub)

    def builder(self, **kw: object) -> KojiBuilder:
        kw.setdefault("backoff", Backoff(tries=4, base=0.01, cap=0.05))
        return KojiBuilder(profile="standin", config_file=self.profile, user="builder",
                           password="secret", sleep=self.sleeps.append, **kw)  # type: ignore[arg-type]

    def build(self, job: BuildJob, builder: KojiBuilder | None = None) -> BuildOutcome:
        self.runs += 1
        out = self.tmp / "results" / f"{self.runs}-{job.key.replace('/', '_')}"
        out.mkdir(parents=True)
        return (builder or self.builder()).build(job, out, lambda k, s: self.events.append((k, s)))


def make_env(tmp_path: Path, config: HubConfig | None = None,
             repo_auto: bool = True) -> Iterator[Env]:
    with KojiHub(tmp_path / "hub", config) as hub:
        setup_virt_hub(hub, repo_auto=repo_auto)
        yield Env(tmp_path, hub)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    yield from make_env(tmp_path)


def job_for(srpm: Path, *, package: str = "libvirt", target: str = "bclinux7-virt",
            arches: tuple[str, ...] = ("x86_64", "aarch64"), **kw: object) -> BuildJob:
    nvr = srpm.name[: -len(".src.rpm")]
    return BuildJob(key=f"bclinux7/{package}", os_id="bclinux7", flavor=None, package=package,
                    nvr=nvr, srpm=srpm, spec=srpm, dist=".el7", arches=arches,
                    cells=("bclinux7-x86_64", "bclinux7-aarch64"), macros=(),
                    koji_target=target, koji_channel=None, **kw)  # type: ignore[arg-type]


def rpm_query(path: Path) -> str:
    return run(["rpm", "-qp", "--nosignature", "--qf", "%{NAME} %{ARCH}", str(path)]).stdout


# --- success path ---------------------------------------------------------------------------


def test_build_downloads_real_rpms_logs_and_task_ids(env: Env, srpms: dict[str, Path]) -> None:
    builder = env.builder()
    out = env.build(job_for(srpms["libvirt"]), builder)
    assert out.ok, out.reason
    assert sorted(rpm_query(p) for p in out.rpms) == [
        "libvirt aarch64", "libvirt x86_64", "libvirt-devel aarch64", "libvirt-devel x86_64"]
    assert out.srpm is not None and out.srpm.read_bytes() == srpms["libvirt"].read_bytes()
    logs = {f"{p.parent.name}/{p.name}" for p in out.logs}
    assert {"x86_64/build.log", "aarch64/build.log", "x86_64/root.log"} <= logs
    hub_tasks = {t.id: (t.method, t.arch) for t in env.hub.sim.tasks.values()}
    assert out.task_ids == sorted(hub_tasks)
    assert sorted(m for m, _ in hub_tasks.values()) == [
        "build", "buildArch", "buildArch", "rebuildSRPM", "tagBuild"]
    # every poll of the watch was exactly one hub request, a multiCall
    reqs = env.hub.requests
    watch = reqs[reqs.index("build") + 1: reqs.index("listTaskOutput")]
    assert builder.last_watcher is not None
    assert watch == ["multiCall"] * builder.last_watcher.polls
    assert builder.last_watcher.polls > 5
    # the build is tagged into the destination tag and visible through the build tag
    tagged = env.hub.api.listTagged("bclinux7-virt-build", inherit=True)
    assert [b["nvr"] for b in tagged] == ["libvirt-6.2.0-1.el7"]


def test_upload_uses_cli_build_dir_and_raw_upload(env: Env, srpms: dict[str, Path]) -> None:
    out = env.build(job_for(srpms["libvirt"]))
    assert out.ok, out.reason
    build_call = next(c for c in env.hub.calls if c.method == "build")
    src = build_call.args[0]
    assert src.startswith("cli-build/") and src.endswith("/libvirt-6.2.0-1.el7.src.rpm")
    assert build_call.kwargs == {"priority": None}
    assert build_call.args[2] == {"wait_builds": [], "custom_user_metadata": {}}
    uploads = [c for c in env.hub.calls if c.method == "rawUpload"]
    size = srpms["libvirt"].stat().st_size
    assert len(uploads) == -(-size // 4096)            # upload_blocksize = 4096 in the profile
    assert all(u.kwargs["overwrite"] == "1" for u in uploads)
    assert (env.hub.sim.work / src).read_bytes() == srpms["libvirt"].read_bytes()


# --- dependent builds -------------------------------------------------------------------------


def test_dependent_build_requests_a_repo_instead_of_waiting_the_lag(
        tmp_path: Path, srpms: dict[str, Path]) -> None:
    """Hub 1.35+ with the real lag (repo.auto regenerates only after hours): the backend
    requests a repo and submits at once; the build task's own waitrepo gets that repo."""
    for env in make_env(tmp_path, HubConfig(repo_lag=100_000, request_ticks=3)):
        first = env.build(job_for(srpms["libvirt"]))
        assert first.ok, first.reason
        nvr = "libvirt-6.2.0-1.el7"
        job = job_for(srpms["libvirt-python"], package="libvirt-python", wait_for=(nvr,))
        second = env.build(job)
        assert second.ok, second.reason
        calls = env.hub.sim.build_calls
        assert calls[1]["opts"]["wait_builds"] == [nvr]
        methods = env.hub.methods_called()
        build2 = len(methods) - 1 - methods[::-1].index("build")
        assert "repo.request" in methods[:build2]
        assert "repo.get" not in methods                   # no polling for the lagging repo
        (req,) = env.hub.sim.requests
        assert req.active is False and req.repo_id is not None
        waiters = [t for t in env.hub.sim.tasks.values() if t.method == "waitrepo"]
        assert waiters and waiters[-1].result["id"] == req.repo_id
        assert env.hub.sim.in_repo(env.hub.sim.repos[-1], nvr)
        assert any("the build task waits for it" in s for _, s in env.events)
        assert any(c.startswith("koji -p standin request-repo --min-event=")
                   for c in second.commands)
        assert sorted(rpm_query(p) for p in second.rpms) == [
            "python3-libvirt aarch64", "python3-libvirt x86_64"]


def test_no_blocking_wait_before_submitting(tmp_path: Path, srpms: dict[str, Path]) -> None:
    """The backend sends build() a few requests after repo.request, not after the repo."""
    for env in make_env(tmp_path, HubConfig(repo_lag=100_000, request_ticks=40)):
        assert env.build(job_for(srpms["libvirt"])).ok
        job = job_for(srpms["libvirt-python"], package="libvirt-python",
                      wait_for=("libvirt-6.2.0-1.el7",))
        out = env.build(job)
        assert out.ok, out.reason
        ticks = {c.method: c.tick for c in env.hub.calls if not c.inner}
        assert ticks["build"] - ticks["repo.request"] < 40   # submitted before the repo came


def test_missing_wait_is_caught_by_the_stand_in(tmp_path: Path, srpms: dict[str, Path]) -> None:
    for env in make_env(tmp_path, HubConfig(repo_lag=50)):
        assert env.build(job_for(srpms["libvirt"])).ok
        out = env.build(job_for(srpms["libvirt-python"], package="libvirt-python"))
        assert not out.ok
        assert out.failed_arch in ("x86_64", "aarch64")
        assert "mock exited with status 30; see root.log" in out.reason
        assert "No matching package to install: 'libvirt-devel >= 6.2.0'" in out.log_tail


def test_old_hub_uses_getrepo_and_latest_builds(tmp_path: Path, srpms: dict[str, Path]) -> None:
    for env in make_env(tmp_path, HubConfig(version="1.34.1", repo_lag=2)):
        assert env.build(job_for(srpms["libvirt"])).ok
        job = job_for(srpms["libvirt-python"], package="libvirt-python",
                      wait_for=("libvirt-6.2.0-1.el7",))
        out = env.build(job)
        assert out.ok, out.reason
        methods = env.hub.methods_called()
        assert "getKojiVersion" in methods                 # no Koji-Version header below 1.35
        assert "repo.get" not in methods
        assert "getRepo" in methods and "getLatestBuilds" in methods


def test_old_hub_wait_times_out_with_the_right_advice(tmp_path: Path,
                                                      srpms: dict[str, Path]) -> None:
    """A < 1.35 hub has no repo requests: the backend polls, and on timeout says who can
    regenerate (not "ask an admin": on 1.35+ any logged-in user may request)."""
    for env in make_env(tmp_path, HubConfig(version="1.34.1"), repo_auto=False):
        assert env.build(job_for(srpms["libvirt"])).ok
        builder = env.builder(wait_timeout=60.0, clock=itertools.count(0.0, 10.0).__next__)
        job = job_for(srpms["libvirt-python"], package="libvirt-python",
                      wait_for=("libvirt-6.2.0-1.el7",))
        out = env.build(job, builder)
        assert not out.ok
        assert "timed out after" in out.reason and "bclinux7-virt-build" in out.reason
        assert "predates" in out.reason
        assert "koji request-repo bclinux7-virt-build" in out.reason
        assert "koji regen-repo bclinux7-virt-build" in out.reason
        assert "ask an admin" not in out.reason
        assert "build" not in env.hub.methods_called()[-20:]


# --- options and refusals ---------------------------------------------------------------------


def test_scratch_with_arch_override(env: Env, srpms: dict[str, Path]) -> None:
    out = env.build(job_for(srpms["libvirt"], scratch=True, arch_override=("aarch64",)))
    assert out.ok, out.reason
    assert sorted(rpm_query(p) for p in out.rpms) == ["libvirt aarch64", "libvirt-devel aarch64"]
    (call,) = env.hub.sim.build_calls
    assert call["opts"]["scratch"] is True and call["opts"]["arch_override"] == "aarch64"
    methods = sorted(t.method for t in env.hub.sim.tasks.values())
    assert methods == ["build", "buildArch", "rebuildSRPM"]      # no tagBuild for scratch
    assert env.hub.api.listTagged("bclinux7-virt") == []
    assert "--scratch" in out.commands[0] and "--arch-override=aarch64" in out.commands[0]


def test_arch_override_without_scratch_is_refused(env: Env, srpms: dict[str, Path]) -> None:
    out = env.build(job_for(srpms["libvirt"], arch_override=("aarch64",)))
    assert not out.ok and "scratch" in out.reason
    assert "build" not in env.hub.methods_called()


def test_locked_destination_tag_is_refused(env: Env, srpms: dict[str, Path]) -> None:
    out = env.build(job_for(srpms["libvirt"], target="bclinux7-frozen"))
    assert not out.ok and "locked" in out.reason and "bclinux7-frozen" in out.reason
    assert "rawUpload" not in env.hub.requests and "build" not in env.hub.methods_called()


def test_unknown_target(env: Env, srpms: dict[str, Path]) -> None:
    out = env.build(job_for(srpms["libvirt"], target="no-such-target"))
    assert not out.ok and "'no-such-target' does not exist" in out.reason
    assert env.hub.sim.tasks == {}


def test_hygon_job_goes_through_its_channel(env: Env, srpms: dict[str, Path]) -> None:
    job = job_for(srpms["libvirt"], target="bclinux7-virt-hygon", arches=("x86_64",))
    job = dataclasses.replace(job, koji_channel="hygon", flavor="hygon")
    builder = env.builder()
    assert builder.buildable_arches(job) == ("x86_64",)
    assert "channel=hygon" in builder.settings_fingerprint(job)
    out = env.build(job, builder)
    assert out.ok, out.reason
    assert env.hub.sim.build_calls[0]["channel"] == "hygon"
    arch_tasks = [t for t in env.hub.sim.tasks.values() if t.method == "buildArch"]
    assert [(t.arch, env.hub.sim.hosts[t.host_id or 0]) for t in arch_tasks] == [
        ("x86_64", "hygon-builder-01")]


# --- failures and retries ---------------------------------------------------------------------


def test_failed_arch_reports_arch_and_log_tail(tmp_path: Path, srpms: dict[str, Path]) -> None:
    cfg = HubConfig(fail_arches={"aarch64": "error: Bad exit status from /var/tmp/rpm-tmp.X "
                                            "(%check)"}, slow_arches={"x86_64": 6})
    for env in make_env(tmp_path, cfg):
        out = env.build(job_for(srpms["libvirt"]))
        assert not out.ok
        assert out.failed_arch == "aarch64"
        assert "BuildError" not in out.reason and "mock exited with status 1" in out.reason
        assert "Bad exit status from /var/tmp/rpm-tmp.X (%check)" in out.log_tail
        assert "==> aarch64/build.log <==" in out.log_tail
        states = {(t.method, t.arch): koji.TASK_STATES[t.state]
                  for t in env.hub.sim.tasks.values()}
        assert states[("build", "noarch")] == "FAILED"
        assert states[("buildArch", "x86_64")] == "CANCELED"
        assert states[("buildArch", "aarch64")] == "FAILED"
        assert out.rpms == []
        (build,) = env.hub.sim.builds.values()
        assert koji.BUILD_STATES[build.state] == "FAILED"


def test_hub_faults_are_retried_with_backoff(env: Env, srpms: dict[str, Path]) -> None:
    env.hub.inject_fault("multiCall", 2, code=1, message="internal error")  # plain Fault 1
    env.hub.inject_fault("listTaskOutput", 1, code=1000)                    # GenericError
    env.hub.inject_fault("getBuildTarget", 1, code=1014)                    # ServerOffline
    env.hub.controls.http_errors = 1                      # HTTP 503: the koji client retries it
    out = env.build(job_for(srpms["libvirt"]))
    assert out.ok, out.reason
    assert [r.count for r in env.hub.controls.faults] == [0, 0, 0]
    assert env.hub.controls.http_errors == 0
    retry_sleeps = [s for s in env.sleeps if s != 0]
    assert retry_sleeps == [0.01, 0.01, 0.02, 0.01]


def test_permanent_fault_is_not_retried(env: Env, srpms: dict[str, Path]) -> None:
    env.hub.inject_fault("getBuildTarget", 1, code=1004, message="not allowed")
    out = env.build(job_for(srpms["libvirt"]))
    assert not out.ok and "ActionNotAllowed" in out.reason
    assert env.sleeps == []


def test_missing_profile_and_unreachable_hub_are_tool_missing(tmp_path: Path) -> None:
    cfg = tmp_path / "koji.conf"
    cfg.write_text("[other]\nserver = http://127.0.0.1:9/kojihub\n", encoding="utf-8")
    with pytest.raises(ToolMissing, match="koji profile 'standin'"):
        KojiBuilder(profile="standin", config_file=cfg).check_available()
    cfg.write_text("[standin]\nserver = http://127.0.0.1:9/kojihub\nauthtype = noauth\n"
                   "max_retries = 1\nretry_interval = 0\ntimeout = 5\n", encoding="utf-8")
    with pytest.raises(ToolMissing, match=r"koji hub http://127.0.0.1:9/kojihub"):
        KojiBuilder(profile="standin", config_file=cfg).check_available()


def test_bad_password_is_tool_missing_without_leaking_it(env: Env) -> None:
    builder = KojiBuilder(profile="standin", config_file=env.profile, user="builder",
                          password="wrong-pass-123")
    with pytest.raises(ToolMissing) as err:
        builder.check_available()
    assert "wrong-pass-123" not in str(err.value) and "AuthError" in str(err.value)


def test_lost_build_answer_finds_the_task_instead_of_duplicating(
        env: Env, srpms: dict[str, Path]) -> None:
    env.hub.controls.drop_responses["build"] = 1
    out = env.build(job_for(srpms["libvirt"]))
    assert out.ok, out.reason
    assert env.hub.requests.count("build") == 2             # the client's silent resend...
    assert [t.method for t in env.hub.sim.tasks.values()].count("build") == 1  # ...refused
    assert "listTasks" in env.hub.methods_called()
    assert any("answer lost (RetryError)" in s for _, s in env.events)


def test_second_build_of_the_same_nvr_fails_asynchronously(env: Env,
                                                           srpms: dict[str, Path]) -> None:
    assert env.build(job_for(srpms["libvirt"])).ok
    again = env.build(job_for(srpms["libvirt"], package="libvirt"))
    assert not again.ok and again.failed_arch is None
    assert "Build already exists" in again.reason and "FAILED" in again.reason
    assert len(again.task_ids) == 1                          # failed before any child


def test_scratch_cannot_wait_for_an_untagged_dependency(env: Env,
                                                        srpms: dict[str, Path]) -> None:
    job = job_for(srpms["libvirt-python"], package="libvirt-python", scratch=True,
                  wait_for=("libvirt-6.2.0-1.el7",))
    out = env.build(job)
    assert not out.ok and "scratch builds are never tagged" in out.reason
    assert "build" not in env.hub.methods_called()


def test_watch_stops_on_unknown_task_and_on_persistent_call_faults(env: Env) -> None:
    from pipeline.builds.builders.kojiwatch import WatchError

    builder = env.builder()
    session = builder.connect()
    with pytest.raises(WatchError, match=r"no such koji task\(s\): \[9999\]"):
        builder.watch(session, [9999], lambda k, s: None, "k")
    with env.hub.lock:
        (root,) = env.hub.sim.spawn_sleepers(1, 50)
    env.hub.inject_fault("getTaskInfo", 100, code=1)      # faults inside the multicall
    with pytest.raises(WatchError, match="hub faults on 4 polls in a row"):
        builder.watch(session, [root], lambda k, s: None, "k")
    assert env.sleeps[-3:] == [0.01, 0.02, 0.04]


def test_downloads_over_http_when_the_profile_has_a_topurl(env: Env,
                                                           srpms: dict[str, Path]) -> None:
    env.profile = write_profile(env.tmp / "koji-topurl.conf", env.hub, topurl=True)
    out = env.build(job_for(srpms["libvirt"]))
    assert out.ok, out.reason
    assert "downloadTaskOutput" not in env.hub.methods_called()
    gets = {p for verb, p in env.hub.http_files if verb == "GET"}
    arch_ids = {t.arch: t.id for t in env.hub.sim.tasks.values() if t.method == "buildArch"}
    tid = arch_ids["x86_64"]
    assert f"work/tasks/{tid % 10000}/{tid}/libvirt-6.2.0-1.el7.x86_64.rpm" in gets
    assert sorted(rpm_query(p) for p in out.rpms) == [
        "libvirt aarch64", "libvirt x86_64", "libvirt-devel aarch64", "libvirt-devel x86_64"]


# --- issue 12: deadlines, interrupts, failures at any depth, policy ---------------------------


class StepClock:
    """A clock that moves 60 s at every sleep of the builder (tests never really sleep)."""

    def __init__(self, env: Env) -> None:
        self.now = 0.0
        self.env = env

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.env.sleeps.append(seconds)
        self.now += 60.0


def test_free_task_deadline_names_channel_and_arch(tmp_path: Path,
                                                   srpms: dict[str, Path]) -> None:
    for env in make_env(tmp_path, HubConfig(dead_channels=("hygon",))):
        clock = StepClock(env)
        builder = env.builder(clock=clock, free_deadline=600.0)
        builder.sleep = clock.sleep
        job = job_for(srpms["libvirt"], target="bclinux7-virt-hygon", arches=("x86_64",))
        job = dataclasses.replace(job, koji_channel="hygon", flavor="hygon")
        out = env.build(job, builder)
        assert not out.ok
        assert "no builder has picked up koji task" in out.reason
        assert "after 10 minutes" in out.reason
        assert "(build, arch noarch)" in out.reason
        assert "channel 'hygon' (0 enabled host(s) in it)" in out.reason
        assert "http://127.0.0.1/koji/taskinfo?taskID=" in out.reason
        (task,) = env.hub.sim.tasks.values()
        assert koji.TASK_STATES[task.state] == "FREE"


def test_build_deadline_stops_the_watch(tmp_path: Path, srpms: dict[str, Path]) -> None:
    for env in make_env(tmp_path, HubConfig(slow_arches={"aarch64": 500})):
        clock = StepClock(env)
        builder = env.builder(clock=clock, build_deadline=1200.0)
        builder.sleep = clock.sleep
        out = env.build(job_for(srpms["libvirt"]), builder)
        assert not out.ok
        assert "still running after 20 minutes (the build deadline)" in out.reason


def test_interrupt_stops_watching_and_lists_or_cancels_tasks(env: Env,
                                                             srpms: dict[str, Path]) -> None:
    for cancel in (False, True):
        builder = env.builder(cancel_on_interrupt=cancel)
        lines: list[str] = []

        def sleep(seconds: float, b: KojiBuilder = builder, got: list[str] = lines) -> None:
            if b.last_watcher is not None and b.last_watcher.polls == 3 and not got:
                got.extend(b.interrupt())                 # what the runner does on Ctrl-C

        builder.sleep = sleep
        out = env.build(job_for(srpms["libvirt"], scratch=True), builder)
        assert not out.ok and out.reason == "interrupted (Ctrl-C or SIGTERM)"
        (line,) = lines
        tid = out.task_ids[0]
        assert f"koji task {tid} http://127.0.0.1/koji/taskinfo?taskID={tid}" in line
        state = koji.TASK_STATES[env.hub.sim.tasks[tid].state]
        if cancel:
            assert line.endswith("cancelled") and state == "CANCELED"
        else:
            assert f"still running (cancel: koji cancel {tid})" in line
            assert state not in ("CANCELED", "FAILED")


def test_srpm_stage_failure_brings_its_logs(tmp_path: Path, srpms: dict[str, Path]) -> None:
    cfg = HubConfig(fail_srpm="No matching package to install: 'bash'")
    for env in make_env(tmp_path, cfg):
        out = env.build(job_for(srpms["libvirt"]))
        assert not out.ok
        assert "rebuildSRPM task" in out.reason and "could not init mock buildroot" in out.reason
        assert out.failed_arch is None
        assert "No matching package to install: 'bash'" in out.log_tail
        assert any(p.name == "root.log" and p.parent.name.startswith("rebuildSRPM-")
                   for p in out.logs)


def test_build_from_srpm_policy_refusal_says_what_to_do(tmp_path: Path,
                                                        srpms: dict[str, Path]) -> None:
    for env in make_env(tmp_path, HubConfig(srpm_policy_admins_only=True)):
        out = env.build(job_for(srpms["libvirt"]))
        assert not out.ok
        assert "policy violation (build_from_srpm)" in out.reason
        assert "build from SCM" in out.reason and "--scratch" in out.reason
        scratch = env.build(job_for(srpms["libvirt"], scratch=True))
        assert scratch.ok, scratch.reason                 # the policy is for real builds only
