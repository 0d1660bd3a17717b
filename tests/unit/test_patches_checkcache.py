"""The post-check cache: a key that moves with every input, and entries replayed as such."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.core.findings import Finding
from pipeline.patches import checkcache


def test_key_moves_with_each_input(tmp_path: Path) -> None:
    python = tmp_path / "python2.7"
    python.write_text("#!")
    stamped = checkcache.inputs_key(texts=[], files=[], stamps=[python])
    os.utime(python, ns=(1, 1))  # another interpreter build at the same path
    assert checkcache.inputs_key(texts=[], files=[], stamps=[python]) != stamped
    (tmp_path / "0001.patch").write_text("x")
    stable = checkcache.inputs_key(texts=[("cell", "a")], files=[tmp_path / "0001.patch"],
                                   stamps=[])
    assert stable == checkcache.inputs_key(texts=[("cell", "a")],
                                           files=[tmp_path / "0001.patch"], stamps=[])
    (tmp_path / "0001.patch").write_text("y")
    assert checkcache.inputs_key(texts=[("cell", "a")], files=[tmp_path / "0001.patch"],
                                 stamps=[]) != stable
    assert checkcache.inputs_key(texts=[("cell", "b")], files=[tmp_path / "0001.patch"],
                                 stamps=[]) != stable


def test_entries_are_replayed_and_can_be_turned_off(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    found = [Finding("py3-build-failed", "error", "bclinux7-x86_64", "libvirt-python", "x")]
    assert checkcache.load(tmp_path, "k") is None
    checkcache.store(tmp_path, "k", found, ["bclinux7-x86_64: build passed"])
    findings, notes = checkcache.load(tmp_path, "k") or ([], [])
    assert findings == found
    assert notes[0].startswith("bclinux7-x86_64: build passed (cached: inputs unchanged since")
    assert not list(tmp_path.glob(".entry-*"))
    monkeypatch.setenv(checkcache.DISABLE_ENV, "1")
    assert checkcache.load(tmp_path, "k") is None
