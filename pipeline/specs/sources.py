"""Upstream sources: found in a local folder or fetched once into a cache, by URL and sha256.

A source is looked for, in order, in the folders the user names (``--sources DIR``), then in
the cache (``.cache/sources/``), then downloaded from its URL and each mirror, then (for a
Python sdist named ``pip: NAME==VERSION``) fetched by pip's own downloader, by name: no
registry host is written in the tree. A known sha256
is verified every time a file is taken; a download lands under a temporary name and is renamed
only once verified, so a half-written file is never mistaken for a source.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from pipeline.core import cmd, files
from pipeline.core.errors import InputError, PipelineError, ToolMissing
from pipeline.matrix.model import SourceFile

log = logging.getLogger("virt-pipeline.sources")


class SourceUnavailable(ToolMissing):
    """No copy of a source could be had (exit 3: a service is missing)."""

    def __init__(self, filename: str, tried: list[str]) -> None:
        super().__init__(filename, "tried: " + "; ".join(tried))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, src: SourceFile) -> bool:
    if src.sha256 is None:
        log.warning("%s: no sha256 in the matrix; taken unverified", src.filename)
        return True
    actual = sha256_of(path)
    if actual != src.sha256:
        raise InputError(f"sha256 mismatch: {path} is {actual}, the matrix says {src.sha256}",
                         key=src.filename)
    return True


def locate(src: SourceFile, *, cache: Path, local_dirs: Sequence[Path] = ()) -> Path | None:
    """A verified local copy of ``src`` without any download, or None."""
    for folder in [*local_dirs, cache]:
        candidate = folder / src.filename
        if candidate.is_file() and _verified(candidate, src):
            return candidate
    return None


def fetch(src: SourceFile, *, cache: Path, local_dirs: Sequence[Path] = (),
          timeout: float = 60.0) -> Path:
    """A verified copy of ``src``, downloading it into ``cache`` when needed."""
    found = locate(src, cache=cache, local_dirs=list(local_dirs))
    if found is not None:
        return found
    cache.mkdir(parents=True, exist_ok=True)
    tried = []
    for url in (src.url, *src.mirrors):
        try:
            return _download(url, cache / src.filename, src, timeout)
        except (urllib.error.URLError, OSError, TimeoutError, InputError) as exc:
            # a copy whose sha256 differs is refused like an unreachable one; the next
            # mirror may have the right file
            tried.append(f"{url}: {exc}")
            log.info("source %s: %s failed: %s", src.filename, url, exc)
    if src.pip:
        try:
            return _pip_download(src, cache / src.filename)
        except (PipelineError, OSError) as exc:
            tried.append(f"pip download {src.pip}: {str(exc).splitlines()[0]}")
    raise SourceUnavailable(src.filename, tried)


def _pip_download(src: SourceFile, dest: Path) -> Path:
    """``pip download --no-deps --no-binary :all: NAME==VERSION``, checked against the sha256."""
    assert src.pip is not None
    # pip writes only in a fresh folder: its --dest, and its TMPDIR (the sdist's build
    # environment); no cache of its own (--no-cache-dir: not the user's ~/.cache/pip)
    scratch = files.fresh_dir(dest.parent, dest.parent.parent, prefix=".pip-")
    try:
        for sub in ("dest", "tmp"):
            (scratch / sub).mkdir()
        cmd.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--no-cache-dir", "--no-binary", ":all:", "--dest", scratch / "dest", src.pip],
                env={"TMPDIR": str(scratch / "tmp")}, timeout=600)
        got = sorted((scratch / "dest").iterdir())
        if len(got) != 1:
            raise PipelineError(f"pip download {src.pip} gave {len(got)} files")
        _verified(got[0], src)
        os.replace(got[0], dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return dest


def _download(url: str, dest: Path, src: SourceFile, timeout: float) -> Path:
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310
            for block in iter(lambda: resp.read(1 << 20), b""):
                out.write(block)
        _verified(Path(tmp), src)
        os.replace(tmp, dest)
        return dest
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
