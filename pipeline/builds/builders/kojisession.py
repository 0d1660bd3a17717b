"""What the koji backend's two halves share: the client library, hub-side helpers, and the
:class:`Hub` protocol through which one build (:mod:`.kojirun`) uses its builder (:mod:`.koji`)."""

from __future__ import annotations

import contextlib
import random
import string
import time
import xmlrpc.client
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pipeline.builds.builders.base import BuildJob, Progress
from pipeline.builds.builders.kojistop import Stopper
from pipeline.builds.builders.kojiwatch import Answer, Call, KojiWatcher, TaskView
from pipeline.core.errors import ToolMissing

KOJI_HINT = "pip install --no-deps koji defusedxml python-dateutil requests six"
BLOCK = 102400  # downloadTaskOutput chunk, as `koji download-logs`
LOG_TAIL_LINES = 30


def koji_module() -> Any:
    try:
        import koji
    except ImportError as exc:
        raise ToolMissing("koji (Python client library)", f"{KOJI_HINT}: {exc}") from exc
    return koji


@dataclass(frozen=True)
class TargetInfo:
    name: str
    build_tag: int
    build_tag_name: str
    dest_tag: int
    dest_tag_name: str


def unique_path(prefix: str) -> str:
    """The koji CLI's upload folder: ``prefix/<repr(time)>.<8 random letters>``."""
    rnd = "".join(random.choice(string.ascii_letters) for _ in range(8))  # noqa: S311
    return f"{prefix}/{time.time()!r}.{rnd}"


class Hub(Protocol):
    """What one build needs from the builder: its profile, clock, retries and hub calls."""

    profile: str
    wait_timeout: float
    stopper: Stopper
    sleep: Callable[[float], None]
    clock: Callable[[], float]

    @property
    def poll_interval(self) -> float: ...

    def options(self) -> dict[str, Any]: ...

    def retry(self, fn: Callable[[], Any]) -> Any: ...

    def multicall(self, session: Any, calls: Sequence[Call]) -> list[Answer]: ...

    def target_info(self, session: Any, target: str) -> TargetInfo | None: ...

    def arches_for(self, session: Any, job: BuildJob) -> tuple[str, ...]: ...

    def watch(self, session: Any, roots: Sequence[int], progress: Progress,
              key: str) -> KojiWatcher: ...


def multicall_once(session: Any, calls: Sequence[Call]) -> list[Answer]:
    koji = koji_module()
    with session.multicall(strict=False) as m:
        pending = [getattr(m, c.method)(*c.args, **dict(c.kwargs)) for c in calls]
    answers: list[Answer] = []
    for vc in pending:
        try:
            answers.append(Answer(value=vc.result))
        except (koji.GenericError, xmlrpc.client.Fault) as exc:
            answers.append(Answer(error=exc))
    return answers


def logout(session: Any) -> None:
    with contextlib.suppress(Exception):  # best effort; the hub expires sessions anyway
        session.logout()


def short_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 400 else text[:400] + "..."


def failed_arch_child(children: Sequence[TaskView]) -> TaskView | None:
    """The buildArch child that FAILED (siblings cancelled by the hub are CANCELED)."""
    for child in children:
        if child.method == "buildArch" and child.state == "FAILED":
            return child
    return None


def tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])
