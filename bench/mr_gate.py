"""The merge-request gate (``tools/mr-check``: render --check, validate, upgrade pre-flight,
patches check --package libvirt-python side by side) against the same four commands run one
after another, in one run, on a copy of the committed tree.

Order: one pre-flight first (the stand-ins an earlier push left in the cache: both sides
start warm there); the sequence with the post-check cache off (today's commands); the gate
with the cache off (what running side by side alone gives); the gate again with the cache the
sequence filled (a push that changed nothing those checks read); and once more after editing
one legacy manifest (a push that changes one scenario's inputs: that scenario runs again, the
rest is replayed). Aim: the gate under 10 s on 2 cores, ratio to the sequence 0.5 or better.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .common import ROOT, timed, tree_copy

COMMANDS = (["render", "--check"], ["validate"], ["verify-upgrade", "--preflight"],
            ["patches", "check", "--package", "libvirt-python"])


def _env(*, cache: bool) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    python2 = ROOT / ".venv/python2.7/bin/python2.7"
    if python2.is_file():
        env.setdefault("VP_PYTHON2", str(python2))
    if not cache:
        env["VP_NO_CHECK_CACHE"] = "1"
    return env


def _cli(tree: Path, args: list[str], env: dict[str, str]) -> int:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=tree, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          check=False).returncode


def _gate(tree: Path, env: dict[str, str]) -> int:
    return subprocess.run([str(ROOT / "tools/mr-check"), str(tree)],
                          env={**env, "VP": f"{sys.executable} -m pipeline"},
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          check=False).returncode


def main() -> list[tuple[str, str]]:
    with tree_copy() as tree:
        (tree / ".cache").mkdir()
        sources = ROOT / ".cache/sources"
        if sources.is_dir():
            (tree / ".cache/sources").symlink_to(sources)
        _cli(tree, ["verify-upgrade", "--preflight"], _env(cache=True))
        cold = _env(cache=False)
        sequence, codes = timed(lambda: [_cli(tree, c, cold) for c in COMMANDS])
        parallel, _ = timed(lambda: _gate(tree, cold))
        gate, code = timed(lambda: _gate(tree, _env(cache=True)))
        legacy = tree / "legacy/bclinux7-prev.yaml"
        legacy.write_text(legacy.read_text() + "# edited by the benchmark\n")
        one, _ = timed(lambda: _gate(tree, _env(cache=True)))
    return [("mr-gate-sequence-seconds", f"{sequence:.1f}"),
            ("mr-gate-parallel-seconds", f"{parallel:.1f}"),
            ("mr-gate-seconds", f"{gate:.1f}"),
            ("mr-gate-parallel-ratio", f"{parallel / sequence:.2f}"),
            ("mr-gate-ratio", f"{gate / sequence:.2f}"),
            ("mr-gate-one-scenario-changed-seconds", f"{one:.1f}"),
            ("mr-gate-one-scenario-changed-ratio", f"{one / sequence:.2f}"),
            ("mr-gate-exit-code", str(max([code, *codes])))]


if __name__ == "__main__":
    for key, value in main():
        print(f"{key}: {value}")
