"""Small file-system helpers shared by the builders and the package synthesis."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def link_or_copy(src: Path, dest: Path) -> Path:
    """Put ``src`` at ``dest`` (replacing it): a hard link, or a copy across file systems."""
    if dest.exists() or dest.is_symlink():
        dest.unlink()
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)
    return dest
