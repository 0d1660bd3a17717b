"""Python 2.7 compatibility of a libvirt-python tree (our port of 6.2.0 to Python 2).

Upstream dropped Python 2 in libvirt-python 6.0.0 (commit
b22e4f2441078aec048b9503fde2b45e78710ce1); ``patches/libvirt-python`` undoes that. This module
checks a (patched) tree: it builds it with a Python 2.7 interpreter and byte-compiles every
module that ``setup.py`` installs for Python 2.

libvirt-python 6.2.0's code generator stops at APIs newer than itself, and the build host has a
newer libvirt (Debian 12: 9.0.0). ``write_restricted_pkgconfig`` therefore writes a
``libvirt.pc`` whose ``libvirt_api`` points at copies of the API XML files cut down to what
libvirt <= 6.2.0 had (``restrict_api_text``, by the ``version`` attribute that libvirt's API
XML carries, or by the ELF symbol versions of libvirt.so for XML without it).
"""

from __future__ import annotations

import ast
import re
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import files as fs
from pipeline.core.cmd import run
from pipeline.core.errors import PipelineError
from pipeline.core.findings import Finding

PACKAGE = "libvirt-python"
#: Python modules produced by generator.py, and the generator's module argument for each.
GENERATED = {"libvirt": "libvirt", "libvirt_qemu": "libvirt-qemu", "libvirt_lxc": "libvirt-lxc"}
#: API XML files next to the one named by libvirt.pc's ``libvirt_api`` (setup.py derives them).
API_SUFFIXES = ("-api.xml", "-qemu-api.xml", "-lxc-api.xml")
DEFAULT_PC = Path("/usr/lib/x86_64-linux-gnu/pkgconfig/libvirt.pc")
BUILD_TIMEOUT = 900.0

# Runs under Python 2.7 and 3: one line per file, "OK<TAB>path" or
# "ERR<TAB>path<TAB>line<TAB>message".
_COMPILE_SCRIPT = r"""
import sys
for path in sys.argv[1:]:
    try:
        with open(path, "rb") as fh:
            compile(fh.read(), path, "exec", 0, True)
        sys.stdout.write("OK\t%s\n" % path)
    except SyntaxError as e:
        msg = str(e.msg).replace("\t", " ").replace("\n", " ")
        sys.stdout.write("ERR\t%s\t%s\t%s\n" % (path, e.lineno or "", msg))
    except Exception as e:
        msg = ("%s: %s" % (type(e).__name__, e)).replace("\t", " ").replace("\n", " ")
        sys.stdout.write("ERR\t%s\t\t%s\n" % (path, msg))
"""


@dataclass(frozen=True)
class CompileResult:
    """The outcome of byte-compiling one file; ``line`` is None when it compiled or is unknown."""

    path: Path
    ok: bool
    line: int | None = None
    message: str = ""

    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else str(self.path)


@dataclass(frozen=True)
class BuildResult:
    """The outcome of ``PYTHON setup.py build`` in a tree."""

    ok: bool
    lib_dir: Path | None
    output: str


# ---------------------------------------------------------------- versions and API XML


def version_tuple(text: str) -> tuple[int, ...]:
    """``"6.10.0"`` -> ``(6, 10, 0)``; ValueError on anything that is not dotted integers."""
    parts = text.strip().split(".")
    if not text.strip() or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a version: {text!r}")
    return tuple(int(p) for p in parts)


_SYMBOL_RE = re.compile(r"\sLIBVIRT_(?:(?:QEMU|LXC|ADMIN)_)?(\d+(?:\.\d+)+)\s+(\w+)\s*$")


def parse_symbol_versions(objdump_text: str) -> dict[str, str]:
    """Symbol name -> libvirt version, from ``objdump -T`` of libvirt*.so.

    Only symbols the library defines count (undefined ``*UND*`` imports and the
    ``LIBVIRT_PRIVATE_*`` set are skipped), e.g. ``... .text ... LIBVIRT_6.10.0 virFoo``.
    """
    versions: dict[str, str] = {}
    for line in objdump_text.splitlines():
        if "*UND*" in line or "*ABS*" in line:
            continue
        match = _SYMBOL_RE.search(line)
        if match:
            versions[match.group(2)] = match.group(1)
    return versions


def library_symbol_versions(lib: Path) -> dict[str, str]:
    """Thin wrapper: ``parse_symbol_versions`` of ``objdump -T LIB``."""
    return parse_symbol_versions(run(["objdump", "-T", lib]).stdout)


def _element_version(elem: ET.Element, symbol_versions: Mapping[str, str]) -> str | None:
    version = elem.get("version")
    if version is None and elem.tag == "function":
        version = symbol_versions.get(elem.get("name", ""))
    return version


def restrict_api_text(xml_text: str, max_version: str, *,
                      symbol_versions: Mapping[str, str] | None = None) -> tuple[str, int]:
    """The API XML without the symbols newer than ``max_version``, and how many were removed.

    A symbol's version is its ``version`` attribute (libvirt's API XML has one on functions,
    enums, macros, typedefs and structs) or, for a function without it, ``symbol_versions``.
    ``<exports symbol=...>`` entries of removed symbols go too. Elements without any version
    are kept.
    """
    limit = version_tuple(max_version)
    known = symbol_versions or {}
    root = ET.fromstring(xml_text)  # noqa: S314 - libvirt's own API XML from this host
    removed_names: set[str] = set()
    removed = 0
    for parent in list(root.iter()):
        for child in list(parent):
            version = _element_version(child, known)
            if version is not None and version_tuple(version) > limit:
                parent.remove(child)
                removed_names.add(child.get("name", ""))
                removed += 1
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag == "exports" and child.get("symbol") in removed_names:
                parent.remove(child)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n", removed


def restrict_api_xml(src: Path, dst: Path, max_version: str, *,
                     symbol_versions: Mapping[str, str] | None = None) -> int:
    """Write ``src`` restricted to ``max_version`` to ``dst``; returns the number removed."""
    text, removed = restrict_api_text(src.read_text(encoding="utf-8"), max_version,
                                      symbol_versions=symbol_versions)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(text, encoding="utf-8")
    return removed


def pc_variable(pc_text: str, name: str) -> str | None:
    """The value of variable ``name`` in a pkg-config file (no ``${...}`` expansion)."""
    for line in pc_text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == name and ":" not in key:
            return value.strip()
    return None


def rewrite_pc_text(pc_text: str, api_dir: Path) -> str:
    """``pc_text`` with every ``*_api`` variable pointing into ``api_dir`` (same file names)."""
    out = []
    for line in pc_text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().endswith("_api") and ":" not in key:
            line = f"{key.strip()}={api_dir / Path(value.strip()).name}"
        out.append(line)
    return "\n".join(out) + "\n"


def system_libvirt_pc() -> Path:
    """The host's libvirt.pc, as pkg-config finds it (libvirt-dev / libvirt-devel)."""
    pcdir = run(["pkg-config", "--variable=pcfiledir", "libvirt"]).stdout.strip()
    return Path(pcdir) / "libvirt.pc" if pcdir else DEFAULT_PC


def write_restricted_pkgconfig(out_dir: Path, *, max_version: str, pc_file: Path = DEFAULT_PC,
                               symbol_versions: Mapping[str, str] | None = None) -> Path:
    """Write ``out_dir/libvirt.pc`` and ``out_dir/api/*.xml`` restricted to ``max_version``.

    Returns ``out_dir``: put it first in ``PKG_CONFIG_PATH`` for ``setup.py build``.
    ``symbol_versions`` (``library_symbol_versions`` of libvirt*.so) dates functions of an
    API XML that has no ``version`` attributes.
    """
    pc_text = pc_file.read_text(encoding="utf-8")
    api = pc_variable(pc_text, "libvirt_api")
    if api is None or not api.endswith(API_SUFFIXES[0]):
        raise PipelineError(f"{pc_file}: no libvirt_api variable naming *{API_SUFFIXES[0]}")
    stem = api[: -len(API_SUFFIXES[0])]
    for suffix in API_SUFFIXES:
        src = Path(stem + suffix)
        if src.is_file():
            restrict_api_xml(src, out_dir / "api" / src.name, max_version,
                             symbol_versions=symbol_versions)
    (out_dir / "libvirt.pc").write_text(rewrite_pc_text(pc_text, out_dir / "api"),
                                        encoding="utf-8")
    return out_dir


# ---------------------------------------------------------------- what setup.py installs


def _version_compare(node: ast.expr, python: tuple[int, int]) -> bool | None:
    """Evaluate ``sys.version_info OP (x, y)``; None when ``node`` is not such a test."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1
            and ast.unparse(node.left) in ("sys.version_info", "sys.version_info[:2]")):
        return None
    try:
        bound = tuple(ast.literal_eval(node.comparators[0]))
    except (ValueError, TypeError):
        return None
    ops = {ast.GtE: bound <= python, ast.Gt: bound < python, ast.Lt: python < bound,
           ast.LtE: python <= bound, ast.Eq: python[: len(bound)] == bound,
           ast.NotEq: python[: len(bound)] != bound}
    return ops.get(type(node.ops[0]))


def _version_functions(tree: ast.Module, python: tuple[int, int]) -> dict[str, bool]:
    """Functions of setup.py whose body is ``return <sys.version_info test>``, evaluated."""
    found: dict[str, bool] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            returns = [s for s in node.body if isinstance(s, ast.Return) and s.value is not None]
            if len(returns) == 1 and returns[0].value is not None:
                value = _version_compare(returns[0].value, python)
                if value is not None:
                    found[node.name] = value
    return found


def _guard_holds(test: ast.expr, funcs: Mapping[str, bool], python: tuple[int, int]) -> bool:
    direct = _version_compare(test, python)
    if direct is not None:
        return direct
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Name):
        return funcs.get(test.func.id, True)
    return True  # a guard about the host (e.g. have_libvirt_lxc()): assume it holds


def setup_py_modules(setup_source: str, *, python: tuple[int, int] = (2, 7)) -> list[str]:
    """Names passed to ``py_modules.append(...)`` in setup.py that apply to ``python``.

    Appends under an ``if`` on ``sys.version_info`` (directly or through a helper such as
    ``have_libvirtaio()``) count only when the test holds for ``python``.
    """
    tree = ast.parse(setup_source)
    funcs = _version_functions(tree, python)
    names: list[str] = []

    def visit(node: ast.AST, active: bool) -> None:
        if isinstance(node, ast.If):
            holds = active and _guard_holds(node.test, funcs, python)
            for child in node.body:
                visit(child, holds)
            for child in node.orelse:
                visit(child, active and not holds)
            return
        if (active and isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "append" and ast.unparse(node.func.value) == "py_modules"
                and node.args and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str) and node.args[0].value not in names):
            names.append(node.args[0].value)
        for sub in ast.iter_child_nodes(node):
            visit(sub, active)

    visit(tree, True)
    return names


def generate_modules(tree: Path, *, python2: Path, api_dir: Path,
                     modules: Sequence[str] = tuple(GENERATED)) -> list[Path]:
    """Run generator.py under ``python2`` for ``modules``; returns the ``build/*.py`` files."""
    (tree / "build").mkdir(exist_ok=True)
    out = []
    for name in modules:
        arg = GENERATED[name]
        run([python2, "generator.py", arg, api_dir / f"{arg}-api.xml"], cwd=tree,
            timeout=BUILD_TIMEOUT)
        out.append(tree / "build" / f"{name}.py")
    return out


def py2_modules(tree: Path, *, python2: Path | None = None,
                api_dir: Path | None = None) -> list[Path]:
    """The .py modules setup.py installs for Python 2.7, as files of ``tree``.

    Generated modules are taken from ``tree/build`` (after a build or a generator run); when
    they are missing and ``python2`` and ``api_dir`` are given, generator.py is run for them.
    """
    names = setup_py_modules((tree / "setup.py").read_text(encoding="utf-8"))
    missing = [n for n in names if n in GENERATED and not (tree / "build" / f"{n}.py").is_file()]
    if missing and python2 is not None and api_dir is not None:
        generate_modules(tree, python2=python2, api_dir=api_dir, modules=missing)
    files = []
    for name in names:
        built, plain = tree / "build" / f"{name}.py", tree / f"{name}.py"
        if built.is_file() or name in GENERATED:
            files.append(built)
        else:
            files.append(plain)
    absent = [str(f) for f in files if not f.is_file()]
    if absent:
        raise PipelineError("modules not generated yet (build the tree or pass python2 and "
                            f"api_dir): {', '.join(absent)}")
    return files


# ---------------------------------------------------------------- byte-compiling, building


def parse_compile_output(text: str) -> list[CompileResult]:
    """Parse the output of the byte-compile script (one OK/ERR line per file)."""
    results = []
    for line in text.splitlines():
        fields = line.split("\t")
        if fields[0] == "OK" and len(fields) == 2:
            results.append(CompileResult(Path(fields[1]), True))
        elif fields[0] == "ERR" and len(fields) == 4:
            number = int(fields[2]) if fields[2].isdigit() else None
            results.append(CompileResult(Path(fields[1]), False, number, fields[3]))
    return results


def byte_compile_py2(python2: Path, files: list[Path]) -> list[CompileResult]:
    """Compile each file with ``python2`` (nothing written); one result per file, in order."""
    if not files:
        return []
    done = run([python2, "-c", _COMPILE_SCRIPT, *files], timeout=BUILD_TIMEOUT)
    results = parse_compile_output(done.stdout)
    if [r.path for r in results] != [Path(f) for f in files]:
        raise PipelineError(f"{python2}: byte-compile output does not match the files given:\n"
                            + done.output[-2000:])
    return results


def python2_cppflags(python2: Path) -> str:
    """Extra include flags for ``python2``: tools/get-python27 installs a ``-cflags`` helper
    next to its wrapper (Debian's pyconfig.h includes a multiarch header)."""
    helper = python2.parent / f"{python2.name}-cflags"
    if not helper.is_file():
        return ""
    return run([helper]).stdout.strip()


def setup_build(python: Path, tree: Path, *, pkgconfig_dir: Path, cppflags: str = "",
                logfile: Path | None = None) -> BuildResult:
    """``PYTHON setup.py build`` in ``tree`` with ``pkgconfig_dir`` first on PKG_CONFIG_PATH."""
    env = {"PKG_CONFIG_PATH": str(pkgconfig_dir)}
    if cppflags:
        env["CPPFLAGS"] = cppflags
    done = run([python, "setup.py", "build"], cwd=tree, env=env, check=False,
               timeout=BUILD_TIMEOUT, logfile=logfile)
    libs = sorted((tree / "build").glob("lib.*")) if done.returncode == 0 else []
    return BuildResult(done.returncode == 0 and bool(libs), libs[0] if libs else None,
                       done.output)


def prepare_tree(sdist: Path, dest: Path, *, patches: Sequence[Path] = ()) -> Path:
    """Unpack ``sdist`` (NAME-VERSION.tar.gz) into ``dest`` and apply ``patches`` in order
    with ``patch -p1 --fuzz=0``; returns the unpacked tree."""
    fs.tool_dir(dest, dest)  # patch(1) writes in it: no planted link may lead out
    with tarfile.open(sdist) as tar:
        top = {Path(name).parts[0] for name in tar.getnames() if name}
        if len(top) != 1:
            raise PipelineError(f"{sdist}: expected one top-level folder, found {sorted(top)}")
        if hasattr(tarfile, "data_filter"):  # 3.9.17+ / 3.11.4+; 3.12+ warns without it
            tar.extractall(dest, filter="data")
        else:  # pragma: no cover - older 3.9/3.10 patch releases
            tar.extractall(dest)  # noqa: S202 - Python without tarfile filters
    tree = dest / top.pop()
    for patch in patches:
        run(["patch", "-p1", "--fuzz=0", "--no-backup-if-mismatch", "-i", patch.resolve()],
            cwd=tree)
    return tree


def check_py2_tree(tree: Path, *, python2: Path, pkgconfig_dir: Path,
                   cell: str | None = None) -> list[Finding]:
    """Build ``tree`` with Python 2.7 and byte-compile what it installs; findings, [] if fine."""
    findings: list[Finding] = []
    build = setup_build(python2, tree, pkgconfig_dir=pkgconfig_dir,
                        cppflags=python2_cppflags(python2))
    if not build.ok:
        tail = "\n".join(build.output.rstrip().splitlines()[-5:])
        findings.append(Finding("py2-build-failed", "error", cell, PACKAGE,
                                f"{python2} setup.py build failed in {tree}:\n{tail}"))
    files = py2_modules(tree, python2=python2, api_dir=pkgconfig_dir / "api")
    for result in byte_compile_py2(python2, files):
        if not result.ok:
            findings.append(Finding("py2-syntax-error", "error", cell, PACKAGE,
                                    f"{result.location()}: {result.message}"))
    return findings
