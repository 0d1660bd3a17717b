"""Write the bundle: ``index.html`` (one static page, inline CSS, no script, nothing from the
network), ``report.json`` (the same model) and copies of every log the page links to.

The bundle is made in a temporary folder next to ``out`` and renamed into place, so a reader
never sees half a bundle. Templates are Jinja2 with autoescape on: package metadata, log tails
and finding details are untrusted text.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import jinja2

from pipeline.report.model import Attachments

TEMPLATES = Path(__file__).parent / "templates"
SYMBOLS = {"pass": "✔", "fail": "✘", "warn": "▲", "not-run": "○", "n/a": "–"}
LABELS = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "not-run": "NOT RUN", "n/a": "N/A"}


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals.update(symbols=SYMBOLS, labels=LABELS)
    return env


def render_html(model: dict[str, Any]) -> str:
    return environment().get_template("index.html.j2").render(r=model)


def write(out: Path, model: dict[str, Any], attach: Attachments) -> Path:
    """Write the bundle to ``out`` (replacing a previous one); returns index.html's path."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    tmp.chmod(0o755)  # a bundle is for reading (mkdtemp makes 0700)
    try:
        for dest, source in sorted(attach.files.items()):
            _place(source, tmp / dest)
        (tmp / "report.json").write_text(json.dumps(model, indent=2, sort_keys=True,
                                                    default=str) + "\n", encoding="utf-8")
        (tmp / "index.html").write_text(render_html(model), encoding="utf-8")
        old = out.parent / f".{out.name}-old"
        if old.exists():
            shutil.rmtree(old)
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / "index.html"


def _place(source: Path, dest: Path) -> None:
    """Hard-link where the file system allows it (logs can be large), else copy."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)
