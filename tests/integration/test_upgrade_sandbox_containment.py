"""Class 4 of the promises: the upgrade sandbox contains what the packages do.

A package whose ``%post`` and ``%verifyscript`` attack the host is installed into the
installroot sandbox and verified (``rpm -V``), as a legacy package's scriptlets would be. Each
attack reports its outcome in a log inside the root; the test checks each failed inside and
that the host is untouched: mknod + mount of the host's root device; writing a host file
through ``/proc/1/root`` and through ``..``; connecting to a listener the test opens on
127.0.0.1 in the host's network namespace; killing a host process (a ``sleep`` the test
started). The package still installs and verifies: the findings stay correct.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.upgrade import rootbase, synth
from pipeline.upgrade.sandboxes.base import SandboxConfig
from pipeline.upgrade.sandboxes.installroot import InstallRoot
from tests.conftest import CliResult
from tests.support.tree import tools_fixture

pytestmark = pytest.mark.integration
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "standins"
ATTACKS = ("mknod", "mount", "proc1", "dotdot", "net", "kill")


_tools = tools_fixture("rpmbuild", "rpm", "createrepo_c", "dnf", "busybox", "bwrap")


@pytest.fixture
def host_dir() -> Iterator[Path]:
    """A host folder outside the sandbox's work folder (and outside /tmp, which the cage
    replaces): an attack that worked would leave files here."""
    path = Path(tempfile.mkdtemp(prefix="vp-contain-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _attack_script(host_dir: Path, port: int, victim: int, stage: str) -> str:
    dev = os.stat("/").st_dev
    log = f"/var/log/attack-{stage}.log"
    b = "/usr/bin/busybox"
    return "\n".join([
        f"try() {{ if \"$@\" >/dev/null 2>&1; then echo \"$1 ok\" >> {log};"
        f" else echo \"$1 refused\" >> {log}; fi; }}",
        f"mknod_() {{ {b} mknod /hostdisk b {os.major(dev)} {os.minor(dev)}; }}",
        f"mount_() {{ {b} mkdir -p /mnt/host && {b} mount /hostdisk /mnt/host ||"
        f" {b} mount -t proc proc /mnt/host; }}",
        f"proc1_() {{ echo pwned > /proc/1/root{host_dir}/via-proc1; }}",
        f"dotdot_() {{ cd / && echo pwned > ../../../../../../..{host_dir}/via-dotdot; }}",
        f"net_() {{ echo pwned | {b} nc -w 2 127.0.0.1 {port}; }}",
        f"kill_() {{ {b} kill -9 {victim}; }}",
        *(f"try {a}_" for a in ATTACKS),
        "exit 0",
    ])


def _evil_rpm(tmp_path: Path, host_dir: Path, port: int, victim: int) -> Path:
    top = tmp_path / "evil-build"
    spec = tmp_path / "evil.spec"
    spec.write_text("\n".join([
        "Name: evil", "Version: 1", "Release: 1", "Summary: attacks the host", "License: MIT",
        "BuildArch: noarch", "%description", "Scriptlets that try to leave the sandbox.",
        "%files", "%post", _attack_script(host_dir, port, victim, "post"),
        "%verifyscript", _attack_script(host_dir, port, victim, "verify"), ""]))
    subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {top}", str(spec)], check=True,
                   capture_output=True)
    return next(top.rglob("evil-1-1.noarch.rpm"))


def test_scriptlets_cannot_reach_the_host(tmp_path: Path, host_dir: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.setblocking(False)
    victim = subprocess.Popen(["sleep", "300"])
    try:
        evil = _evil_rpm(tmp_path, host_dir, listener.getsockname()[1], victim.pid)
        base = rootbase.base_package(CACHE, workdir=tmp_path / "base")
        repo = synth.make_repo([base, evil], tmp_path / "repo")
        config = SandboxConfig(workdir=tmp_path / "w", repos={"t": str(repo)})
        with InstallRoot(config) as box:
            done = box.package_manager(["install", rootbase.BASE_NAME, "evil"], repos=["t"])
            assert done.returncode == 0, done.output
            assert box.rpm(["-q", "evil"]).returncode == 0  # installed: findings stay right
            box.rpm(["-V", "evil"])
            post = box.read_file("/var/log/attack-post.log") or ""
            verify = box.read_file("/var/log/attack-verify.log") or ""
        for log in (post, verify):  # every attack ran, and every one was refused
            assert sorted(log.split()) == sorted([*(f"{a}_" for a in ATTACKS),
                                                 *["refused"] * len(ATTACKS)]), log
        assert list(host_dir.iterdir()) == []  # no host file written
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected from the sandbox
        assert victim.poll() is None  # the host process is alive
    finally:
        victim.kill()
        victim.wait()
        listener.close()


def test_the_attacks_do_work_outside_the_cage(tmp_path: Path, host_dir: Path) -> None:
    """Mutation check: the same script run on the host (in a throw-away copy of busybox's
    world) does reach the host, so the refusals above are the cage's doing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    accepted: list[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            accepted.append(conn.recv(100))

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    victim = subprocess.Popen(["sleep", "300"])
    try:
        script = _attack_script(host_dir, listener.getsockname()[1], victim.pid, "host")
        script = script.replace("/var/log/attack-host.log", str(tmp_path / "host.log"))
        script = script.replace("mknod /hostdisk", f"mknod {tmp_path}/hostdisk")
        script = script.replace("/usr/bin/busybox", shutil.which("busybox") or "busybox")
        subprocess.run(["sh", "-c", script.replace("try mount_\n", "")], check=True,
                       cwd=tmp_path, timeout=30)
        log = (tmp_path / "host.log").read_text()
        # /proc/1/root depends on what pid 1 of this host is (a container's init may hide it)
        for attack in ("mknod", "dotdot", "net", "kill"):
            assert f"{attack}_ ok" in log, log
        assert (host_dir / "via-dotdot").exists()
        assert victim.wait(timeout=5) == -9
        server.join(timeout=5)
        assert accepted == [b"pwned\n"]
    finally:
        victim.kill()
        victim.wait()
        listener.close()


def test_a_root_left_by_a_killed_run_is_removed(tmp_path: Path) -> None:
    work = tmp_path / "w"
    stale = work / "root" / "usr" / "lib" / "locked"
    stale.mkdir(parents=True)
    (stale / "file").write_text("left over")
    stale.chmod(0o500)
    (work / "root" / "etc").mkdir()
    with InstallRoot(SandboxConfig(workdir=work)) as box:
        assert list(box.root.iterdir()) == []
    assert not (work / "root").exists()


def test_verify_upgrade_removes_roots_of_killed_runs(tree: Path, cli: Callable[..., CliResult]
                                                     ) -> None:
    from pipeline.upgrade.verify import fast_roots

    roots = fast_roots((tree / ".cache" / "upgrade").resolve())
    stale = roots / "bclinux7-el7-base-k1lled_x" / "root" / "usr" / "locked"
    stale.mkdir(parents=True)
    stale.chmod(0o500)
    other = roots / "bclinux7-el7-base-extra-abcdefgh"  # another scenario's name: kept
    other.mkdir()
    result = cli("-C", str(tree), "verify-upgrade", "--scenario", "bclinux7-el7-base",
                 "--preflight")
    assert result.code in (0, 1), result.err
    assert not (roots / "bclinux7-el7-base-k1lled_x").exists()
    assert other.is_dir()
    assert [p.name for p in roots.iterdir()] == [other.name]  # its own root removed too
    shutil.rmtree(other)
    cli("-C", str(tree), "verify-upgrade", "--scenario", "bclinux7-el7-base", "--preflight")
    assert not roots.exists()  # an empty roots folder (and its per-tree parent) is removed
    if str(roots).startswith("/dev/shm/"):
        assert not roots.parent.exists()
