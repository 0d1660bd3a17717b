"""The loader on the largest allowed matrix: YAML with positions and bounds, then the typed
matrix.

A matrix of the real one's oses and flavors plus copies of its packages (renamed, each with
its full requirement lists) is written up to the loader's cap (yamlsrc.MAX_BYTES, 1 MiB;
MATRIX_LOAD_BYTES overrides the size, above the cap only ``yamlsrc`` parts are timed). The
figures: the bytes, the time of ``yamlsrc.load`` (parse, bounds check, line table), of
``matrix.load`` (the same plus every typed check and the macro allowlist), and PyYAML's bare
libyaml load of the same text, side by side.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import yaml

from pipeline.core import yamlsrc
from pipeline.matrix import load as matrix

from .common import timed, tree_copy

TARGET_BYTES = int(os.environ.get("MATRIX_LOAD_BYTES", yamlsrc.MAX_BYTES))


def _big_matrix(tree: Path) -> int:
    data = yaml.safe_load((tree / "matrix.yaml").read_text())
    base = data["packages"]["libvirt"]
    one = len(yaml.safe_dump({"p": base}, width=1000))
    for index in range(TARGET_BYTES // one):
        pkg = copy.deepcopy(base)
        pkg["depends_on"] = []
        data["packages"][f"pkg{index:05d}"] = pkg
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(data, Dumper=dumper, sort_keys=False, width=1000)
    while len(text.encode()) > TARGET_BYTES:  # the estimate per package is a little low
        data["packages"].popitem()
        text = yaml.dump(data, Dumper=dumper, sort_keys=False, width=1000)
    (tree / "matrix.yaml").write_text(text)
    return len(text.encode())


def main() -> list[tuple[str, str]]:
    with tree_copy() as tree:
        size = _big_matrix(tree)
        path = tree / "matrix.yaml"
        text = path.read_text()
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        bare_seconds, _ = timed(lambda: yaml.load(text, Loader=loader))
        yamlsrc.MAX_BYTES = max(yamlsrc.MAX_BYTES, size)
        yaml_seconds, _ = timed(lambda: yamlsrc.load(path))
        matrix_seconds, m = timed(lambda: matrix.load(tree))
        return [("matrix-load-bytes", str(size)),
                ("matrix-load-packages", str(len(m.packages))),
                ("matrix-load-pyyaml-bare-seconds", f"{bare_seconds:.2f}"),
                ("matrix-load-yamlsrc-seconds", f"{yaml_seconds:.2f}"),
                ("matrix-load-matrix-seconds", f"{matrix_seconds:.2f}"),
                ("matrix-load-matrix-over-bare-ratio", f"{matrix_seconds / bare_seconds:.2f}")]
