"""What every command receives: the tree, the profiles, the loaded matrix, and output helpers."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.core import files
from pipeline.core.redact import redact, redact_data
from pipeline.matrix import load as matrix_mod
from pipeline.matrix.model import Matrix
from pipeline.specs import render


@dataclass
class Context:
    tree: Path
    profiles: list[Path] = field(default_factory=list)
    json: bool = False
    _matrix: Matrix | None = None
    #: the command's result as last given to :meth:`emit_json` (the CLI keeps it as the run's
    #: record in ``.cache/runs/<run_name>.json``); ``run_name`` None: not kept (a dry run)
    result: Any = None
    run_name: str | None = None

    def matrix(self) -> Matrix:
        """The matrix with the profiles applied. With profiles, specs are rendered into a
        cache folder named by the profile's content (the committed specs/ are the base's)."""
        if self._matrix is None:
            loaded = matrix_mod.load(self.tree, self.profiles)
            if self.profiles:
                texts = render.render_all(loaded)
                digest = hashlib.sha256(repr(sorted(texts.items())).encode()).hexdigest()[:16]
                root = self.cache_dir / "profile-specs" / digest
                render.write(root, texts)
                loaded = dataclasses.replace(loaded, specs_dir=str(root / "specs"))
            self._matrix = loaded
        return self._matrix

    @property
    def cache_dir(self) -> Path:
        """Where downloaded sources, build results and roots are kept (``.cache/`` in the tree)."""
        return self.tree / ".cache"

    def cache_path(self, *parts: str) -> Path:
        """``.cache/<parts>`` resolved, refused (exit 2, naming it) where a planted link leads
        it out of the tree: for the callers that hand a resolved folder on."""
        return files.inside(self.cache_dir.joinpath(*parts), self.tree)

    def emit_json(self, obj: Any) -> None:
        """The command's result: printed as JSON with ``--json`` (credentials in URLs
        redacted), kept as the run's record either way. Commands call it unconditionally and
        print their text lines when ``not ctx.json``."""
        self.result = obj
        if self.json:
            json.dump(redact_data(json.loads(json.dumps(obj, default=str))), sys.stdout,
                      indent=2, sort_keys=True)
            sys.stdout.write("\n")

    def note(self, line: str) -> None:
        """A progress note, always to stderr."""
        print(f"virt-pipeline: {redact(line)}", file=sys.stderr, flush=True)

    def say(self, line: str) -> None:
        """A human line: to stdout normally, to stderr when stdout carries JSON."""
        print(redact(line), file=sys.stderr if self.json else sys.stdout, flush=True)
