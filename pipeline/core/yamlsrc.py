"""YAML with positions: every mapping key and sequence item remembers its line.

The matrix parser reads plain dicts and lists from :func:`load`, and asks the returned
:class:`Source` for the line of a dotted key when it reports an error. Duplicate keys are errors
(PyYAML silently keeps the last one).

This is the one loader of every data file, and it is bounded: the node graph is measured
before anything is built from it. Aliases may be used (upgrades.yaml shares lists) but the
document they expand to may not be more than twice the size of the text's own nodes (an alias
bomb is refused in linear time), a recursive alias, nesting deeper than 100 levels and files
over 1 MiB are refused, and bytes that are not UTF-8 are reported with their line.

Speed (bench/matrix_load.py): a document of plain maps, lists and scalars without aliases (every
data file but upgrades.yaml) is measured, built and given its line table in one walk, which
stops at the first thing it does not handle and leaves it to the general path (bounds check,
PyYAML's constructor, then the line table), so errors and results are the same either way
(tests/unit/test_core_yaml_fastpath.py). The cycle collector is paused while a file is parsed.
"""

from __future__ import annotations

import gc
import operator
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from pipeline.core.errors import InputError


@dataclass
class Source:
    """A loaded YAML file: its data and the line of every dotted key path."""

    path: Path
    data: Any
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, key: str) -> int | None:
        """The line of ``key`` (``a.b.0.c``), or of its nearest ancestor that has one."""
        parts = key.split(".")
        while parts:
            found = self.lines.get(".".join(parts))
            if found is not None:
                return found
            parts.pop()
        return None

    def error(self, key: str, message: str) -> InputError:
        return InputError(message, file=str(self.path), line=self.line(key), key=key)


#: libyaml's parser when PyYAML was built with it (several times faster), else pure Python
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _Loader(_Base):  # type: ignore[misc]
    """PyYAML's safe loader, with the hooks it calls for every node made cheap (the same tags:
    tests/unit/test_core_yaml_fastpath.py compares them with PyYAML's own resolver).

    No path resolvers are registered (this class has its own empty table), so the per-node
    ``descend_resolver``/``ascend_resolver`` calls are C no-ops; a plain scalar is matched
    against the YAML 1.1 patterns only when its first character can start one (PyYAML files
    its patterns by first character too), and each value's tag is remembered for the file.
    Both tables are this class's own copies, so a registration elsewhere in the process
    cannot change how data files read, nor leave the first characters out of date.
    """

    yaml_path_resolvers: ClassVar[dict[Any, Any]] = {}
    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {
        first: list(patterns) for first, patterns in _Base.yaml_implicit_resolvers.items()}
    descend_resolver = staticmethod(operator.is_)  # called with (parent, index): no effect
    ascend_resolver = staticmethod(tuple)  # called with nothing: no effect

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._tags: dict[str, str] = {}

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            if not implicit[0] or (value and value[0] not in _FIRST):
                return _STR
            tag = self._tags.get(value)
            if tag is None:
                tag = self._tags[value] = super().resolve(kind, value, implicit)
            return tag
        return _SEQ if kind is yaml.SequenceNode else _MAP


#: the first characters of plain scalars that may resolve to something else than a string
_FIRST = frozenset(c for c in _Loader.yaml_implicit_resolvers if c)


def _marked(construct: Any) -> Any:
    """PyYAML's constructor of a scalar type, with the Python errors of a value that does not
    fit its tag (``!!int x``, ``2001-02-30``, ``!!bool maybe``: tracebacks before) turned into
    a YAML error at the value's position, so the loader reports ``FILE:LINE``."""

    def construct_marked(loader: Any, node: yaml.ScalarNode) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
            kind = str(node.tag).rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a valid {kind}", node.start_mark) from None

    return construct_marked


_SCALAR_TAGS = tuple(f"tag:yaml.org,2002:{kind}" for kind in (
    "null", "bool", "int", "float", "timestamp", "binary"))
for _tag in _SCALAR_TAGS:
    _Loader.add_constructor(_tag, _marked(_Loader.yaml_constructors[_tag]))


def _walk(node: yaml.Node, prefix: str, lines: dict[str, int], path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            dotted = f"{prefix}.{key}" if prefix else key
            if key in seen:
                raise InputError("duplicate key", file=str(path),
                                 line=key_node.start_mark.line + 1, key=dotted)
            seen.add(key)
            lines[dotted] = key_node.start_mark.line + 1
            _walk(value_node, dotted, lines, path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            dotted = f"{prefix}.{index}" if prefix else str(index)
            lines[dotted] = item.start_mark.line + 1
            _walk(item, dotted, lines, path)


MAX_DEPTH = 100
#: the largest data file read: 1 MiB holds a matrix of 250 packages (the real one has 3) or
#: a legacy manifest of 10,000 files; bench/matrix_load.py times the loader at this size
MAX_BYTES = 1024 * 1024
#: aliases may add this many nodes beyond the document's own, plus as many as it has
ALIAS_ALLOWANCE = 10_000


def _bounds(root: yaml.Node, path: Path) -> None:
    """Refuse a recursive alias, nesting deeper than MAX_DEPTH, or aliases that expand the
    document beyond twice its own nodes; linear in the number of distinct nodes."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            continue
        if key in size:
            continue
        if key in on_path:
            raise InputError("recursive YAML alias", file=str(path),
                             line=node.start_mark.line + 1)
        if depth > MAX_DEPTH:
            raise InputError(f"nested deeper than {MAX_DEPTH} levels", file=str(path),
                             line=node.start_mark.line + 1)
        on_path.add(key)
        stack.append((node, depth, True))
        stack += [(c, depth + 1, False) for c in children if id(c) not in size]
    if size[id(root)] > 2 * len(size) + ALIAS_ALLOWANCE:
        raise InputError(f"YAML aliases expand {len(size)} nodes to {size[id(root)]}: refused "
                         "(an alias bomb?); write the data out", file=str(path),
                         line=root.start_mark.line + 1)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _text(path: Path, shown: Path) -> str:
    try:
        if path.is_file() and path.stat().st_size > MAX_BYTES:
            raise InputError(f"larger than {MAX_BYTES // 1024} KiB: refused (split it)",
                             file=str(shown))
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", file=str(shown)) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a YAML file", file=str(shown)) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                         file=str(shown), line=line) from None


def _parse(text: str, shown: Path) -> tuple[Any, dict[str, int]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()  # one parse: positions from the nodes, data built
        if node is None:
            return None, {}
        try:
            return _tree(loader, node, shared="&" in text)  # the common case, in one pass
        except _General:
            pass
        _bounds(node, shown)  # the general path: aliases, other tags, merge keys, errors
        data = loader.construct_document(node)  # from them
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InputError(f"invalid YAML: {exc.problem}", file=str(shown), line=line) from None
    except yaml.YAMLError as exc:  # the reader's errors (control characters) carry no mark
        position = getattr(exc, "position", None)
        line = text[:position].count("\n") + 1 if isinstance(position, int) else None
        reason = getattr(exc, "reason", None) or _one_line(str(exc))
        raise InputError(f"invalid YAML: {reason}", file=str(shown), line=line) from None
    except RecursionError:
        raise InputError("invalid YAML: nested too deep", file=str(shown)) from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    _walk(node, "", lines, shown)
    return data, lines


class _General(Exception):
    """The document needs the general path (raised by :func:`_tree`, never seen outside)."""


#: the scalar types read in one pass, with PyYAML's own constructors (plain functions)
_SCALARS = {tag: _Loader.yaml_constructors[tag] for tag in _SCALAR_TAGS}


def _tree(loader: Any, root: yaml.Node, *, shared: bool) -> tuple[Any, dict[str, int]]:
    """The data and line table of ``root`` in one walk, the same as the general path gives
    (bounds, PyYAML's constructor, :func:`_walk`) for a document of plain maps, lists and
    scalars without aliases; anything else raises _General: a node reached twice (only
    possible when the text has an ``&``), a tag or key of another kind, a duplicate key or
    two dotted keys that collide, nesting deeper than MAX_DEPTH, a scalar that does not
    convert. The general path then decides, errors included, exactly as before."""
    lines: dict[str, int] = {}
    seen: set[int] = set()
    visits = 0
    ScalarNode = yaml.ScalarNode  # a local: looked up for every node

    def note(node: yaml.Node) -> None:
        nonlocal visits
        visits += 1
        if id(node) in seen and type(node) is not ScalarNode:
            raise _General  # a shared collection: may be an alias bomb or a cycle
        seen.add(id(node))

    def scalar(node: yaml.Node) -> Any:
        if shared:
            note(node)
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag not in _SCALARS:
            raise _General
        try:
            return _SCALARS[tag](loader, node)
        except Exception:  # e.g. `!!int x`: the general path reports it, after any bounds error
            raise _General from None

    def build(node: yaml.Node, prefix: str, depth: int) -> Any:
        if type(node) is ScalarNode:
            return scalar(node)
        if shared:
            note(node)
        if depth >= MAX_DEPTH and node.value:
            raise _General  # its children would be deeper than MAX_DEPTH
        if type(node) is yaml.MappingNode and node.tag == _MAP:
            return mapping(node.value, prefix, depth + 1)
        if type(node) is yaml.SequenceNode and node.tag == _SEQ:
            return sequence(node.value, prefix, depth + 1)
        raise _General

    def mapping(pairs: list[tuple[yaml.Node, yaml.Node]], prefix: str, depth: int) -> Any:
        out: dict[Any, Any] = {}
        for key_node, value_node in pairs:
            if type(key_node) is not ScalarNode:
                raise _General
            name = key_node.value
            dotted = f"{prefix}.{name}" if prefix else name
            if dotted in lines:
                raise _General  # a duplicate key (or a key written with dots)
            lines[dotted] = key_node.start_mark.line + 1
            key = name if key_node.tag == _STR and not shared else scalar(key_node)
            if value_node.tag == _STR and type(value_node) is ScalarNode and not shared:
                out[key] = value_node.value
            else:
                out[key] = build(value_node, dotted, depth)
        return out

    def sequence(items: list[yaml.Node], prefix: str, depth: int) -> Any:
        out: list[Any] = []
        for index, item in enumerate(items):
            dotted = f"{prefix}.{index}" if prefix else str(index)
            if dotted in lines:
                raise _General
            lines[dotted] = item.start_mark.line + 1
            if item.tag == _STR and type(item) is ScalarNode and not shared:
                out.append(item.value)
            else:
                out.append(build(item, dotted, depth))
        return out

    data = build(root, "", 1)
    if visits != len(seen):
        raise _General  # a scalar reached twice: the general path counts the expansion
    return data, lines


@contextmanager
def _collector_paused() -> Iterator[None]:
    """CPython's cycle collector runs again and again while a parse allocates its ~10 objects
    per node, each time over the whole growing heap: 2/3 of the loader's time at 1 MiB, more
    the larger the file (bench/matrix_load.py). The parse makes no garbage cycle (a recursive
    alias's nodes are collected once the collector is back on), so it is paused meanwhile."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def load(path: Path, *, display: str | None = None) -> Source:
    """Load ``path``; syntax errors become InputError with the file and line."""
    shown = Path(display) if display else path
    text = _text(path, shown)
    with _collector_paused():
        data, lines = _parse(text, shown)
    return Source(shown, data if data is not None else {}, lines)
