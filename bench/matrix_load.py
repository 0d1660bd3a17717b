"""The loader on the largest allowed matrix, and on a 10 MiB one: YAML with positions and
bounds, then the typed matrix.

A matrix of the real one's oses and flavors plus copies of its packages (renamed, each with
its full requirement lists) is written up to the loader's cap (yamlsrc.MAX_BYTES, 1 MiB;
MATRIX_LOAD_BYTES overrides that size), then up to 10 MiB (the issue's aim: under 1 s for a
10 MB matrix; the cap is raised just for that measurement). For each: the bytes, the time of
``yamlsrc.load`` (parse, bounds check, line table), of ``matrix.load`` (the same plus every
typed check and the macro allowlist), and PyYAML's bare libyaml load of the same text, side by
side in one run (each timed once).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from pipeline.core import yamlsrc
from pipeline.matrix import load as matrix

from .common import timed, tree_copy

TARGET_BYTES = int(os.environ.get("MATRIX_LOAD_BYTES", yamlsrc.MAX_BYTES))
AIM_BYTES = 10 * 1024 * 1024


def _dump(data: Any) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(data, Dumper=dumper, sort_keys=False, width=1000))


def _with_copies(data: Any, count: int) -> Any:
    out = copy.deepcopy(data)
    base = data["packages"]["libvirt"]
    for index in range(count):
        pkg = copy.deepcopy(base)
        pkg["depends_on"] = []
        out["packages"][f"pkg{index:05d}"] = pkg
    return out


def _big_matrix(tree: Path, data: Any, target: int) -> int:
    """Write the largest matrix of at most ``target`` bytes; every copy has the same size (the
    names have one width), so two small dumps give the count."""
    empty, one = (len(_dump(_with_copies(data, n)).encode()) for n in (0, 1))
    text = _dump(_with_copies(data, max(0, (target - empty) // (one - empty))))
    (tree / "matrix.yaml").write_text(text)
    return len(text.encode())


def _measure(tree: Path, data: Any, target: int) -> tuple[int, int, float, float, float]:
    """Bytes, packages, and the seconds of bare PyYAML, yamlsrc.load and matrix.load."""
    size = _big_matrix(tree, data, target)
    path = tree / "matrix.yaml"
    text = path.read_text()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    bare_seconds, _ = timed(lambda: yaml.load(text, Loader=loader))
    cap = yamlsrc.MAX_BYTES
    yamlsrc.MAX_BYTES = max(cap, size)
    try:
        yaml_seconds, _ = timed(lambda: yamlsrc.load(path))
        matrix_seconds, m = timed(lambda: matrix.load(tree))
    finally:
        yamlsrc.MAX_BYTES = cap
    return size, len(m.packages), bare_seconds, yaml_seconds, matrix_seconds


def main() -> list[tuple[str, str]]:
    with tree_copy() as tree:
        data = yaml.safe_load((tree / "matrix.yaml").read_text())
        size, packages, bare, ours, typed = _measure(tree, data, TARGET_BYTES)
        size10, packages10, bare10, ours10, typed10 = _measure(tree, data, AIM_BYTES)
    return [("matrix-load-bytes", str(size)),
            ("matrix-load-packages", str(packages)),
            ("matrix-load-pyyaml-bare-seconds", f"{bare:.2f}"),
            ("matrix-load-yamlsrc-seconds", f"{ours:.2f}"),
            ("matrix-load-matrix-seconds", f"{typed:.2f}"),
            ("matrix-load-yamlsrc-over-bare-ratio", f"{ours / bare:.2f}"),
            ("matrix-load-matrix-over-bare-ratio", f"{typed / bare:.2f}"),
            ("matrix-load-10mib-bytes", str(size10)),
            ("matrix-load-10mib-packages", str(packages10)),
            ("matrix-load-10mib-pyyaml-bare-seconds", f"{bare10:.2f}"),
            ("matrix-load-10mib-yamlsrc-seconds", f"{ours10:.2f}"),
            ("matrix-load-10mib-matrix-seconds", f"{typed10:.2f}"),
            ("matrix-load-10mib-yamlsrc-over-bare-ratio", f"{ours10 / bare10:.2f}"),
            ("matrix-load-10mib-matrix-over-bare-ratio", f"{typed10 / bare10:.2f}")]
