"""Benchmark: hub requests per poll when watching koji tasks, against the stand-in hub.

``main()`` returns ``[(figure name, value)]``. The watcher must send exactly ONE request (a
``multiCall``) per poll whatever the number of tasks in flight; the koji CLI's watch_tasks
sends two calls per task per poll instead.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.builds.builders.koji import KojiBuilder  # noqa: E402
from tests.support.kojihub import KojiHub, setup_virt_hub, write_profile  # noqa: E402


def measure(tasks: int, ticks: int = 20) -> tuple[float, float, int]:
    """(requests per poll, ms per poll, polls) for ``tasks`` sleep tasks of ``ticks`` ticks."""
    with tempfile.TemporaryDirectory(prefix="bench-koji-") as tmp, \
            KojiHub(Path(tmp) / "hub") as hub:
        setup_virt_hub(hub)
        cfg = write_profile(Path(tmp) / "koji.conf", hub, authtype="noauth")
        builder = KojiBuilder(profile="standin", config_file=cfg, poll_interval=0.0)
        session = builder.connect()
        with hub.lock:
            roots = hub.sim.spawn_sleepers(tasks, ticks)
        before = len(hub.requests)
        start = time.perf_counter()
        watcher = builder.watch(session, roots, lambda k, s: None, "bench")
        elapsed = time.perf_counter() - start
        requests = len(hub.requests) - before
        assert watcher.done and all(t.state == "CLOSED" for t in watcher.tasks.values())
        return requests / watcher.polls, 1000 * elapsed / watcher.polls, watcher.polls


def main() -> list[tuple[str, str]]:
    figures = []
    for n in (1, 10, 50):
        per_poll, ms, polls = measure(n)
        label = "task" if n == 1 else "tasks"
        figures.append((f"koji-watch-calls-per-poll-{n}-{label}", f"{per_poll:.2f}"))
        figures.append((f"koji-watch-ms-per-poll-{n}-{label}", f"{ms:.1f}"))
        figures.append((f"koji-watch-polls-{n}-{label}", str(polls)))
    return figures


if __name__ == "__main__":
    for name, value in main():
        print(f"{name}\t{value}")
