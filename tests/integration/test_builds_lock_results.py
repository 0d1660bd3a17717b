"""Class 5 of the promises: concurrent and interrupted runs.

One run at a time per tree (build, srpm, verify-upgrade hold ``.cache/lock``; a second run
waits naming the holder, or exits 2 with --no-wait); a corrupt or half-written manifest.json is
"not built" with a warning; the per-OS repository is rebuilt whenever it is missing or does not
match the finished results, not only after a build.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.builds.results import MANIFEST, ResultStore
from pipeline.core.errors import InputError
from pipeline.core.lock import tree_lock
from tests.conftest import ROOT, CliResult

HOLD = ("import sys, time; from pathlib import Path; from pipeline.core.lock import tree_lock\n"
        "with tree_lock(Path(sys.argv[1]), 'build --cells x'):\n"
        "    print('held', flush=True); time.sleep(60)\n")


@pytest.fixture
def holder(tree: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tree / ".cache")], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait()
    proc.stdout.close()


@pytest.mark.parametrize("command", [["build", "--backend", "local"], ["srpm"],
                                     ["verify-upgrade", "--sandbox", "none"]])
def test_no_wait_names_the_holder(tree: Path, cli: Callable[..., CliResult],
                                  holder: subprocess.Popen[str], command: list[str]) -> None:
    result = cli("-C", str(tree), *command, "--no-wait")
    assert result.code == 2, result.err
    assert f"pid {holder.pid} (build --cells x)" in result.err and "--no-wait" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_second_run_waits_for_the_first(tree: Path, holder: subprocess.Popen[str]) -> None:
    notes: list[str] = []
    got = threading.Event()

    def second() -> None:
        with tree_lock(tree / ".cache", "srpm", notify=notes.append):
            got.set()

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.5)
    assert not got.is_set(), "the second run did not wait"
    assert notes and f"pid {holder.pid} (build --cells x)" in notes[0]
    holder.send_signal(signal.SIGKILL)  # a killed holder releases the lock (flock)
    thread.join(timeout=10)
    assert got.is_set()
    assert (tree / ".cache" / "lock").read_text().startswith(f"pid {os.getpid()} (srpm)")


def test_no_wait_library_error(tree: Path, holder: subprocess.Popen[str]) -> None:
    with pytest.raises(InputError, match="busy"), tree_lock(tree / ".cache", "build",
                                                            wait=False):
        pass


@pytest.mark.parametrize("content", ["", "{\"status\": \"o", "[1, 2]", "\xff garbage"])
def test_corrupt_manifest_is_not_built(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                       content: str) -> None:
    store = ResultStore(tmp_path / "results")
    unit = tmp_path / "results" / "bclinux7" / "qemu" / ("f" * 64)
    unit.mkdir(parents=True)
    (unit / MANIFEST).write_text(content, encoding="latin-1")
    with caplog.at_level(logging.WARNING):
        assert store.finished("bclinux7/qemu") == set()
        assert store.manifest("bclinux7/qemu", "f" * 64) is None
        assert store.latest_ok("bclinux7/qemu") is None
    assert "counts as not built" in caplog.text


def _tiny_rpm(tmp_path: Path, name: str) -> Path:
    spec = tmp_path / f"{name}.spec"
    spec.write_text(f"Name: {name}\nVersion: 1\nRelease: 1\nSummary: s\nLicense: MIT\n"
                    "BuildArch: noarch\n%description\nd\n%files\n")
    top = tmp_path / "top"
    subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {top}", "--nodeps", str(spec)],
                   check=True, capture_output=True)
    return next(top.rglob(f"{name}-1-1.noarch.rpm"))


def _finished(store: ResultStore, key: str, rpm: Path, stamp: float) -> None:
    final = store.root / key / (f"{stamp:064.0f}")
    (final / "rpms").mkdir(parents=True)
    os.link(rpm, final / "rpms" / rpm.name)
    (final / MANIFEST).write_text(json.dumps({"status": "ok", "finished": stamp}))


def test_repo_is_rebuilt_when_missing_or_stale(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results")
    _finished(store, "bclinux7/a", _tiny_rpm(tmp_path, "a"), 1)
    assert not store.repo_current("bclinux7")
    repo = store.ensure_repo("bclinux7")
    assert repo is not None and store.repo_current("bclinux7")
    assert [p.name for p in repo.glob("*.rpm")] == ["a-1-1.noarch.rpm"]
    _finished(store, "bclinux7/b", _tiny_rpm(tmp_path, "b"), 2)  # a result the repo lacks
    assert not store.repo_current("bclinux7")
    store.ensure_repo("bclinux7")
    assert sorted(p.name for p in repo.glob("*.rpm")) == ["a-1-1.noarch.rpm", "b-1-1.noarch.rpm"]
    (repo / "repodata" / "repomd.xml").unlink()  # a damaged repo
    assert not store.repo_current("bclinux7")
    store.ensure_repo("bclinux7")
    assert store.repo_current("bclinux7")
