"""One run at a time per tree: ``build``, ``srpm`` and ``verify-upgrade`` hold ``.cache/lock``.

An ``fcntl.flock`` on the file: the kernel drops it when the holder dies, so a killed run never
leaves a stale lock. The holder writes its pid and command line into the file; a second run
waits with a message naming them, or with ``--no-wait`` stops at once (exit 2).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.core.errors import InputError


@contextmanager
def tree_lock(cache: Path, command: str, *, wait: bool = True,
              notify: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the tree's lock for the block (waiting for it, or failing when ``wait`` is off)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            if not wait:
                raise InputError(f"the tree is busy: {holder} holds {path} (--no-wait given; "
                                 "run again when it has finished)") from None
            if notify:
                notify(f"waiting for {holder}, which holds {path}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({command})\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _holder(fd: int) -> str:
    text = os.pread(fd, 300, 0).decode("utf-8", "replace").strip()
    return text or "another run"

