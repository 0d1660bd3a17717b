"""YAML with positions: every mapping key and sequence item remembers its line.

The matrix parser reads plain dicts and lists from :func:`load`, and asks the returned
:class:`Source` for the line of a dotted key when it reports an error. Duplicate keys are errors
(PyYAML silently keeps the last one).

This is the one loader of every data file, and it is bounded: the node graph is measured
before anything is built from it. Aliases may be used (upgrades.yaml shares lists) but the
document they expand to may not be more than twice the size of the text's own nodes (an alias
bomb is refused in linear time), a recursive alias, nesting deeper than 100 levels and files
over 1 MiB are refused, and bytes that are not UTF-8 are reported with their line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


class _Loader(_Base):  # type: ignore[misc]
    pass


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


def _parse(text: str, shown: Path) -> tuple[yaml.Node | None, Any]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()  # one parse: positions from the nodes, data built
        if node is not None:
            _bounds(node, shown)
        data = loader.construct_document(node) if node is not None else None  # from them
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
    return node, data


def _one_line(text: str) -> str:
    return " ".join(text.split())


def load(path: Path, *, display: str | None = None) -> Source:
    """Load ``path``; syntax errors become InputError with the file and line."""
    shown = Path(display) if display else path
    node, data = _parse(_text(path, shown), shown)
    lines: dict[str, int] = {}
    if node is not None:
        _walk(node, "", lines, shown)
    return Source(shown, data if data is not None else {}, lines)
