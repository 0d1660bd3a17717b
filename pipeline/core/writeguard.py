"""One guard over every write the process makes: a write may land in the tree (its ``.cache``
included), the temp folder, or an output path the user named, and nowhere else.

Names from the data are checked at load time (a safe grammar) and the writers resolve their
targets (:mod:`pipeline.core.files`), but a guard that depends on each writer remembering to
check leaves a hole wherever one forgets. This one sits below them all: a ``sys.addaudithook``
sees every write-mode ``open`` (``os.open`` included), ``mkdir``, ``rename``/``replace``,
``remove``, ``rmdir``, ``rmtree``, ``symlink``, ``link``, ``chmod``, ``chown``, ``utime`` and
``truncate`` of the Python process while a command runs, resolves the target as the kernel will
(through every symlink for a call that follows links; the parent only for one that acts on the
link itself), and refuses it with :class:`WriteRefused` (a ``PermissionError``) when it lands
outside the roots. A refusal is also remembered, so a caller that swallows the error (a retry, a
fallback) cannot turn it into a quiet success: the CLI ends such a run with exit 2.

What the hook cannot see, the tools run as subprocesses, write only into folders made fresh in
the run or checked just before (see ``files``); package code runs in the sandboxes' namespaces.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PosixPath
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
#: events whose target is resolved through every link, as the call follows them; ``mkdir``
#: too: on a planted link to a folder it fails, and ``exist_ok`` then takes the folder behind
#: the link for its own
_FOLLOW = {"os.mkdir": 0, "os.chmod": 0, "os.chown": 0, "os.utime": 0, "os.truncate": 0}
#: events that act on the name itself: only the folder holding it is resolved; (the path
#: arguments, the dir_fd arguments: a path relative to an open folder was checked with it)
_NAME = {"os.rename": ((0, 1), (2, 3)), "os.remove": ((0,), (1,)),
         "os.rmdir": ((0,), (1,)), "os.symlink": ((1,), (2,)), "os.link": ((1,), (2, 3)),
         "shutil.rmtree": ((0,), (1,))}
#: harmless nodes a subprocess's stdio may be opened on
_DEVICES = ("/dev/null", "/dev/tty")


class OutputPath(PosixPath):
    """A path the user named for a command's output (``--junit FILE``, ``-o FILE``): the
    argument's ``type``, so the CLI knows which paths the guard lets the command write."""


class WriteRefused(PermissionError):
    """A write that would leave the tree, the temp folder and the named outputs (exit 2)."""

    exit_code = 2


class Guard:
    """The roots a running command may write under, and the refusals seen so far."""

    def __init__(self, roots: Sequence[Path], outputs: Sequence[Path]) -> None:
        self.roots = [os.path.realpath(r) for r in roots]
        self.outputs = [os.path.realpath(o) for o in outputs]
        self.shown = ", ".join([*(str(r) for r in roots), *(str(o) for o in outputs)])
        self.refused: list[WriteRefused] = []

    def allows(self, real: str, *, making: bool = False) -> bool:
        """``making``: a folder being made may also be one that holds a named output."""
        return real in _DEVICES or any(_under(real, top) for top in self.roots) or any(
            _under(real, out) or _sibling_temp(real, out) or (making and _under(out, real))
            for out in self.outputs)

    def resolve(self, target: Any, *, follow: bool) -> tuple[str, str] | None:
        """(the path as given, where it lands), or None for a file descriptor."""
        path = _as_path(target)
        if path is None:
            return None
        absolute = os.path.abspath(path)
        if follow:
            return path, os.path.realpath(absolute)
        head, name = os.path.split(absolute)
        return path, os.path.join(os.path.realpath(head), name)

    def refusal(self, path: str, real: str) -> WriteRefused:
        refused = WriteRefused(f"refused to write {path}: it resolves to {real}, outside "
                               f"{self.shown} (a symlink or a name leads out); remove the link")
        self.refused.append(refused)
        return refused


def _under(real: str, top: str) -> bool:
    return real == top or real.startswith(top.rstrip("/") + "/")


def _sibling_temp(real: str, out: str) -> bool:
    """``.NAME-*`` beside a named output ``NAME``: where it is written before the rename."""
    head, name = os.path.split(out)
    return os.path.dirname(real) == head and os.path.basename(real).startswith(f".{name}-")


def _as_path(target: Any) -> str | None:
    if isinstance(target, int) or target is None:
        return None  # an open file descriptor: checked when it was opened
    try:
        return os.fsdecode(target)
    except TypeError:
        return None


#: the guards of the commands running in this process (more than one only when tests run
#: commands side by side in threads): a write passes when one of them allows it
_active: list[Guard] = []
_installed = False
_install_lock = threading.Lock()
_bytecode = [False]


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _active:
        return
    if event == "open":
        mode, flags = args[1], args[2]
        writing = (isinstance(flags, int) and flags & _WRITE_FLAGS) or (
            isinstance(mode, str) and any(c in mode for c in "wax+"))
        if writing:
            _check(args[0], follow=True)
    elif event in _NAME:
        indexes, fds = _NAME[event]
        if any(len(args) > i and args[i] not in (None, -1) for i in fds):
            return  # relative to a folder opened (and checked) before: rmtree's inner calls
        for index in indexes:
            _check(args[index], follow=False)
    elif event in _FOLLOW:
        _check(args[_FOLLOW[event]], follow=True, making=event == "os.mkdir")


def _check(target: Any, *, follow: bool, making: bool = False) -> None:
    guards = list(_active)
    if not guards:
        return
    found = guards[0].resolve(target, follow=follow)
    if found is None or any(g.allows(found[1], making=making) for g in guards):
        return
    refusals = [g.refusal(*found) for g in guards]
    raise refusals[-1]


def allow(path: Path) -> Path:
    """Add ``path`` (resolved) to the running command's roots: a scratch folder the command
    made outside the tree (the upgrade's roots on a tmpfs). Returns ``path``."""
    for guard in _active[-1:]:
        guard.roots.append(os.path.realpath(path))
    return path


def named_outputs(tree: Path, paths: Sequence[Path]) -> list[Path]:
    """Of the output paths the user named, those outside the tree (taken as named, their links
    the user's own); one inside the tree gains no allowance: it must resolve inside it."""
    top = os.path.abspath(tree)
    return [p for p in paths
            if not (os.path.abspath(p) + "/").startswith(top.rstrip("/") + "/")]


@contextmanager
def guarded(tree: Path, outputs: Sequence[Path] = ()) -> Iterator[Guard]:
    """Every write of the process, until the block ends, stays under ``tree``, the temp
    folder or one of ``outputs``."""
    global _installed
    with _install_lock:
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True
        guard = Guard([tree, Path(tempfile.gettempdir())], named_outputs(tree, outputs))
        if not _active:  # imports during the command write no .pyc into the install
            _bytecode[:] = [sys.dont_write_bytecode]
            sys.dont_write_bytecode = True
        _active.append(guard)
    try:
        yield guard
    finally:
        with _install_lock:
            _active.remove(guard)
            if not _active:
                sys.dont_write_bytecode = _bytecode[0]
