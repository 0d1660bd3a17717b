"""Class 3 of the promises: YAML that cannot exhaust the machine, and one line for any bad file.

The loader (pipeline.core.yamlsrc, the one loader of every data file) measures the node graph
before building data: an alias bomb, a recursive alias, deep nesting and non-UTF-8 bytes all
give exit 2 with the file and line. Property-based tests (hypothesis) mutate the real matrix at
random: whatever they produce, the CLI answers with exit 0 or with exit 2 and one line, never
a traceback.
"""

from __future__ import annotations

import io
import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.cli import main
from pipeline.core import yamlsrc
from pipeline.core.errors import InputError
from tests.conftest import CliResult
from tests.support.tree import ROOT as ROOT_TREE
from tests.support.tree import copy_tree

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}]\n" for i in range(9))


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)  # 9**10 expanded nodes: unbounded time and memory before
    start = time.monotonic()
    with pytest.raises(InputError, match="alias bomb") as err:
        yamlsrc.load(path)
    assert time.monotonic() - start < 5  # not a timing target: a bound against hanging
    assert str(err.value).startswith(f"{path}:1: ")


def test_recursive_alias_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("x: 1\ny: &a [1, *a]\n")
    with pytest.raises(InputError, match="recursive YAML alias") as err:
        yamlsrc.load(path)
    assert str(err.value).startswith(f"{path}:2: ")


def test_ordinary_aliases_still_load(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("a: &l [1, 2]\nb: *l\n")
    assert yamlsrc.load(path).data == {"a": [1, 2], "b": [1, 2]}


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(InputError, match="nest"):
        yamlsrc.load(path)


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(InputError, match="not UTF-8") as err:
        yamlsrc.load(path)
    assert str(err.value).startswith(f"{path}:2: ")


def test_control_characters_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "ctl.yaml"
    path.write_text("a: 1\nb: \x07\n")
    with pytest.raises(InputError, match="invalid YAML") as err:
        yamlsrc.load(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("value", "kind"), [
    ("2001-02-30", "timestamp"), ("!!int x", "int"), ("!!int ''", "int"),
    ("!!bool maybe", "bool"), ("!!float x", "float"), ("!!timestamp x", "timestamp")])
def test_a_scalar_that_does_not_fit_its_tag_names_the_line(tmp_path: Path, value: str,
                                                           kind: str) -> None:
    """These were tracebacks (ValueError, KeyError...) from PyYAML's constructors."""
    path = tmp_path / "t.yaml"
    path.write_text(f"a: 1\nb: {value}\n")
    with pytest.raises(InputError, match=f"is not a valid {kind}") as err:
        yamlsrc.load(path)
    assert str(err.value).startswith(f"{path}:2: invalid YAML: ")


def test_a_float_version_asks_for_quotes(tree: Path, cli: Callable[..., CliResult]) -> None:
    path = tree / "matrix.yaml"
    path.write_text(path.read_text().replace("    version: 6.2.0\n", "    version: 6.10\n", 1))
    result = cli("-C", str(tree), "targets")
    assert result.code == 2
    assert "packages.qemu.version: expected a string, got the number 6.1" in result.err
    assert "quoted" in result.err


@pytest.mark.parametrize("name", ["matrix.yaml", "upgrades.yaml", "legacy/el7-base.yaml",
                                  "patches/qemu/ledger.yaml"])
def test_bombs_in_every_data_file(tree: Path, cli: Callable[..., CliResult], name: str) -> None:
    (tree / name).write_text(BOMB)
    args = ["verify-upgrade", "--sandbox", "none"] if name != "matrix.yaml" else ["targets"]
    if name.startswith("patches"):
        args = ["render"]
    result = cli("-C", str(tree), *args)
    assert result.code == 2, result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1


# -- property-based: random damage to the real matrix -------------------------------------

_TREE: dict[str, Any] = {}


@pytest.fixture(scope="module", autouse=True)
def _remove_base() -> Iterator[None]:
    """The property tests share one tree copy (hypothesis calls them many times)."""
    yield
    if _TREE:
        shutil.rmtree(_TREE["root"].parent, ignore_errors=True)
        _TREE.clear()


def _base() -> tuple[Path, Any]:
    if not _TREE:
        import tempfile

        root = copy_tree(Path(tempfile.mkdtemp(prefix="vp-hyp-")) / "tree")
        _TREE["root"] = root
        _TREE["data"] = yaml.safe_load((root / "matrix.yaml").read_text())
    return _TREE["root"], _TREE["data"]


def _run(tree: Path, *args: str) -> CliResult:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(["-C", str(tree), *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return CliResult(code, out.getvalue(), err.getvalue())


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                     st.text(max_size=30), st.sampled_from(["%(id)", "../x", "6.10", "", "~"]))
_VALUES = st.recursive(_SCALARS, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=8), kids, max_size=3)),
    max_leaves=8)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


def _replace(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[path[0]] = _replace(data[path[0]], path[1:], value)
    return copy


def _one_line_or_ok(result: CliResult) -> None:
    assert "Traceback" not in result.out + result.err
    assert result.code in (0, 2), (result.code, result.err)
    if result.code == 2:
        assert len(result.err.strip().splitlines()) == 1, result.err


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(choice=st.integers(min_value=0), value=_VALUES)
def test_any_damaged_matrix_is_exit_2_and_one_line(choice: int, value: Any) -> None:
    tree, data = _base()
    paths = _paths(data)
    damaged = _replace(data, paths[choice % len(paths)], value)
    (tree / "matrix.yaml").write_text(json.dumps(damaged, default=str))
    _one_line_or_ok(_run(tree, "targets", "--json"))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(cut=st.integers(min_value=0), junk=st.binary(max_size=40))
def test_any_corrupted_matrix_text_is_exit_2_and_one_line(cut: int, junk: bytes) -> None:
    tree, _ = _base()
    text = (yamlsrc.Path(__file__).parents[2] / "matrix.yaml").read_bytes()
    at = cut % len(text)
    (tree / "matrix.yaml").write_bytes(text[:at] + junk + text[at + len(junk):])
    result = _run(tree, "targets")
    _one_line_or_ok(result)


def test_files_over_the_cap_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: [" + "1, " * (yamlsrc.MAX_BYTES // 3 + 10) + "1]\n")
    with pytest.raises(InputError, match="KiB: refused"):
        yamlsrc.load(path)


def _damage_file(path: Path, choice: int, value: Any) -> None:
    data = yaml.safe_load(path.read_text())
    paths = _paths(data)
    path.write_text(json.dumps(_replace(data, paths[choice % len(paths)], value), default=str))


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(choice=st.integers(min_value=0), value=_VALUES,
       which=st.sampled_from(["ledger", "manifest", "scenarios"]))
def test_any_damaged_ledger_manifest_or_scenarios_is_input_error(choice: int, value: Any,
                                                                 which: str) -> None:
    """The other data files, through their loaders: either they load, or InputError (exit 2,
    one line); never another exception."""
    from pipeline.matrix import ledger
    from pipeline.matrix import load as matrix_load
    from pipeline.upgrade import manifest, scenarios

    tree, _ = _base()
    m = matrix_load.load(ROOT_TREE)
    name = {"ledger": "patches/qemu/ledger.yaml", "manifest": "legacy/el7-base.yaml",
            "scenarios": "upgrades.yaml"}[which]
    (tree / name).write_text((ROOT_TREE / name).read_text())
    _damage_file(tree / name, choice, value)
    try:
        if which == "ledger":
            ledger.load(tree, "qemu")
        elif which == "manifest":
            manifest.load_manifest(tree / name)
        else:
            scenarios.load(tree / name, oses=m.oses, packages=m.packages)
    except InputError as exc:
        assert "\n" not in str(exc).strip()
    finally:
        (tree / name).write_text((ROOT_TREE / name).read_text())


def test_an_error_stays_one_line_whatever_the_data_holds() -> None:
    """Found by the property test above: a YAML key holding a newline split the error line."""
    from pipeline.core.errors import InputError

    err = InputError("unknown key\r", file="a\nb.yaml", line=1, key="x\n\ty")
    assert str(err) == "a\\nb.yaml:1: x\\n\\ty: unknown key\\r"
    assert "\n" not in str(err)
