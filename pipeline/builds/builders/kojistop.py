"""Stopping a koji build: Ctrl-C/SIGTERM, deadlines, and the failure to report.

* :class:`Stopper` is shared by every build of one run: the first interrupt sets it, each watch
  loop sees it at its next poll (its sleeps wait on it), and the task ids still running are
  listed with their web URLs (and cancelled with ``cancelTask`` when asked).
* :class:`StuckFree` / :class:`DeadlineHit` end a watch whose task no builder picks up, or
  which outlived the per-build deadline.
* :func:`deepest_failure` picks the task whose fault explains the failure, at any depth
  (a ``rebuildSRPM`` as well as a ``buildArch``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pipeline.builds.builders.kojiwatch import KojiWatcher, TaskView

POLICY_ADVICE = (
    "the hub's build_from_srpm policy refuses non-scratch builds from an uploaded SRPM for "
    "this user (koji's default policy allows it to admins only): build from SCM (a git URL "
    "the hub's allowed_scms lists), build with --scratch, or ask the koji admins for a "
    "build_from_srpm/build_rpm policy rule that allows this user and tag")


class WatchStopped(Exception):
    """The watch ended before the tasks did (interrupt or deadline)."""


class Interrupt(WatchStopped):
    """Ctrl-C or SIGTERM while watching."""


class StuckFree(WatchStopped):
    """A task stayed FREE (no builder picked it up) past the deadline."""

    def __init__(self, task: TaskView, waited: float) -> None:
        self.task = task
        self.waited = waited
        super().__init__(f"task {task.id} FREE for {waited / 60:.0f} min")


class DeadlineHit(WatchStopped):
    """The whole build outlived its deadline."""

    def __init__(self, waited: float) -> None:
        self.waited = waited
        super().__init__(f"deadline hit after {waited / 60:.0f} min")


class Stopper:
    """The run-wide stop flag, and the koji tasks still running (id -> job key)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.lock = threading.Lock()
        self.active: dict[int, str] = {}

    @property
    def stopped(self) -> bool:
        return self.event.is_set()

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` that an interrupt cuts short."""
        self.event.wait(seconds)

    def track(self, task_id: int, key: str) -> None:
        with self.lock:
            self.active[task_id] = key

    def untrack(self, task_id: int) -> None:
        with self.lock:
            self.active.pop(task_id, None)

    def running(self) -> dict[int, str]:
        with self.lock:
            return dict(self.active)


def task_url(weburl: str | None, task_id: int) -> str:
    """The task's page in koji's web UI (``koji watch-task`` prints the same link)."""
    if not weburl:
        return f"task {task_id}"
    return f"{weburl.rstrip('/')}/taskinfo?taskID={task_id}"


def interrupt_lines(stopper: Stopper, weburl: str | None,
                    cancel: Callable[[int], str] | None) -> list[str]:
    """One line per koji task left behind: id, job, URL, and what was done with it."""
    lines = []
    for tid, key in sorted(stopper.running().items()):
        what = cancel(tid) if cancel else f"still running (cancel: koji cancel {tid})"
        lines.append(f"{key}: koji task {tid} {task_url(weburl, tid)} {what}")
    return lines


def free_check(watcher: KojiWatcher, free_since: dict[int, float], now: float,
               limit: float | None) -> None:
    """Raise :class:`StuckFree` for a task FREE for ``limit`` seconds or more."""
    for tid, view in sorted(watcher.tasks.items()):
        if view.state != "FREE":
            free_since.pop(tid, None)
            continue
        since = free_since.setdefault(tid, now)
        if limit is not None and now - since >= limit:
            raise StuckFree(view, now - since)


def deepest_failure(watcher: KojiWatcher, root: int) -> TaskView:
    """The FAILED task under ``root`` with no FAILED child: the one whose fault and logs
    explain the failure (a buildArch, a rebuildSRPM, a waitrepo...); ``root`` if none."""
    node = watcher.tasks[root]
    while True:
        failed = [t for t in watcher.children(node.id) if t.state == "FAILED"]
        if not failed:
            return node
        node = failed[0]


def stuck_reason(exc: StuckFree, channel: dict[str, Any] | None, hosts: int | None,
                 weburl: str | None) -> str:
    task = exc.task
    name = (channel or {}).get("name") or f"id {task.channel_id}"
    for_arch = "" if task.arch == "noarch" else f" for {task.arch}"
    host_note = "" if hosts is None else f" ({hosts} enabled host(s) in it{for_arch})"
    return (f"no builder has picked up koji task {task.id} ({task.method}, arch {task.arch}) "
            f"after {exc.waited / 60:.0f} minutes: channel {name!r}{host_note} has no free "
            f"builder for it; the task is left FREE on the hub "
            f"({task_url(weburl, task.id)}; `koji cancel {task.id}` to drop it)")
