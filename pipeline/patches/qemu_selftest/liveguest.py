"""A running Linux guest migrated live over TCP between qemu-kvm-ev 2.12 and our 6.2, both ways.

The guest is made at run time from Debian packages (never committed): the kernel that
``linux-image-amd64`` depends on and ``busybox-static``, fetched with ``apt-get download`` into a
cache, unpacked with ``dpkg-deb -x``; the initramfs (cpio newc, written here) holds busybox, the
virtio modules with their dependencies and an ``/init`` that loops: write a counter block to the
virtio-blk disk (O_DIRECT), read it back and the previous one, send a UDP packet through the
virtio-net NIC (a busybox ``tftp`` request naming the counter, to a
``-netdev socket,udp=`` the test listens on) and print a heartbeat to the
serial console.  After the migration the destination must keep all three going, without a
``GUEST-ERROR`` line.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import socket
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import files as fs
from pipeline.core.cmd import run
from pipeline.core.errors import CommandFailed, ToolMissing
from pipeline.patches.qemu_selftest.devices import grid_firmware
from pipeline.patches.qemu_selftest.grid import (
    SKIP,
    GridRow,
    Unsupported,
    classify,
    load_unsupported,
    row_result,
)
from pipeline.patches.qemu_selftest.legacy import Side
from pipeline.patches.qemu_selftest.qemu import QemuRun, qemu_process, wait_migration
from pipeline.patches.qemu_selftest.results import SelftestResult, failure_detail

DEVICE_SET = "live-linux"
RESULT_PREFIX = "live-guest"
#: Modules /init loads (with their dependencies from modules.dep, deps first).
GUEST_MODULES = ("virtio_pci", "virtio_blk", "virtio_net")
GUEST_MAC = "52:54:00:12:34:56"
HOST_MAC = "52:54:00:12:34:99"
HEARTBEAT = re.compile(r"^LG-HB (\d+)\s*$", re.MULTILINE)
PACKET = re.compile(rb"LG-PKT-(\d+)")
GUEST_ERROR = "GUEST-ERROR"
#: Heartbeats before migrating, and the seconds the destination must keep running after it.
BOOT_BEATS, AFTER_SECONDS = 5, 6.0
BOOT_TIMEOUT = 300.0

INIT_SCRIPT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /$m || echo "{GUEST_ERROR} insmod $m"; done
i=0; while [ ! -b /dev/vda ] || [ ! -e /sys/class/net/eth0 ]; do
  i=$((i+1)); [ $i -gt 100 ] && echo "{GUEST_ERROR} no vda or eth0" && break; sleep 0.1; done
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 || echo "{GUEST_ERROR} eth0"
arp -s 10.0.2.2 {HOST_MAC} || echo "{GUEST_ERROR} arp"
n=0; t=
while true; do
  n=$((n+1)); b=$((n % 64)); p=$(((n - 1) % 64))
  printf 'LG-DATA %08d\\n' $n > /tmp/w
  dd if=/tmp/w of=/dev/vda bs=4096 seek=$b count=1 conv=sync,notrunc oflag=direct 2>/tmp/e \\
    || echo "{GUEST_ERROR} write $n: $(cat /tmp/e)"
  got=$(dd if=/dev/vda bs=4096 skip=$b count=1 iflag=direct 2>/dev/null | head -n 1)
  [ "$got" = "$(printf 'LG-DATA %08d' $n)" ] || echo "{GUEST_ERROR} read $n: '$got'"
  if [ $n -gt 1 ]; then
    got=$(dd if=/dev/vda bs=4096 skip=$p count=1 iflag=direct 2>/dev/null | head -n 1)
    [ "$got" = "$(printf 'LG-DATA %08d' $((n - 1)))" ] || echo "{GUEST_ERROR} reread $n: '$got'"
  fi
  kill $t 2>/dev/null
  tftp -p -l /tmp/w -r "LG-PKT-$n" 10.0.2.2 5555 >/dev/null 2>&1 & t=$!
  echo "LG-HB $n"
  sleep 0.3
done
"""


def cpio_newc(entries: Iterable[tuple[str, int, bytes]]) -> bytes:
    """A cpio archive (newc) of ``(name, mode, data)`` entries; a symlink's data is its target."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], start=1):
        nlink = 2 if (mode & 0o170000) == 0o040000 else 1
        fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0)
        out += b"070701" + "".join(f"{f:08x}" for f in fields).encode()
        out += name.encode() + b"\0"
        out += b"\0" * (-len(out) % 4)
        out += data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def module_depends(ko: bytes) -> list[str]:
    """The ``depends=`` names of a kernel module's ``.modinfo`` (no modules.dep in the .deb)."""
    found = re.search(rb"(?:^|\0)depends=([^\0]*)\0", ko)
    return [n for n in found.group(1).decode().split(",") if n] if found else []


def module_order(depends: Mapping[str, Sequence[str]], wanted: Sequence[str]) -> list[str]:
    """``wanted`` module names and their dependencies, each after what it depends on."""
    order: list[str] = []

    def visit(name: str, seen: tuple[str, ...]) -> None:
        if name in order:
            return
        if name not in depends:
            raise ValueError(f"module {name}: not in the kernel package")
        if name in seen:
            raise ValueError(f"module {name}: circular dependency")
        for dep in depends[name]:
            visit(dep, (*seen, name))
        order.append(name)

    for name in wanted:
        visit(name, ())
    return order


def module_files(moddir: Path) -> dict[str, Path]:
    """Module name (``-`` as ``_``) -> its .ko file under ``moddir``."""
    return {ko.name[:-3].replace("-", "_"): ko for ko in moddir.rglob("*.ko")}


def heartbeats(text: str) -> list[int]:
    return [int(n) for n in HEARTBEAT.findall(text)]


def guest_errors(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if GUEST_ERROR in line]


def packet_counters(frames: Iterable[bytes]) -> list[int]:
    """The counters of the guest's UDP packets found in raw Ethernet frames."""
    found = (PACKET.search(frame) for frame in frames)
    return [int(m.group(1)) for m in found if m]


class LazyDepends(Mapping[str, Sequence[str]]):
    """Module name -> its dependencies, read from the .ko files only when asked."""

    def __init__(self, files: Mapping[str, Path]) -> None:
        self._files = files

    def __getitem__(self, name: str) -> Sequence[str]:
        return module_depends(self._files[name].read_bytes())

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)


@dataclass(frozen=True)
class GuestImage:
    kernel: Path
    initrd: Path


def apt_download(packages: Sequence[str], cache: Path) -> list[Path]:
    """``apt-get download`` each package into ``cache`` unless a .deb of it is already there."""
    debs = []
    for package in packages:
        have = sorted(cache.glob(f"{package}_*.deb"))
        if not have:
            run(["apt-get", "download", package], cwd=cache, timeout=600)
            have = sorted(cache.glob(f"{package}_*.deb"))
        if not have:
            raise ToolMissing(f"apt-get download {package}: no .deb")
        debs.append(have[-1])
    return debs


def kernel_package() -> str:
    """The versioned kernel package ``linux-image-amd64`` depends on."""
    text = run(["apt-cache", "depends", "linux-image-amd64"], timeout=60).stdout
    found = re.search(r"Depends: (linux-image-[0-9][^\s]*-amd64)", text)
    if not found:
        raise ToolMissing("apt-cache depends linux-image-amd64: no versioned kernel")
    return found.group(1)


def build_image(cache: Path) -> GuestImage:
    """Download, unpack and assemble the guest (kept in ``cache`` and reused)."""
    fs.tool_dir(cache, cache.parent)  # apt-get download writes here, kept across runs
    image = GuestImage(cache / "vmlinuz", cache / "initrd.cpio.gz")
    if image.kernel.exists() and image.initrd.exists():
        return image
    kdeb, bdeb = apt_download([kernel_package(), "busybox-static"], cache)
    root = fs.renew_dir(cache / "unpacked", cache)  # fresh: dpkg-deb -x follows links
    for deb in (kdeb, bdeb):
        run(["dpkg-deb", "-x", os.fspath(deb), os.fspath(root)], timeout=600)
    moddir = next((root / "lib" / "modules").iterdir())
    files = module_files(moddir)
    order = module_order(LazyDepends(files), GUEST_MODULES)
    entries: list[tuple[str, int, bytes]] = [
        (d, 0o040755, b"") for d in ("bin", "proc", "sys", "dev", "tmp", "lib", "lib/modules")]
    entries += [("bin/busybox", 0o100755, (root / "bin" / "busybox").read_bytes()),
                ("init", 0o100755, INIT_SCRIPT.encode()),
                ("modules.order", 0o100644, "".join(f"lib/modules/{name}.ko\n"
                                                     for name in order).encode())]
    entries += [(f"lib/modules/{name}.ko", 0o100644, files[name].read_bytes())
                for name in order]
    for target, data in ((image.initrd, gzip.compress(cpio_newc(entries), compresslevel=6)),
                         (image.kernel, next((root / "boot").glob("vmlinuz-*")).read_bytes())):
        partial = target.with_name(target.name + ".partial")  # never reused half-written
        partial.write_bytes(data)
        partial.replace(target)
    shutil.rmtree(root)  # ~400 MB of modules; the two files and the .debs are kept
    return image


@dataclass(frozen=True)
class LiveConfig:
    """What the live-guest runs share: the guest, firmware, scratch dir and declared rows."""

    image: GuestImage
    firmware: Path
    scratch: Path
    declared: Sequence[Unsupported]


def guest_args(cfg: LiveConfig, machine: str, tag: str, disk: Path, host_port: int,
               local_port: int) -> list[str]:
    """A machine with the guest's kernel, serial log, virtio-blk disk and virtio-net NIC."""
    return ["-machine", machine, "-kernel", os.fspath(cfg.image.kernel),
            "-initrd", os.fspath(cfg.image.initrd),
            "-append", "console=ttyS0 quiet panic=-1",
            "-serial", f"file:{cfg.scratch / f'{tag}.serial'}",
            "-drive", f"file={disk},format=raw,if=none,id=d0",
            "-device", "virtio-blk-pci,drive=d0",
            "-netdev", f"socket,id=n0,udp=127.0.0.1:{host_port},localaddr=127.0.0.1:{local_port}",
            "-device", f"virtio-net-pci,netdev=n0,mac={GUEST_MAC}"]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def drain(sock: socket.socket) -> list[bytes]:
    frames = []
    while True:
        try:
            frames.append(sock.recv(65536))
        except BlockingIOError:
            return frames


def serial_text(cfg: LiveConfig, tag: str) -> str:
    path = cfg.scratch / f"{tag}.serial"
    return path.read_text(errors="replace") if path.exists() else ""


def wait_beats(cfg: LiveConfig, tag: str, qemu: QemuRun, count: int, timeout: float) -> int:
    """Wait until the serial log of ``tag`` shows ``count`` heartbeats; the last one seen."""
    deadline = time.monotonic() + timeout
    while True:
        beats = heartbeats(serial_text(cfg, tag))
        if len(beats) >= count or time.monotonic() > deadline or qemu.proc.poll() is not None:
            return beats[-1] if beats else 0
        time.sleep(0.5)


@dataclass
class Observed:
    """What one live migration showed (the report's numbers)."""

    beats_before: int = 0
    beats_after: int = 0
    packets_before: int = 0
    packets_after: int = 0
    migrate_seconds: float = 0.0
    status: str = ""
    errors: tuple[str, ...] = ()

    def text(self) -> str:
        return (f"heartbeats {self.beats_before}->{self.beats_after}, packets "
                f"{self.packets_before}->{self.packets_after}, migrate "
                f"{self.migrate_seconds:.1f}s, dst {self.status or '?'}"
                + (f", {'; '.join(self.errors[:3])}" if self.errors else ""))


def judge(seen: Observed) -> str:
    """'' when the guest carried on after migration, else what went wrong."""
    problems = []
    if seen.status != "running":
        problems.append(f"destination status {seen.status or 'unknown'}")
    if seen.beats_after <= seen.beats_before:
        problems.append("no new heartbeat on the destination")
    if seen.packets_after <= seen.packets_before:
        problems.append("no new packet from the destination")
    if seen.errors:
        problems.append("guest reported errors")
    return "; ".join(problems)


def migrate_live(cfg: LiveConfig, source: Side, target: Side, machine: str,
                 seen: Observed) -> str:
    """Boot in ``source``, migrate over TCP to ``target`` while running; '' or what failed."""
    tag = f"live-{machine}-{source.label}"
    disk = cfg.scratch / f"{tag}.disk"
    disk.write_bytes(b"\0" * (1 << 20))
    for side in ("src", "dst"):  # a stale log would show heartbeats this guest never gave
        (cfg.scratch / f"{tag}-{side}.serial").unlink(missing_ok=True)
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.setblocking(False)
    port = int(listener.getsockname()[1])
    src_args = guest_args(cfg, machine, f"{tag}-src", disk, port, free_port(socket.SOCK_DGRAM))
    try:
        with qemu_process(source.binary, cfg.firmware, cfg.scratch, f"{tag}-src", src_args,
                          memory="256") as src:
            if wait_beats(cfg, f"{tag}-src", src, BOOT_BEATS, BOOT_TIMEOUT) == 0:
                return f"no heartbeat in {source.label} (boot): {src.stderr_tail()}"
            return migrate_to(cfg, src, target, machine, tag, disk, listener, seen)
    finally:
        listener.close()
        seen.errors = tuple(guest_errors(serial_text(cfg, f"{tag}-src"))
                            + guest_errors(serial_text(cfg, f"{tag}-dst")))


def migrate_to(cfg: LiveConfig, src: QemuRun, target: Side, machine: str, tag: str,
               disk: Path, listener: socket.socket, seen: Observed) -> str:
    mig_port = free_port()
    dst_args = [*guest_args(cfg, machine, f"{tag}-dst", disk, listener.getsockname()[1],
                            free_port(socket.SOCK_DGRAM)),
                "-incoming", f"tcp:127.0.0.1:{mig_port}"]
    with qemu_process(target.binary, cfg.firmware, cfg.scratch, f"{tag}-dst", dst_args,
                      memory="256") as dst:
        try:
            src_qmp, dst_qmp = src.connect(), dst.connect()
            src_qmp.execute("migrate-set-parameters", **{"max-bandwidth": 1 << 30})
            started = time.monotonic()
            src_qmp.execute("migrate", uri=f"tcp:127.0.0.1:{mig_port}")
            migrated = wait_migration(src_qmp, timeout=300)
            seen.migrate_seconds = time.monotonic() - started
            if migrated != "completed":
                return f"migrate: {migrated}; {src.stderr_tail()} | dst: {dst.stderr_tail()}"
            # the source is stopped now: what it sent last is the mark the destination must pass
            seen.packets_before = max(packet_counters(drain(listener)), default=0)
            seen.beats_before = max(heartbeats(serial_text(cfg, f"{tag}-src")), default=0)
            time.sleep(AFTER_SECONDS)
            seen.status = str(dst_qmp.execute("query-status").get("status"))
        except (OSError, RuntimeError, ValueError) as exc:
            return failure_detail("live migration", exc, dst.stderr_tail())
        seen.beats_after = max(heartbeats(serial_text(cfg, f"{tag}-dst")), default=0)
        seen.packets_after = max(packet_counters(drain(listener)), default=0)
        return ""


def live_row(cfg: LiveConfig, source: Side, target: Side, machine: str) -> GridRow:
    seen = Observed()
    failure = migrate_live(cfg, source, target, machine, seen)
    failure = failure or judge(seen)
    direction = f"{source.label}->{target.label}"
    row = classify(machine, DEVICE_SET, "tcg", direction,
                   f"{failure}; {seen.text()}" if failure else "", cfg.declared)
    return row if failure else GridRow(machine, DEVICE_SET, "tcg", direction, row.status,
                                       seen.text())


def live_result(row: GridRow) -> SelftestResult:
    """``live-guest:<machine>:<direction>`` with what was observed."""
    return SelftestResult(f"{RESULT_PREFIX}:{row.machine}:{row.direction}",
                          row.status != "FAIL", f"{row.status}: {row.detail}",
                          skipped=row.status == SKIP)


def format_observed(results: Sequence[SelftestResult]) -> list[str]:
    """``observed live-guest:<machine>:<direction>: heartbeats ...`` for every live row run."""
    prefix = f"{RESULT_PREFIX}:"
    return [f"observed {r.name}: {r.detail}" for r in results
            if r.name.startswith(prefix) and not r.skipped]


def check_live_guest(new: Path, firmware: Path, scratch: Path, legacy: Path | None,
                     machines: Sequence[str], unsupported: Path,
                     cache: Path) -> list[SelftestResult]:
    """Every machine type both ways; each row also as a grid row (set live-linux, tcg)."""
    if legacy is None:
        return [SelftestResult(RESULT_PREFIX, True, "no --legacy-qemu given: running Linux "
                               "guest not migrated from and to qemu-kvm-ev 2.12", skipped=True)]
    try:
        image = build_image(cache)
    except (CommandFailed, ToolMissing, ValueError, StopIteration, OSError) as exc:
        return [SelftestResult(RESULT_PREFIX, True, f"no guest image from Debian packages, "
                               f"running Linux guest not migrated: {exc}", skipped=True)]
    cfg = LiveConfig(image, grid_firmware(firmware, scratch), scratch,
                     load_unsupported(unsupported))
    old, new_side = Side("2.12", legacy), Side("6.2", new)
    results: list[SelftestResult] = []
    for machine in machines:
        for source, target in ((old, new_side), (new_side, old)):
            row = live_row(cfg, source, target, machine)
            results += [live_result(row), row_result(row)]
    if not results:
        return [SelftestResult(RESULT_PREFIX, False, "no machine type in both builds")]
    return results
