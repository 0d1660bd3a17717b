"""Stand-ins for the new package set, read from the rendered specs before anything is built:
names, EVRs and dependencies as rpmspec reports them for a cell, and each ``%files`` line turned
into file entries with modes and ``%config`` flags (globs get a representative path)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.matrix.model import Cell
from pipeline.specs import rpmspec
from pipeline.upgrade.manifest import FileEntry, PackageManifest, self_dependency

#: section keywords that end a %files section
_SECTIONS = ("package", "description", "prep", "build", "install", "check", "clean", "files",
             "changelog", "pre", "post", "preun", "postun", "pretrans", "posttrans",
             "verifyscript", "triggerin", "triggerun", "triggerpostun", "triggerprein",
             "filetriggerin", "filetriggerun", "filetriggerpostun", "transfiletriggerin",
             "transfiletriggerun", "transfiletriggerpostun", "generate_buildrequires")
_SECTION_RE = re.compile(r"^%(" + "|".join(_SECTIONS) + r")(?:\s+(.*))?$")
_TOKEN_RE = re.compile(r'%[a-z_]+(?:\([^)]*\))?|"[^"]*"|\S+')
_EXEC_DIRS = re.compile(r"/(?:s?bin|libexec)/[^/]+$|\.so(?:\.[0-9.]+)?$")
_SCRIPT_NAMES = {"pre", "post", "preun", "postun", "pretrans", "posttrans"}


@dataclass(frozen=True)
class FilesLine:
    """One path of a ``%files`` section with its directives (rpm's view, before globbing)."""

    path: str
    dir: bool = False            # %dir: the folder only
    folder: bool = False         # PATH/ : the folder and everything in it
    config: bool = False
    mode: int | None = None      # from %attr / %defattr, None = rpm's default
    doc: bool = False            # %doc / %license with a relative path
    ghost: bool = False
    exclude: bool = False


@dataclass(frozen=True)
class SpecSections:
    """What ``from_spec`` needs from an expanded spec: %files lines and scriptlets per package
    (the body of each shell scriptlet as rpm expanded it; ``:`` for another interpreter)."""

    files: dict[str, list[FilesLine]]
    scriptlets: dict[str, dict[str, str]]


def _section_package(main: str, args: str) -> str:
    """The package a section header (``%files -n x``, ``%post sub``) belongs to."""
    words = shlex.split(args or "")
    name, index = main, 0
    while index < len(words):
        word = words[index]
        if word == "-n" and index + 1 < len(words):
            name, index = words[index + 1], index + 2
        elif word in ("-f", "-p") and index + 1 < len(words):
            index += 2
        elif word.startswith("-"):
            index += 1
        else:
            name, index = f"{main}-{word}", index + 1
    return name


def parse_spec_sections(expanded: str) -> SpecSections:
    """Split ``rpmspec -P`` output into %files lines and scriptlets per package."""
    main_match = re.search(r"^Name:\s*(\S+)", expanded, re.M)
    main = main_match.group(1) if main_match else ""
    files: dict[str, list[FilesLine]] = {}
    bodies: dict[str, dict[str, list[str]]] = {}
    current: str | None = None
    script: list[str] | None = None
    defattr: tuple[int | None, int | None] = (None, None)
    for raw in expanded.splitlines():
        line = raw.strip()
        section = _SECTION_RE.match(line)
        if section:
            kind, args = section.group(1), section.group(2) or ""
            current, script = None, None
            if kind == "files":
                current = _section_package(main, args)
                files.setdefault(current, [])
                defattr = (None, None)
            elif kind in _SCRIPT_NAMES:
                script = bodies.setdefault(_section_package(main, args), {}).setdefault(kind, [])
                if _interpreter(args) not in (None, "/bin/sh", "/bin/bash"):
                    script.append(":")
                    script = None
            continue
        if script is not None:
            script.append(raw)
            continue
        if current is None or not line or line.startswith("#"):
            continue
        if line.startswith("%defattr"):
            defattr = _defattr(line)
            continue
        files[current].extend(parse_files_line(line, defattr=defattr))
    scripts = {pkg: {kind: "\n".join(x.rstrip() for x in lines).strip() or ":"
                     for kind, lines in kinds.items()} for pkg, kinds in bodies.items()}
    return SpecSections(files=files, scriptlets=scripts)


def spec_summaries(expanded: str) -> dict[str, str]:
    """Each package's ``Summary:`` in an expanded spec (the main one before any %package)."""
    main_match = re.search(r"^Name:\s*(\S+)", expanded, re.M)
    current = main_match.group(1) if main_match else ""
    out: dict[str, str] = {}
    for line in expanded.splitlines():
        header = re.match(r"^%package\s+(.*)$", line.strip())
        if header:
            current = _section_package(main_match.group(1) if main_match else "", header.group(1))
            continue
        found = re.match(r"^Summary:\s*(.*?)\s*$", line)
        if found and current not in out:
            out[current] = found.group(1)
    return out


def _interpreter(args: str) -> str | None:
    """The ``-p PROGRAM`` of a scriptlet header, None without one."""
    words = shlex.split(args or "")
    for index, word in enumerate(words[:-1]):
        if word == "-p":
            return words[index + 1]
    return None


def _octal(text: str) -> int | None:
    text = text.strip()
    return int(text, 8) if re.fullmatch(r"[0-7]{3,4}", text) else None


def _defattr(line: str) -> tuple[int | None, int | None]:
    inner = line[line.find("(") + 1:line.rfind(")")].split(",")
    return _octal(inner[0]), _octal(inner[3]) if len(inner) > 3 else None


def parse_files_line(line: str, *, defattr: tuple[int | None, int | None] = (None, None),
                     ) -> list[FilesLine]:
    """The paths of one %files line with their directives (a pure function)."""
    flags: dict[str, object] = {}
    mode: int | None = None
    paths = []
    for token in _TOKEN_RE.findall(line):
        if token.startswith("%"):
            word = token[1:].split("(")[0]
            if word == "attr":
                mode = _octal(token[token.find("(") + 1:-1].split(",")[0])
            elif word in ("dir", "ghost", "exclude"):
                flags[word] = True
            elif word == "config":
                flags["config"] = True
            elif word in ("doc", "license"):
                flags["doc"] = True
            continue
        paths.append(token.strip('"'))
    out = []
    for path in paths:
        is_dir = bool(flags.get("dir"))
        folder = path.endswith("/") and not is_dir
        chosen = mode if mode is not None else (defattr[1] if is_dir or folder else defattr[0])
        out.append(FilesLine(path=path.rstrip("/") or "/", dir=is_dir, folder=folder,
                             config=bool(flags.get("config")), mode=chosen,
                             doc=bool(flags.get("doc")) and not path.startswith("/"),
                             ghost=bool(flags.get("ghost")), exclude=bool(flags.get("exclude"))))
    return out


def glob_regex(pattern: str) -> re.Pattern[str]:
    """rpm's %files glob as a regex: ``*``/``?`` stay within one path component."""
    out, index = "", 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.find("]", index)
            out += pattern[index:end + 1] if end > 0 else re.escape(char)
            index = end if end > 0 else index
        elif char == "{":
            end = pattern.find("}", index)
            alternatives = pattern[index + 1:end].split(",")
            out += "(?:" + "|".join(re.escape(a) for a in alternatives) + ")"
            index = end
        else:
            out += re.escape(char)
        index += 1
    return re.compile(out + r"\Z")


def representative(pattern: str, *, package: str) -> str:
    """One concrete path for a glob: ``*`` dropped (or the package name where that leaves a
    dangling ``.``/``-``), ``?`` -> ``x``, ``[..]`` -> its first character, ``{a,b}`` -> ``a``."""
    path = re.sub(r"\{([^,}]*)[^}]*\}", r"\1", pattern)
    path = re.sub(r"\[!?\^?(.)[^\]]*\]", r"\1", path).replace("?", "x")
    parts = []
    for part in path.split("/"):
        bare = part.replace("*", "")
        parts.append(part.replace("*", package) if "*" in part and
                     (not bare or bare[-1] in ".-_") else bare)
    return "/".join(parts)


def is_glob(path: str) -> bool:
    return any(c in path for c in "*?[{")


def from_spec(tree: Path, cell: Cell, spec: Path, *,
              known: Iterable[FileEntry] = ()) -> list[PackageManifest]:
    """New-set stand-ins from a rendered spec, for one cell (no build needed).

    Names, EVRs and Provides/Requires/Obsoletes/Conflicts are rpm's (``rpmspec -q``, self
    provides left to rpmbuild); files come from the expanded %files sections: ``%dir``,
    ``%config``, ``%attr``/``%defattr`` modes kept, ``%doc``/``%license`` relative names put
    under /usr/share/doc/NAME, ``%ghost`` and ``%exclude``d paths left out, ``-f`` lists
    ignored. A glob becomes one representative path plus every path of ``known`` (e.g. the
    legacy set's files) it matches, so a pre-flight sees conflicts inside globbed folders; a
    folder listed without ``%dir`` owns the ``known`` paths under it. Files default to 0644,
    0755 in bin/sbin/libexec folders and for shared objects. Content is the same for a path
    in every package of the spec (rpm then sees no conflict between them). Shell scriptlets
    keep their expanded bodies, so what they ask of systemd is observed in the sandbox.
    """
    expanded = rpmspec.expand(tree, cell, spec)
    sections = parse_spec_sections(expanded)
    summaries = spec_summaries(expanded)
    known_files = {entry.path: entry for entry in known}
    out = []
    for sp in rpmspec.packages(tree, cell, spec):
        entries = spec_files(sp.name, sections.files.get(sp.name, []), known=known_files)
        label = f"stand-in of {spec.stem} {sp.evr} for {cell.id}"
        entries = tuple(replace(e, content=f"{label}: {e.path}\n") if e.kind == "file" else e
                        for e in entries)
        scriptlets = dict(sorted(sections.scriptlets.get(sp.name, {}).items()))
        # rpmspec lists each scriptlet's interpreter (Requires(post): /bin/sh) as a plain
        # requirement; rpmbuild adds those back for the stand-in's own scriptlets
        requires = [r for r in sp.requires if not (scriptlets and r == "/bin/sh")]
        out.append(PackageManifest(
            name=sp.name, epoch=sp.epoch, version=sp.version, release=sp.release,
            arch=sp.arch, summary=summaries.get(sp.name, ""), provides=tuple(d for d in sp.provides
                                         if not self_dependency(sp.name, sp.evr, d)),
            requires=tuple(dict.fromkeys(requires)), obsoletes=sp.obsoletes,
            conflicts=sp.conflicts, files=entries, scriptlets=scriptlets))
    return out


def spec_files(name: str, lines: Sequence[FilesLine], *,
               known: Mapping[str, FileEntry]) -> tuple[FileEntry, ...]:
    """The FileEntries of one package's %files lines (see :func:`from_spec`)."""
    excluded = [glob_regex(line.path) for line in lines if line.exclude]
    found: dict[str, FileEntry] = {}
    for line in lines:
        if line.exclude or line.ghost:
            continue
        path = f"/usr/share/doc/{name}/{line.path}" if line.doc else line.path
        for entry in _line_entries(name, path, line, known):
            if not any(rx.match(entry.path) or rx.match(_parent(entry.path))
                       for rx in excluded):
                found.setdefault(entry.path, entry)
    return tuple(found.values())


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0]


def _line_entries(name: str, path: str, line: FilesLine,
                  known: Mapping[str, FileEntry]) -> list[FileEntry]:
    if is_glob(path):
        rx = glob_regex(path)
        hits = [_like(known[p], line) for p in sorted(known) if rx.match(p)]
        return [*hits, _entry(representative(path, package=name), line,
                              is_dir=line.dir or line.folder)]
    if line.dir:  # `%dir PATH` owns the folder only
        return [_entry(path, line, is_dir=True)]
    below = [p for p in sorted(known) if p.startswith(path + "/")]
    if line.folder or below:  # a folder listed as such owns what is in it
        return [_entry(path, line, is_dir=True), *(_like(known[p], line) for p in below)]
    return [_entry(path, line, is_dir=False)]


def _like(entry: FileEntry, line: FilesLine) -> FileEntry:
    """A path the new package owns because a glob or a folder of it covers a known path."""
    if entry.kind == "dir":
        return FileEntry(path=entry.path, kind="dir", mode=line.mode or 0o755)
    return _entry(entry.path, line, is_dir=False)


def _entry(path: str, line: FilesLine, *, is_dir: bool) -> FileEntry:
    if is_dir:
        return FileEntry(path=path, kind="dir", mode=line.mode or 0o755)
    default = 0o755 if _EXEC_DIRS.search(path) else 0o644
    return FileEntry(path=path, mode=line.mode if line.mode is not None else default,
                     config=line.config)
