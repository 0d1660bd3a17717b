"""The hostile corpus is real: rpm runs every form (so refusing them proves something).

Each form of tests.support.hostile given to ``rpm --eval`` (``eval``), or to a second
expansion as a ``%global`` in a template would give it (``twice``), creates its marker.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.hostile import macro_forms

pytestmark = pytest.mark.skipif(shutil.which("rpm") is None, reason="rpm is not installed")


def test_every_form_runs_its_payload_in_rpm(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    silent = []
    for form, how in macro_forms(marker):
        marker.unlink(missing_ok=True)
        text = form if how == "eval" else f"%{{expand:{form}}}"
        subprocess.run(["rpm", "--define", "name x", "--define", "version 1", "--eval", text],
                       capture_output=True, check=False, timeout=30)
        if not marker.exists():
            silent.append(form)
    assert silent == []
    assert len(macro_forms(marker)) >= 30
