"""Upgrade checks on canned tool output and observed state (no tools run)."""

from __future__ import annotations

from pipeline.upgrade import checks
from pipeline.upgrade.checks import Installed, Observation, Step, Universe
from pipeline.upgrade.manifest import FileEntry, PackageManifest
from pipeline.upgrade.scenarios import ConfigEdit, Expectation, Scenario, VaException

DNF_UPGRADE = """\
Dependencies resolved.
================================================================================
 Package        Architecture     Version                    Repository     Size
================================================================================
Installing:
 qemu           x86_64           10:6.2.0-1.el7             new           6.4 k
     replacing  qemu-kvm-ev.x86_64 10:2.12.0-44.1.el7_8.1
     replacing  qemu-kvm-common-ev.x86_64 10:2.12.0-44.1.el7_8.1
Upgrading:
 libvirt        x86_64           6.2.0-1.el7                new           6.0 k
Running transaction
  Installing       : qemu-10:6.2.0-1.el7.x86_64                             1/2
warning: /etc/qemu-kvm/bridge.conf created as /etc/qemu-kvm/bridge.conf.rpmnew
  Running scriptlet: qemu-10:6.2.0-1.el7.x86_64                             1/2
warning: %post(qemu-10:6.2.0-1.el7.x86_64) scriptlet failed, exit status 1
Error in POSTIN scriptlet in rpm package qemu
Complete!
"""

DNF_CONFLICT = """\
Transaction check error:
  file /usr/libexec/qemu-kvm from install of qemu-10:6.2.0-1.el7.x86_64 conflicts with \
file from package qemu-kvm-ev-10:2.12.0-44.1.el7_8.1.x86_64
"""

DNF_BROKEN = """\
Error:
 Problem: cannot install the best update candidate for package libvirt-4.5.0-36.el7.x86_64
  - nothing provides libfoo.so.9()(64bit) needed by libvirt-6.2.0-1.el7.x86_64
"""

RPM_VA = """\
S.5....T.  c /etc/libvirt/qemu.conf
missing     /usr/share/qemu-kvm/bios.bin
.M.......    /usr/libexec/qemu-bridge-helper
Unsatisfied dependencies for libvirt-6.2.0-1.el7.x86_64:
\tlibfoo.so.9()(64bit) is needed by (installed) libvirt-6.2.0-1.el7.x86_64
"""


def _scenario(**kw: object) -> Scenario:
    base = dict(id="s", os="bclinux7", description="", legacy_manifests=(), legacy_repos=(),
                new_packages=None, new_repos=(), command=("upgrade",),
                config_edits=(ConfigEdit("/etc/libvirt/qemu.conf", "# edit"),),
                expect=Expectation({"qemu-kvm-ev": "qemu"}, ("libvirt",), (),
                                   ("qemu", "libvirt")),
                va_exceptions=(VaException("/usr/share/qemu-kvm/*", "ROM links"),))
    base.update(kw)
    return Scenario(**base)  # type: ignore[arg-type]


def _pkg(name: str, evr: str, arch: str = "x86_64") -> Installed:
    epoch, _, rest = evr.rpartition(":")
    version, release = rest.split("-")
    return Installed(name, int(epoch) if epoch else None, version, release, arch)


BEFORE = [_pkg("qemu-kvm-ev", "10:2.12.0-44.1.el7_8.1"), _pkg("libvirt", "4.5.0-36.el7"),
          _pkg("virt-pipeline-base", "1-1")]
AFTER = [_pkg("qemu", "10:6.2.0-1.el7"), _pkg("libvirt", "6.2.0-1.el7"),
         _pkg("virt-pipeline-base", "1-1")]
UNIVERSE = Universe(frozenset({"qemu-kvm-ev", "libvirt"}), frozenset({"qemu", "libvirt"}))


def _obs(**kw: object) -> Observation:
    base = dict(legacy_install=Step("dnf install", 0, ""), before=BEFORE,
                upgrade=Step("dnf upgrade", 0, ""), after=AFTER,
                verify=Step("rpm -Va", 0, ""),
                configs={"/etc/libvirt/qemu.conf": "x\n# edit\n"},
                rpmnew={"/etc/libvirt/qemu.conf": True}, again=Step("dnf upgrade", 0, ""),
                after_again=AFTER)
    base.update(kw)
    return Observation(**base)  # type: ignore[arg-type]


def _ids(findings: list) -> set[str]:  # type: ignore[type-arg]
    return {f.id for f in findings}


def test_parsers_on_captured_output() -> None:
    assert checks.replacements(DNF_UPGRADE) == {"qemu-kvm-ev": "qemu",
                                                "qemu-kvm-common-ev": "qemu"}
    assert len(checks.scriptlet_failures(DNF_UPGRADE)) == 2
    assert checks.file_conflicts(DNF_CONFLICT) == [
        ("/usr/libexec/qemu-kvm", "qemu-10:6.2.0-1.el7.x86_64",
         "qemu-kvm-ev-10:2.12.0-44.1.el7_8.1.x86_64")]
    assert checks.unsatisfied(DNF_BROKEN) == [
        "nothing provides libfoo.so.9()(64bit) needed by libvirt-6.2.0-1.el7.x86_64"]
    assert checks.unsatisfied(RPM_VA) == [
        "libfoo.so.9()(64bit) is needed by libvirt-6.2.0-1.el7.x86_64"]
    assert [v[2] for v in checks.verify_lines(RPM_VA)] == [
        "/etc/libvirt/qemu.conf", "/usr/share/qemu-kvm/bios.bin",
        "/usr/libexec/qemu-bridge-helper"]
    qa = checks.parse_rpm_qa("qemu\t10\t6.2.0\t1.el7\tx86_64\nlibvirt\t(none)\t6.2.0\t1\tx86_64\n")
    assert [p.nevra for p in qa] == ["libvirt-6.2.0-1.x86_64", "qemu-10:6.2.0-1.el7.x86_64"]


def test_clean_run_has_no_findings() -> None:
    clean = "\n".join(line for line in DNF_UPGRADE.splitlines() if "scriptlet" not in line)
    obs = _obs(upgrade=Step("dnf upgrade", 0, clean))
    scenario = _scenario(expect=Expectation({"qemu-kvm-ev": "qemu"}, ("libvirt",), (),
                                            ("qemu", "libvirt")))
    assert checks.observed_findings(obs, scenario, UNIVERSE, []) == []


def test_upgrade_that_did_nothing_fails() -> None:
    obs = _obs(after=BEFORE, after_again=BEFORE)
    found = checks.observed_findings(obs, _scenario(), UNIVERSE, [])
    assert {"legacy-leftover", "new-package-missing", "final-set-mismatch"} <= _ids(found)
    assert any("changed nothing" in f.detail for f in found)


def test_each_check_fires_on_its_evidence() -> None:
    sc = _scenario()
    assert _ids(checks.check_transactions(_obs(upgrade=Step("x", 1, DNF_CONFLICT)), sc)) == \
        {"transaction-failed"}
    assert _ids(checks.check_conflicts(_obs(upgrade=Step("x", 1, DNF_CONFLICT)), sc)) == \
        {"file-conflict"}
    assert _ids(checks.check_dependencies(_obs(verify=Step("x", 1, RPM_VA)), sc)) == \
        {"broken-dependency"}
    assert _ids(checks.check_scriptlets(_obs(upgrade=Step("x", 0, DNF_UPGRADE)), sc)) == \
        {"scriptlet-failed"}
    va = checks.check_verify(_obs(verify=Step("x", 1, RPM_VA)), sc)
    assert [f.detail for f in va] == [".M....... /usr/libexec/qemu-bridge-helper"]
    lost = _obs(configs={"/etc/libvirt/qemu.conf": "default\n"},
                rpmnew={"/etc/libvirt/qemu.conf": False})
    assert _ids(checks.check_configs(lost, sc)) == {"config-edit-lost", "rpmnew-missing"}
    again = _obs(after_again=AFTER[:1])
    assert _ids(checks.check_idempotent(again, sc)) == {"upgrade-not-idempotent"}
    wrong = _obs(upgrade=Step("x", 0, DNF_UPGRADE.replace("qemu-kvm-ev.x86_64", "other.x")))
    assert _ids(checks.check_replacements(wrong, sc)) == {"replacement-mismatch"}


def _manifest(name: str, evr: str, *, obsoletes: tuple[str, ...] = (),
              files: tuple[str, ...] = ()) -> PackageManifest:
    epoch, _, rest = evr.rpartition(":")
    version, release = rest.split("-")
    return PackageManifest(name=name, epoch=int(epoch) if epoch else None, version=version,
                           release=release, arch="x86_64", obsoletes=obsoletes,
                           files=tuple(FileEntry(path=f) for f in files))


def test_precheck_obsoletes_and_static_conflicts() -> None:
    sc = _scenario()
    old = _manifest("qemu-kvm-ev", "10:2.12.0-44.1.el7_8.1", files=("/usr/libexec/qemu-kvm",))
    good = _manifest("qemu", "10:6.2.0-1.el7", obsoletes=("qemu-kvm-ev < 10:6.2.0-1.el7",),
                     files=("/usr/libexec/qemu-kvm",))
    bad = _manifest("qemu", "10:6.2.0-1.el7", obsoletes=("qemu-kvm-ev < 3",),
                    files=("/usr/libexec/qemu-kvm",))
    legacy = [("qemu-kvm-ev", checks.manifest_evr(old))]
    assert checks.obsoletes_matching([good], legacy, sc) == []
    assert _ids(checks.obsoletes_matching([bad], legacy, sc)) == {"obsoletes-matches-nothing"}
    assert checks.file_conflicts_static([old], [good], sc) == []
    assert _ids(checks.file_conflicts_static([old], [bad], sc)) == {"file-conflict"}
    upgrade = _manifest("qemu-kvm-ev", "10:2.12.0-45", files=("/usr/libexec/qemu-kvm",))
    assert checks.file_conflicts_static([old], [upgrade], sc) == []
