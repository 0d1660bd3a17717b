"""The libvirt-python sdist comes by name through pip's downloader, checked against the
matrix's sha256 (no registry host in the tree). Needs network access to the Python registry:
skips loudly without it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.core.errors import ToolMissing
from pipeline.matrix import load as matrix
from pipeline.specs import sources
from tests.conftest import ROOT


def _registry_reachable() -> bool:
    done = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "libvirt-python"],
                          capture_output=True, text=True, check=False, timeout=60)
    return done.returncode == 0


@pytest.fixture(scope="module")
def src() -> sources.SourceFile:
    if not _registry_reachable():
        pytest.skip("SKIPPED LOUDLY: pip cannot reach its registry; pip download not tested")
    pkg = matrix.load(ROOT).packages["libvirt-python"]
    # the upstream URL made unreachable: only pip's downloader can supply the file
    return dataclasses.replace(pkg.sources[0], url="http://127.0.0.1:9/" +
                               pkg.sources[0].filename, mirrors=())


def test_pip_download_by_name_checks_sha256(src: sources.SourceFile, tmp_path: Path) -> None:
    got = sources.fetch(src, cache=tmp_path)
    assert got.name == src.filename and sources.sha256_of(got) == src.sha256


def test_a_wrong_sha256_is_refused(src: sources.SourceFile, tmp_path: Path) -> None:
    with pytest.raises(ToolMissing, match="sha256 mismatch"):
        sources.fetch(dataclasses.replace(src, sha256="0" * 64), cache=tmp_path)
    assert not (tmp_path / src.filename).exists()
