"""The vhost-user server-mode reconnect checks: a minimal vhost-user peer, and the fix proven by
reversing it.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.patches.qemu_selftest.qemu import qemu_process
from pipeline.patches.qemu_selftest.results import CURRENT_MACHINE, SelftestResult, step
from pipeline.patches.qemu_selftest.tree import QemuBuild, patch_and_build

VHOST_USER_RECONNECT_WAIT = 6.0  # seconds: the patched reconnect time is 3 s


VHOST_USER_HDR = struct.Struct("<III")  # request, flags, payload size


VHOST_USER_REPLY_FLAGS = 0x1 | 0x4  # version 1 | reply
#: Requests that need a u64 answer: GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM,
#: GET_MAX_MEM_SLOTS.  We offer no features, so QEMU sends nothing else that needs one.
VHOST_USER_U64_REQUESTS = frozenset({1, 15, 17, 36})


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
