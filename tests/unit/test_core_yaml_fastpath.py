"""The loader's fast parts give what PyYAML's own parts give (issue 9, class 3's speed aim).

``pipeline.core.yamlsrc`` reads a plain document (maps, lists, scalars, no alias) in one pass
and resolves plain scalars with a cheaper hook than PyYAML's resolver. Both must be invisible:
the tags of a corpus of tricky scalars are compared with PyYAML's resolver, and whole
documents (the tree's data files, and generated ones with aliases, tags, merge keys, duplicate
and dotted keys, deep nesting) are loaded both ways (the reference: PyYAML's stock loader and
the general path, which is the loader as it was before) and must give the same data, types,
line table and errors. Mutation tests show the comparisons catch a broken resolver or pass.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.core import yamlsrc
from pipeline.core.errors import InputError
from tests.support.tree import ROOT

#: plain scalars whose YAML 1.1 type is easy to get wrong
TRICKY = ["6.10", "6.2.0", "1e3", "1.0e+3", "1.0E-3", ".5", "-.5", "+.5", ".inf", "-.Inf", "+.INF",
          ".nan", ".NaN", ".NAN", ".nAn", "0x1F", "0x_1f", "-0x1F", "0o17", "017", "08", "0",
          "-0", "+0", "0b1010", "0b2", "1_000", "1__0", "_1", "1_", "yes", "Yes", "YES", "yEs",
          "No", "no", "NO", "on", "On", "off", "OFF", "y", "Y", "n", "N", "true", "True", "TRUE",
          "tRue", "false", "False", "~", "null", "Null", "NULL", "nULL", "", " ", "2001-12-14",
          "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2001-1-1", "2002-12-14x",
          "12:30:00", "190:20:30", "-1:30", "1:70", "12:30:00.5", "1:2:3.", "=", "==", "<<",
          "<<<", "<", "+", "-", ".", "..", "...", "-1", "+1", "+-1", "1.", "1.e5", "1e", "1.0e3",
          "0.1_2", "6.1", "v6.10", "qemu", "a.b", "%(id)", "!", "&", "*", "0x", "0o", "0o8"]


class _StockLoader(yaml.CSafeLoader):  # type: ignore[misc]
    """PyYAML's own safe loader, as yamlsrc used it before (the reference), with yamlsrc's
    constructors (which only add a position to the errors of a scalar that does not convert)."""

    yaml_constructors = yamlsrc._Loader.yaml_constructors


def _tag_mismatches(resolver: Any, values: list[str]) -> list[tuple[str, Any, str, str]]:
    stock = yaml.resolver.Resolver()
    out = []
    for value in values:
        for implicit in ((True, False), (False, True), (False, False)):
            ours = resolver.resolve(yaml.ScalarNode, value, implicit)
            theirs = stock.resolve(yaml.ScalarNode, value, implicit)
            if ours != theirs:
                out.append((value, implicit, ours, theirs))
    for kind in (yaml.SequenceNode, yaml.MappingNode):
        if resolver.resolve(kind, None, True) != stock.resolve(kind, None, True):
            out.append(("", kind, "", ""))
    return out


def test_plain_scalars_resolve_as_pyyaml_resolves_them() -> None:
    assert None not in yamlsrc._Loader.yaml_implicit_resolvers  # no pattern for every scalar
    loader = yamlsrc._Loader("")
    assert _tag_mismatches(loader, TRICKY + TRICKY) == []  # twice: the second time remembered


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.text(alphabet="0123456789.+-_:eExXoObB~nNyYtTfFaiIlLsSuU<= T",
                               max_size=12), max_size=20))
def test_any_scalar_resolves_as_pyyaml_resolves_it(values: list[str]) -> None:
    assert _tag_mismatches(yamlsrc._Loader(""), values) == []


def test_the_tag_comparison_catches_a_broken_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation: a first character left out of the shortcut makes ``.inf`` a string."""
    monkeypatch.setattr(yamlsrc, "_FIRST", yamlsrc._FIRST - {"."})
    assert (".inf", (True, False), "tag:yaml.org,2002:str",
            "tag:yaml.org,2002:float") in _tag_mismatches(yamlsrc._Loader(""), TRICKY)


def test_a_value_quoted_then_plain_keeps_both_types(tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    path.write_text('a: "yes"\nb: yes\nc: \'6.10\'\nd: 6.10\ne: yes\n')
    assert yamlsrc.load(path).data == {"a": "yes", "b": True, "c": "6.10", "d": 6.1, "e": True}


# -- whole documents, both ways -----------------------------------------------------------

def _typed(data: Any) -> str:
    """``repr`` tells 1, 1.0, True and "1" apart, keeps key order, and nan equals nan."""
    return repr(data)


def _outcome(path: Path) -> tuple[Any, ...]:
    try:
        source = yamlsrc.load(path)
    except InputError as exc:
        return ("InputError", str(exc))
    except Exception as exc:  # what the general path raises for e.g. `2001-02-30` (ValueError)
        return (type(exc).__name__, str(exc))
    return ("ok", _typed(source.data), list(source.lines.items()))


def _general(loader: Any, root: Any, *, shared: bool) -> Any:
    raise yamlsrc._General


def _both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    fast = _outcome(path)
    with monkeypatch.context() as patched:
        patched.setattr(yamlsrc, "_Loader", _StockLoader)
        patched.setattr(yamlsrc, "_tree", _general)
        reference = _outcome(path)
    return fast, reference


DATA_FILES = sorted(str(p.relative_to(ROOT)) for p in [*ROOT.glob("*.yaml"), *ROOT.glob(
    "legacy/*.yaml"), *ROOT.glob("patches/*/*.yaml"), *ROOT.glob("profiles/*.yaml")])


@pytest.mark.parametrize("name", DATA_FILES)
def test_the_tree_data_files_load_the_same_both_ways(name: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    fast, reference = _both(ROOT / name, monkeypatch)
    assert fast[0] == "ok"
    assert fast == reference


def test_the_document_comparison_catches_a_broken_pass(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation: a pass that drops the line of sequence items is seen as different."""
    path = tmp_path / "m.yaml"
    path.write_text("a:\n- x\n- y\n")
    real = yamlsrc._tree

    def broken(loader: Any, root: Any, *, shared: bool) -> Any:
        data, lines = real(loader, root, shared=shared)
        return data, {k: v for k, v in lines.items() if not k[-1].isdigit()}

    monkeypatch.setattr(yamlsrc, "_tree", broken)
    fast, reference = _both(path, monkeypatch)
    assert fast != reference


@pytest.mark.parametrize("text", [
    "a: " + "[" * 99 + "]" * 99 + "\n",  # 100 levels: loads
    "a: " + "[" * 100 + "]" * 100 + "\n",  # 101: refused
    "a: " + "[" * 99 + "x" + "]" * 99 + "\n",
    "a: " + "[" * 100 + "x" + "]" * 100 + "\n",
    "a: 1\na: 2\n", "a: {b: 1}\na.b: 2\n", "a.b: 2\na: {b: 1}\n", "1: x\n'1': y\n",
    "1: x\n1.0: y\n", "~: x\nnull: y\n", "x: &a [1, 2]\ny: *a\n", "x: &a s\ny: [*a, *a]\n",
    "x: &a [1, *a]\n", "base: &b {k: 1}\nuse: {<<: *b, k: 2}\n", "m: {<<: {k: 1}, j: 2}\n",
    "=: 1\n", "v: =\n", "d: 2001-12-14\n", "d: 2001-02-30\n", "b: !!binary aGVsbG8=\n",
    "b: !!binary 'not base64!'\n", "i: !!int x\n", "i: !!int '12'\n", "s: !!str 12\n",
    "s: !!set {a, b}\n", "o: !!omap [a: 1]\n", "t: !custom x\n", "? [a]\n: 1\n", "? {a: 1}\n: 1\n",
    "[a, b, [c, d]]\n", "just a scalar\n", "12\n", "", "# only a comment\n", "---\na: 1\n",
    "a: 1\n---\nb: 2\n", "a: !!seq x\n", "a: !!map [1]\n", "a: !!str [1]\n", "a: *nope\n",
    "x: &a 1\nx: &a 2\n", "a: 'Q&A'\nb: [1, 2]\n", "'': {'': 1}\n", "a:\n  b:\n  - 1\n  -\n",
])
def test_edge_documents_load_the_same_both_ways(text: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(text)
    fast, reference = _both(path, monkeypatch)
    assert fast == reference


_SCALAR_TEXT = st.sampled_from([*TRICKY[:60], "k", "a.b", "'q'", '"d"', "!!int 3", "!!str 3",
                                "!!float 1", "!!bool yes", "!!int x", "!!null ''", "2001-02-30",
                                "!!binary aGk=", "<<", "="])
_KEYS = st.sampled_from(["a", "b", "a.b", "0", "1", "1.0", "'1'", "~", "null", "yes", "<<", "="])


@st.composite
def _documents(draw: Any) -> str:
    anchors: list[str] = []

    def node(depth: int) -> str:
        roll = draw(st.integers(0, 9))
        if roll == 0 and anchors:
            return "*" + draw(st.sampled_from(anchors))
        prefix = ""
        if draw(st.integers(0, 7)) == 0:
            anchors.append(f"n{len(anchors)}")
            prefix = f"&{anchors[-1]} "
        if roll <= 5 or depth > 3:
            return prefix + draw(_SCALAR_TEXT)
        sep = draw(st.sampled_from([", ", ",\n  "]))
        if roll <= 7:
            items = [node(depth + 1) for _ in range(draw(st.integers(0, 3)))]
            return prefix + "[" + sep.join(items) + "]"
        pairs = [f"{draw(_KEYS)}: {node(depth + 1)}" for _ in range(draw(st.integers(0, 3)))]
        return prefix + "{" + sep.join(pairs) + "}"

    return "\n".join(f"{draw(_KEYS)}: {node(1)}" for _ in range(draw(st.integers(1, 4)))) + "\n"


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=_documents())
def test_any_generated_document_loads_the_same_both_ways(text: str, tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(text)
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, reference = _both(path, monkeypatch)
    assert fast == reference, text


def test_aliases_still_share_one_object(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("a: &l [1, 2]\nb: *l\n")
    data = yamlsrc.load(path).data
    assert data["a"] is data["b"]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_back_as_it_was(tmp_path: Path, enabled: bool) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("a: [1, 2]\n")
    bad.write_text("a: [1, 2\n")
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        yamlsrc.load(good)
        assert gc.isenabled() is enabled
        with pytest.raises(InputError):
            yamlsrc.load(bad)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
