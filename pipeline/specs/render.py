"""Render the spec of every (OS release, flavor, package) from its Jinja2 template.

Pure apart from reading templates: :func:`render_all` returns the texts by path, and
:func:`write` / :func:`stale` compare or write them. Rendering is deterministic (no time stamps,
sorted inputs), so a re-run is byte-identical. OS and flavor conditions choose what goes into a
spec; arch conditions become ``%ifarch`` blocks, because koji builds one SRPM for every arch of
a target. A flavor gets its own spec only when its content really differs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from pipeline.core import files
from pipeline.core.errors import InputError
from pipeline.matrix.model import Cond, Flavor, Matrix, OsRelease, Package, Patch, When

HEADER = ("# Rendered by virt-pipeline from templates/{template} and the matrix.\n"
          "# Do not edit: change the template or matrix.yaml and run `virt-pipeline render`.\n")


@dataclass(frozen=True)
class SpecUnit:
    """One rendered spec: an OS release, an optional flavor, a package."""

    os: OsRelease
    flavor: Flavor | None
    package: Package

    @property
    def path(self) -> Path:
        parts = [self.os.id] + ([self.flavor.name] if self.flavor else [])
        return Path("specs", *parts, f"{self.package.name}.spec")

    @property
    def release(self) -> str:
        release = self.package.release_for(self.os.id)
        return release + (self.flavor.release_suffix if self.flavor else "")


def spec_path(matrix: Matrix, os_id: str, flavor: str | None, package: str) -> Path:
    """The rendered spec a cell uses: its flavor's own spec when one exists, else the OS spec."""
    if flavor:
        own = Path(matrix.specs_dir, os_id, flavor, f"{package}.spec")
        if own.exists():
            return own
    return Path(matrix.specs_dir, os_id, f"{package}.spec")


class _Helpers:
    """Functions the templates call; each returns spec text for one (OS, flavor, package)."""

    def __init__(self, unit: SpecUnit) -> None:
        self.unit = unit
        self.pkg = unit.package
        self.arches = unit.os.arches

    def _arches(self, when: When) -> tuple[str, ...]:
        os_, flavor, version = self.unit.os.id, self.unit.flavor, self.pkg.version
        fname = flavor.name if flavor else None
        if not when.matches(os=os_, arch=None, flavor=fname, version=version):
            return ()
        # A flavor's spec keeps the OS's arch blocks, so that it equals the OS spec unless a
        # flavor predicate really changes something.
        hits = tuple(a for a in self.arches
                     if when.matches(os=os_, arch=a, flavor=fname, version=version))
        return ("*",) if hits == self.arches else hits

    def grouped(self, conds: tuple[Cond[str], ...]) -> list[tuple[tuple[str, ...], list[str]]]:
        """Values grouped by the arches they apply to; ``("*",)`` means every arch."""
        groups: dict[tuple[str, ...], list[str]] = {}
        for cond in conds:
            arches = self._arches(cond.when)
            if arches:
                groups.setdefault(arches, []).append(cond.value)
        return sorted(groups.items(), key=lambda kv: (kv[0] != ("*",), kv[0]))

    def tags(self, tag: str, conds: tuple[Cond[str], ...]) -> str:
        return _blocks([(a, [f"{tag}: {v}" for v in vals]) for a, vals in self.grouped(conds)])

    def flags(self, name: str, conds: tuple[Cond[str], ...]) -> str:
        """``%global NAME`` holding the switches; arch-specific ones in ``%ifarch`` blocks."""
        groups = self.grouped(conds)
        common = " ".join(v for a, vals in groups if a == ("*",) for v in vals)
        lines = [f"%global {name} {common or '%{nil}'}".rstrip()]
        for arches, vals in groups:
            if arches != ("*",):
                lines += [f"%ifarch {' '.join(arches)}",
                          f"%global {name} %{{{name}}} {' '.join(vals)}", "%endif"]
        return "\n".join(lines)

    def bcond(self, feature: str) -> str:
        """``%global with_FEATURE 1|0``, per arch where the feature is arch-specific."""
        whens = self.pkg.features.get(feature)
        if whens is None:
            raise InputError(f"template asks for feature {feature!r}, which the matrix lacks",
                             file="matrix.yaml", key=f"packages.{self.pkg.name}.features")
        macro = "with_" + feature.replace("-", "_")
        arches = sorted({a for w in whens for a in self._arches(w)})
        if "*" in arches:
            return f"%global {macro} 1"
        if not arches:
            return f"%global {macro} 0"
        return "\n".join([f"%ifarch {' '.join(arches)}", f"%global {macro} 1", "%else",
                          f"%global {macro} 0", "%endif"])

    def obsoletes(self, by: str) -> str:
        """Obsoletes (and Provides) for every legacy package that ``by`` replaces here."""
        blocks: list[tuple[tuple[str, ...], list[str]]] = []
        for rep in self.pkg.replaces:
            arches = self._arches(rep.when)
            if rep.by != by or not arches:
                continue
            bound = rep.bound or "%{?epoch:%{epoch}:}%{version}-%{release}"
            lines = [f"Obsoletes: {rep.old} < {bound}"]
            if rep.provide:
                evr = "%{?epoch:%{epoch}:}%{version}-%{release}"
                lines.append(f"Provides: {rep.old} = {evr}")
            blocks.append((arches, lines))
        return _blocks(_merge(blocks))

    def series(self) -> list[tuple[Patch, tuple[str, ...]]]:
        return [(p, a) for p in self.pkg.patches if (a := self._arches(p.when))]

    def patch_tags(self) -> str:
        return "\n".join(f"Patch{p.number:04d}: {p.file}" for p, _ in self.series())

    def apply_patches(self) -> str:
        return _blocks(_merge([(a, [f"%patch -P {p.number} -p1"]) for p, a in self.series()]))

    def changelog(self) -> str:
        entries = []
        for entry in self.pkg.changelog:
            body = "\n".join(f"- {line.replace('%', '%%')}" for line in entry.lines)
            # an entry without a release gets this spec's (it differs per OS)
            evr = entry.evr if "-" in entry.evr else f"{entry.evr}-{self.unit.release}"
            entries.append(f"* {entry.date} {entry.author} - {evr}\n{body}")
        return "\n\n".join(entries)


Blocks = list[tuple[tuple[str, ...], list[str]]]


def _merge(blocks: Blocks) -> Blocks:
    """Join neighbouring blocks that share their arches."""
    out: list[tuple[tuple[str, ...], list[str]]] = []
    for arches, lines in blocks:
        if out and out[-1][0] == arches:
            out[-1][1].extend(lines)
        else:
            out.append((arches, list(lines)))
    return out


def _blocks(groups: Blocks) -> str:
    lines: list[str] = []
    for arches, vals in groups:
        if arches == ("*",):
            lines += vals
        else:
            lines += [f"%ifarch {' '.join(arches)}", *vals, "%endif"]
    return "\n".join(lines)


def _environment(tree: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(tree / "templates")),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - spec files, not HTML
    )


def render_unit(env: jinja2.Environment, matrix: Matrix, unit: SpecUnit) -> str:
    helpers = _Helpers(unit)
    context: dict[str, Any] = {
        "pkg": unit.package, "os": unit.os, "flavor": unit.flavor, "release": unit.release,
        "vendor": matrix.vendor, "packager": matrix.packager,
    }
    funcs: dict[str, Callable[..., Any]] = {
        name: getattr(helpers, name)
        for name in ("tags", "flags", "bcond", "obsoletes", "patch_tags", "apply_patches",
                     "changelog")
    }
    template_name = unit.package.template
    try:
        text = env.get_template(template_name).render(**context, **funcs)
    except jinja2.UndefinedError as exc:
        raise InputError(str(exc), file=f"templates/{template_name}",
                         line=_template_line(template_name),
                         key=f"packages.{unit.package.name}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"template syntax: {exc.message}", file=f"templates/{template_name}",
                         line=exc.lineno) from None
    return HEADER.format(template=template_name) + text


def _template_line(name: str) -> int | None:
    tb = sys.exc_info()[2]
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(name):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def units(matrix: Matrix) -> list[SpecUnit]:
    out = []
    for os_ in matrix.oses.values():
        for pkg in matrix.packages.values():
            out.append(SpecUnit(os_, None, pkg))
            out += [SpecUnit(os_, matrix.flavors[f], pkg) for f in os_.flavors]
    return out


def render_all(matrix: Matrix) -> dict[Path, str]:
    """Every spec's text, keyed by its path relative to the tree."""
    env = _environment(Path(matrix.root))
    texts: dict[Path, str] = {}
    plain: dict[tuple[str, str], str] = {}
    for unit in units(matrix):
        text = render_unit(env, matrix, unit)
        key = (unit.os.id, unit.package.name)
        if unit.flavor is None:
            plain[key] = text
            texts[unit.path] = text
        elif text != plain[key]:
            texts[unit.path] = text
    return dict(sorted(texts.items()))


def stale(tree: Path, texts: dict[Path, str]) -> list[str]:
    """Files that differ from, are missing for, or are not produced by a render."""
    out = [str(p) for p, t in texts.items() if _read(tree / p) != t]
    specs = tree / "specs"
    if specs.is_dir():
        produced = {tree / p for p in texts}
        out += [str(p.relative_to(tree)) + " (not rendered any more)"
                for p in sorted(specs.rglob("*.spec"))
                if p not in produced and rendered_by_us(p)]
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def write(tree: Path, texts: dict[Path, str]) -> list[str]:
    """Write what changed (atomically per file), remove the orphans render wrote; the paths
    touched. Every target stays inside ``specs/`` (no symlink leads out); a ``.spec`` there that
    render did not write (no header) is kept and reported, never deleted."""
    specs = tree / "specs"
    files.inside(specs, tree)  # specs/ itself may not lead out of the tree
    changed = []
    for rel, text in texts.items():
        if _read(tree / rel) == text:
            continue
        files.write_text(tree / rel, text, specs)
        changed.append(str(rel))
    produced = {tree / p for p in texts}
    for orphan in sorted(specs.rglob("*.spec")) if specs.is_dir() else []:
        if orphan in produced:
            continue
        if not rendered_by_us(orphan):
            changed.append(str(orphan.relative_to(tree)) + " (kept: not written by render)")
            continue
        files.inside(orphan, specs).unlink()
        changed.append(str(orphan.relative_to(tree)) + " (removed)")
    return changed


def rendered_by_us(path: Path) -> bool:
    """Whether ``path`` starts with the header render writes."""
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            return fh.readline().startswith(HEADER.split("{", 1)[0])
    except OSError:
        return False
