"""Run the benchmarks named on the command line (default: all), printing ``name: value``."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

#: in the order they run by default
BENCHMARKS = ("render_validate", "build_noop", "local_overhead", "koji_watch",
              "upgrade_preflight", "upgrade_installroot", "upgrade_preflight2000")


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
        for figure, value in figures:
            print(f"{figure}: {value}", flush=True)
        print(f"{name}-wall-seconds: {time.monotonic() - started:.1f}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
