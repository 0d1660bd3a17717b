"""Profiles: overlay files merged onto ``matrix.yaml``.

Rules (README "Profiles"): mappings merge key by key, recursively; any other value (a string,
a number, a list) replaces the base value whole; ``null`` deletes the key. Each key remembers the
file and line that gave it its final value, so errors point at the overlay when it is to blame.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pipeline.core import yamlsrc
from pipeline.core.schema import Origin


def _places(source: yamlsrc.Source) -> dict[str, tuple[str, int]]:
    name = str(source.path)  # once: a 1 MiB matrix has ~60,000 keys
    return {key: (name, line) for key, line in source.lines.items()}


def _drop_prefix(places: dict[str, tuple[str, int]], prefix: str) -> None:
    for key in [k for k in places if k == prefix or k.startswith(prefix + ".")]:
        del places[key]


def merge(base: Any, over: Any, places: dict[str, tuple[str, int]],
          over_places: dict[str, tuple[str, int]], prefix: str = "") -> Any:
    """``over`` merged onto ``base`` (neither is modified); ``places`` is updated in place."""
    if not (isinstance(base, dict) and isinstance(over, dict)):
        _drop_prefix(places, prefix)
        places.update({k: v for k, v in over_places.items()
                       if k == prefix or k.startswith(prefix + ".")})
        return copy.deepcopy(over)
    out = dict(base)
    for key, value in over.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if value is None:
            out.pop(key, None)
            _drop_prefix(places, dotted)
            continue
        if key in out:
            out[key] = merge(out[key], value, places, over_places, dotted)
        else:
            out[key] = copy.deepcopy(value)
            places.update({k: v for k, v in over_places.items()
                           if k == dotted or k.startswith(dotted + ".")})
    return out


def load_layers(tree: Path, profiles: list[Path]) -> tuple[Any, Origin, tuple[str, ...]]:
    """The merged data of ``tree/matrix.yaml`` and ``profiles``, with the origin of each key."""
    base = yamlsrc.load(tree / "matrix.yaml", display=_show(tree / "matrix.yaml"))
    data, places = base.data, _places(base)
    files = [str(base.path)]
    for profile in profiles:
        layer = yamlsrc.load(profile, display=_show(profile))
        data = merge(data, layer.data, places, _places(layer))
        files.append(str(layer.path))
    return data, Origin(places), tuple(files)


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
