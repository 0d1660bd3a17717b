"""Debian's chromium, headless, as a test's eyes: what a page shows at a given viewport.

The browser is driven through the DevTools protocol over ``--remote-debugging-pipe`` (JSON
messages separated by NUL bytes on file descriptors 3 and 4: no port, no websocket library).
The viewport is set with ``Emulation.setDeviceMetricsOverride`` (headless chromium clamps
``--window-size`` to at least 500 pixels wide, wider than a phone). ``Browser.evaluate`` runs
an expression in the laid-out page and returns its value; the report itself carries no script.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest


def chromium() -> str:
    """The browser, or a loud skip saying how to get it."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed: tools/setup-host installs it (apt-get install "
                "chromium); the browser tests of the report did NOT run")


def _high(fds: tuple[int, int]) -> tuple[int, int]:
    """The pipe's ends moved above 10, so the child's ``3<&A 4>&B`` never overwrites one
    with the other (under pytest's capture a pipe end can itself be 3 or 4)."""
    out = []
    for fd in fds:
        out.append(fcntl.fcntl(fd, fcntl.F_DUPFD, 10))
        os.close(fd)
    return out[0], out[1]


class Browser:
    """One headless chromium with one page, driven over the DevTools pipe."""

    def __init__(self, home: Path, *, viewport: tuple[int, int], timeout: float = 60) -> None:
        to_child, self._write = _high(os.pipe())
        self._read, from_child = _high(os.pipe())
        args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-extensions", "--hide-scrollbars", "--remote-debugging-pipe",
                f"--user-data-dir={home / 'chromium-profile'}", "about:blank"]
        # the protocol's descriptors are 3 (commands in) and 4 (replies out) in the child
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_child} 4>&{from_child}', "bash", *args],
            pass_fds=(to_child, from_child), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env={**os.environ, "HOME": str(home)})
        os.close(to_child)
        os.close(from_child)
        self._buffer, self._id, self.timeout = b"", 0, timeout
        self.events: list[dict[str, Any]] = []
        try:
            self._attach(viewport)
        except BaseException:
            self.close()
            raise

    def _attach(self, viewport: tuple[int, int]) -> None:
        target = next(t for t in self.call("Target.getTargets")["targetInfos"]
                      if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=target["targetId"],
                                 flatten=True)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=viewport[0],
                  height=viewport[1], deviceScaleFactor=1, mobile=viewport[0] < 600)
        self.call("Page.enable", session=True)

    def call(self, method: str, *, session: bool = False, **params: Any) -> Any:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._next()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _next(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._read, 65536)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)  # type: ignore[no-any-return]

    def open(self, page: Path) -> None:
        self.events.clear()
        self.call("Page.navigate", session=True, url=page.resolve().as_uri())
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._next())

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, dest: Path) -> Path:
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        dest.write_bytes(base64.b64decode(data))
        return dest

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, OSError, TimeoutError):
            self.call("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._write)
        os.close(self._read)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
