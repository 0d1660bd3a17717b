"""Pure koji helpers: the task-tree watcher (one multicall per poll), retry with backoff, and
the repo check used between dependent builds. No koji import and no I/O here: the koji
backend (``pipeline.builders.koji``) sends the planned calls and feeds the answers back.

Task states are handled by *name* (``koji.TASK_STATES``: FREE=0, OPEN=1, CLOSED=2, CANCELED=3,
ASSIGNED=4, FAILED=5). Integer comparisons are wrong: ASSIGNED=4 is not terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

#: A mirror of ``koji.TASK_STATES`` (number -> name); the backend passes koji's own table.
TASK_STATE_NAMES: Mapping[int, str] = {
    0: "FREE", 1: "OPEN", 2: "CLOSED", 3: "CANCELED", 4: "ASSIGNED", 5: "FAILED",
}
TERMINAL = frozenset({"CLOSED", "CANCELED", "FAILED"})

#: Fault codes never worth retrying: auth and argument errors, and koji's own duplicate-call
#: protection (RetryError/SequenceError). AuthExpired is renewed by the koji client itself.
PERMANENT_FAULTS = frozenset({1002, 1004, 1006, 1007, 1008, 1009, 1019, 1021, 1023})

T = TypeVar("T")


class WatchError(Exception):
    """Watching cannot go on: unknown task ids, or hub faults that outlived the retries."""


@dataclass(frozen=True)
class Call:
    """One hub call inside a multicall."""

    method: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class TaskView:
    """What the watcher knows about one task."""

    id: int
    state: str = "FREE"
    method: str = ""
    arch: str = ""
    label: str | None = None
    parent: int | None = None
    channel_id: int | None = None

    @property
    def done(self) -> bool:
        return self.state in TERMINAL


@dataclass
class Answer:
    """One multicall entry: a value, or the exception the koji client converted the fault to."""

    value: Any = None
    error: BaseException | None = None


class KojiWatcher:
    """Watches whole task trees (roots and every descendant) with one multicall per poll.

    Each poll asks, for every task not yet terminal, ``getTaskInfo(id)`` followed by
    ``getTaskChildren(id)`` (in that order inside one multicall, so a task seen terminal has its
    full child list in the same answer). Children come back as task dicts, so a child that
    finished between two polls is still seen with its final state.
    """

    def __init__(self, roots: Iterable[int], *,
                 state_name: Callable[[int], str] | None = None) -> None:
        self.tasks: dict[int, TaskView] = {r: TaskView(id=r) for r in roots}
        self._name = state_name or TASK_STATE_NAMES.__getitem__
        self.polls = 0
        self.faulty_calls = 0
        self.last_faults: list[str] = []
        self.missing: set[int] = set()    # getTaskInfo answered None: no such task

    @property
    def done(self) -> bool:
        return all(t.done for t in self.tasks.values())

    def plan(self) -> list[Call]:
        """The calls of the next poll (one multicall)."""
        calls: list[Call] = []
        for tid in sorted(self.tasks):
            if not self.tasks[tid].done:
                calls.append(Call("getTaskInfo", (tid,)))
                calls.append(Call("getTaskChildren", (tid,)))
        return calls

    def absorb(self, calls: Sequence[Call], answers: Sequence[Answer]) -> None:
        """Take in the answers of one poll (same order as ``calls``)."""
        self.polls += 1
        self.last_faults = []
        for call, ans in zip(calls, answers):
            if ans.error is not None:
                self.faulty_calls += 1
                self.last_faults.append(f"{call.method}{call.args}: {ans.error}")
            elif call.method == "getTaskInfo":
                if ans.value is None:
                    self.missing.add(int(call.args[0]))
                else:
                    self._update(ans.value)
            elif call.method == "getTaskChildren":
                for child in ans.value or ():
                    self._update(child)

    def _update(self, info: Mapping[str, Any]) -> None:
        tid = int(info["id"])
        view = self.tasks.setdefault(tid, TaskView(id=tid))
        view.state = self._name(int(info["state"]))
        view.method = str(info.get("method") or "")
        view.arch = str(info.get("arch") or "")
        view.label = info.get("label")
        view.parent = info.get("parent")
        view.channel_id = info.get("channel_id")

    def children(self, tid: int) -> list[TaskView]:
        return [t for t in sorted(self.tasks.values(), key=lambda t: t.id) if t.parent == tid]

    def summary(self) -> str:
        """e.g. ``"3 tasks: CLOSED 2, OPEN 1"``."""
        counts: dict[str, int] = {}
        for t in self.tasks.values():
            counts[t.state] = counts.get(t.state, 0) + 1
        parts = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        return f"{len(self.tasks)} tasks: {parts}"


def fault_code(exc: BaseException) -> int | None:
    """The XML-RPC fault code of a koji exception or a plain ``xmlrpc.client.Fault``."""
    code = getattr(exc, "faultCode", None)
    return code if isinstance(code, int) else None


def retryable(exc: BaseException) -> bool:
    """Hub faults (including plain fault 1 and ServerOffline 1014), timeouts and connection
    errors are retried; auth, argument and duplicate-call faults are not."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return False
    code = fault_code(exc)
    return code is None or code not in PERMANENT_FAULTS


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: ``base * factor**n`` capped at ``cap``, at most ``tries`` attempts."""

    tries: int = 6
    base: float = 2.0
    factor: float = 2.0
    cap: float = 60.0

    def delays(self) -> list[float]:
        return [min(self.cap, self.base * self.factor ** n) for n in range(self.tries - 1)]


def with_retries(fn: Callable[[], T], *, backoff: Backoff, sleep: Callable[[float], None],
                 on_retry: Callable[[int, BaseException], None] | None = None) -> T:
    """Call ``fn``; retry retryable errors after the backoff delays; re-raise the last one."""
    delays = backoff.delays()
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            if attempt >= len(delays) or not retryable(exc):
                raise
            if on_retry is not None:
                on_retry(attempt + 1, exc)
            sleep(delays[attempt])
            attempt += 1


def nvr_parts(nvr: str) -> tuple[str, str, str]:
    """``name-version-release`` split from the right, as ``koji.parse_NVR`` does."""
    head, _, release = nvr.rpartition("-")
    name, _, version = head.rpartition("-")
    if not name or not version or not release:
        raise ValueError(f"not a name-version-release: {nvr!r}")
    return name, version, release


def builds_present(nvr: str, tagged: Iterable[Mapping[str, Any]]) -> bool:
    """Whether ``nvr`` is among ``tagged`` (listTagged/getLatestBuilds entries)."""
    _, version, release = nvr_parts(nvr)
    return any(b.get("version") == version and b.get("release") == release for b in tagged)
