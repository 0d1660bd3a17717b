"""Run the benchmarks named on the command line (default: all), printing ``name: value``.

Figure names follow one convention, checked here: kebab-case, ``<benchmark>-<figure>`` where
``<benchmark>`` is the module's name with ``-`` for ``_``, and units in the figure's name
(``-seconds``, ``-ratio``, ``-calls``...). A figure that breaks it fails its benchmark.
"""

from __future__ import annotations

import importlib
import re
import sys
import time
from pathlib import Path

#: in the order they run by default
BENCHMARKS = ("render_validate", "build_noop", "local_overhead", "koji_watch", "koji_wait",
              "upgrade_preflight", "upgrade_installroot", "upgrade_preflight2000",
              "migration_gate", "mr_gate", "matrix_load", "write_guard")

_KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def figure_name_problem(benchmark: str, figure: str) -> str | None:
    """Why ``figure`` breaks the naming convention for ``benchmark`` (None: it does not)."""
    prefix = benchmark.replace("_", "-") + "-"
    if not _KEBAB.match(figure):
        return f"{figure!r} is not kebab-case"
    if not figure.startswith(prefix):
        return f"{figure!r} does not start with {prefix!r}"
    return None


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"bench: unknown benchmark {unknown[0]!r} (known: {', '.join(BENCHMARKS)})",
              file=sys.stderr)
        return 2
    failed = 0
    for name in names:
        if not (Path(__file__).parent / f"{name}.py").exists():
            print(f"{name}: not present", flush=True)
            continue
        started = time.monotonic()
        try:
            figures = importlib.import_module(f"bench.{name}").main()
        except Exception as exc:  # a broken benchmark must not hide the others
            print(f"{name}: FAILED {type(exc).__name__}: {exc}", flush=True)
            failed += 1
            continue
        problems = [p for figure, _ in figures if (p := figure_name_problem(name, figure))]
        if problems:
            print(f"{name}: FAILED figure names: {'; '.join(problems)}", flush=True)
            failed += 1
        for figure, value in figures:
            print(f"{figure}: {value}", flush=True)
        wall = time.monotonic() - started
        print(f"{name.replace('_', '-')}-wall-seconds: {wall:.1f}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
