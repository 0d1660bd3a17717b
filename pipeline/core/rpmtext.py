"""The rpm macro allowlist: what a value from the tree's data may say to rpm.

Every string read from the matrix, profiles, ledgers, legacy manifests and scenarios may reach a
spec, a macro file or an rpm command line, where rpm expands macros in it (in comments and
``%changelog`` too). A blocklist of ``%(`` and ``%{lua:`` is not enough: rpm can assemble those
words from other macros, expand twice, load a macro file. So a value may hold ``%`` only as

- ``%%``, a literal percent, and never right before something that would make a macro out of
  it if the text were expanded a second time (``%%(``, ``%%{``, ``%%name``, ``%%%``);
- ``%NAME``, ``%{NAME}`` or ``%{?NAME}`` where NAME is on an explicit list: the spec's own
  name/version/release/epoch, ``dist``, the path macros, and the parameterless macros the
  tree's OS macro files define.

No nesting, no arguments, no ``:``, no ``%(...)`` nor ``%[...]``: everything else is refused.
The OS macro files themselves are checked by :func:`check_macro_file`: they may define plain
and parametric macros whose bodies reference other macros, but no built-in that evaluates
(``expand``, ``load``, ``lua``, ``define``...), no ``%(...)``, ``%[...]`` and no ``%{?x:...}``.
"""

from __future__ import annotations

import re

SPEC_OWN = ("name", "version", "release", "epoch", "dist")
PATH_MACROS = (
    "_prefix", "_exec_prefix", "_bindir", "_sbindir", "_libdir", "_lib", "_libexecdir",
    "_datadir", "_datarootdir", "_sysconfdir", "_localstatedir", "_sharedstatedir",
    "_includedir", "_mandir", "_infodir", "_docdir", "_rundir", "_unitdir", "_initddir",
    "_tmpfilesdir", "_pkgdocdir", "buildroot", "_arch", "_target_cpu",
)
#: values may reference these (plus the names the tree's OS macro files define)
STATIC_ALLOWED = frozenset(SPEC_OWN + PATH_MACROS)

#: rpm's built-in macros (rpm 4.14 to 4.19, macro.c ``builtinmacros`` and the lua string
#: functions): none may be named in a macro file, defined, or called
BUILTINS = frozenset((
    "basename", "define", "dirname", "dnl", "dump", "echo", "error", "exists", "expand",
    "expr", "getconfdir", "getenv", "getncpus", "global", "load", "lua", "macrobody", "quote",
    "rpmversion", "shescape", "shrink", "suffix", "trace", "uncompress", "undefine",
    "url2path", "u2p", "verbose", "warn", "gsub", "len", "lower", "rep", "reverse", "sub",
    "upper", "span", "include", "S", "P", "F", "optflags_eval", "eval",
))

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_BARE = re.compile(_NAME)
_BRACED = re.compile(r"\{(\?)?(" + _NAME + r")\}")
#: in a macro file: parameter references (%1, %*, %**, %#, %{-x}, %{-x*}, %{?-x}, %{?*}, %0)
_PARAM = re.compile(r"\*\*|\*|#|[0-9]+|\{\??!?-[A-Za-z]\*?\}|\{\?\*\}|\{\*\}|\{\?[0-9]+\}")
_FILE_REF = re.compile(r"\{(!?\??)(" + _NAME + r")\}")
_DEF = re.compile(r"%(" + _NAME + r")(\([^)]*\))?(\s|$)")


def value_problem(value: str, allowed: frozenset[str]) -> str | None:
    """Why ``value`` may not reach rpm (a sentence naming the fragment), or None when safe."""
    at = value.find("%")
    while at >= 0:
        rest = value[at + 1:]
        if rest.startswith("%"):
            if _escapes_to_macro(rest[1:2]):
                return (f"{value[at:at + 3]!r} would become a macro if rpm expanded the text"
                        " twice; refused")
            at = value.find("%", at + 2)
            continue
        bare, braced = _BARE.match(rest), _BRACED.match(rest)
        name = bare.group(0) if bare else braced.group(2) if braced else None
        if name is None:
            frag = value[at:at + 12]
            return (f"{frag!r}: only %%, %NAME, %{{NAME}} or %{{?NAME}} of an allowed macro may"
                    " appear (no expansion, arguments or nesting; %% is a literal %); refused")
        if name not in allowed:
            return (f"%{name} is not a macro a value may use (allowed: name, version, release,"
                    " epoch, dist, path macros and the OS macro files' own); refused")
        span = bare.end() if bare else braced.end()  # type: ignore[union-attr]
        at = value.find("%", at + 1 + span)
    return None


def _escapes_to_macro(after: str) -> bool:
    """Whether ``%%`` followed by ``after`` becomes a macro if expanded a second time."""
    return bool(after) and (after in "%{([?!-" or after.isalnum() or after == "_")


def macro_file_names(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(parameterless, parametric) names defined by the macro file ``text``."""
    plain: set[str] = set()
    param: set[str] = set()
    for line in _definitions(text):
        match = _DEF.match(line[1])
        if match:
            (param if match.group(2) else plain).add(match.group(1))
    return frozenset(plain), frozenset(param)


def _definitions(text: str) -> list[tuple[int, str]]:
    """(line number, text) of each definition start (continuation lines follow a ``\\``)."""
    out: list[tuple[int, str]] = []
    continued = False
    for number, line in enumerate(text.splitlines(), 1):
        if not continued and line.strip() and not line.lstrip().startswith("#"):
            out.append((number, line))
        continued = line.endswith("\\")
    return out


def macro_file_problem(text: str) -> tuple[int, str] | None:
    """(line, why) of the first thing in a macro file that would run code, or None."""
    continued = False
    for number, line in enumerate(text.splitlines(), 1):
        body: str | None = line if continued else _definition_body(line)
        continued = line.endswith("\\")
        if body is None:
            continue
        if body.startswith("\0"):
            return number, body[1:]
        why = _body_problem(body)
        if why:
            return number, why
    return None


def _definition_body(line: str) -> str | None:
    """The body of a definition line; None for blanks and comments; "\\0why" when bad."""
    if not line.strip() or line.lstrip().startswith("#"):
        return None
    match = _DEF.match(line)
    if not match:
        return "\0expected a definition '%name body' or '%name(opts) body'"
    if match.group(1) in BUILTINS:
        return f"\0redefines rpm's built-in %{match.group(1)}; refused"
    return line[match.end(1) + len(match.group(2) or ""):]


def _body_problem(body: str) -> str | None:
    at = body.find("%")
    while at >= 0:
        rest = body[at + 1:]
        if rest.startswith("%"):
            if _escapes_to_macro(rest[1:2]):
                return f"{body[at:at + 3]!r} would become a macro when expanded twice; refused"
            at = body.find("%", at + 2)
            continue
        param = _PARAM.match(rest)
        bare, braced = _BARE.match(rest), _FILE_REF.match(rest)
        if param:
            span = param.end()
        elif bare or braced:
            name = bare.group(0) if bare else braced.group(2)  # type: ignore[union-attr]
            if name in BUILTINS:
                return f"%{name} is an rpm built-in that evaluates; refused in a macro file"
            span = (bare or braced).end()  # type: ignore[union-attr]
        else:
            return (f"{body[at:at + 12]!r}: a macro file may only reference macros "
                    "(%name, %{name}, %{?name}, parameters), no %(...), %[...] or %{x:...}")
        at = body.find("%", at + 1 + span)
    return None
