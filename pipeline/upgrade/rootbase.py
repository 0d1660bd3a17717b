"""The root-base RPM that makes an empty installroot usable: static busybox as the shell and
tools, the host's libc and loader, and the OS capabilities the packages under test require."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import cmd, files
from pipeline.core.errors import PipelineError
from pipeline.upgrade.synth import SYNTH_VERSION, escape, rpmbuild

# Debian's static busybox has no getent, groupadd, useradd or ldconfig applets, which real
# scriptlets call (el7's qemu-kvm %post ends with useradd: its status is the scriptlet's).
# Small stand-ins: lookups in /etc/group and /etc/passwd, and appends to them.
_SHIMS = {
    "usr/bin/getent": r"""#!/bin/sh
[ -n "$2" ] || exec cat "/etc/$1"
grep -E "^$2:|^[^:]*:[^:]*:$2:" "/etc/$1"
""",
    "usr/sbin/groupadd": r"""#!/bin/sh
gid=""; name=""
while [ $# -gt 0 ]; do
    case "$1" in -g) gid=$2; shift ;; -*) ;; *) name=$1 ;; esac; shift
done
grep -q "^$name:" /etc/group && exit 9
[ -n "$gid" ] || gid=$(( 900 + $(wc -l < /etc/group) ))
echo "$name:x:$gid:" >> /etc/group
""",
    "usr/sbin/useradd": r"""#!/bin/sh
uid=""; group=""; home=/; shell=/sbin/nologin; comment=""; name=""
while [ $# -gt 0 ]; do
    case "$1" in
        -u) uid=$2; shift ;; -g) group=$2; shift ;; -d) home=$2; shift ;;
        -s) shell=$2; shift ;; -c) comment=$2; shift ;; -G) shift ;; -*) ;; *) name=$1 ;;
    esac; shift
done
grep -q "^$name:" /etc/passwd && exit 9
[ -n "$uid" ] || uid=$(( 900 + $(wc -l < /etc/passwd) ))
gid=$(grep "^${group:-$name}:" /etc/group | cut -d: -f3)
echo "$name:x:$uid:${gid:-$uid}:$comment:$home:$shell" >> /etc/passwd
""",
    "usr/sbin/ldconfig": "#!/bin/sh\nexit 0\n",
}

BASE_NAME = "virt-pipeline-base"
#: where the stand-in systemctl logs each call (one line: its arguments) and keeps unit state
SYSTEMCTL_LOG = "/var/log/systemctl.log"
SYSTEMCTL_STATE = "/var/lib/systemctl-standin"

# A systemctl for roots without systemd: it logs every call and keeps the state a scriptlet
# can change or ask about (enabled, active, masked) as files, so "libvirtd is restarted" or
# "KSM is enabled again" are observed outcomes. A masked unit does not start.
_SYSTEMCTL = r"""#!/bin/sh
state=@STATE@
mkdir -p "$state/enabled" "$state/active" "$state/masked"
echo "$*" >> @LOG@
verb=""
units=""
now=""
for arg in "$@"; do
    case "$arg" in
        --now) now=1 ;;
        -*) ;;
        *) if [ -z "$verb" ]; then verb=$arg; else units="$units $arg"; fi ;;
    esac
done
rc=0
for unit in $units; do
    case "$verb" in
        enable) touch "$state/enabled/$unit"; [ -n "$now" ] && touch "$state/active/$unit" ;;
        disable) rm -f "$state/enabled/$unit"; [ -n "$now" ] && rm -f "$state/active/$unit" ;;
        mask) touch "$state/masked/$unit"; rm -f "$state/enabled/$unit" ;;
        unmask) rm -f "$state/masked/$unit" ;;
        start|restart|reload-or-restart)
            if [ -e "$state/masked/$unit" ]; then rc=1; else touch "$state/active/$unit"; fi ;;
        stop) rm -f "$state/active/$unit" ;;
        is-enabled)
            if [ -e "$state/masked/$unit" ]; then echo masked; rc=1
            elif [ -e "$state/enabled/$unit" ]; then echo enabled
            else echo disabled; rc=1; fi ;;
        is-active)
            if [ -e "$state/active/$unit" ]; then echo active; else echo inactive; rc=3; fi ;;
    esac
done
exit $rc
"""


@dataclass(frozen=True)
class _BaseLayout:
    applets: tuple[str, ...] = (
        "sh", "bash", "ls", "cat", "cp", "mv", "rm", "ln", "mkdir", "rmdir", "chmod", "chown",
        "touch", "echo", "printf", "test", "[", "true", "false", "sed", "grep", "awk", "find",
        "head", "tail", "sort", "uniq", "wc", "cut", "tr", "id", "env", "sleep", "install",
        "readlink", "stat", "xargs", "basename", "dirname", "date", "diff", "cmp")
    sbin_applets: tuple[str, ...] = ("adduser", "addgroup")
    provides: tuple[str, ...] = ("/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash",
                                 "rtld(GNU_HASH)", "shadow-utils", "coreutils", "bash",
                                 "glibc", "filesystem", "grep", "sed", "findutils")


def base_package(out_dir: Path, *, arch: str = "x86_64", workdir: Path,
                 provides: Sequence[str] = (), roots: Sequence[Path] = ()) -> Path:
    """The root-base RPM: static busybox as the shell and tools, the host's libc and ld.so.

    It makes an empty installroot usable: scriptlets find ``/bin/sh``, and the automatic
    requires of real binaries (``libc.so.6()(64bit)``, ``rtld(GNU_HASH)``) resolve. The
    layout is el7's merged /usr (``/bin`` -> ``usr/bin``, ``/lib64`` -> ``usr/lib64``).
    ``provides`` adds capabilities (e.g. ``systemd``) that the packages under test require
    from the OS. For ``arch="aarch64"`` the content stays x86-64 (a relabel), and the aarch64
    loader names are provided explicitly.
    """
    layout = _BaseLayout()
    extra = tuple(provides) + (_aarch64_provides() if arch == "aarch64" else ())
    key = hashlib.sha256(json.dumps([SYNTH_VERSION, arch, layout.applets, layout.provides,
                                     extra, _SYSTEMCTL, _SHIMS, "setup-verify"]).encode()
                         ).hexdigest()[:20]
    dest = out_dir / key / f"{BASE_NAME}-1-1.{arch}.rpm"
    if dest.is_file():
        return dest
    # rpmbuild writes in a fresh folder; ``workdir`` must resolve inside ``roots``
    top = files.fresh_dir(workdir, *(roots or [workdir.parent]), prefix="base-")
    try:
        root = top / "root"
        _base_tree(root, layout)
        spec = top / "base.spec"
        spec.write_text(_base_spec(root, layout.provides + extra), encoding="utf-8")
        rpmbuild(spec, top=top, arch=arch)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(top / "RPMS" / arch / dest.name, dest)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return dest


def _aarch64_provides() -> tuple[str, ...]:
    return ("ld-linux-aarch64.so.1()(64bit)", "ld-linux-aarch64.so.1(GLIBC_2.17)(64bit)")


def _host_busybox() -> Path:
    for candidate in (Path("/bin/busybox"), Path("/usr/bin/busybox")):
        if candidate.is_file():
            return candidate
    cmd.require("busybox")  # raises ToolMissing with a hint
    raise PipelineError("busybox not found")  # pragma: no cover


def _host_libs() -> list[Path]:
    """The host's libc and dynamic loader (real files, symlinks resolved)."""
    found = []
    for name in ("libc.so.6", "ld-linux-x86-64.so.2", "libm.so.6"):
        for folder in ("/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"):
            path = Path(folder) / name
            if path.exists():
                found.append(path)
                break
    return found


def _base_tree(root: Path, layout: _BaseLayout) -> None:
    for folder in ("usr/bin", "usr/sbin", "usr/lib64", "usr/lib", "etc", "var/lib", "var/tmp",
                   "var/log", "var/run", "run", "tmp", "usr/share", "usr/libexec", "root"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for link, target in (("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"),
                         ("lib64", "usr/lib64"), ("usr/lib/x86_64-linux-gnu", "../lib64")):
        os.symlink(target, root / link)
    busybox = root / "usr/bin/busybox"
    shutil.copy2(_host_busybox(), busybox)
    for applet in layout.applets:
        os.symlink("busybox", root / "usr/bin" / applet)
    for applet in layout.sbin_applets:
        os.symlink("../bin/busybox", root / "usr/sbin" / applet)
    for lib in _host_libs():
        shutil.copy2(lib.resolve(), root / "usr/lib64" / lib.name)
    for rel, text in _SHIMS.items():
        (root / rel).write_text(text, encoding="utf-8")
        (root / rel).chmod(0o755)
    systemctl = root / "usr/bin/systemctl"
    systemctl.write_text(_SYSTEMCTL.replace("@STATE@", SYSTEMCTL_STATE)
                         .replace("@LOG@", SYSTEMCTL_LOG), encoding="utf-8")
    systemctl.chmod(0o755)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n", encoding="utf-8")
    (root / "etc/group").write_text("root:x:0:\n", encoding="utf-8")


def _base_spec(root: Path, provides: Sequence[str]) -> str:
    lines = [f"Name: {BASE_NAME}", "Version: 1", "Release: 1",
             "Summary: minimal root for stand-in installs (busybox, host libc)",
             "License: GPLv2 and LGPLv2+",
             *(f"Provides: {escape(p)}" for p in provides),
             "", "%description", "Root base built by virt-pipeline.", "",
             "%install", f"cp -a '{root}/.' %{{buildroot}}/", "",
             "%files"]
    for path in sorted(root.rglob("*")):
        rel = "/" + path.relative_to(root).as_posix()
        if rel in ("/etc/passwd", "/etc/group"):
            # as the setup package owns them: scriptlets add users and groups
            lines.append(f"%verify(not md5 size mtime) %config(noreplace) {rel}")
        elif path.is_symlink() or not path.is_dir():
            lines.append(rel)
        else:
            lines.append(f"%dir {rel}")
    return "\n".join(lines) + "\n"
