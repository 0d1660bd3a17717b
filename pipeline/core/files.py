"""File-system helpers shared by every writer: writes stay inside their roots.

Names from the data become folder names (``specs/<os>/``, ``.cache/results/<os>/<package>/``);
they pass a safe grammar at load time, and every write here resolves its target (following
any symlink planted in the tree or the cache) and refuses to leave the roots it was given.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from pipeline.core.errors import InputError


def _tops(roots: tuple[Path, ...]) -> list[Path]:
    return [root.resolve() for root in roots]


def _within(real: Path, tops: list[Path]) -> bool:
    """``real`` (resolved) is one of ``tops`` (resolved) or below one."""
    return any(real == top or real.is_relative_to(top) for top in tops)


def inside(path: Path, *roots: Path) -> Path:
    """``path`` with its symlinks resolved, when it stays inside one of ``roots``."""
    real = path.resolve()
    if _within(real, _tops(roots)):
        return real
    shown = ", ".join(str(r) for r in roots)
    raise InputError(f"refused to write {path}: it resolves to {real}, outside {shown} "
                     "(a symlink or a name leads out); remove the link")


def make_dir(path: Path, *roots: Path) -> Path:
    """``mkdir -p path`` inside ``roots`` (checked before and after: a link may be planted)."""
    inside(path, *roots)
    path.mkdir(parents=True, exist_ok=True)
    return inside(path, *roots)


def write_text(path: Path, text: str, *roots: Path) -> Path:
    """Write ``text`` to ``path`` atomically (temp file + rename), inside ``roots``."""
    make_dir(path.parent, *roots)
    if path.is_symlink():
        raise InputError(f"refused to write {path}: it is a symlink; remove it")
    inside(path, *roots)
    return write_output(path, text)


def write_output(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically, making its folder: for an output the user named
    (``--junit FILE``), which the write guard holds to where it may go."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)  # a full disk shows on write/close, without a name
        raise
    return path


def remove_tree(path: Path, *roots: Path) -> None:
    """Remove the folder ``path`` (a symlink is removed itself, never followed), also where a
    package or a killed run left read-only folders in it."""
    if path.is_symlink():
        path.unlink()
        return
    if path.exists():
        inside(path, *roots)
        for sub in [path, *path.rglob("*")]:
            if sub.is_dir() and not sub.is_symlink():
                sub.chmod(0o755)
        shutil.rmtree(path)


def link_or_copy(src: Path, dest: Path) -> Path:
    """Put ``src`` at ``dest`` (replacing it): a hard link, or a copy across file systems."""
    if dest.exists() or dest.is_symlink():
        dest.unlink()
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)
    return dest


# ---------------------------------------------------------------- folders external tools write

def links_out(path: Path, *roots: Path) -> list[Path]:
    """The symlinks under ``path``, at any depth (never followed), whose target resolves outside
    every one of ``roots``; links that stay inside are fine (build trees hold many)."""
    tops = _tops(roots)
    found: list[Path] = []
    stack = [os.fspath(path)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_symlink():
                    if not _within(Path(os.path.realpath(entry.path)), tops):
                        found.append(Path(entry.path))
                elif entry.is_dir():
                    stack.append(entry.path)
    return sorted(found)


def tool_dir(path: Path, *roots: Path) -> Path:
    """The persistent folder ``path`` (made when missing), checked right before an external
    tool writes into it: it resolves inside ``roots`` and holds no symlink, at any depth,
    that leads out of them. The tool would follow such a link; Python's own writes are
    checked elsewhere, a tool's are not. Its resolved path."""
    real = make_dir(path, *roots)
    bad = links_out(real, *roots)
    if bad:
        shown = ", ".join(str(r) for r in roots)
        raise InputError(f"refused to let a tool write in {path}: {bad[0]} is a symlink to "
                         f"{os.path.realpath(bad[0])}, outside {shown}; remove the link")
    return real


def fresh_dir(parent: Path, *roots: Path, prefix: str = "") -> Path:
    """A new, empty folder under ``parent`` (``parent`` made when missing and resolving inside
    ``roots``): nothing in it can have been planted, so a tool may write there unchecked."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=make_dir(parent, *roots)))


def renew_dir(path: Path, *roots: Path) -> Path:
    """``path`` removed (a symlink there is removed, not followed) and made again, empty,
    inside ``roots``: a fresh folder at a stable name. Its resolved path."""
    remove_tree(path, *roots)
    return make_dir(path, *roots)
