"""One koji build of one job (run by :class:`pipeline.builds.builders.koji.KojiBuilder`)."""

from __future__ import annotations

import shlex
import time
import warnings
from pathlib import Path
from typing import Any

from pipeline.builds.builders.base import BuildJob, BuildOutcome, Progress
from pipeline.builds.builders.kojisession import (
    BLOCK,
    Hub,
    TargetInfo,
    short_error,
    tail,
    unique_path,
)
from pipeline.builds.builders.kojistop import (
    POLICY_ADVICE,
    DeadlineHit,
    Interrupt,
    StuckFree,
    deepest_failure,
    stuck_reason,
    task_url,
)
from pipeline.builds.builders.kojiwatch import (
    Answer,
    Call,
    KojiWatcher,
    TaskView,
    builds_present,
    fault_code,
    nvr_parts,
)
from pipeline.core.errors import ToolMissing


class HubStepFailed(Exception):
    """A hub call failed for good during one step (already retried)."""


class KojiRun:
    """The steps of ``koji build`` + ``wait-repo`` + ``download-task`` for one job."""

    def __init__(self, builder: Hub, session: Any, job: BuildJob, result_dir: Path,
                 progress: Progress) -> None:
        self.b = builder
        self.s = session
        self.job = job
        self.dir = result_dir
        self.progress = progress
        self.out = BuildOutcome(ok=False)

    def say(self, text: str) -> None:
        self.progress(self.job.key, text)

    def koji_cmd(self, *args: str) -> str:
        return shlex.join(["koji", "-p", self.b.profile, *args])

    def run(self) -> BuildOutcome:
        try:
            return self._run()
        except ToolMissing:
            raise
        except Interrupt:
            return self.fail("interrupted (Ctrl-C or SIGTERM)")
        except Exception as exc:  # a hub error that survived the retries
            return self.fail(f"koji hub error: {short_error(exc)}")

    def _run(self) -> BuildOutcome:
        job = self.job
        target = self.b.target_info(self.s, job.koji_target)
        if target is None:
            return self.fail(f"koji build target {job.koji_target!r} does not exist on "
                             f"{self.b.options()['server']} (profile {self.b.profile!r})")
        if job.arch_override and not job.scratch:
            return self.fail("arch_override is only allowed with scratch builds "
                             "(koji refuses --arch-override without --scratch)")
        refusal = self.check_dest_tag(target)
        if refusal:
            return self.fail(refusal)
        if job.wait_for:
            problem = self.wait_repo(target)
            if problem:
                return self.fail(problem)
        src = self.upload()
        if self.b.stopper.stopped:
            raise Interrupt("interrupted before submitting")
        task_id = self.submit(src)
        self.out.task_ids = [task_id]
        self.b.stopper.track(task_id, job.key)
        try:
            watcher = self.b.watch(self.s, [task_id], self.progress, job.key)
        except StuckFree as exc:
            return self.fail(self.stuck(exc))
        except DeadlineHit as exc:
            return self.fail(f"koji task {task_id} still running after {exc.waited / 60:.0f} "
                             f"minutes (the build deadline); left on the hub: "
                             f"{task_url(self.b.options().get('weburl'), task_id)}")
        finally:
            self.b.stopper.untrack(task_id)
        return self.collect(watcher, task_id, target)

    def stuck(self, exc: StuckFree) -> str:
        """Name the channel (and its enabled hosts for the arch) of a task nobody takes."""
        cid, arch = exc.task.channel_id, exc.task.arch
        channel, hosts = None, None
        if cid is not None:
            query: dict[str, Any] = {"channelID": cid, "enabled": True}
            if arch != "noarch":            # any host of the channel takes noarch tasks
                query["arches"] = [arch]
            answers = self.b.multicall(self.s, [Call("getChannel", (cid,)),
                                                Call("listHosts", (), query)])
            channel = answers[0].value
            hosts = None if answers[1].error else len(answers[1].value or ())
        return stuck_reason(exc, channel, hosts, self.b.options().get("weburl"))

    def fail(self, reason: str) -> BuildOutcome:
        self.out.ok = False
        self.out.reason = reason
        return self.out

    def check_dest_tag(self, target: TargetInfo) -> str | None:
        if self.job.scratch:
            return None
        tag = self.b.retry(lambda: self.s.getTag(target.dest_tag))
        if tag and tag.get("locked"):
            return (f"destination tag {target.dest_tag_name!r} of target {target.name!r} is "
                    "locked: non-scratch builds are refused (koji build checks this too)")
        return None

    # --- waiting for dependencies ----------------------------------------------------------

    def wait_repo(self, target: TargetInfo) -> str | None:
        """Make sure the build task's own wait (``wait_builds``) can be satisfied.

        Hubs with repo requests (koji >= 1.35): wait only until the NVRs are tagged, then
        request a repo at the tag's last change (``repo.request``, any logged-in user may) and
        go on: the build task's waitrepo child waits on that same request. Older hubs: wait
        here, as ``koji wait-repo --build`` does, for kojira to regenerate the repo."""
        nvrs = list(self.job.wait_for)
        new_api = tuple(self.s.hub_version) >= (1, 35)
        if new_api and self.s.logged_in:
            return self.request_repo(target, nvrs)
        flags = [x for n in nvrs for x in ("--build", n)]   # old hub, or anonymous (no request)
        self.out.commands.append(self.koji_cmd("wait-repo", target.build_tag_name, *flags))
        return self.poll_repo(target, nvrs, new_api=new_api)

    def request_repo(self, target: TargetInfo, nvrs: list[str]) -> str | None:
        problem = self.poll_repo(target, nvrs, new_api=True, tagged_only=True)
        if problem:
            return problem
        tag = target.build_tag
        event = self.b.retry(lambda: self.s.tagLastChangeEvent(tag))
        self.out.commands.append(self.koji_cmd("request-repo", f"--min-event={event}",
                                               target.build_tag_name))
        check = self.b.retry(lambda: self.s.repo.request(tag, min_event=event))
        repo, req = check.get("repo"), check.get("request")
        if repo:
            self.say(f"repo {repo['id']} of {target.build_tag_name} (event "
                     f"{repo['create_event']}) already has {', '.join(nvrs)}")
        else:
            dup = " (joined an existing one)" if check.get("duplicate") else ""
            self.say(f"requested a repo of {target.build_tag_name} at event {event}: request "
                     f"{(req or {}).get('id')}{dup}; the build task waits for it (wait_builds)")
        return None

    def poll_repo(self, target: TargetInfo, nvrs: list[str], *, new_api: bool,
                  tagged_only: bool = False) -> str | None:
        start = self.b.clock()
        while True:
            ok, detail = self.repo_state(target.build_tag, nvrs, new_api, tagged_only)
            if ok:
                where = "tag" if tagged_only else "repo"
                self.say(f"{', '.join(nvrs)} in the {target.build_tag_name} {where}")
                return None
            if self.job.scratch and detail.startswith("not tagged"):
                return (f"scratch build waits for {', '.join(nvrs)}, which is {detail}; "
                        "scratch builds are never tagged, so build the dependency for real "
                        "first (or drop the dependency wait)")
            waited = self.b.clock() - start
            if waited >= self.b.wait_timeout:
                note = "" if tagged_only else (
                    "; without a repo request (hub < 1.35, or an anonymous session) the repo "
                    "comes when kojira regenerates it: a logged-in user on a 1.35+ hub can "
                    f"`koji request-repo {target.build_tag_name}`, on older hubs someone with "
                    f"the repo permission `koji regen-repo {target.build_tag_name}`")
                return (f"timed out after {waited:.0f} s waiting for {', '.join(nvrs)} in the "
                        f"{'tag' if tagged_only else 'repo'} of build tag "
                        f"{target.build_tag_name}: {detail}{note}")
            self.say(f"waiting for {target.build_tag_name}: {detail}")
            self.b.sleep(self.b.poll_interval)
            if self.b.stopper.stopped:
                raise Interrupt("interrupted while waiting for the repo")

    def repo_state(self, tag: int, nvrs: list[str], new_api: bool,
                   tagged_only: bool = False) -> tuple[bool, str]:
        """(all NVRs are in the newest ready repo -- or only tagged --?, why not)."""
        names = [nvr_parts(n)[0] for n in nvrs]
        head = [] if tagged_only else [Call("repo.get" if new_api else "getRepo", (tag,))]
        now = self.b.multicall(self.s, head + [
            Call("listTagged", (tag,), {"package": n, "inherit": True}) for n in names])
        errors = [a.error for a in now if a.error is not None]
        if errors:
            return False, f"hub fault: {errors[0]}"
        listed = now[len(head):]
        untagged = [v for v, a in zip(nvrs, listed) if not builds_present(v, a.value or ())]
        if untagged:
            return False, f"not tagged into the build tag (or its parents) yet: {untagged}"
        if tagged_only:
            return True, ""
        repo = now[0].value
        if not repo:
            return False, "no ready repo yet"
        return self.repo_has(tag, repo, nvrs, names, new_api)

    def repo_has(self, tag: int, repo: dict[str, Any], nvrs: list[str], names: list[str],
                 new_api: bool) -> tuple[bool, str]:
        event = repo["create_event"]
        if new_api:  # RepoWatcher.check_repo: listTagged(inherit=True) at the repo event
            calls = [Call("listTagged", (tag,), {"event": event, "package": n, "inherit": True})
                     for n in names]
        else:  # koji_cli.lib.wait_repo: getLatestBuilds at the repo event
            calls = [Call("getLatestBuilds", (tag,), {"event": event, "package": n})
                     for n in names]
        answers = self.b.multicall(self.s, calls)
        missing = [v for v, a in zip(nvrs, answers) if not _present(v, a)]
        if not missing:
            return True, ""
        return False, (f"tagged, but repo {repo.get('id')} (event {event}) predates "
                       f"{missing}: waiting for the repo to be regenerated")

    # --- submitting ------------------------------------------------------------------------

    def upload(self) -> str:
        serverdir = unique_path("cli-build")
        srpm = self.job.srpm
        self.say(f"uploading {srpm.name}")
        self.b.retry(lambda: _upload(self.s, srpm, serverdir))
        return f"{serverdir}/{srpm.name}"

    def submit(self, src: str) -> int:
        job = self.job
        opts: dict[str, Any] = {"wait_builds": list(job.wait_for), "custom_user_metadata": {}}
        flags = [f"--wait-build={n}" for n in job.wait_for]
        if job.scratch:
            opts["scratch"] = True
            flags.append("--scratch")
        if job.arch_override:
            opts["arch_override"] = " ".join(job.arch_override)
            flags.append("--arch-override=" + ",".join(job.arch_override))
        kwargs: dict[str, Any] = {"priority": None}
        if job.koji_channel:
            kwargs["channel"] = job.koji_channel
        self.out.commands.append(self.koji_cmd("build", "--wait", *flags, job.koji_target,
                                               str(job.srpm)))
        started = time.time()
        try:
            task_id = int(self.s.build(src, job.koji_target, opts, **kwargs))  # never retried
        except Exception as exc:
            if fault_code(exc) != 1009:   # RetryError: our answer was lost, the task may exist
                raise
            task_id = self.find_submitted(src, started, exc)
        self.say(f"koji task {task_id} created")
        return task_id

    def find_submitted(self, src: str, started: float, exc: BaseException) -> int:
        """After a lost ``build()`` answer: our task is the build whose request names our
        (unique) upload path."""
        tasks = self.b.retry(lambda: self.s.listTasks(
            opts={"method": "build", "createdAfter": started - 600, "decode": True}))
        for task in tasks or ():
            if (task.get("request") or [None])[0] == src:
                self.say(f"build() answer lost ({type(exc).__name__}); found task {task['id']}")
                return int(task["id"])
        raise HubStepFailed(f"build() answer lost ({exc}) and no build task for {src} found; "
                            "check `koji list-tasks --mine`")

    # --- results ---------------------------------------------------------------------------

    def collect(self, watcher: KojiWatcher, task_id: int, target: TargetInfo) -> BuildOutcome:
        self.out.task_ids = sorted(watcher.tasks)
        arch_tasks = [t for t in watcher.children(task_id) if t.method == "buildArch"]
        parent = watcher.tasks[task_id]
        if parent.state != "CLOSED":
            return self.collect_failure(watcher, parent)
        for t in arch_tasks:
            self.download(t)
        self.out.commands.append(self.koji_cmd("download-task", str(task_id)))
        wanted = self.job.arch_override or self.b.arches_for(self.s, self.job)
        missing = [a for a in wanted if not any(r.name.endswith(f".{a}.rpm")
                                                for r in self.out.rpms)]
        if missing:
            return self.fail(f"koji task {task_id} closed without packages for {missing} "
                             f"(build tag {target.build_tag_name})")
        self.out.ok = True
        return self.out

    def collect_failure(self, watcher: KojiWatcher, parent: TaskView) -> BuildOutcome:
        culprit = deepest_failure(watcher, parent.id)
        fault = self.fault_text(culprit.id)
        where = (f"{culprit.method} task {culprit.id} ({culprit.arch})"
                 if culprit.id != parent.id else f"task {parent.id}")
        self.out.reason = f"koji build task {parent.id} {parent.state}: {where}: {fault}"
        if "policy violation (build_from_srpm)" in fault:
            self.out.reason += f" -- {POLICY_ADVICE}"
        if culprit.id != parent.id:
            if culprit.method == "buildArch":
                self.out.failed_arch = culprit.arch
            self.download(culprit, rpms=False)
            self.out.log_tail = self.failure_tail(culprit)
        return self.out

    def fault_text(self, task_id: int) -> str:
        """The task's fault, as ``getTaskResult`` raises it."""
        try:
            self.s.getTaskResult(task_id)
        except Exception as exc:
            return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return "no fault recorded"

    def failure_tail(self, task: TaskView) -> str:
        parts: list[str] = []
        folder = log_folder(task)
        for name in ("build.log", "root.log", "mock_output.log"):
            path = self.dir / "logs" / folder / name
            if name == "mock_output.log" and parts:
                break   # mock's own output only when mock left no build/root log
            if path.is_file() and path.stat().st_size:
                text = path.read_text(encoding="utf-8", errors="replace")
                parts.append(f"==> {folder}/{name} <==\n{tail(text)}")
        return "\n".join(parts)

    def download(self, task: TaskView, *, rpms: bool = True) -> None:
        listing = self.b.retry(lambda: self.s.listTaskOutput(task.id, stat=True))
        for name, st in sorted((listing or {}).items()):
            if name.endswith(".rpm") and rpms:
                dest = self.dir / name
            elif name.endswith(".log"):
                dest = self.dir / "logs" / log_folder(task) / name
            else:
                continue
            if dest.exists():  # the same noarch package from another arch
                continue
            self.fetch(task.id, name, int(st["st_size"]), dest)
            self.record(dest)

    def fetch(self, task_id: int, name: str, size: int, dest: Path) -> None:
        """One task output file: over HTTP from the profile's ``topurl`` when set (what
        ``koji download-task`` does), else by ``downloadTaskOutput`` chunks until empty."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        topurl = self.b.options().get("topurl")
        if topurl:
            url = f"{topurl.rstrip('/')}/work/tasks/{task_id % 10000}/{task_id}/{name}"
            got = self.b.retry(lambda: self.fetch_http(url, dest))
        else:
            got = self.b.retry(lambda: self.fetch_xmlrpc(task_id, name, dest))
        if got != size:
            raise HubStepFailed(f"{name} of task {task_id}: got {got} bytes, hub said {size}")

    def fetch_xmlrpc(self, task_id: int, name: str, dest: Path) -> int:
        offset = 0
        with dest.open("wb") as fh:
            while True:
                chunk = self.s.downloadTaskOutput(task_id, name, offset=offset, size=BLOCK)
                if not chunk:
                    return offset
                fh.write(chunk)
                offset += len(chunk)

    def fetch_http(self, url: str, dest: Path) -> int:
        import requests  # a dependency of the koji client

        opts = self.b.options()
        verify: bool | str = opts.get("serverca") or not opts.get("no_ssl_verify")
        with requests.get(url, stream=True, timeout=opts.get("timeout") or 3600,
                          verify=verify) as resp:
            resp.raise_for_status()
            size = 0
            with dest.open("wb") as fh:
                for chunk in resp.iter_content(1 << 20):
                    fh.write(chunk)
                    size += len(chunk)
        return size

    def record(self, path: Path) -> None:
        if path.name.endswith(".src.rpm"):
            self.out.srpm = path
        elif path.suffix == ".rpm":
            self.out.rpms.append(path)
        else:
            self.out.logs.append(path)


def _upload(session: Any, srpm: Path, serverdir: str) -> None:
    """``uploadWrapper`` (-> fastUpload: rawUpload chunks + checkUpload). koji 1.36's
    fastUpload never closes the file it reads; its ResourceWarning is silenced here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        session.uploadWrapper(str(srpm), serverdir)


def log_folder(task: TaskView) -> str:
    """logs/<arch>/ for buildArch tasks (as before), logs/<method>-<id>/ for the others
    (a rebuildSRPM's noarch logs must not mix with a noarch buildArch's)."""
    if task.method == "buildArch" and task.arch:
        return task.arch
    return f"{task.method or 'task'}-{task.id}"


def _present(nvr: str, answer: Answer) -> bool:
    return answer.error is None and builds_present(nvr, answer.value or ())
