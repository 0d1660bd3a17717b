"""A QEMU process under test, driven over QMP (long-running: Popen with argv, own process group,
always killed).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
                 args: Sequence[str], *, accel: str = "tcg") -> Iterator[QemuRun]:
    """Start ``binary`` with a QMP socket in ``scratch``; always killed on exit."""
    qmp_path = scratch / f"{name}.qmp"
    log = scratch / f"{name}.log"
    qmp_path.unlink(missing_ok=True)
    argv = [os.fspath(binary), "-L", os.fspath(firmware), "-display", "none", "-nodefaults",
            "-accel", accel, "-m", "128",
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
