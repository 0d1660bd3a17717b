"""Build backends, one module each, all satisfying :class:`.base.Builder`.

``local`` (rpmbuild on this host, the default), ``mock`` (a chroot per cell) and ``koji``
(the distributed engine). :func:`make_builder` is the one registry.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.builds.builders.base import Builder
from pipeline.matrix.model import Matrix

#: backend name -> (module, class)
BACKENDS: dict[str, tuple[str, str]] = {
    "local": ("rpmbuild", "RpmbuildBuilder"),
    "mock": ("mock", "MockBuilder"),
    "koji": ("koji", "KojiBuilder"),
}


@dataclass(frozen=True)
class BackendOptions:
    skip_deps: bool = False
    forcearch: bool = False
    koji_config: Path | None = None
    koji_profile: str | None = None
    koji_free_deadline: float | None = None    # minutes a task may stay FREE
    koji_deadline: float | None = None         # minutes one koji build may take
    cancel_on_interrupt: bool = False
    mock_template_repos: bool = False          # keep the mock template's own repositories
    workdir: Path = Path(".cache")
    matrix: Matrix | None = None


def make_builder(name: str, options: BackendOptions) -> Builder:
    module_name, class_name = BACKENDS[name]
    module = importlib.import_module(f".{module_name}", __package__)
    factory: Any = getattr(module, "from_options", None)
    if factory is not None:
        builder: Builder = factory(options)
        return builder
    cls: Any = getattr(module, class_name)
    built: Builder = cls()
    return built
