"""Self-test of our QEMU 6.2.0 patch series (patches/qemu/).

Copies a pristine QEMU 6.2.0 source tree (a release tarball, unpacked) into WORKDIR, applies
the series with ``patch -p1 --fuzz=0``, builds ``x86_64-softmmu`` and checks, one result per
line: every BC-Linux 7 machine type is listed, starts paused, survives a save to a file and a
restore, carries ``i8042.extended-state=false`` (and pc-i440fx-6.2 keeps ``true``); a vhost-user
chardev in server mode survives its client going away and coming back; and, rebuilt WITHOUT the
fix patch, the same test aborts QEMU (so the test can fail), after which the fix is reapplied.

With ``--legacy-qemu BINARY`` (a qemu-kvm-ev 2.12 x86_64 build), every BC-Linux 7 machine type
both builds offer is also started paused in the legacy QEMU, saved to a file and loaded into the
patched 6.2 (``legacy-load:<machine>``), and the other way round
(``legacy-reverse-load:<machine>``, what a live-migration rollback needs); without it these checks
are reported as skipped.

    python -m pipeline.qemu_selftest --tree DIR --series FILE... --workdir DIR [--json] [--keep]
        [--legacy-qemu BINARY]

Short commands go through ``pipeline.cmd.run``; the QEMU guests under test are long-running
processes driven over QMP, so they are started here with ``subprocess.Popen`` (argv lists, own
process group, always killed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.core.cmd import run
from pipeline.core.errors import CommandFailed, InputError, ToolMissing

#: Machine types patch "hw/i386: add BC-Linux 7 machine types" must add.
RHEL7_MACHINES: tuple[str, ...] = (
    *(f"pc-i440fx-rhel7.{n}.0" for n in range(7)),
    *(f"pc-q35-rhel7.{n}.0" for n in range(3, 7)),
)
#: Upstream machine type that must keep the 6.1+ PS/2 state (extended-state=true).
CURRENT_MACHINE = "pc-i440fx-6.2"
#: Name of the single result that stands for the legacy checks when they are skipped.
LEGACY_SKIPPED = "legacy-migration"
#: Run state of a guest started with ``-S`` and never continued.  The stream's last section
#: (``globalstate``) carries it, so a destination that loaded everything reports it too, while
#: one that stopped reading early (a misparsed section can look like the end of the stream)
#: falls back to ``paused``.
SAVED_RUNSTATE = "prelaunch"
#: A file name part that identifies the server-mode reconnect fix in the series.
FIX_PATCH_MARK = "never-arm-reconnect"
REQUIRED_TOOLS: tuple[str, ...] = ("gcc", "ninja", "meson", "patch", "python3")
CONFIGURE_ARGS: tuple[str, ...] = (
    "--target-list=x86_64-softmmu", "--disable-docs", "--disable-tools",
    "--disable-gtk", "--disable-sdl", "--disable-vnc", "--disable-opengl",
    "--disable-spice", "--disable-capstone", "--disable-user", "--disable-guest-agent",
    "--enable-slirp=system", "--enable-fdt=system", "--disable-werror",
)
VHOST_USER_RECONNECT_WAIT = 6.0  # seconds: the patched reconnect time is 3 s
BUILD_TIMEOUT = 3600.0


@dataclass(frozen=True)
class SelftestResult:
    """One check: a stable name, whether it passed, and what was observed."""

    name: str
    passed: bool
    detail: str
    skipped: bool = False  # not run (counts as passed); printed as SKIP


# --------------------------------------------------------------------------- pure helpers


def parse_machine_help(text: str) -> dict[str, str]:
    """Map machine name -> description from ``qemu-system-* -machine help`` output."""
    machines: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("Supported machines"):
            continue
        name, _, desc = line.strip().partition(" ")
        machines[name] = desc.strip()
    return machines


def default_machine(machines: dict[str, str]) -> str | None:
    """The machine marked ``(default)`` in parsed ``-machine help`` output."""
    for name, desc in machines.items():
        if desc.endswith("(default)"):
            return name
    return None


def alias_target(machines: dict[str, str], alias: str) -> str | None:
    """What ``alias`` (e.g. ``pc``) points to, from parsed ``-machine help`` output."""
    found = re.search(r"\(alias of ([^)]+)\)", machines.get(alias, ""))
    return found.group(1) if found else None


def qtree_property(qtree: str, device: str, prop: str) -> str | None:
    """The value of ``prop`` of the first ``dev: device`` block of ``info qtree`` text."""
    lines = qtree.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"\s*dev: {re.escape(device)}(,|$)", line):
            indent = len(line) - len(line.lstrip())
            for inner in lines[i + 1:]:
                if inner.strip() and len(inner) - len(inner.lstrip()) <= indent:
                    break
                found = re.match(rf"\s*{re.escape(prop)} = (\S+)", inner)
                if found:
                    return found.group(1).strip('"')
    return None


def qtree_has_device(qtree: str, device: str) -> bool:
    """Whether ``info qtree`` text lists a ``dev: device`` node."""
    return re.search(rf"^\s*dev: {re.escape(device)}(,|$)", qtree, re.MULTILINE) is not None


def find_fix_patch(series: Sequence[Path]) -> Path | None:
    """The patch of the series that keeps listening sockets from reconnecting."""
    for path in series:
        if FIX_PATCH_MARK in path.name:
            return path
    return None


def series_stamp(series: Sequence[Path]) -> str:
    """A digest of the series (names and contents) to decide whether a workdir is reusable."""
    digest = hashlib.sha256()
    for path in series:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def format_result(result: SelftestResult) -> str:
    """``PASS name``, ``FAIL name: detail`` or ``SKIP name: detail``."""
    if result.skipped:
        return f"SKIP {result.name}: {result.detail}"
    return f"PASS {result.name}" if result.passed else f"FAIL {result.name}: {result.detail}"


def format_results(results: Sequence[SelftestResult]) -> list[str]:
    """One line per result (see :func:`format_result`)."""
    return [format_result(r) for r in results]


def common_machines(ours: dict[str, str], legacy: dict[str, str]) -> list[str]:
    """The BC-Linux 7 machine types both parsed ``-machine help`` outputs list, in order."""
    return [m for m in RHEL7_MACHINES if m in ours and m in legacy]


def incoming_loaded(status: dict[str, Any]) -> bool:
    """Whether ``query-status`` shows the source's run state, received with the last section."""
    return status.get("status") == SAVED_RUNSTATE and not status.get("running")


def failure_detail(what: str, exc: Exception, stderr_tail: str) -> str:
    """``what: exc; stderr`` without repeating a stderr tail the exception already quotes."""
    text = str(exc)
    return f"{what}: {text}" if stderr_tail and stderr_tail in text else \
        f"{what}: {text}; {stderr_tail}"


def exit_code(results: Sequence[SelftestResult]) -> int:
    return 0 if results and all(r.passed for r in results) else 1


# --------------------------------------------------------------------------- QMP and QEMU


class QmpClient:
    """A minimal QMP client over a unix socket (one command at a time, events skipped)."""

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._sock.connect(os.fspath(path))
        self._file = self._sock.makefile("rwb")
        self._read()  # greeting
        self.execute("qmp_capabilities")

    def _read(self) -> dict[str, Any]:
        while True:
            line = self._file.readline()
            if not line:
                raise ConnectionError("QMP connection closed")
            msg: dict[str, Any] = json.loads(line)
            if "event" not in msg:
                return msg

    def execute(self, command: str, **arguments: Any) -> Any:
        req: dict[str, Any] = {"execute": command}
        if arguments:
            req["arguments"] = arguments
        self._file.write(json.dumps(req).encode() + b"\n")
        self._file.flush()
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"QMP {command}: {reply['error'].get('desc')}")
        return reply.get("return")

    def hmp(self, command_line: str) -> str:
        return str(self.execute("human-monitor-command", **{"command-line": command_line}))

    def close(self) -> None:
        self._file.close()
        self._sock.close()


@dataclass
class QemuRun:
    """A running QEMU and the paths of its QMP socket and stderr log."""

    proc: subprocess.Popen[bytes]
    qmp_path: Path
    log: Path

    def stderr_tail(self, lines: int = 5) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def connect(self, *, wait: float = 60.0) -> QmpClient:
        deadline = time.monotonic() + wait
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"QEMU exited {self.proc.returncode}: {self.stderr_tail()}")
            try:
                return QmpClient(self.qmp_path)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@contextmanager
def qemu_process(binary: Path, firmware: Path, scratch: Path, name: str,
                 args: Sequence[str]) -> Iterator[QemuRun]:
    """Start ``binary`` with a QMP socket in ``scratch``; always killed on exit."""
    qmp_path = scratch / f"{name}.qmp"
    log = scratch / f"{name}.log"
    qmp_path.unlink(missing_ok=True)
    argv = [os.fspath(binary), "-L", os.fspath(firmware), "-display", "none", "-nodefaults",
            "-accel", "tcg", "-m", "128",
            "-qmp", f"unix:{qmp_path},server=on,wait=off", *args]
    with log.open("wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                start_new_session=True)
    try:
        yield QemuRun(proc, qmp_path, log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def wait_migration(qmp: QmpClient, *, timeout: float = 120.0) -> str:
    """Poll ``query-migrate`` until it leaves the active states; return the final status."""
    deadline = time.monotonic() + timeout
    status = "none"
    while time.monotonic() < deadline:
        status = str((qmp.execute("query-migrate") or {}).get("status", "none"))
        if status in ("completed", "failed", "cancelled"):
            return status
        time.sleep(0.1)
    return f"{status} (timed out)"


# --------------------------------------------------------------------------- vhost-user peer

VHOST_USER_HDR = struct.Struct("<III")  # request, flags, payload size
VHOST_USER_REPLY_FLAGS = 0x1 | 0x4  # version 1 | reply
#: Requests that need a u64 answer: GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM,
#: GET_MAX_MEM_SLOTS.  We offer no features, so QEMU sends nothing else that needs one.
VHOST_USER_U64_REQUESTS = frozenset({1, 15, 17, 36})
VHOST_USER_GET_VRING_BASE = 11


def vhost_user_reply(request: int, payload: bytes) -> bytes | None:
    """The reply a feature-less vhost-user backend sends to ``request`` (None: no reply)."""
    if request in VHOST_USER_U64_REQUESTS:
        body = struct.pack("<Q", 0)
    elif request == VHOST_USER_GET_VRING_BASE:
        body = payload[:8]
    else:
        return None
    return VHOST_USER_HDR.pack(request, VHOST_USER_REPLY_FLAGS, len(body)) + body


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("peer closed")
        data += chunk
    return data


def _close_passed_fds(ancdata: list[tuple[int, int, bytes]]) -> None:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(data) - len(data) % 4
            for fd in struct.unpack(f"<{usable // 4}i", data[:usable]):
                os.close(fd)


def serve_vhost_user_session(path: Path, *, idle: float = 1.5, wait: float = 60.0) -> int:
    """Connect to QEMU's vhost-user socket, answer its handshake, then disconnect.

    The session ends once QEMU has been silent for ``idle`` seconds. Returns the number of
    messages received (0 would mean QEMU never talked to us).
    """
    sock = _connect_unix(path, wait=wait)
    count = 0
    try:
        sock.settimeout(idle)
        while True:
            try:
                header, ancdata, _flags, _addr = sock.recvmsg(
                    VHOST_USER_HDR.size, socket.CMSG_SPACE(8 * 4))
            except socket.timeout:
                return count
            if not header:
                return count
            _close_passed_fds(ancdata)
            request, _msg_flags, size = VHOST_USER_HDR.unpack(
                header + _recv_exact(sock, VHOST_USER_HDR.size - len(header)))
            payload = _recv_exact(sock, size) if size else b""
            count += 1
            reply = vhost_user_reply(request, payload)
            if reply is not None:
                sock.sendall(reply)
    finally:
        sock.close()


def _connect_unix(path: Path, *, wait: float) -> socket.socket:
    deadline = time.monotonic() + wait
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(os.fspath(path))
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# --------------------------------------------------------------------------- tree and build


@dataclass(frozen=True)
class QemuBuild:
    """The patched source copy and its build directory inside the workdir."""

    src: Path
    build: Path
    logs: Path

    @property
    def binary(self) -> Path:
        return self.build / "qemu-system-x86_64"

    @property
    def firmware(self) -> Path:
        return self.src / "pc-bios"


def check_tools() -> None:
    """Raise ToolMissing (exit 3) when a tool the build needs is absent."""
    for tool in REQUIRED_TOOLS:
        if shutil.which(tool) is None:
            raise ToolMissing(tool, "apt-get install gcc ninja-build meson patch python3")


def rbd_configure_flag() -> str:
    """Build the rbd driver (patched by the series) when librbd's header is installed."""
    return "--enable-rbd" if Path("/usr/include/rbd/librbd.h").exists() else "--disable-rbd"


def apply_patch(src: Path, patch: Path, *, logs: Path, reverse: bool = False) -> None:
    argv = ["patch", "-p1", "--fuzz=0", "--forward", "-i", os.fspath(patch.resolve())]
    if reverse:
        argv = ["patch", "-p1", "--fuzz=0", "-R", "-i", os.fspath(patch.resolve())]
    run(argv, cwd=src, timeout=120, logfile=logs / "patch.log")


def prepare_tree(tree: Path, series: Sequence[Path], workdir: Path) -> QemuBuild:
    """Copy ``tree`` into ``workdir/src`` and apply ``series``, unless that is already done.

    A previous copy is reused only when it was made from the same series (stamp file); any
    other copy is discarded together with its build directory, because a file that goes back
    to its pristine content also goes back to an old mtime that ninja would not rebuild.
    """
    build = QemuBuild(workdir / "src", workdir / "build", workdir / "logs")
    build.logs.mkdir(parents=True, exist_ok=True)
    stamp_file = workdir / "series.stamp"
    stamp = series_stamp(series)
    if build.src.is_dir() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return build
    stamp_file.unlink(missing_ok=True)
    for old in (build.src, build.build):
        if old.exists():
            shutil.rmtree(old)
    shutil.copytree(tree, build.src, symlinks=True)
    for patch in series:
        apply_patch(build.src, patch, logs=build.logs)
    stamp_file.write_text(stamp)
    return build


def build_qemu(build: QemuBuild) -> None:
    """Configure once (an existing build directory is reused), then build incrementally."""
    if not (build.build / "build.ninja").exists():
        build.build.mkdir(parents=True, exist_ok=True)
        meson = shutil.which("meson") or "meson"
        run([os.fspath(build.src / "configure"), *CONFIGURE_ARGS, f"--meson={meson}",
             rbd_configure_flag()], cwd=build.build, timeout=BUILD_TIMEOUT,
            logfile=build.logs / "configure.log")
    run(["ninja", "-C", os.fspath(build.build), "qemu-system-x86_64"],
        timeout=BUILD_TIMEOUT, logfile=build.logs / "ninja.log")


def step(name: str, action: Callable[[], object]) -> SelftestResult:
    """Run a preparation step; a failed command becomes a FAIL result with its output tail."""
    try:
        action()
    except CommandFailed as exc:
        tail = " | ".join(exc.output.strip().splitlines()[-5:])
        return SelftestResult(name, False, f"exit {exc.returncode}: {tail}")
    return SelftestResult(name, True, "")


# --------------------------------------------------------------------------- checks


def check_machine_help(build: QemuBuild) -> list[SelftestResult]:
    """Every BC-Linux 7 type is listed; the default machine and the aliases stay upstream's."""
    out = run([os.fspath(build.binary), "-machine", "help"], timeout=60).stdout
    machines = parse_machine_help(out)
    results = [SelftestResult(f"machine-listed:{m}", m in machines,
                              f"-machine help: {machines.get(m, 'not listed')}")
               for m in RHEL7_MACHINES]
    seen = (default_machine(machines), alias_target(machines, "pc"),
            alias_target(machines, "q35"))
    wanted = (CURRENT_MACHINE, CURRENT_MACHINE, "pc-q35-6.2")
    results.append(SelftestResult("default-machine-and-aliases-unchanged", seen == wanted,
                                  f"default, pc, q35 = {seen}, expected {wanted}"))
    return results


def start_and_save(build: QemuBuild, scratch: Path, machine: str,
                   state: Path) -> tuple[list[SelftestResult], str]:
    """Start ``machine`` paused, inspect it and save it to ``state``.

    Returns the results and the text of ``info qtree`` followed by ``info roms``.
    """
    state.unlink(missing_ok=True)
    with qemu_process(build.binary, build.firmware, scratch, f"src-{machine}",
                      ["-S", "-machine", machine]) as qemu:
        try:
            qmp = qemu.connect()
            status = qmp.execute("query-status")
            qtree = qmp.hmp("info qtree") + "\n" + qmp.hmp("info roms")
            qmp.execute("migrate", uri=f"exec:cat > {state}")
            migrated = wait_migration(qmp)
            qmp.close()
        except (OSError, RuntimeError, ValueError) as exc:
            return [SelftestResult(f"start-paused:{machine}", False,
                                   f"{exc}; {qemu.stderr_tail()}")], ""
    started = status.get("status") == "prelaunch" and not status.get("running")
    return [
        SelftestResult(f"start-paused:{machine}", started, f"query-status: {status}"),
        SelftestResult(f"save:{machine}", migrated == "completed",
                       f"migrate to file: {migrated}"),
    ], qtree


def restore(build: QemuBuild, scratch: Path, machine: str, state: Path) -> SelftestResult:
    """Load ``state`` into a second QEMU of the same machine type."""
    name = f"save-restore:{machine}"
    with qemu_process(build.binary, build.firmware, scratch, f"dst-{machine}",
                      ["-S", "-machine", machine, "-incoming", f"exec:cat {state}"]) as qemu:
        try:
            qmp = qemu.connect()
            migrated = wait_migration(qmp)
            status = qmp.execute("query-status")
            qmp.close()
        except (OSError, RuntimeError, ValueError) as exc:
            return SelftestResult(name, False, f"{exc}; {qemu.stderr_tail()}")
    loaded = migrated == "completed" and status.get("status") in ("prelaunch", "paused")
    return SelftestResult(name, loaded, f"incoming: {migrated}, status: {status}; "
                          f"{qemu.stderr_tail()}")


def check_machine(build: QemuBuild, scratch: Path, machine: str) -> list[SelftestResult]:
    """Start, save, restore and inspect one machine type."""
    state = scratch / f"{machine}.state"
    results, qtree = start_and_save(build, scratch, machine, state)
    if all(r.passed for r in results):
        results.append(restore(build, scratch, machine, state))
    if not qtree:
        return results
    want = "true" if machine == CURRENT_MACHINE else "false"
    seen = qtree_property(qtree, "i8042", "extended-state")
    results.append(SelftestResult(f"i8042-extended-state:{machine}", seen == want,
                                  f"extended-state = {seen}, expected {want}"))
    if machine != CURRENT_MACHINE:
        has_hpet = qtree_has_device(qtree, "hpet")
        results.append(SelftestResult(f"no-hpet-by-default:{machine}", not has_hpet,
                                      f"hpet device in info qtree: {has_hpet}"))
        bios = "bios-256k.bin" in qtree
        results.append(SelftestResult(f"firmware-bios-256k:{machine}", bios,
                                      f"bios-256k.bin in info roms: {bios}"))
    state.unlink(missing_ok=True)
    return results


# --------------------------------------------------------------------------- legacy QEMU


@dataclass(frozen=True)
class Side:
    """One QEMU of a cross-version test: a label for messages and its binary."""

    label: str
    binary: Path


def save_paused(side: Side, firmware: Path, scratch: Path, name: str, machine: str,
                state: Path) -> str:
    """Start ``machine`` paused in ``side`` and save it to ``state``; '' or what failed."""
    state.unlink(missing_ok=True)
    with qemu_process(side.binary, firmware, scratch, name,
                      ["-S", "-machine", machine]) as qemu:
        try:
            qmp = qemu.connect()
            qmp.execute("migrate", uri=f"exec:cat > {state}")
            migrated = wait_migration(qmp)
            qmp.close()
        except (OSError, RuntimeError, ValueError) as exc:
            return failure_detail(f"save in {side.label}", exc, qemu.stderr_tail())
    if migrated != "completed":
        return f"save in {side.label}: migrate to file: {migrated}; {qemu.stderr_tail()}"
    return ""


def wait_incoming(qmp: QmpClient, *, timeout: float = 120.0) -> dict[str, Any]:
    """Poll ``query-status`` until the guest leaves ``inmigrate``.

    2.12 answers ``query-migrate`` on the destination with nothing, so the run state is the
    signal both versions give; a failed load makes either QEMU exit.
    """
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = qmp.execute("query-status")
        if status.get("status") != "inmigrate" or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def load_paused(side: Side, firmware: Path, scratch: Path, name: str, machine: str,
                state: Path) -> tuple[bool, str]:
    """Load ``state`` into ``side`` started paused with ``-incoming``; (loaded, detail)."""
    args = ["-S", "-machine", machine, "-incoming", f"exec:cat {state}"]
    with qemu_process(side.binary, firmware, scratch, name, args) as qemu:
        try:
            qmp = qemu.connect()
            status = wait_incoming(qmp)
            qmp.close()
        except (OSError, RuntimeError, ValueError) as exc:
            time.sleep(0.2)  # let the error text reach the log
            return False, failure_detail(f"load in {side.label}", exc, qemu.stderr_tail())
        alive = qemu.proc.poll() is None
        tail = qemu.stderr_tail()
    loaded = alive and incoming_loaded(status)
    return loaded, (f"load in {side.label}: query-status {status} ({SAVED_RUNSTATE} "
                    f"expected), process alive: {alive}; {tail}")


def cross_load(source: Side, target: Side, firmware: Path, scratch: Path, name: str,
               machine: str) -> SelftestResult:
    """Save a paused ``machine`` guest in ``source`` and load it in ``target``."""
    state = scratch / f"{name}-{machine}.state"
    failed = save_paused(source, firmware, scratch, f"{name}-src-{machine}", machine, state)
    if failed:
        return SelftestResult(f"{name}:{machine}", False, failed)
    loaded, detail = load_paused(target, firmware, scratch, f"{name}-dst-{machine}", machine,
                                 state)
    state.unlink(missing_ok=True)
    return SelftestResult(f"{name}:{machine}", loaded, detail)


def legacy_machines(build: QemuBuild, legacy: Path) -> tuple[list[str], SelftestResult]:
    """The machine types to test and a result saying which ones both builds offer."""
    name = "legacy-machines-common"
    try:
        ours = parse_machine_help(run([os.fspath(build.binary), "-machine", "help"],
                                      timeout=60).stdout)
        theirs = parse_machine_help(run([os.fspath(legacy), "-machine", "help"],
                                        timeout=60).stdout)
    except CommandFailed as exc:
        return [], SelftestResult(name, False, f"-machine help: exit {exc.returncode}")
    common = common_machines(ours, theirs)
    missing = [m for m in RHEL7_MACHINES if m not in common]
    return common, SelftestResult(name, bool(common),
                                  f"{len(common)} in both; not in both: {missing or 'none'}")


def check_legacy(build: QemuBuild, scratch: Path, legacy: Path | None) -> list[SelftestResult]:
    """2.12 -> 6.2 and 6.2 -> 2.12 save/load per common machine type (same firmware dir)."""
    if legacy is None:
        return [SelftestResult(LEGACY_SKIPPED, True, "no --legacy-qemu given: migration from "
                               "and to qemu-kvm-ev 2.12 not tested", skipped=True)]
    machines, listed = legacy_machines(build, legacy)
    results = [listed]
    old, new = Side("2.12", legacy), Side("6.2", build.binary)
    for machine in machines:
        results.append(cross_load(old, new, build.firmware, scratch, "legacy-load", machine))
        results.append(cross_load(new, old, build.firmware, scratch, "legacy-reverse-load",
                                  machine))
    return results


def check_rbd_compiled(build: QemuBuild) -> SelftestResult:
    objects = sorted(build.build.glob("**/block_rbd.c.o"))
    found = os.fspath(objects[0].relative_to(build.build)) if objects else "none"
    return SelftestResult("rbd-driver-compiled", bool(objects),
                          f"block_rbd.c.o: {found} (configured {rbd_configure_flag()})")


@dataclass(frozen=True)
class ReconnectOutcome:
    """What happened to a QEMU whose vhost-user client went away twice."""

    returncode: int | None  # None: still running at the end
    messages: tuple[int, ...]  # vhost-user messages received per client session
    stderr: str

    @property
    def aborted(self) -> bool:
        return self.returncode == -signal.SIGABRT or "Assertion" in self.stderr


def vhost_user_server_cycle(build: QemuBuild, scratch: Path, name: str) -> ReconnectOutcome:
    """QEMU is the vhost-user server; its client connects, leaves, waits, comes back, leaves.

    With the reconnect time armed on the listening socket, the reconnect timer (3 s) moves the
    chardev to CONNECTING while it is still listening, and the next accept aborts QEMU.
    """
    vu_sock = scratch / f"{name}.vhost-user.sock"
    vu_sock.unlink(missing_ok=True)
    args = ["-S", "-machine", CURRENT_MACHINE,
            "-chardev", f"socket,id=vu0,path={vu_sock},server=on,wait=off",
            "-netdev", "vhost-user,id=net0,chardev=vu0"]
    messages: list[int] = []
    with qemu_process(build.binary, build.firmware, scratch, name, args) as qemu:
        try:
            messages.append(serve_vhost_user_session(vu_sock))
            qmp = qemu.connect()
            qmp.execute("query-status")
            for _ in range(2):
                time.sleep(VHOST_USER_RECONNECT_WAIT)
                if qemu.proc.poll() is not None:
                    break
                messages.append(serve_vhost_user_session(vu_sock, wait=10.0))
            if qemu.proc.poll() is None:
                qmp.execute("query-status")
            qmp.close()
        except (OSError, RuntimeError, ValueError):
            pass  # QEMU went away under us: the return code tells
        time.sleep(0.5)
        returncode = qemu.proc.poll()
        stderr = qemu.stderr_tail()
    return ReconnectOutcome(returncode, tuple(messages), stderr)


def check_reconnect_survives(build: QemuBuild, scratch: Path) -> SelftestResult:
    got = vhost_user_server_cycle(build, scratch, "vhost-user-fixed")
    survived = got.returncode is None and len(got.messages) == 3 and min(got.messages) > 0
    return SelftestResult("vhost-user-server-client-reconnect", survived,
                          f"QEMU exit {got.returncode}, messages per session "
                          f"{got.messages}; {got.stderr}")


def check_reconnect_aborts_without_fix(build: QemuBuild, scratch: Path) -> SelftestResult:
    got = vhost_user_server_cycle(build, scratch, "vhost-user-unfixed")
    return SelftestResult("vhost-user-server-reconnect-aborts-without-fix", got.aborted,
                          f"QEMU exit {got.returncode} (SIGABRT expected), messages per "
                          f"session {got.messages}; {got.stderr}")


def patch_and_build(build: QemuBuild, patch: Path, *, reverse: bool) -> None:
    apply_patch(build.src, patch, logs=build.logs, reverse=reverse)
    build_qemu(build)


def without_fix(build: QemuBuild, scratch: Path, fix: Path,
                workdir: Path) -> list[SelftestResult]:
    """Reverse the fix, rebuild, expect the abort, then reapply the fix and rebuild."""
    stamp_file = workdir / "series.stamp"
    stamp = stamp_file.read_text()
    stamp_file.unlink()  # the copy no longer matches the series until the fix is back
    results = [step("reverse-fix-and-rebuild",
                    lambda: patch_and_build(build, fix, reverse=True))]
    if results[0].passed:
        results.append(check_reconnect_aborts_without_fix(build, scratch))
    reapplied = step("reapply-fix-and-rebuild",
                     lambda: patch_and_build(build, fix, reverse=False))
    if reapplied.passed:
        stamp_file.write_text(stamp)
    return [*results, reapplied]


def run_selftest(tree: Path, series: list[Path], workdir: Path, *, keep: bool = False,
                 legacy_qemu: Path | None = None) -> list[SelftestResult]:
    """Apply ``series`` to a copy of ``tree`` in ``workdir``, build it and run every check.

    ``legacy_qemu`` (a qemu-kvm-ev 2.12 binary) adds the cross-version save/load checks.
    """
    check_tools()
    if legacy_qemu is not None and not (legacy_qemu.is_file()
                                        and os.access(legacy_qemu, os.X_OK)):
        raise InputError("--legacy-qemu: not an executable file", file=str(legacy_qemu))
    if workdir.resolve().is_relative_to(tree.resolve()):
        raise InputError("the workdir must not be inside the pristine tree", file=str(workdir))
    workdir.mkdir(parents=True, exist_ok=True)
    holder: dict[str, QemuBuild] = {}
    results = [step("series-applies", lambda: holder.setdefault(
        "build", prepare_tree(tree, series, workdir)))]
    if not results[0].passed:
        return results
    build = holder["build"]
    results.append(step("build-x86_64-softmmu", lambda: build_qemu(build)))
    if not results[-1].passed:
        return results
    scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=workdir))
    try:
        results += run_checks(build, scratch, series, workdir, legacy_qemu)
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return results


def run_checks(build: QemuBuild, scratch: Path, series: Sequence[Path], workdir: Path,
               legacy_qemu: Path | None = None) -> list[SelftestResult]:
    results = [check_rbd_compiled(build), *check_machine_help(build)]
    for machine in (*RHEL7_MACHINES, CURRENT_MACHINE):
        results += check_machine(build, scratch, machine)
    results += check_legacy(build, scratch, legacy_qemu)
    results.append(check_reconnect_survives(build, scratch))
    fix = find_fix_patch(series)
    if fix is None:
        results.append(SelftestResult("fix-patch-in-series", False,
                                      f"no patch named *{FIX_PATCH_MARK}* in the series"))
        return results
    return results + without_fix(build, scratch, fix, workdir)


# --------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline.qemu_selftest",
                                     description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--tree", type=Path, required=True,
                        help="pristine QEMU 6.2.0 source tree (unpacked release tarball)")
    parser.add_argument("--series", type=Path, nargs="+", required=True,
                        help="patch files, in series order")
    parser.add_argument("--workdir", type=Path, required=True,
                        help="scratch directory (source copy and build dir are reused)")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--keep", action="store_true",
                        help="keep guest logs, sockets and saved states")
    parser.add_argument("--legacy-qemu", type=Path, metavar="BINARY",
                        help="qemu-kvm-ev 2.12 qemu-system-x86_64 (or /usr/libexec/qemu-kvm): "
                             "also save guests there and load them in 6.2, and back")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results = run_selftest(args.tree.resolve(), [p.resolve() for p in args.series],
                               args.workdir.resolve(), keep=args.keep,
                               legacy_qemu=args.legacy_qemu.resolve() if args.legacy_qemu
                               else None)
    except (ToolMissing, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        print("\n".join(format_results(results)))
    return exit_code(results)


if __name__ == "__main__":
    raise SystemExit(main())
