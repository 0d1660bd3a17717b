"""YAML with positions: every mapping key and sequence item remembers its line.

The matrix parser reads plain dicts and lists from :func:`load`, and asks the returned
:class:`Source` for the line of a dotted key when it reports an error. Duplicate keys are errors
(PyYAML silently keeps the last one).
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


def load(path: Path, *, display: str | None = None) -> Source:
    """Load ``path``; syntax errors become InputError with the file and line."""
    shown = Path(display) if display else path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=str(shown)) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()  # one parse: positions from the nodes, data built
        data = loader.construct_document(node) if node is not None else None  # from them
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InputError(f"invalid YAML: {exc.problem}", file=str(shown), line=line) from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    if node is not None:
        _walk(node, "", lines, shown)
    return Source(shown, data if data is not None else {}, lines)
