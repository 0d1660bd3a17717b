"""Pure parsers of tool output, against captured text."""

from __future__ import annotations

from pathlib import Path

from pipeline.patches import patchcheck
from pipeline.specs import rpmspec, validate

RPMSPEC_P = """\
Name: t
Patch0001: 0001-a.patch
Patch0002: 0002-b.patch
%description
x
%prep
cd '/root/rpmbuild/BUILD'
echo "Patch #1 (0001-a.patch):"
/usr/bin/patch --no-backup-if-mismatch -f -p1  --fuzz=0 < /s/0001-a.patch
%build
echo "Patch #9 (not-in-prep.patch):"
"""


def test_applied_patches_only_from_prep() -> None:
    assert rpmspec.applied_patches(RPMSPEC_P) == [(1, "0001-a.patch")]
    assert rpmspec.declared_patches(RPMSPEC_P) == [(1, "0001-a.patch"), (2, "0002-b.patch")]


def test_parse_packages() -> None:
    line = ("qemu\t10\t6.2.0\t1.el7\tx86_64\tqemu-kvm-ev = 10:6.2.0-1.el7\x1f"
            "qemu = 10:6.2.0-1.el7\x1f\t(none)\x1f\tqemu-kvm-ev < 10:6.2.0-1.el7\x1f\t\n")
    (pkg,) = rpmspec.parse_packages(line)
    assert pkg.nevra == "qemu-10:6.2.0-1.el7.x86_64"
    assert pkg.requires == () and pkg.obsoletes == ("qemu-kvm-ev < 10:6.2.0-1.el7",)


PATCH_OUT = """\
patching file setup.py
Hunk #1 succeeded at 10 (offset 2 lines).
Hunk #2 FAILED at 40.
1 out of 2 hunks FAILED -- saving rejects to file setup.py.rej
patching file 'typewrappers.c'
Hunk #1 succeeded at 5 with fuzz 2.
"""


def test_parse_patch_output() -> None:
    hunks = patchcheck.parse_patch_output(PATCH_OUT)
    assert [(h.file, h.hunk, h.outcome, h.fuzz) for h in hunks] == [
        ("setup.py", 1, "offset", 0), ("setup.py", 2, "failed", 0),
        ("typewrappers.c", 1, "fuzz", 2)]


RPMLINT_OUT = """\
libvirt.spec: W: no-buildroot-tag
libvirt.spec:14: W: hardcoded-packager-tag BC-Linux Team
qemu.spec: E: specfile-error error: line 3: Unknown tag
 0 packages and 2 specfiles checked; 1 errors, 2 warnings
"""


def test_parse_rpmlint() -> None:
    specs = [Path("specs/bclinux7/libvirt.spec"), Path("specs/bclinux7/qemu.spec")]
    found = validate.parse_rpmlint(RPMLINT_OUT, specs)
    assert [(f.id, f.package) for f in found] == [
        ("rpmlint-warning", "libvirt"), ("rpmlint-warning", "libvirt"), ("rpmlint-error", "qemu")]
    assert found[1].detail == "specs/bclinux7/libvirt.spec:14: hardcoded-packager-tag BC-Linux Team"
