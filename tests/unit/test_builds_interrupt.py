"""The first Ctrl-C (or SIGTERM) ends a build run at once: the runner tells the backend, which
lists (or cancels) its koji tasks, and does not wait for builds still being watched."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline.builds.builders.kojistop import Stopper, interrupt_lines
from pipeline.builds.planner import BuildUnit, Step
from pipeline.builds.run import Runner, RunOptions
from pipeline.core.errors import Interrupted


class WatchingBuilder:
    """A backend whose build watches until stopped (as the koji backend's watch does)."""

    name = "koji"

    def __init__(self) -> None:
        self.stopper = Stopper()
        self.finished = threading.Event()

    def interrupt(self) -> list[str]:
        self.stopper.event.set()
        return interrupt_lines(self.stopper, "https://koji.example/koji", None)

    def watch(self, key: str, task_id: int) -> dict[str, Any]:
        self.stopper.track(task_id, key)
        while not self.stopper.stopped:
            self.stopper.sleep(30.0)
        self.finished.set()
        return {"key": key, "status": "failed"}


class FakeRunner(Runner):
    def _guarded(self, step: Step, deps: list[Any]) -> dict[str, Any]:
        return self.builder.watch(step.unit.key, 41)  # type: ignore[attr-defined,no-any-return]


def test_first_interrupt_stops_the_run_and_lists_the_tasks() -> None:
    builder = WatchingBuilder()
    unit = BuildUnit("bclinux7/qemu", "bclinux7", None, "qemu", ("c",), ("x86_64",), ())
    runner = FakeRunner(None, builder, None, {}, RunOptions(jobs=1),  # type: ignore[arg-type]
                        lambda k, s: None)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))   # a real Ctrl-C
    timer.start()
    started = time.monotonic()
    with pytest.raises(Interrupted) as caught:
        runner.run([Step(unit, "build", "fp", ("x86_64",), "")])
    assert time.monotonic() - started < 5.0              # not the 30 s of a poll sleep
    assert caught.value.exit_code == 130
    assert ("bclinux7/qemu: koji task 41 https://koji.example/koji/taskinfo?taskID=41 still "
            "running (cancel: koji cancel 41)") in str(caught.value)
    assert builder.finished.wait(5.0)                     # the watch thread ended too


def test_sigterm_is_handled_like_ctrl_c(tmp_path: Path) -> None:
    from pipeline import cli

    old = signal.getsignal(signal.SIGTERM)
    try:
        cli._sigterm_as_interrupt()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, old)
