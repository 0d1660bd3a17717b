"""The task handlers of the stand-in hub (what kojid does on builders), as tick generators.

buildArch "work" is real: the uploaded SRPM is rebuilt with ``rpmbuild --rebuild --nodeps
--target ARCH`` (tiny test SRPMs only), giving real RPM files, plus build.log/root.log/
state.log/mock_output.log/mock_config.log. Before that, BuildRequires on packages this hub
knows are checked against the repo the task was given (the build tag's repo at its event), so
a dependent build submitted without waiting for the repo fails as it would in real koji.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import koji

from pipeline.core.cmd import run

from .kojisim import BS, TS, Build, HubSim, Repo, Task, fault_exception, vercmp

Work = Generator[None, None, Any]
CHANNEL_IDS = {"default": 1, "createrepo": 2, "hygon": 3}


class KojiSim(HubSim):
    """HubSim plus koji's task tree for ``build``."""

    # --- task bookkeeping --------------------------------------------------------------------

    def spawn(self, method: str, arch: str, label: str | None, request: list[Any], *,
              parent: Task | None = None, owner: int = 1, channel: str = "default",
              priority: int = 20) -> Task:
        chan = parent.channel_id if parent else CHANNEL_IDS[channel]
        task = Task(self.next_id("task"), method, arch, label, parent.id if parent else None,
                    request, parent.owner if parent else owner, chan, priority=priority)
        self.tasks[task.id] = task
        body = getattr(self, "do_" + method)
        task.gen = self.lifecycle(task, body(task))
        return task

    def lifecycle(self, task: Task, body: Work) -> Generator[None, None, None]:
        yield                                   # FREE for one tick
        dead = {CHANNEL_IDS[c] for c in self.cfg.dead_channels}
        while task.channel_id in dead:          # no enabled host in the channel: FREE forever
            yield
        task.state = TS["ASSIGNED"]
        task.host_id = 3 if task.channel_id == CHANNEL_IDS["hygon"] else (
            2 if task.arch == "aarch64" else 1)
        yield
        task.state = TS["OPEN"]
        task.start_ts = time.time()
        task.start_tick = self.tick
        try:
            task.result = yield from body
        except Exception as exc:
            code = getattr(exc, "faultCode", 1)
            text = getattr(exc, "faultString", None) or str(exc)
            self.finish(task, "FAILED", (code, text))
        else:
            self.finish(task, "CLOSED")

    def finish(self, task: Task, state: str, fault: tuple[int, str] | None = None) -> None:
        task.state = TS[state]
        task.fault = fault
        task.completion_ts = time.time()

    def cancel(self, task: Task) -> None:
        """cancelTask(recurse=True): the task and every unfinished descendant."""
        for child in [t for t in self.tasks.values() if t.parent == task.id]:
            self.cancel(child)
        if not self.terminal(task):
            if task.gen is not None:
                task.gen.close()
                task.gen = None
            self.finish(task, "CANCELED")

    def wait_children(self, parent: Task, kids: list[Task]) -> Work:
        """BaseTaskHandler.wait(all=True, failany=True)."""
        while True:
            failed = [k for k in kids if k.state == TS["FAILED"]]
            if failed:
                for child in [t for t in self.tasks.values() if t.parent == parent.id]:
                    self.cancel(child)
                assert failed[0].fault is not None
                raise fault_exception(*failed[0].fault)
            if any(k.state == TS["CANCELED"] for k in kids):
                raise koji.GenericError(f"subtask of {parent.id} canceled")
            if all(k.state == TS["CLOSED"] for k in kids):
                return None
            yield

    def task_dir(self, task: Task) -> Path:
        path = self.work / "tasks" / str(task.id % 10000) / str(task.id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def rel(self, path: Path) -> str:
        return str(path.relative_to(self.work))

    # --- build (parent) ------------------------------------------------------------------------

    def do_build(self, task: Task) -> Work:
        src, target_name, opts = task.request
        opts = opts or {}
        target = self.find_target(target_name)
        if target is None:
            raise koji.GenericError(f"No such build target: {target_name}")
        scratch = bool(opts.get("scratch"))
        if opts.get("arch_override") and not scratch:
            raise koji.BuildError("arch_override is only allowed for scratch builds")
        hdr = self.srpm_header(self.work / src)
        build_tag = self.tags[target.build_tag]
        arches = self.arch_list(build_tag.id, opts)
        if self.cfg.srpm_policy_admins_only and not scratch and \
                self.owner_name(task) not in self.cfg.admins:   # kojid BuildTask.handler
            raise koji.ActionNotAllowed("policy violation (build_from_srpm): Only admin can "
                                        "do this via default policy")
        build = None if scratch else self.init_build(task, hdr)
        try:
            repo_id = yield from self.pick_repo(task, build_tag.id, opts)
            srpm_task = self.spawn("rebuildSRPM", "noarch", "srpm",
                                   [src, build_tag.id, {"repo_id": repo_id, "scratch": scratch}],
                                   parent=task)
            yield from self.wait_children(task, [srpm_task])
            kids = [self.spawn("buildArch", a, a, [srpm_task.result["srpm"], build_tag.id, a,
                                                   i == 0, {"repo_id": repo_id}], parent=task)
                    for i, a in enumerate(arches)]
            yield from self.wait_children(task, kids)
            if build is not None:
                yield from self.complete_and_tag(task, build, kids, target.dest_tag)
        except BaseException:
            if build is not None and build.state == BS["BUILDING"]:
                build.state = BS["FAILED"]
            raise
        return None

    def owner_name(self, task: Task) -> str:
        users = sorted(self.cfg.users)
        return users[task.owner - 1] if 0 < task.owner <= len(users) else ""

    def arch_list(self, tag_id: int, opts: dict[str, Any]) -> list[str]:
        tag_arches = [koji.canonArch(a) for a in (self.tags[tag_id].arches or "").split()]
        wanted = opts["arch_override"].split() if opts.get("scratch") and \
            opts.get("arch_override") else tag_arches
        arches = [koji.canonArch(a) for a in wanted if koji.canonArch(a) in tag_arches]
        if not arches:
            raise koji.BuildError("No matching arches were found")
        return list(dict.fromkeys(arches))

    def init_build(self, task: Task, hdr: dict[str, Any]) -> Build:
        nvr = f"{hdr['name']}-{hdr['version']}-{hdr['release']}"
        for old in self.builds.values():
            if old.nvr == nvr and old.state in (BS["BUILDING"], BS["COMPLETE"]):
                raise koji.GenericError(
                    f"Build already exists (id={old.id}, state={BS[old.state]}): {nvr}")
        build = Build(self.next_id("build"), hdr["name"], hdr["version"], hdr["release"],
                      hdr["epoch"], BS["BUILDING"], task.id, "builder")
        self.builds[build.id] = build
        return build

    def pick_repo(self, task: Task, tag_id: int, opts: dict[str, Any]) -> Work:
        repo = self.latest_repo(tag_id)
        if repo is not None and not opts.get("wait_builds") and not opts.get("wait_repo"):
            return repo.id
        nvrs = list(opts.get("wait_builds") or [])
        waiter = self.spawn("waitrepo", "noarch", "waitrepo",
                            [self.tags[tag_id].name, None, nvrs, None], parent=task)
        yield from self.wait_children(task, [waiter])
        return waiter.result["id"]

    def complete_and_tag(self, task: Task, build: Build, kids: list[Task], dest: int) -> Work:
        for kid in kids:
            for rel in kid.result["rpms"]:
                info = koji.parse_NVRA(Path(rel).name)
                build.rpms.append({k: info[k] for k in ("name", "version", "release", "arch")})
        build.state = BS["COMPLETE"]
        tagger = self.spawn("tagBuild", "noarch", "tag", [dest, build.id, False, None, True],
                            parent=task)
        yield from self.wait_children(task, [tagger])

    def spawn_sleepers(self, count: int, ticks: int) -> list[int]:
        """``count`` independent ``sleep`` tasks (koji's SleepTask) of ``ticks`` ticks each."""
        return [self.spawn("sleep", "noarch", None, [ticks]).id for _ in range(count)]

    def do_sleep(self, task: Task) -> Work:
        for _ in range(int(task.request[0])):
            yield
        return None

    # --- children --------------------------------------------------------------------------

    def do_tagBuild(self, task: Task) -> Work:
        yield
        from .kojisim import Listing

        self.listings.append(Listing(task.request[0], task.request[1], self.new_event()))
        return None

    def do_waitrepo(self, task: Task) -> Work:
        tag_name, _, nvrs, _ = task.request
        tag = self.tag(tag_name)
        if self.has_requests:   # RepoWatcher.waitrepo: builds tagged, then a repo request
            return (yield from self.wait_by_request(tag.id, tag_name, nvrs, task.owner))
        self.pending_regen.setdefault(tag.id, self.tick)   # old kojira: waited-on tags
        for _ in range(self.cfg.waitrepo_ticks):
            repo = self.latest_repo(tag.id)
            if repo is not None and all(self.in_repo(repo, n) for n in nvrs):
                return {"id": repo.id, "tag_id": tag.id, "create_event": repo.create_event}
            yield
        raise koji.GenericError(f"Unsuccessfully waited {self.cfg.waitrepo_ticks} ticks for "
                                f"{', '.join(nvrs)} to appear in the {tag_name} repo")

    def wait_by_request(self, tag_id: int, tag_name: str, nvrs: list[str], owner: int) -> Work:
        for _ in range(self.cfg.waitrepo_ticks):
            if all(any(b.nvr == n for _, b in self.tagged(tag_id, None, True)) for n in nvrs):
                break
            yield
        check = self.request_repo(tag_id, self.last_change(tag_id), owner)
        req = check["request"]
        while check["repo"] is None and req.active:
            yield
        repo = check["repo"] or next(r for r in self.repos if r.id == req.repo_id)
        if not all(self.in_repo(repo, n) for n in nvrs):
            raise koji.GenericError(f"Unsuccessfully waited for {', '.join(nvrs)} to appear "
                                    f"in the {tag_name} repo")
        return {"id": repo.id, "tag_id": tag_id, "create_event": repo.create_event}

    def in_repo(self, repo: Repo, nvr: str) -> bool:
        return any(b.nvr == nvr for _, b in self.tagged(repo.tag_id, repo.create_event, True))

    def do_rebuildSRPM(self, task: Task) -> Work:
        for _ in range(self.cfg.task_ticks):
            yield
        if self.cfg.fail_srpm is not None:   # BuildrootError from kojid's BuildRoot.init
            tdir = self.task_dir(task)
            _append(tdir / "mock_output.log", "INFO: mock.py version 6.7 starting\n")
            _append(tdir / "root.log", self.cfg.fail_srpm + "\nERROR: Command failed\n")
            raise koji.BuildrootError("could not init mock buildroot, mock exited with status "
                                      "30; see root.log for more information")
        src = self.work / task.request[0]
        out = self.task_dir(task) / src.name
        shutil.copy2(src, out)
        log = self.task_dir(task) / "build.log"
        log.write_text(f"Wrote: {out.name}\n", encoding="utf-8")
        return {"srpm": self.rel(out), "logs": [self.rel(log)], "brootid": task.id,
                "source": {"source": src.name, "url": src.name}}

    def do_buildArch(self, task: Task) -> Work:
        srpm_rel, tag_id, arch, keep_srpm, opts = task.request
        for _ in range(self.cfg.task_ticks + self.cfg.slow_arches.get(arch, 0)):
            yield
        tdir = self.task_dir(task)
        srpm = self.work / srpm_rel
        repo = next(r for r in self.repos if r.id == opts["repo_id"])
        self.write_logs(tdir, arch, repo)
        missing = self.missing_buildrequires(srpm, repo)
        if missing:
            _append(tdir / "root.log", "".join(f"No matching package to install: '{m}'\n"
                                               for m in missing) + "ERROR: Exception(...)\n")
            raise koji.BuildError(f"error building package (arch {arch}), mock exited with "
                                  "status 30; see root.log for more information")
        if arch in self.cfg.fail_arches:
            _append(tdir / "build.log", self.cfg.fail_arches[arch] + "\nRPM build errors:\n")
            raise koji.BuildError(f"error building package (arch {arch}), mock exited with "
                                  "status 1; see build.log or root.log for more information")
        rpms = self.rpmbuild(srpm, arch, tdir, self.tags[tag_id])
        srpms = []
        if keep_srpm:
            shutil.copy2(srpm, tdir / srpm.name)
            srpms = [self.rel(tdir / srpm.name)]
        logs = sorted(self.rel(p) for p in tdir.glob("*.log"))
        return {"rpms": [self.rel(p) for p in rpms], "srpms": srpms, "logs": logs,
                "brootid": task.id}

    def write_logs(self, tdir: Path, arch: str, repo: Repo) -> None:
        _append(tdir / "root.log", f"DEBUG util.py: repo {repo.id} (event {repo.create_event})"
                f" for {arch}\nDEBUG installing buildroot\n")
        _append(tdir / "state.log", "Start: build phase for srpm\n")
        _append(tdir / "mock_config.log", f"config_opts['target_arch'] = '{arch}'\n")
        _append(tdir / "mock_output.log", "INFO: mock.py version 6.7 starting\n")
        _append(tdir / "build.log", "Mock Version: 6.7\nExecuting(%prep)\n")

    def srpm_header(self, srpm: Path) -> dict[str, Any]:
        if not srpm.is_file():
            raise koji.GenericError(f"no such file: {srpm.name}")
        out = run(["rpm", "-qp", "--nosignature", "--qf",
                   "%{NAME}\n%{VERSION}\n%{RELEASE}\n%{EPOCH}\n", str(srpm)]).stdout.split("\n")
        return {"name": out[0], "version": out[1], "release": out[2],
                "epoch": None if out[3] == "(none)" else int(out[3])}

    def missing_buildrequires(self, srpm: Path, repo: Repo) -> list[str]:
        """BuildRequires on packages some build of this hub provides, absent from the repo."""
        known = {r["name"] for b in self.builds.values() for r in b.rpms}
        have = self.repo_rpm_names(repo)
        missing = []
        reqs = run(["rpm", "-qp", "--nosignature", "--requires", str(srpm)]).stdout
        for line in reqs.splitlines():
            parts = line.split()
            if not parts or parts[0] not in known:
                continue
            if parts[0] not in have or (len(parts) == 3 and not _satisfies(
                    have[parts[0]], parts[1], parts[2])):
                missing.append(line.strip())
        return missing

    def rpmbuild(self, srpm: Path, arch: str, tdir: Path, tag: Any) -> list[Path]:
        dist = tag.extra.get("rpm.macro.dist", "")
        with tempfile.TemporaryDirectory(prefix="kojihub-rpmbuild-") as tmp:
            done = run(["rpmbuild", "--rebuild", "--nodeps", "--target", arch,
                        "--define", f"_topdir {tmp}", "--define", f"dist {dist}", str(srpm)],
                       check=False)
            _append(tdir / "build.log", done.output)
            if done.returncode != 0:
                raise koji.BuildError(f"error building package (arch {arch}), mock exited "
                                      "with status 1; see build.log or root.log for more "
                                      "information")
            rpms = []
            for path in sorted(Path(tmp, "RPMS").glob("*/*.rpm")):
                rpms.append(Path(shutil.copy2(path, tdir / path.name)))
        return rpms


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)


def _satisfies(have: str, op: str, want: str) -> bool:
    c = vercmp(have, want.split("-")[0])
    return {"=": c == 0, ">=": c >= 0, ">": c > 0, "<=": c <= 0, "<": c < 0}.get(op, True)
