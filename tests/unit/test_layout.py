"""The tree shows the flow: stages import only the stages before them, no cycles, small modules.

The package's imports are read with ``ast`` (every ``import``/``from ... import``, at any depth,
``TYPE_CHECKING`` blocks included: a type-only import is still a dependency of the design).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pipeline"

#: Rank of each top-level part of ``pipeline``, in the order of the flow. A module may import
#: modules of its own part or of a lower rank, never a higher one. A new stage is added here,
#: deliberately, at its place in the flow.
LAYERS: dict[str, int] = {
    "pipeline": 0,    # the package root: only __version__
    "core": 1,        # the shared bottom
    "matrix": 2,      # matrix.yaml, profiles, ledgers -> typed model
    "specs": 3,       # model -> rendered specs, rpm's view, sources, SRPMs
    "patches": 4,     # the patch series: apply checks, Python 2 port, QEMU self-test
    "builds": 5,      # planner, runner, results, backends
    "upgrade": 6,     # legacy sets, stand-ins, sandboxes, checks
    "migration": 7,   # the migration gate: legacy machine types, compat, CPU, domains
    "report": 8,      # the evidence bundle: run records -> HTML + JSON
    "context": 10,    # the loaded tree a command works on
    "commands": 11,
    "cli": 12,
    "__main__": 13,
}
#: "about 400 lines": the largest module may not grow past this without being split.
MAX_MODULE_LINES = 440


def module_name(path: Path, root: Path = PACKAGE) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, modules: set[str], root: Path = PACKAGE) -> set[str]:
    """The ``pipeline`` modules that ``path`` imports (a name imported from a package that is
    itself a module counts as that module)."""
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "pipeline")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] != "pipeline":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
    found.discard(me)
    return found


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    files = sorted(root.rglob("*.py"))
    modules = {module_name(f, root) for f in files}
    return {module_name(f, root): imports_of(f, modules, root) for f in files}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def upward_imports(edges: Mapping[str, Iterable[str]],
                   layers: Mapping[str, int] = LAYERS) -> list[str]:
    bad = []
    for module, targets in edges.items():
        for target in targets:
            if layers[layer(target)] > layers[layer(module)]:
                bad.append(f"{module} imports {target} (a later stage)")
    return sorted(bad)


def cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


# --------------------------------------------------------------------------- the real tree


def test_every_top_level_part_is_a_known_stage() -> None:
    unknown = sorted({layer(m) for m in graph()} - set(LAYERS))
    assert unknown == [], f"add these to LAYERS at their place in the flow: {unknown}"


def test_no_stage_imports_a_later_one() -> None:
    assert upward_imports(graph()) == []


def test_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_no_module_is_too_long() -> None:
    long = {module_name(f): n for f in PACKAGE.rglob("*.py")
            if (n := len(f.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_every_stage_package_says_what_comes_in_and_goes_out() -> None:
    for part in ("core", "matrix", "specs", "patches", "builds", "upgrade"):
        doc = ast.get_docstring(ast.parse((PACKAGE / part / "__init__.py").read_text()))
        assert doc, part
        if part != "core":
            assert "In:" in doc and "Out:" in doc, part


# --------------------------------------------------------------------------- the check can fail


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A small package laid out like ours, with one upward import and one cycle."""
    root = tmp_path / "pipeline"
    files = {
        "__init__.py": "",
        "core/__init__.py": "",
        "core/cmd.py": "from pipeline.specs import render\n",        # upward
        "specs/__init__.py": "",
        "specs/render.py": "from . import rpmspec\n",
        "specs/rpmspec.py": "from pipeline.specs.render import x\n",  # cycle with render
        "builds/__init__.py": "",
        "builds/plan.py": "from ..specs import render\nfrom pipeline.core.cmd import run\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_checker_finds_an_upward_import_and_a_cycle(toy: Path) -> None:
    edges = graph(toy)
    assert edges["pipeline.builds.plan"] == {"pipeline.specs.render", "pipeline.core.cmd"}
    assert upward_imports(edges) == ["pipeline.core.cmd imports pipeline.specs.render "
                                     "(a later stage)"]
    assert cycles(edges) == [["pipeline.specs.render", "pipeline.specs.rpmspec"]]
