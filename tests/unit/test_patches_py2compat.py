"""Unit tests of pipeline.py2compat's pure parts (no external tools but the running Python)."""

from __future__ import annotations

import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline.core.errors import PipelineError
from pipeline.patches import py2compat

API_XML = """<?xml version="1.0" encoding="UTF-8"?>
<api name='libvirt'>
  <files>
    <file name='libvirt-domain'>
     <exports symbol='virDomainOld' type='function'/>
     <exports symbol='virDomainNew' type='function'/>
     <exports symbol='VIR_DOMAIN_NEW_FLAG' type='enum'/>
    </file>
  </files>
  <symbols>
    <enum name='VIR_DOMAIN_OLD_FLAG' file='libvirt-domain' type='virDF' value='1' version='1.0.0'/>
    <enum name='VIR_DOMAIN_NEW_FLAG' file='libvirt-domain' type='virDF' value='2' version='6.10.0'/>
    <macro name='VIR_DOMAIN_EDGE' file='libvirt-domain' string='edge' version='6.2.0'/>
    <function name='virDomainOld' file='libvirt-domain' module='libvirt-domain' version='0.9.0'>
      <return type='int' info='ok'/>
    </function>
    <function name='virDomainNew' file='libvirt-domain' module='libvirt-domain' version='7.0.0'>
      <return type='int' info='new'/>
    </function>
    <function name='virDomainUndated' file='libvirt-domain' module='libvirt-domain'>
      <return type='int' info='no version attribute'/>
    </function>
  </symbols>
</api>
"""

OBJDUMP = """
/usr/lib/x86_64-linux-gnu/libvirt.so.0:     file format elf64-x86-64

DYNAMIC SYMBOL TABLE:
0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.2.5) getegid
0000000000000000      DF *UND*\t0000000000000000 (LIBVIRT_0.1.0) virResetLastError
00000000000f2680 g    DF .text\t0000000000000143  LIBVIRT_PRIVATE_9.0.0 virLogParseFilters
00000000003186f0 g    DF .text\t00000000000000f8  LIBVIRT_1.0.0 virNodeGetCPUMap
0000000000318800 g    DF .text\t00000000000000f8  LIBVIRT_6.10.0 virDomainAuthorizedSSHKeysGet
0000000000000000 g    DO *ABS*\t0000000000000000  LIBVIRT_6.10.0 LIBVIRT_6.10.0
0000000000001400 g    DF .text\t00000000000003a4  LIBVIRT_QEMU_8.2.0 virDomainQemuMonitorCmdFds
"""

# A small setup.py in the shape of libvirt-python's (written for this test).
SETUP_PY = """
import sys
import tarfile

def have_libvirt_lxc():
    return True

def have_aio():
    # asyncio needs "yield from"
    return sys.version_info >= (3, 3)

def get_module_lists():
    py_modules = []
    py_modules.append("libvirt")
    py_modules.append("libvirt_qemu")
    if have_libvirt_lxc():
        py_modules.append("libvirt_lxc")
    if have_aio():
        py_modules.append("libvirtaio")
    if sys.version_info < (3, 0):
        py_modules.append("compat2")
    else:
        py_modules.append("compat3")
    return py_modules
"""

PC = """prefix=/usr
libvirt_api=/usr/share/libvirt/api/libvirt-api.xml
libvirt_qemu_api=/usr/share/libvirt/api/libvirt-qemu-api.xml

Name: libvirt
Version: 9.0.0
Cflags: -I${includedir}
"""


def _names(xml_text: str, tag: str) -> set[str]:
    return {e.get("name", "") for e in ET.fromstring(xml_text).iter(tag)}


def test_version_tuple_orders_numerically() -> None:
    assert py2compat.version_tuple("6.10.0") > py2compat.version_tuple("6.2.0")
    assert py2compat.version_tuple(" 6.2 ") == (6, 2)
    with pytest.raises(ValueError):
        py2compat.version_tuple("6.2.0-rc1")


def test_restrict_drops_newer_symbols_and_their_exports() -> None:
    text, removed = py2compat.restrict_api_text(API_XML, "6.2.0")
    assert removed == 2
    assert _names(text, "function") == {"virDomainOld", "virDomainUndated"}
    assert _names(text, "enum") == {"VIR_DOMAIN_OLD_FLAG"}
    assert _names(text, "macro") == {"VIR_DOMAIN_EDGE"}  # == max_version stays
    exports = {e.get("symbol") for e in ET.fromstring(text).iter("exports")}
    assert exports == {"virDomainOld"}
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')


def test_restrict_uses_symbol_versions_for_undated_functions() -> None:
    text, removed = py2compat.restrict_api_text(
        API_XML, "6.2.0", symbol_versions={"virDomainUndated": "6.3.0", "virDomainOld": "9.9.9"})
    # the attribute wins over the symbol table; the symbol table dates the undated function
    assert _names(text, "function") == {"virDomainOld"}
    assert removed == 3


def test_restrict_api_xml_writes_file(tmp_path: Path) -> None:
    src = tmp_path / "in.xml"
    src.write_text(API_XML, encoding="utf-8")
    dst = tmp_path / "out" / "libvirt-api.xml"
    assert py2compat.restrict_api_xml(src, dst, "6.10.0") == 1
    written = dst.read_text(encoding="utf-8")
    assert _names(written, "function") == {"virDomainOld", "virDomainUndated"}
    assert _names(written, "enum") == {"VIR_DOMAIN_OLD_FLAG", "VIR_DOMAIN_NEW_FLAG"}


def test_parse_symbol_versions_keeps_defined_public_symbols() -> None:
    versions = py2compat.parse_symbol_versions(OBJDUMP)
    assert versions == {
        "virNodeGetCPUMap": "1.0.0",
        "virDomainAuthorizedSSHKeysGet": "6.10.0",
        "virDomainQemuMonitorCmdFds": "8.2.0",
    }


def test_pc_variable_and_rewrite() -> None:
    assert py2compat.pc_variable(PC, "libvirt_api") == "/usr/share/libvirt/api/libvirt-api.xml"
    assert py2compat.pc_variable(PC, "Version") is None  # a keyword, not a variable
    out = py2compat.rewrite_pc_text(PC, Path("/tmp/x/api"))
    assert "libvirt_api=/tmp/x/api/libvirt-api.xml" in out.splitlines()
    assert "libvirt_qemu_api=/tmp/x/api/libvirt-qemu-api.xml" in out.splitlines()
    assert "Version: 9.0.0" in out.splitlines()


def test_write_restricted_pkgconfig(tmp_path: Path) -> None:
    api = tmp_path / "share"
    api.mkdir()
    (api / "libvirt-api.xml").write_text(API_XML, encoding="utf-8")
    pc = tmp_path / "libvirt.pc"
    pc.write_text(PC.replace("/usr/share/libvirt/api", str(api)), encoding="utf-8")
    out = py2compat.write_restricted_pkgconfig(tmp_path / "pc", max_version="6.2.0", pc_file=pc)
    restricted = out / "api" / "libvirt-api.xml"
    assert _names(restricted.read_text(encoding="utf-8"), "function") == {
        "virDomainOld", "virDomainUndated"}
    assert f"libvirt_api={restricted}" in (out / "libvirt.pc").read_text(encoding="utf-8")


def test_write_restricted_pkgconfig_rejects_pc_without_api(tmp_path: Path) -> None:
    pc = tmp_path / "libvirt.pc"
    pc.write_text("Name: libvirt\n", encoding="utf-8")
    with pytest.raises(PipelineError, match="libvirt_api"):
        py2compat.write_restricted_pkgconfig(tmp_path / "pc", max_version="6.2.0", pc_file=pc)


def test_setup_py_modules_python2_vs_python3() -> None:
    assert py2compat.setup_py_modules(SETUP_PY) == [
        "libvirt", "libvirt_qemu", "libvirt_lxc", "compat2"]
    assert py2compat.setup_py_modules(SETUP_PY, python=(3, 6)) == [
        "libvirt", "libvirt_qemu", "libvirt_lxc", "libvirtaio", "compat3"]


def test_py2_modules_maps_generated_and_plain_files(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text(SETUP_PY, encoding="utf-8")
    (tmp_path / "build").mkdir()
    for name in ("libvirt", "libvirt_qemu", "libvirt_lxc"):
        (tmp_path / "build" / f"{name}.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "compat2.py").write_text("y = 2\n", encoding="utf-8")
    assert py2compat.py2_modules(tmp_path) == [
        tmp_path / "build" / "libvirt.py", tmp_path / "build" / "libvirt_qemu.py",
        tmp_path / "build" / "libvirt_lxc.py", tmp_path / "compat2.py"]


def test_py2_modules_without_generated_files_says_so(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text(SETUP_PY, encoding="utf-8")
    (tmp_path / "compat2.py").write_text("y = 2\n", encoding="utf-8")
    with pytest.raises(PipelineError, match="not generated"):
        py2compat.py2_modules(tmp_path)


def test_parse_compile_output() -> None:
    text = ("OK\t/t/a.py\n"
            "ERR\t/t/b.py\t186\tinvalid syntax\n"
            "ERR\t/t/c.py\t\tTypeError: compile() expected string without null bytes\n"
            "noise line\n")
    assert py2compat.parse_compile_output(text) == [
        py2compat.CompileResult(Path("/t/a.py"), True),
        py2compat.CompileResult(Path("/t/b.py"), False, 186, "invalid syntax"),
        py2compat.CompileResult(Path("/t/c.py"), False, None,
                                "TypeError: compile() expected string without null bytes"),
    ]
    assert py2compat.CompileResult(Path("/t/b.py"), False, 186).location() == "/t/b.py:186"


def test_byte_compile_script_reports_file_and_line(tmp_path: Path) -> None:
    # The script is Python 2/3 neutral; run it with this interpreter to check the round trip.
    good = tmp_path / "good.py"
    good.write_text("def f(x):\n    return x\n", encoding="utf-8")
    bad = tmp_path / "bad.py"
    bad.write_text("a = 1\nb = (\n", encoding="utf-8")
    results = py2compat.byte_compile_py2(Path(sys.executable), [good, bad])
    assert [(r.path, r.ok) for r in results] == [(good, True), (bad, False)]
    assert results[1].line == 2
    assert not list(tmp_path.glob("**/*.pyc"))  # nothing written next to the sources


def _tarball(path: Path, members: dict[str, str]) -> Path:
    src = path / "src"
    for name, text in members.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text, encoding="utf-8")
    out = path / "pkg-1.0.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for name in members:
            tar.add(src / name, arcname=name)
    return out


def test_prepare_tree_unpacks_the_single_top_folder(tmp_path: Path) -> None:
    sdist = _tarball(tmp_path, {"pkg-1.0/setup.py": "x = 1\n"})
    tree = py2compat.prepare_tree(sdist, tmp_path / "work")
    assert tree == tmp_path / "work" / "pkg-1.0"
    assert (tree / "setup.py").read_text(encoding="utf-8") == "x = 1\n"


def test_prepare_tree_rejects_a_tarball_without_one_top_folder(tmp_path: Path) -> None:
    sdist = _tarball(tmp_path, {"a/setup.py": "", "b/setup.py": ""})
    with pytest.raises(PipelineError, match="one top-level folder"):
        py2compat.prepare_tree(sdist, tmp_path / "work")
