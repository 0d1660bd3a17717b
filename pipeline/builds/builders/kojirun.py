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
    failed_arch_child,
    short_error,
    tail,
    unique_path,
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
        task_id = self.submit(src)
        self.out.task_ids = [task_id]
        watcher = self.b.watch(self.s, [task_id], self.progress, job.key)
        return self.collect(watcher, task_id, target)

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
        """Wait until every ``wait_for`` NVR is in the build tag's current repo."""
        nvrs = list(self.job.wait_for)
        flags = [x for n in nvrs for x in ("--build", n)]
        self.out.commands.append(self.koji_cmd("wait-repo", target.build_tag_name, *flags))
        new_api = tuple(self.s.hub_version) >= (1, 35)
        auto_note = self.repo_auto_note(target) if new_api else ""
        start = self.b.clock()
        while True:
            ok, detail = self.repo_state(target.build_tag, nvrs, new_api)
            if ok:
                self.say(f"{', '.join(nvrs)} in the {target.build_tag_name} repo")
                return None
            if self.job.scratch and detail.startswith("not tagged"):
                return (f"scratch build waits for {', '.join(nvrs)}, which is {detail}; "
                        "scratch builds are never tagged, so build the dependency for real "
                        "first (or drop the dependency wait)")
            waited = self.b.clock() - start
            if waited >= self.b.wait_timeout:
                return (f"timed out after {waited:.0f} s waiting for {', '.join(nvrs)} in the "
                        f"repo of build tag {target.build_tag_name}: {detail}{auto_note}")
            self.say(f"waiting for repo of {target.build_tag_name}: {detail}")
            self.b.sleep(self.b.poll_interval)

    def repo_auto_note(self, target: TargetInfo) -> str:
        tag = self.b.retry(lambda: self.s.getTag(target.build_tag))
        extra = (tag or {}).get("extra") or {}
        if extra.get("repo.auto"):
            return ""
        note = (f"; tag {target.build_tag_name} is not configured for automatic regeneration "
                "(extra repo.auto), run `koji regen-repo` or ask an admin")
        self.say(note.lstrip("; "))
        return note

    def repo_state(self, tag: int, nvrs: list[str], new_api: bool) -> tuple[bool, str]:
        """(all NVRs are in the newest ready repo?, why not)."""
        names = [nvr_parts(n)[0] for n in nvrs]
        repo_call = (Call("repo.get", (tag,)) if new_api else Call("getRepo", (tag,)))
        now = self.b.multicall(self.s, [repo_call] + [
            Call("listTagged", (tag,), {"package": n, "inherit": True}) for n in names])
        errors = [a.error for a in now if a.error is not None]
        if errors:
            return False, f"hub fault: {errors[0]}"
        untagged = [v for v, a in zip(nvrs, now[1:]) if not builds_present(v, a.value or ())]
        if untagged:
            return False, f"not tagged into the build tag (or its parents) yet: {untagged}"
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
            return self.collect_failure(parent, arch_tasks)
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

    def collect_failure(self, parent: TaskView, arch_tasks: list[TaskView]) -> BuildOutcome:
        failed = failed_arch_child(arch_tasks)
        culprit = failed or parent
        fault = self.fault_text(culprit.id)
        where = f"buildArch task {failed.id} ({failed.arch})" if failed else f"task {parent.id}"
        self.out.reason = f"koji build task {parent.id} {parent.state}: {where}: {fault}"
        if failed is not None:
            self.out.failed_arch = failed.arch
            self.download(failed, rpms=False)
            self.out.log_tail = self.failure_tail(failed)
        return self.out

    def fault_text(self, task_id: int) -> str:
        """The task's fault, as ``getTaskResult`` raises it."""
        try:
            self.s.getTaskResult(task_id)
        except Exception as exc:
            return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return "no fault recorded"

    def failure_tail(self, task: TaskView) -> str:
        parts = []
        for name in ("build.log", "root.log"):
            path = self.dir / "logs" / task.arch / name
            if path.is_file() and path.stat().st_size:
                text = path.read_text(encoding="utf-8", errors="replace")
                parts.append(f"==> {task.arch}/{name} <==\n{tail(text)}")
        return "\n".join(parts)

    def download(self, task: TaskView, *, rpms: bool = True) -> None:
        listing = self.b.retry(lambda: self.s.listTaskOutput(task.id, stat=True))
        for name, st in sorted((listing or {}).items()):
            if name.endswith(".rpm") and rpms:
                dest = self.dir / name
            elif name.endswith(".log"):
                dest = self.dir / "logs" / (task.arch or str(task.id)) / name
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


def _present(nvr: str, answer: Answer) -> bool:
    return answer.error is None and builds_present(nvr, answer.value or ())
