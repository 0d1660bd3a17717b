"""The state and task engine behind the stand-in koji hub (``tests/support/kojihub.py``).

Time is simulated: every hub request advances the clock by one *tick* (deterministic, no
threads). Tasks are generators stepped once per tick, following koji's task model
(koji-mock.md section 4): ``build`` (noarch, parent) -> ``rebuildSRPM`` -> optional
``waitrepo`` -> one ``buildArch`` per arch -> ``tagBuild`` (non-scratch); states
FREE -> ASSIGNED -> OPEN -> CLOSED/FAILED/CANCELED; children exist only once the parent is OPEN;
the first failing child cancels its siblings and fails the parent with the child's fault.
Repos: a hub >= 1.35 regenerates a tag's repo ``request_ticks`` after a repo request
(``repo.request``, also made by a build's waitrepo task), and a ``repo.auto`` tag's repo on its
own only ``repo_lag`` ticks after a change (koji's RepoLag/RepoAutoLag, hours on a real hub);
a new tag has no repo until one is requested. Older hubs (no requests): kojira regenerates
``repo.auto`` tags ``repo_lag`` ticks after a change, and the tags a waitrepo task waits on.
"""

from __future__ import annotations

import datetime
import re
import time
import xmlrpc.client
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import koji

TS = koji.TASK_STATES
BS = koji.BUILD_STATES
Work = Generator[None, None, Any]


@dataclass
class HubConfig:
    version: str = "1.35.3"          # emulated hub version (>= 1.35: Koji-Version header, repo.get)
    repo_lag: int = 3                # ticks between a tag change and the automatic new repo
    task_ticks: int = 2              # ticks a buildArch/rebuildSRPM spends OPEN
    waitrepo_ticks: int = 400        # a waitrepo task gives up after this many ticks
    slow_arches: dict[str, int] = field(default_factory=dict)   # arch -> extra ticks
    fail_arches: dict[str, str] = field(default_factory=dict)   # arch -> build.log tail
    users: dict[str, str] = field(default_factory=lambda: {"builder": "secret"})
    channels: tuple[str, ...] = ("default", "createrepo", "hygon")
    request_ticks: int = 3           # ticks from a repo request to its new repo (kojira+newRepo)
    dead_channels: tuple[str, ...] = ()   # channels with no enabled host: tasks stay FREE
    srpm_policy_admins_only: bool = False   # koji's default build_from_srpm policy
    admins: tuple[str, ...] = ()
    fail_srpm: str | None = None     # rebuildSRPM fails (mock init) with this root.log tail

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(x) for x in self.version.split("."))


@dataclass
class Tag:
    id: int
    name: str
    arches: str | None
    locked: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    parents: list[int] = field(default_factory=list)
    create_event: int = 0


@dataclass
class Target:
    id: int
    name: str
    build_tag: int
    dest_tag: int


@dataclass
class Build:
    id: int
    name: str
    version: str
    release: str
    epoch: int | None
    state: int
    task_id: int | None
    owner: str
    rpms: list[dict[str, str]] = field(default_factory=list)
    create_ts: float = field(default_factory=time.time)

    @property
    def nvr(self) -> str:
        return f"{self.name}-{self.version}-{self.release}"


@dataclass
class Listing:
    tag_id: int
    build_id: int
    create_event: int
    revoke_event: int | None = None


@dataclass
class Repo:
    id: int
    tag_id: int
    create_event: int
    create_ts: float
    state: int = koji.REPO_STATES["READY"]


@dataclass
class RepoRequest:
    """A ``repo_queue`` row (fields as RepoQueueQuery's)."""

    id: int
    tag_id: int
    min_event: int
    owner: int
    create_tick: int
    create_ts: float = field(default_factory=time.time)
    active: bool = True
    repo_id: int | None = None
    task_id: int | None = None
    tries: int = 0
    priority: int = 20


@dataclass
class Task:
    id: int
    method: str
    arch: str
    label: str | None
    parent: int | None
    request: list[Any]
    owner: int
    channel_id: int
    state: int = TS["FREE"]
    host_id: int | None = None
    priority: int = 20
    create_ts: float = field(default_factory=time.time)
    start_ts: float | None = None
    start_tick: int | None = None
    completion_ts: float | None = None
    result: Any = None
    fault: tuple[int, str] | None = None
    gen: Generator[None, None, None] | None = None


def iso(ts: float | None) -> str | None:
    """koji's datetime marshalling: a string, ``isoformat(' ')``."""
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat(" ")


def fault_exception(code: int, text: str) -> Exception:
    """The koji exception for a stored fault; plain Fault for codes koji does not know."""
    converted = koji.convertFault(xmlrpc.client.Fault(code, text))
    return converted if isinstance(converted, Exception) else xmlrpc.client.Fault(code, text)


def vercmp(a: str, b: str) -> int:
    """A small rpmvercmp (digits vs letters segments; enough for test versions)."""
    sa, sb = re.findall(r"\d+|[a-zA-Z]+", a), re.findall(r"\d+|[a-zA-Z]+", b)
    for x, y in zip(sa, sb):
        if x.isdigit() and y.isdigit():
            if int(x) != int(y):
                return 1 if int(x) > int(y) else -1
        elif x.isdigit() != y.isdigit():
            return 1 if x.isdigit() else -1
        elif x != y:
            return 1 if x > y else -1
    return (len(sa) > len(sb)) - (len(sa) < len(sb))


class HubSim:
    """Tags, targets, builds, repos, events and the task engine."""

    def __init__(self, topdir: Path, config: HubConfig) -> None:
        self.top = topdir
        self.work = topdir / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.cfg = config
        self.tick = 0
        self.event = 1000
        self._ids: dict[str, int] = {}
        self.tags: dict[int, Tag] = {}
        self.targets: dict[int, Target] = {}
        self.builds: dict[int, Build] = {}
        self.listings: list[Listing] = []
        self.repos: list[Repo] = []
        self.tasks: dict[int, Task] = {}
        self.pending_regen: dict[int, int] = {}
        self.requests: list[RepoRequest] = []
        self.hosts = {1: "builder-x86_64-01", 2: "builder-aarch64-01", 3: "hygon-builder-01"}
        self.build_calls: list[dict[str, Any]] = []   # repo contents seen at each build()

    def next_id(self, kind: str) -> int:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return self._ids[kind]

    def new_event(self) -> int:
        self.event += 1
        return self.event

    # --- setup helpers (not RPC) ----------------------------------------------------------

    def add_tag(self, name: str, *, arches: str | None = None, locked: bool = False,
                extra: dict[str, Any] | None = None, parents: Iterable[str] = ()) -> Tag:
        tag = Tag(self.next_id("tag"), name, arches, locked, dict(extra or {}),
                  [self.tag(p).id for p in parents])
        self.tags[tag.id] = tag
        tag.create_event = self.new_event()
        return tag

    def add_target(self, name: str, build_tag: str, dest_tag: str) -> Target:
        target = Target(self.next_id("target"), name, self.tag(build_tag).id,
                        self.tag(dest_tag).id)
        self.targets[target.id] = target
        return target

    def new_repo(self, tag_id: int) -> Repo:
        repo = Repo(self.next_id("repo"), tag_id, self.new_event(), time.time())
        self.repos.append(repo)
        return repo

    def import_build(self, nvr: str, tag: str, rpm_names: Iterable[str]) -> Build:
        """A COMPLETE build already tagged (as if built long ago)."""
        name, version, release = koji.parse_NVR(nvr)["name"], *nvr.rsplit("-", 2)[1:]
        build = Build(self.next_id("build"), name, version, release, None, BS["COMPLETE"],
                      None, "builder",
                      [{"name": n, "version": version, "release": release, "arch": "x86_64"}
                       for n in rpm_names])
        self.builds[build.id] = build
        self.listings.append(Listing(self.tag(tag).id, build.id, self.new_event()))
        return build

    # --- lookups ---------------------------------------------------------------------------

    def tag(self, info: int | str) -> Tag:
        found = self.find_tag(info)
        if found is None:
            raise koji.GenericError(f"No such tagInfo: {info!r}")
        return found

    def find_tag(self, info: Any) -> Tag | None:
        if isinstance(info, dict):
            info = info.get("id", info.get("name"))
        for t in self.tags.values():
            if info in (t.id, t.name):
                return t
        return None

    def find_target(self, info: Any) -> Target | None:
        for t in self.targets.values():
            if info in (t.id, t.name):
                return t
        return None

    def lineage(self, tag_id: int) -> list[int]:
        order, todo = [], [tag_id]
        while todo:
            tid = todo.pop(0)
            if tid not in order:
                order.append(tid)
                todo.extend(self.tags[tid].parents)
        return order

    def tagged(self, tag_id: int, event: int | None, inherit: bool) -> list[tuple[Listing, Build]]:
        tags = self.lineage(tag_id) if inherit else [tag_id]
        out = []
        for tid in tags:
            for lst in self.listings:
                if lst.tag_id != tid or (event is not None and lst.create_event > event):
                    continue
                if lst.revoke_event is not None and (event is None or lst.revoke_event <= event):
                    continue
                out.append((lst, self.builds[lst.build_id]))
        return sorted(out, key=lambda p: -p[0].create_event)

    def user_id(self, name: str | None) -> int:
        users = sorted(self.cfg.users)
        return users.index(name) + 1 if name in users else 0

    def last_change(self, tag_id: int, before: int | None = None, inherit: bool = True) -> int:
        """tag_last_change_event: listings (and their revocations) of the tag and, with
        ``inherit``, its parents; the tag's creation event if nothing was tagged yet."""
        tags = self.lineage(tag_id) if inherit else [tag_id]
        events = [lst.create_event for lst in self.listings if lst.tag_id in tags]
        events += [lst.revoke_event for lst in self.listings
                   if lst.revoke_event and lst.tag_id in tags]
        events += [self.tags[t].create_event for t in tags]
        events = [e for e in events if before is None or e < before]
        return max(events, default=0)

    def latest_repo(self, tag_id: int, min_event: int | None = None) -> Repo | None:
        ready = [r for r in self.repos if r.tag_id == tag_id and r.state == 1
                 and (min_event is None or r.create_event >= min_event)]
        return max(ready, key=lambda r: r.create_event, default=None)

    def repo_rpm_names(self, repo: Repo) -> dict[str, str]:
        """rpm name -> version of the packages in a repo (builds at its create_event)."""
        names: dict[str, str] = {}
        for _, build in self.tagged(repo.tag_id, repo.create_event, inherit=True):
            for rpm in build.rpms:
                names.setdefault(rpm["name"], rpm["version"])
        return names

    # --- the clock --------------------------------------------------------------------------

    def advance(self) -> None:
        self.tick += 1
        for task in sorted(self.tasks.values(), key=lambda t: t.id):
            if task.gen is not None and not self.terminal(task):
                try:
                    next(task.gen)
                except StopIteration:
                    task.gen = None
        self.regen_repos()

    @property
    def has_requests(self) -> bool:
        return self.cfg.version_tuple >= (1, 35)

    def request_repo(self, tag_id: int, min_event: int, owner: int = 1,
                     force: bool = False) -> dict[str, Any]:
        """repos.request_repo: a ready repo at or after ``min_event`` (unless ``force``), else
        an active request (joined when one already covers it), else a new one."""
        repo = None if force else self.latest_repo(tag_id, min_event)
        if repo is not None:
            return {"repo": repo, "request": None, "duplicate": False}
        for req in self.requests:
            if req.active and req.tag_id == tag_id and req.min_event >= min_event:
                return {"repo": None, "request": req, "duplicate": True}
        req = RepoRequest(self.next_id("repo_queue"), tag_id, min_event, owner, self.tick)
        self.requests.append(req)
        return {"repo": None, "request": req, "duplicate": False}

    def serve_requests(self) -> None:
        for req in self.requests:
            if req.active and self.tick - req.create_tick >= self.cfg.request_ticks:
                repo = self.latest_repo(req.tag_id, req.min_event) or self.new_repo(req.tag_id)
                req.repo_id, req.active = repo.id, False

    def regen_repos(self) -> None:
        if self.has_requests:
            self.serve_requests()
        for tag in self.tags.values():
            current = self.latest_repo(tag.id)
            if current is None or (not tag.extra.get("repo.auto") and tag.id not in \
                    self.pending_regen):
                continue
            if self.last_change(tag.id) <= current.create_event:
                self.pending_regen.pop(tag.id, None)
                continue
            since = self.pending_regen.setdefault(tag.id, self.tick)
            if self.tick - since >= self.cfg.repo_lag:
                self.new_repo(tag.id)
                del self.pending_regen[tag.id]

    @staticmethod
    def terminal(task: Task) -> bool:
        return TS[task.state] in ("CLOSED", "CANCELED", "FAILED")
