"""The checks of ``tests.conformance.koji_hub``, run against a started real hub."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

import koji

from pipeline.builds.builders.base import BuildJob
from pipeline.builds.builders.koji import KojiBuilder
from pipeline.builds.builders.kojiwatch import Backoff
from tests.support.kojihub import KojiHub, make_srpm, setup_virt_hub

SPEC = """\
Name: conf-hello
Version: 1.0
Release: 1%{?dist}
Summary: conformance
License: MIT
%description
conformance
%files
%changelog
"""


def session(url: str, user: str | None = None, password: str | None = None) -> Any:
    s = koji.ClientSession(url, {"user": user, "password": password, "max_retries": 1,
                                 "anon_retry": False})
    if user:
        s.login()
    return s


def setup_tags(admin: Any) -> None:
    """The matrix's bclinux7 tags and targets (as setup_virt_hub makes on the stand-in)."""
    admin.createTag("bclinux7-virt")
    admin.createTag("bclinux7-virt-build", parent="bclinux7-virt", arches="x86_64 aarch64",
                    extra={"repo.auto": True, "rpm.macro.dist": ".el7"})
    admin.createBuildTarget("bclinux7-virt", "bclinux7-virt-build", "bclinux7-virt")
    admin.packageListAdd("bclinux7-virt", "libvirt", owner="admin")
    admin.packageListAdd("bclinux7-virt", "conf-hello", owner="admin")
    build = admin.createEmptyBuild("libvirt", "6.2.0", "1.el7", None)
    admin.tagBuildBypass("bclinux7-virt", build)



def profile(work: Path, url: str) -> Path:
    path = work / "koji.conf"
    path.write_text(f"[real]\nserver = {url}\nweburl = http://127.0.0.1/koji\n"
                    "authtype = password\nmax_retries = 2\nretry_interval = 0\n"
                    "anon_retry = true\ntimeout = 60\npoll_interval = 0\n", encoding="utf-8")
    return path


class StepClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += 60.0


def job_for(srpm: Path, **kw: Any) -> BuildJob:
    return BuildJob(key="bclinux7/conf-hello", os_id="bclinux7", flavor=None,
                    package="conf-hello", nvr=srpm.name[:-len(".src.rpm")], srpm=srpm,
                    spec=srpm, dist=".el7", arches=("x86_64", "aarch64"),
                    cells=("bclinux7-x86_64",), macros=(), koji_target="bclinux7-virt",
                    koji_channel=None, **kw)


def run_all(hub: Any, work: Path, checks: Any) -> int:
    admin = session(hub.url, "admin", "adminpw")
    setup_tags(admin)
    admin.addChannel("hygon")                      # a channel without any host
    hub.start_daemons(admin)
    user = session(hub.url, "builder", "secret")
    anon = session(hub.url)
    print(f"real hub {user.hub_version_str} at {hub.url} (API {user.getAPIVersion()})")
    standin_dir = Path(tempfile.mkdtemp(prefix="standin-"))
    with KojiHub(standin_dir) as stand:
        setup_virt_hub(stand)
        fake = session(stand.url, "builder", "secret")
        _wire(checks, user, anon, fake)
        _fields(checks, user, fake)
        _backend(checks, hub, work, user, admin)
    return int(checks.failed)


def _wire(checks: Any, user: Any, anon: Any, fake: Any) -> None:
    tag = user.getTag("bclinux7-virt-build")["id"]

    def signatures() -> str:
        for s, t in ((user, tag), (fake, 2)):
            last = s.tagLastChangeEvent(t)
            assert last == s.tagLastChangeEvent(t, before=None, inherit=True)
            for bad in ({"event": 1},):
                try:
                    s.tagLastChangeEvent(t, **bad)
                except koji.ParameterError:
                    pass
                else:
                    raise AssertionError(f"tagLastChangeEvent accepted {bad}")
            try:
                s.repo.get(t, include_request=True)
            except koji.ParameterError:
                pass
            else:
                raise AssertionError("repo.get accepted include_request")
        return "real and stand-in agree (event= and include_request refused)"

    def requests() -> str:
        real = user.repo.request(tag)
        standin = fake.repo.request(2, force=True)      # its tag already has a repo
        missing = set(real["request"] or {}) - set(standin["request"] or {})
        assert not missing, f"stand-in request dict lacks {sorted(missing)}"
        assert set(real) == set(standin) == {"repo", "request", "duplicate"}
        again = user.repo.request(tag)
        assert again["duplicate"] is True
        check = user.repo.checkRequest(real["request"]["id"])
        assert set(check) >= {"repo", "request"}
        try:
            anon.repo.request(tag)
        except koji.ActionNotAllowed as exc:
            refused = str(exc)
        else:
            raise AssertionError("anonymous repo.request accepted")
        return (f"request {real['request']['id']} min_event {real['request']['min_event']}, "
                f"duplicate joined; anonymous: {refused!r}")

    def callnum() -> str:
        for s in (user, fake):
            s.getAPIVersion()
            s.callnum -= 1
            s.getAPIVersion()            # repeated read-only call: answered
            s.build("cli-build/none/x.src.rpm", "bclinux7-virt", {"scratch": True})  # a write
            s.callnum -= 1
            try:
                s.getAPIVersion()
            except koji.RetryError:
                pass
            else:
                raise AssertionError("repeated callnum after a write was answered")
        return "read-only repeat answered, repeat after build() is RetryError (both hubs)"

    checks.check("signatures", signatures)
    checks.check("repo requests", requests)
    checks.check("callnum", callnum)


def _fields(checks: Any, user: Any, fake: Any) -> None:
    def builds() -> str:
        real = user.getBuild("libvirt-6.2.0-1.el7")
        missing = set(real) - set(_standin_build_keys())
        assert not missing, f"stand-in getBuild lacks {sorted(missing)}"
        return f"{len(real)} fields, all in the stand-in's"

    checks.check("getBuild fields", builds)


def _standin_build_keys() -> list[str]:
    from tests.support.kojiapi import HubAPI
    from tests.support.kojisim import Build

    api = HubAPI.__new__(HubAPI)
    api.sim = type("S", (), {"user_id": staticmethod(lambda n: 1)})()  # type: ignore[assignment]
    return list(api._build(Build(1, "x", "1", "1", None, 1, None, "builder")))


def _backend(checks: Any, hub: Any, work: Path, user: Any, admin: Any) -> None:
    srpm = make_srpm(work, "conf-hello", SPEC)
    cfg = profile(work, hub.url)

    def builder(**kw: Any) -> KojiBuilder:
        return KojiBuilder(profile="real", config_file=cfg, user="builder", password="secret",
                           backoff=Backoff(tries=2, base=0.01, cap=0.01), **kw)

    def free_deadline() -> str:
        clock = StepClock()
        b = builder(clock=clock, free_deadline=600.0)
        b.sleep = clock.sleep
        out_dir = work / "out-free"
        out_dir.mkdir()
        job = dataclasses.replace(job_for(srpm, scratch=True), koji_channel="hygon")
        out = b.build(job, out_dir, lambda k, s: None)
        assert not out.ok and "no builder has picked up koji task" in out.reason, out.reason
        info = user.getTaskInfo(out.task_ids[0])
        assert koji.TASK_STATES[info["state"]] == "FREE"
        return out.reason

    def interrupt(cancel: bool) -> str:
        b = builder(cancel_on_interrupt=cancel)
        lines: list[str] = []

        def sleep(seconds: float) -> None:
            if b.last_watcher is not None and b.last_watcher.polls >= 2 and not lines:
                lines.extend(b.interrupt())

        b.sleep = sleep
        out_dir = work / f"out-int-{cancel}"
        out_dir.mkdir()
        job = dataclasses.replace(job_for(srpm, scratch=True), koji_channel="hygon")
        out = b.build(job, out_dir, lambda k, s: None)
        assert out.reason == "interrupted (Ctrl-C or SIGTERM)", out.reason
        state = koji.TASK_STATES[user.getTaskInfo(out.task_ids[0])["state"]]
        assert (state == "CANCELED") == cancel, state
        return f"{lines[0]} -> hub state {state}"

    def real_build(name: str, **kw: Any) -> tuple[Any, float, list[str]]:
        job = job_for(srpm, **kw.pop("job", {}))
        b = builder(poll_interval=1.0, build_deadline=240.0, **kw)
        b.sleep = time.sleep
        out_dir = work / f"out-{name}"
        out_dir.mkdir()
        events: list[str] = []
        start = time.monotonic()
        out = b.build(job, out_dir, lambda k, s: events.append(s))
        return out, time.monotonic() - start, events

    def policy() -> str:
        out, took, _ = real_build("policy", job={"scratch": False})
        assert not out.ok and "policy violation (build_from_srpm)" in out.reason, out.reason
        assert "build from SCM" in out.reason
        return f"{took:.0f} s: {out.reason[:160]}..."

    def srpm_stage() -> str:
        out, took, _ = real_build("srpm", job={"scratch": True})
        assert not out.ok, out.reason
        assert "rebuildSRPM task" in out.reason, out.reason
        assert out.log_tail, "no log tail from the failed rebuildSRPM"
        return (f"{took:.0f} s: {out.reason[:200]}; logs {[p.name for p in out.logs]}; "
                f"tail ends {out.log_tail.splitlines()[-1][:120]!r}")

    def dependent() -> str:
        # a new dependency tagged now: the build tag's current repo predates it
        admin.tagBuildBypass("bclinux7-virt", admin.createEmptyBuild("libvirt", "6.2.0",
                                                                      "2.el7", None))
        tagged = time.time()
        out, took, events = real_build("dep", job={
            "scratch": True, "wait_for": ("libvirt-6.2.0-2.el7",)})
        assert any("request-repo" in c for c in out.commands), out.commands
        task = user.getTaskInfo(out.task_ids[0], request=True)
        assert task["request"][2].get("wait_builds") == ["libvirt-6.2.0-2.el7"]
        said = next(e for e in events if "requested a repo" in e or "already has" in e)
        assert "requested a repo" in said, said
        waiters = [t for t in user.getTaskChildren(out.task_ids[0])
                   if t["method"] in ("waitrepo", "rebuildSRPM")]
        states = {t["method"]: koji.TASK_STATES[t["state"]] for t in waiters}
        assert states.get("rebuildSRPM"), f"the build never got past its repo wait: {states}"
        waitrepo = next(t for t in user.getTaskChildren(out.task_ids[0])
                        if t["method"] == "waitrepo")
        repo_s = (waitrepo["completion_ts"] or 0) - tagged
        return (f"{said}; the build task's waitrepo {koji.TASK_STATES[waitrepo['state']]} "
                f"{repo_s:.1f} s after the tag, then rebuildSRPM ({states}); whole run "
                f"{took:.0f} s")

    checks.check("FREE task deadline (channel without hosts)", free_deadline)
    checks.check("Ctrl-C lists the task", lambda: interrupt(False))
    checks.check("Ctrl-C with --cancel-on-interrupt cancels", lambda: interrupt(True))
    checks.check("real build from SRPM: policy refusal", policy)
    checks.check("scratch build: SRPM-stage failure with logs", srpm_stage)
    checks.check("dependency wait through a real repo request", dependent)
