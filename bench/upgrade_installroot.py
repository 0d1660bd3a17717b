"""One installroot upgrade scenario vs the bare dnf/rpm commands it runs, same run: ratio.

The toolkit side is ``run_scenario`` for one scenario with warm stand-ins (sandbox set-up,
legacy install, config edit, upgrade, ``rpm -qa``/``rpm -Va``, repeated upgrade, every check,
clean-up). The bare side replays exactly the package-manager and rpm commands that run logged,
in a fresh root, with no check, no parsing, no stand-in resolution. Each side runs three times,
alternating; the best of each is compared. Aim: ratio <= 1.3. A second figure from one run
is immune to machine load: the run's wall time over the time spent inside the commands it ran
(sandbox + parsing + checks + clean-up overhead).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.core import cmd
from pipeline.matrix import load as matrix
from pipeline.upgrade import prepare, scenarios
from pipeline.upgrade.verify import Options, fast_roots, run_scenario

from .common import ROOT, timed

SCENARIO = "bclinux7-qemu-kvm-ev"


def _setup(cache: Path) -> tuple[scenarios.Scenario, prepare.Prepared]:
    loaded = matrix.load(ROOT, [])
    scenario = scenarios.load(ROOT / "upgrades.yaml", oses=loaded.oses,
                              packages=loaded.packages).select([SCENARIO])[0]
    inputs = prepare.Inputs(tree=ROOT, matrix=loaded, cache=cache, preflight=True)
    return scenario, prepare.prepare(scenario, inputs)


def _commands(log: Path) -> tuple[str, list[list[str]]]:
    """The workdir and every command line of a kept run's log (namespace wrapper kept: it is
    part of the command, and dnf outside a network namespace spends time probing)."""
    lines: list[list[str]] = []
    pending = ""
    for line in log.read_text().splitlines(keepends=True):
        if not pending and not line.startswith("$ "):
            continue
        pending += line[2:] if not pending else line
        try:
            lines.append(shlex.split(pending))
            pending = ""
        except ValueError:  # a quoted argument spans lines (rpm --qf '...\n')
            continue
    return str(log.parent), lines


def _replay(workdir: str, commands: list[list[str]], scenario: scenarios.Scenario) -> None:
    fresh = Path(tempfile.mkdtemp(prefix="bare-", dir=fast_roots(Path(workdir))))
    try:
        for sub in ("root", "cache", "home"):
            (fresh / sub).mkdir()
        (fresh / "home/.rpmmacros").write_text("%_dbpath /var/lib/rpm\n")
        env = {"HOME": str(fresh / "home"), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
               "LC_ALL": "C.UTF-8"}
        for index, argv in enumerate(commands):
            argv = [a.replace(workdir, str(fresh)) for a in argv]
            subprocess.run(argv, env=env, capture_output=True, check=False)
            if index == 1:  # after the legacy install and its rpm -qa: the config edits
                for edit in scenario.config_edits:
                    path = fresh / "root" / edit.path.lstrip("/")
                    if path.is_file():
                        path.write_text(path.read_text() + edit.append + "\n")
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


def _in_commands(run: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds of ``run``, seconds of it spent inside pipeline.cmd.run)."""
    spent = [0.0]
    original = cmd.run

    def timed_run(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    cmd.run = timed_run  # type: ignore[assignment]
    try:
        total, _ = timed(run)
    finally:
        cmd.run = original  # type: ignore[assignment]
    return total, spent[0]


def main() -> list[tuple[str, str]]:
    cache = ROOT / ".cache" / "upgrade"
    scenario, prepared = _setup(cache)
    roots = fast_roots(cache)
    kept = run_scenario(scenario, prepared, Options(cache=cache, roots=roots, keep=True))
    workdir, commands = _commands(Path(kept.log.split(" (kept")[0]))
    shutil.rmtree(workdir, ignore_errors=True)
    tool, bare = [], []
    for _ in range(3):
        tool.append(timed(lambda: run_scenario(scenario, prepared,
                                               Options(cache=cache, roots=roots)))[0])
        bare.append(timed(lambda: _replay(workdir, commands, scenario))[0])
    total, inside = _in_commands(lambda: run_scenario(scenario, prepared,
                                                      Options(cache=cache, roots=roots)))
    return [("upgrade-installroot-toolkit-seconds", f"{min(tool):.2f}"),
            ("upgrade-installroot-inside-commands-ratio", f"{total / inside:.2f}"),
            ("upgrade-installroot-bare-seconds", f"{min(bare):.2f}"),
            ("upgrade-installroot-commands", str(len(commands))),
            ("upgrade-installroot-ratio", f"{min(tool) / min(bare):.2f}")]


if __name__ == "__main__":
    for key, value in main():
        print(f"{key}: {value}")
