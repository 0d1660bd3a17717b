"""All pre-flight upgrade scenarios of the matrix (``verify-upgrade --preflight``): seconds.

Two figures from one run: cold (a fresh tree copy, so every stand-in RPM is built) and warm
(the same tree again: stand-ins and repos come from the content-hash cache, only the
installroot transactions and checks run). Aim: warm under 30 s on 2 cores.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout

from pipeline.cli import main as cli_main
from pipeline.matrix import load as matrix
from pipeline.upgrade import scenarios

from .common import timed, tree_copy


def _preflight(tree: object) -> int:
    with redirect_stdout(io.StringIO()):
        return cli_main(["-C", str(tree), "verify-upgrade", "--preflight"])


def main() -> list[tuple[str, str]]:
    with tree_copy() as tree:
        loaded = matrix.load(tree, [])
        count = len(scenarios.load(tree / "upgrades.yaml", oses=loaded.oses,
                                   packages=loaded.packages).scenarios)
        cold, code = timed(lambda: _preflight(tree))
        warm, _ = timed(lambda: _preflight(tree))
    return [("upgrade-preflight-scenarios", str(count)),
            ("upgrade-preflight-cold-seconds", f"{cold:.1f}"),
            ("upgrade-preflight-warm-seconds", f"{warm:.1f}"),
            ("upgrade-preflight-exit-code", str(code))]


if __name__ == "__main__":
    for key, value in main():
        print(f"{key}: {value}")
