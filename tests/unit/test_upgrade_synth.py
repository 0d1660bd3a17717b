"""Stand-in synthesis without tools: spec text, %files parsing, globbing, header parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.upgrade import capture, newset, synth
from pipeline.upgrade.manifest import FileEntry, PackageManifest, load_manifest

TREE = Path(__file__).resolve().parents[2]
DATA = TREE / "tests" / "data" / "legacy"


def pkg(name: str, *files: FileEntry, version: str = "1.0") -> PackageManifest:
    return PackageManifest(name=name, epoch=10, version=version, release="1.el7",
                           arch="x86_64", files=files, requires=("b >= 1",),
                           scriptlets={"post": "echo 100% done"})


def test_files_lines() -> None:
    assert synth.files_line(FileEntry("/usr/bin/x", mode=0o4755)) == \
        "%attr(4755,root,root) /usr/bin/x"
    assert synth.files_line(FileEntry("/etc/x.conf", config=True)) == \
        "%config(noreplace) %attr(0644,root,root) /etc/x.conf"
    assert synth.files_line(FileEntry("/d", kind="dir", mode=0o711)) == \
        "%dir %attr(0711,root,root) /d"
    assert synth.files_line(FileEntry("/l", kind="symlink", mode=0o777, target="x")) == "/l"
    assert synth.files_line(FileEntry("/a b")) == '%attr(0644,root,root) "/a b"'


def test_batch_spec_has_every_package_and_escapes_percent() -> None:
    text = synth.batch_spec([pkg("a", FileEntry("/a")), pkg("b")], root=Path("/r"))
    assert "Epoch: 10" in text and "Version: 1.0" in text
    assert text.count("AutoReqProv: no") == 2
    assert "%package -n a" in text and "%files -n b" in text
    assert "Requires: b >= 1" in text
    assert "%post -n a\necho 100%% done" in text


def test_plan_batches_separates_evrs_and_shared_files() -> None:
    shared = FileEntry("/usr/bin/same")
    folder = FileEntry("/usr/share/x", kind="dir")
    batches = synth.plan_batches([
        pkg("a", shared, folder), pkg("b", FileEntry("/b"), folder), pkg("c", shared),
        pkg("d", version="2.0")], size=10)
    assert [[p.name for p in b] for b in batches] == [["a", "b"], ["c"], ["d"]]
    assert len(synth.plan_batches([pkg(f"p{i}") for i in range(5)], size=2)) == 3


def test_cache_key_follows_content() -> None:
    one = pkg("a", FileEntry("/a"))
    assert synth.cache_key(one) == synth.cache_key(pkg("a", FileEntry("/a")))
    assert synth.cache_key(one) != synth.cache_key(pkg("a", FileEntry("/a", mode=0o755)))


@pytest.mark.parametrize(("line", "expected"), [
    ("%config(noreplace) /etc/x.conf", [newset.FilesLine("/etc/x.conf",
                                                                  config=True)]),
    ("%attr(4755, -, -) /usr/libexec/qemu-bridge-helper",
     [newset.FilesLine("/usr/libexec/qemu-bridge-helper", mode=0o4755)]),
    ("%dir %attr(0711, root, root) /var/lib/libvirt/images",
     [newset.FilesLine("/var/lib/libvirt/images", dir=True, mode=0o711)]),
    ("%doc README COPYING examples/", [newset.FilesLine("README", doc=True),
                                       newset.FilesLine("COPYING", doc=True),
                                       newset.FilesLine("examples", doc=True, folder=True)]),
    ("%license /usr/share/licenses/x/COPYING", [newset.FilesLine("/usr/share/licenses/x/COPYING")]),
    ("%ghost %dir /run/libvirt", [newset.FilesLine("/run/libvirt", dir=True, ghost=True)]),
    ("%exclude /usr/bin/*.debug", [newset.FilesLine("/usr/bin/*.debug", exclude=True)]),
    ('%lang(de) "/usr/share/a b"', [newset.FilesLine("/usr/share/a b")]),
    ("%verify(not md5 size mtime) %config(noreplace) /etc/x",
     [newset.FilesLine("/etc/x", config=True)]),
])
def test_parse_files_line(line: str, expected: list[newset.FilesLine]) -> None:
    assert newset.parse_files_line(line) == expected


def test_defattr_applies_to_following_lines() -> None:
    text = ("Name: q\n%files\n%defattr(0640,root,root,0750)\n/etc/q\n%dir /etc/qd\n"
            "%files -n other\n/usr/bin/o\n%post -n other\n:\n%files tools\n/t\n%changelog\n")
    sections = newset.parse_spec_sections(text)
    assert sections.files["q"] == [newset.FilesLine("/etc/q", mode=0o640),
                                   newset.FilesLine("/etc/qd", dir=True, mode=0o750)]
    assert sections.files["other"] == [newset.FilesLine("/usr/bin/o")]
    assert sections.files["q-tools"] == [newset.FilesLine("/t")]
    assert sections.scriptlets == {"other": {"post": ":"}}


def test_scriptlet_bodies_kept_and_other_interpreters_dropped() -> None:
    text = ("Name: q\n%post\nsystemctl preset a.service  \n\n%postun -p /sbin/ldconfig\n"
            "%posttrans -n other\nif true; then\n    echo x\nfi\n%files\n/q\n")
    sections = newset.parse_spec_sections(text)
    assert sections.scriptlets == {"q": {"post": "systemctl preset a.service", "postun": ":"},
                                   "other": {"posttrans": "if true; then\n    echo x\nfi"}}


def test_summaries_per_package() -> None:
    text = ("Name: q\nSummary: main one\n%package tools\nSummary: the tools\n"
            "%package -n other\nSummary: other one\n%description\nx\n")
    assert newset.spec_summaries(text) == {"q": "main one", "q-tools": "the tools",
                                           "other": "other one"}


def test_parse_expanded_libvirt_python_spec() -> None:
    text = (DATA / "libvirt-python-bclinux7-expanded.spec").read_text(encoding="utf-8")
    sections = newset.parse_spec_sections(text)
    assert set(sections.files) == {"python2-libvirt", "python36-libvirt"}
    py2 = [line.path for line in sections.files["python2-libvirt"]]
    assert "/usr/lib64/python2.7/site-packages/libvirt.py*" in py2
    assert "ChangeLog" in py2


def test_glob_regex_and_representative() -> None:
    rx = newset.glob_regex("/usr/lib64/python2.7/site-packages/libvirtmod*")
    assert rx.match("/usr/lib64/python2.7/site-packages/libvirtmod_qemu.so")
    assert not rx.match("/usr/lib64/python2.7/site-packages/libvirtmod/x.so")
    assert newset.glob_regex("/usr/share/man/man1/{virsh,virt-admin}.1*").match(
        "/usr/share/man/man1/virt-admin.1.gz")
    assert newset.representative("/a/libvirt.py*", package="p") == "/a/libvirt.py"
    assert newset.representative("/a/*egg-info", package="p") == "/a/egg-info"
    assert newset.representative("/usr/lib64/libvirt.so.*",
                                 package="p") == "/usr/lib64/libvirt.so.p"
    assert newset.representative("/a/{x,y}/[ab]?", package="p") == "/a/x/ax"


def test_spec_files_expands_globs_against_known_paths() -> None:
    site = "/usr/lib64/python2.7/site-packages"
    known = {p: FileEntry(p, mode=0o755) for p in (f"{site}/libvirtmod.so",
                                                   f"{site}/libvirtmod_qemu.so")}
    lines = [newset.FilesLine("/usr/lib64/python2.7/site-packages/libvirtmod*"),
             newset.FilesLine("README", doc=True),
             newset.FilesLine("/usr/lib64/python2.7/site-packages/libvirt_lxc.py*"),
             newset.FilesLine("/usr/lib64/python2.7/site-packages/libvirt_lxc.py", exclude=True),
             newset.FilesLine("/run/x", ghost=True)]
    entries = {e.path: e for e in newset.spec_files("python2-libvirt", lines, known=known)}
    site = "/usr/lib64/python2.7/site-packages"
    assert entries[f"{site}/libvirtmod_qemu.so"].mode == 0o755
    assert f"{site}/libvirtmod" in entries  # the representative
    assert "/usr/share/doc/python2-libvirt/README" in entries
    assert f"{site}/libvirt_lxc.py" not in entries and "/run/x" not in entries


def test_parse_captured_qf_output_and_filter_rpmbuild_additions() -> None:
    headers = capture.parse_qf_output(
        (DATA / "rpm-qf-qemu-kvm-ev.txt").read_text(encoding="utf-8"))
    assert [h.name for h in headers] == ["qemu-img-ev", "qemu-kvm-common-ev"]
    common = capture.to_manifest(headers[1])
    source = load_manifest(DATA / "rpm-qf-qemu-kvm-ev.yaml")
    assert common == source.package("qemu-kvm-common-ev").canonical()
    raw = headers[1]
    assert any(dep == "/bin/sh" for dep, _ in raw.requires)  # rpm's, filtered out above
    assert "/bin/sh" not in common.requires
    assert any(p.startswith("qemu-kvm-common-ev(x86-64)") for p in raw.provides)


def test_guess_os() -> None:
    assert capture.guess_os([pkg("a")]) == "bclinux7"
    oe = PackageManifest(name="a", epoch=None, version="1", release="1.oe2203", arch="noarch")
    assert capture.guess_os([oe]) == "bclinux-euler"
