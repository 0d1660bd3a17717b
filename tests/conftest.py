"""Shared fixtures: a private copy of the packaging tree, and the CLI run in-process."""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.tree import ROOT, copy_tree

__all__ = ["ROOT", "CliResult"]


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the repository's packaging tree that a test may break."""
    return copy_tree(tmp_path / "tree")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the tree copy (``tmp_path / "tree"``), outside the roots a test gives:
    where a planted link leads, which must stay empty."""
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


@pytest.fixture
def own_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path / "tmp"`` as the process's temp folder, so that ``outside`` lies outside
    every root the write guard allows (the system's temp folder holds ``tmp_path``)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    """Run ``virt-pipeline ARGS`` in-process; its exit code and output."""
    from pipeline.cli import main

    def run(*args: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = int(exc.code or 0)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture(scope="session")
def shared_cache() -> Path:
    """The repository's .cache/sources, shared across tests (downloads happen once)."""
    path = ROOT / ".cache" / "sources"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _run_records() -> dict[str, float]:
    runs = ROOT / ".cache" / "runs"
    return {p.name: p.stat().st_mtime for p in runs.glob("*.json")} if runs.is_dir() else {}


@pytest.fixture(scope="session", autouse=True)
def _checkout_run_records_untouched() -> Any:
    """Tests run the CLI on copies of the tree: a run record they wrote into the checkout's
    .cache/runs would turn up in the user's next `virt-pipeline report` as their own run."""
    before = _run_records()
    yield
    after = _run_records()
    assert after == before, f"tests wrote run records into {ROOT / '.cache/runs'}: " \
        f"{sorted(k for k in after if after.get(k) != before.get(k))}"
