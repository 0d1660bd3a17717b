"""Sources: verified local copies, downloads that land only when their sha256 is right."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.matrix.model import SourceFile
from pipeline.specs import sources


def _file(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return path.as_uri()


def test_bad_mirror_is_skipped_and_the_good_copy_lands(tmp_path: Path) -> None:
    good = b"pristine source"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    src = SourceFile(url=_file(tmp_path / "a" / "x-1.tar.gz", b"tampered"),
                     sha256=hashlib.sha256(good).hexdigest(),
                     mirrors=(_file(tmp_path / "b" / "x-1.tar.gz", good),))
    got = sources.fetch(src, cache=tmp_path / "cache")
    assert got == tmp_path / "cache" / "x-1.tar.gz" and got.read_bytes() == good
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["x-1.tar.gz"]  # no leftovers


def test_no_good_copy_is_a_missing_service(tmp_path: Path) -> None:
    src = SourceFile(url=_file(tmp_path / "x-1.tar.gz", b"tampered"), sha256="0" * 64)
    with pytest.raises(sources.SourceUnavailable) as err:
        sources.fetch(src, cache=tmp_path / "cache")
    assert err.value.exit_code == 3 and "sha256 mismatch" in str(err.value)
    assert not any((tmp_path / "cache").iterdir())


def test_local_copy_is_verified(tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    (local / "x-1.tar.gz").write_bytes(b"other")
    src = SourceFile(url="https://example.invalid/x-1.tar.gz", sha256="1" * 64)
    with pytest.raises(InputError, match="sha256 mismatch"):
        sources.locate(src, cache=tmp_path / "cache", local_dirs=[local])
