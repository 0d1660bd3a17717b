"""Benchmark figure names: one convention, ``<benchmark>-<figure>`` in kebab-case."""

from __future__ import annotations

import ast
from pathlib import Path

from bench.__main__ import BENCHMARKS, figure_name_problem

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_convention() -> None:
    assert figure_name_problem("upgrade_preflight", "upgrade-preflight-cold-seconds") is None
    assert figure_name_problem("upgrade_preflight", "upgrade_preflight_cold_seconds")
    assert figure_name_problem("build_noop", "noop-rebuild-seconds")


def test_every_figure_name_written_in_a_benchmark_follows_it() -> None:
    """The literal figure names each benchmark returns (first item of its returned pairs)."""
    bad = []
    for name in BENCHMARKS:
        tree = ast.parse((BENCH / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Tuple) and len(node.elts) == 2:
                first = node.elts[0]
                text = None
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    text = first.value
                elif isinstance(first, ast.JoinedStr):  # f"koji-watch-...-{n}-{label}"
                    text = "".join(v.value if isinstance(v, ast.Constant) else "x1"
                                   for v in first.values)
                if text and "-" in text and " " not in text and "/" not in text:
                    problem = figure_name_problem(name, text)
                    if problem:
                        bad.append(f"{name}: {problem}")
    assert bad == []
