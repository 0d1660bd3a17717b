"""rpm's view of what changed between two releases of a package (the report's comparison)."""

from __future__ import annotations

from pipeline.report.compare import compare_package, diff_deps, diff_files, diff_scriptlets
from pipeline.upgrade.manifest import FileEntry, PackageManifest


def pkg(release: str, **kw: object) -> PackageManifest:
    return PackageManifest(name="libvirt-daemon", epoch=None, version="6.2.0", release=release,
                           arch="x86_64", **kw)  # type: ignore[arg-type]


def test_deps_added_removed_changed_and_bumped() -> None:
    old = ["libvirt-libs = 6.2.0-0", "polkit >= 0.112", "dnsmasq", "iptables"]
    new = ["libvirt-libs = 6.2.0-1", "polkit >= 0.115", "dnsmasq", "nftables"]
    d = diff_deps(old, new, bump=("6.2.0-0", "6.2.0-1"))
    assert d == {"added": ["nftables"], "removed": ["iptables"],
                 "changed": ["polkit >= 0.112 -> polkit >= 0.115"],
                 "bumped": ["libvirt-libs = 6.2.0-0 -> libvirt-libs = 6.2.0-1"]}


def test_files_added_removed_and_mode() -> None:
    old = [FileEntry("/etc/libvirt", kind="dir", mode=0o700), FileEntry("/usr/bin/a")]
    new = [FileEntry("/etc/libvirt", kind="dir", mode=0o755), FileEntry("/usr/bin/b")]
    assert diff_files(old, new) == {"added": ["/usr/bin/b"], "removed": ["/usr/bin/a"],
                                    "mode": ["/etc/libvirt: dir 0700 -> dir 0755"]}


def test_scriptlet_bodies_compared_only_for_real_packages() -> None:
    old, new = {"post": "systemctl preset", "pre": ":"}, {"post": ":", "postun": ":"}
    assert diff_scriptlets(old, new, bodies=False) == {
        "added": ["postun"], "removed": ["pre"], "changed": []}
    assert diff_scriptlets(old, new, bodies=True)["changed"] == ["post"]


def test_status_same_only_when_nothing_but_the_version_moved() -> None:
    old = pkg("0", requires=("libvirt-libs = 6.2.0-0",))
    same = pkg("1", requires=("libvirt-libs = 6.2.0-1",))
    assert compare_package(old, same, new_source="stand-in")["status"] == "same"
    # mutation: one more Requires makes it a change
    more = pkg("1", requires=("libvirt-libs = 6.2.0-1", "nftables"))
    result = compare_package(old, more, new_source="stand-in")
    assert result["status"] == "changed"
    assert result["deps"]["requires"]["added"] == ["nftables"]
    assert compare_package(None, more, new_source="real")["status"] == "added"
    assert compare_package(old, None, new_source="")["status"] == "removed"
