"""Live progress: one status line per build, redrawn in a terminal; plain log lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class ProgressBoard:
    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.lines: dict[str, tuple[str, float]] = {}
        self.start = time.monotonic()
        self._lock = threading.Lock()
        self._drawn = 0

    def __call__(self, key: str, status: str) -> None:
        with self._lock:
            started = self.lines.get(key, (status, time.monotonic()))[1]
            self.lines[key] = (status, started)
            if self.live:
                self._redraw()
            else:
                stamp = time.strftime("%H:%M:%S")
                self.stream.write(f"{stamp} {key}: {status}\n")
                self.stream.flush()

    def _redraw(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
        now = time.monotonic()
        for key, (status, started) in self.lines.items():
            self.stream.write(f"  {key:36} {now - started:6.0f}s  {status}\n")
        self._drawn = len(self.lines)
        self.stream.flush()
