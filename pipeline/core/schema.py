"""Typed reading of YAML data with precise errors (file, line, dotted key, "did you mean").

A :class:`Reader` walks the merged matrix data; every value it hands out has been type-checked,
and every string has passed the rpm macro allowlist (:mod:`pipeline.core.rpmtext`): no value
can make rpm run code. Names that become folder names pass :func:`checked_name`.
"""

from __future__ import annotations

import builtins
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pipeline.core.errors import InputError
from pipeline.core.rpmtext import STATIC_ALLOWED, value_problem

#: OS ids, flavors, packages, features, cells, scenarios: they become folder and file names
_SAFE_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]*")


@dataclass
class Origin:
    """Where each dotted key came from: (file, line); and the macros values may reference."""

    places: dict[str, tuple[str, int]]
    macros: frozenset[str] = field(default=STATIC_ALLOWED)

    def of(self, key: str) -> tuple[str, int | None]:
        parts = key.split(".")
        while parts:
            hit = self.places.get(".".join(parts))
            if hit:
                return hit
            parts.pop()
        first = next(iter(self.places.values()), ("matrix.yaml", 0))
        return first[0], None

    def error(self, key: str, message: str) -> InputError:
        file, line = self.of(key)
        return InputError(message, file=file, line=line, key=key)


class Reader:
    """A typed view of one mapping at ``key`` in the merged data."""

    def __init__(self, data: Any, key: builtins.str, origin: Origin) -> None:
        if not isinstance(data, dict):
            raise origin.error(key or "(top)", f"expected a mapping, got {_kind(data)}")
        self.data: dict[str, Any] = data
        self.key = key
        self.origin = origin

    def _k(self, name: builtins.str) -> builtins.str:
        return f"{self.key}.{name}" if self.key else name

    def error(self, name: builtins.str, message: builtins.str) -> InputError:
        return self.origin.error(self._k(name), message)

    def only(self, allowed: Iterable[str]) -> None:
        """Reject keys outside ``allowed``, suggesting the closest one."""
        allowed = list(allowed)
        for name in self.data:
            if name not in allowed:
                close = difflib.get_close_matches(str(name), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error(str(name), f"unknown key{hint}")

    def has(self, name: builtins.str) -> builtins.bool:
        return self.data.get(name) is not None

    def raw(self, name: builtins.str) -> Any:
        return self.data.get(name)

    def str(self, name: builtins.str, default: builtins.str | None = None, *,
            line: builtins.bool = True) -> builtins.str:
        value = self.data.get(name, default)
        if value is None:
            raise self.error(name, "missing required key")
        _need_str(value, self._k(name), self.origin)
        return checked_str(str(value), self._k(name), self.origin, line=line)

    def opt_str(self, name: builtins.str) -> builtins.str | None:
        return self.str(name) if self.has(name) else None

    def int(self, name: builtins.str, default: builtins.int | None = None) -> builtins.int | None:
        value = self.data.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"expected an integer, got {_kind(value)}")
        return builtins.int(value)

    def bool(self, name: builtins.str, default: builtins.bool = False) -> builtins.bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {_kind(value)}")
        return value

    def list(self, name: builtins.str) -> builtins.list[Any]:
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(name, f"expected a list, got {_kind(value)}")
        return value

    def str_list(self, name: builtins.str) -> tuple[builtins.str, ...]:
        items = self.list(name)
        out = []
        for index, item in enumerate(items):
            _need_str(item, self._k(f"{name}.{index}"), self.origin)
            out.append(checked_str(str(item), self._k(f"{name}.{index}"), self.origin))
        return tuple(out)

    def prose(self, name: builtins.str, default: builtins.str = "") -> builtins.str:
        """A note for people that never reaches rpm (provenance, what a source left open): one
        line without NUL, but exempt from the macro allowlist ("the %files of ...")."""
        value = self.data.get(name, default)
        return _prose_text(value, self._k(name), self.origin)

    def prose_list(self, name: builtins.str) -> tuple[builtins.str, ...]:
        """Notes as :meth:`prose`, one per list item."""
        return tuple(_prose_text(item, self._k(f"{name}.{index}"), self.origin)
                     for index, item in enumerate(self.list(name)))

    def sub(self, name: builtins.str, *, required: builtins.bool = True) -> Reader:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self.error(name, "missing required key")
            value = {}
        return Reader(value, self._k(name), self.origin)

    def items(self, name: builtins.str) -> builtins.list[tuple[builtins.str, Reader]]:
        mapping = self.sub(name, required=False)
        return [(str(k), mapping.sub(str(k))) for k in mapping.data]


def _need_str(value: Any, key: str, origin: Origin) -> None:
    """Strings and integers only: YAML reads ``6.10`` as the number 6.1, silently."""
    if isinstance(value, float):
        raise origin.error(key, f"expected a string, got the number {value!r}: YAML reads "
                                "unquoted 6.10 as 6.1; write it quoted (\"6.10\")")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise origin.error(key, f"expected a string, got {_kind(value)}")


def _prose_text(value: Any, key: str, origin: Origin) -> str:
    _need_str(value, key, origin)
    text = str(value)
    if "\0" in text or "\n" in text or "\r" in text:
        raise origin.error(key, "a note must be one line without NUL characters")
    return text


def checked_name(value: Any, key: str, origin: Origin) -> str:
    """``value`` when it is a safe name (letters, digits, ``._+-``, no leading dot, no ``..``)."""
    text = str(value)
    if isinstance(value, (bool, float)) or not _SAFE_NAME.fullmatch(text) or ".." in text:
        raise origin.error(key, f"unsafe name {text!r}: use letters, digits and ._+- only, "
                                "not starting with '.', without '..'")
    return text


def checked_str(value: str, key: str, origin: Origin, *, line: bool = True) -> str:
    """``value`` when rpm may see it (the macro allowlist) and it is one line if ``line``."""
    why = value_problem(value, origin.macros)
    if why:
        raise origin.error(key, f"rpm would see this value: {why}")
    if "\0" in value:
        raise origin.error(key, "value contains a NUL character")
    if line and ("\n" in value or "\r" in value):
        raise origin.error(key, "value must be a single line")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)
