"""Findings: what a check reports, with a stable kebab-case id, a level and the cell concerned."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Level = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Finding:
    id: str
    level: Level
    cell: str | None
    package: str | None
    detail: str

    def to_json(self) -> dict[str, str | None]:
        return dict(asdict(self))

    def line(self) -> str:
        where = "/".join(p for p in (self.cell, self.package) if p)
        return f"{self.level.upper():7} {self.id:32} {where}: {self.detail}"


def has_errors(findings: list[Finding]) -> bool:
    return any(f.level == "error" for f in findings)
