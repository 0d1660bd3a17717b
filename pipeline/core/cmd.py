"""The one place external commands run.

An argument list (never a shell), a check that the tool exists with a hint how to get it, the
command logged as a copy-pasteable line, a *copy* of the environment with ``LC_ALL=C.UTF-8``, a
timeout that kills the whole process group, and on failure an exception with the output's tail.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import CommandFailed, ToolMissing, shell_line
from pipeline.core.redact import redact

log = logging.getLogger("virt-pipeline.cmd")

#: How to get each tool, shown when it is missing.
HINTS: dict[str, str] = {
    "rpm": "apt-get install rpm / dnf install rpm",
    "rpmbuild": "apt-get install rpm / dnf install rpm-build",
    "rpmspec": "apt-get install rpm / dnf install rpm-build",
    "rpmlint": "apt-get install rpmlint / dnf install rpmlint",
    "createrepo_c": "apt-get install createrepo-c / dnf install createrepo_c",
    "dnf": "apt-get install dnf / dnf is the package manager of RPM hosts",
    "podman": "apt-get install podman runc",
    "mock": "dnf install mock (RPM hosts only), and add the user to the mock group",
    "patch": "apt-get install patch",
    "unshare": "apt-get install util-linux",
}


@dataclass(frozen=True)
class Completed:
    """The outcome of a finished command."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def which(tool: str) -> str | None:
    return shutil.which(tool)


def require(tool: str) -> str:
    """The absolute path of ``tool``; ToolMissing (exit 3) with a hint when it is absent."""
    path = which(tool)
    if path is None:
        raise ToolMissing(tool, HINTS.get(tool, ""))
    return path


def tool_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of the process environment with a stable locale, plus ``env``."""
    merged = dict(os.environ)
    merged["LC_ALL"] = "C.UTF-8"
    merged.pop("LANGUAGE", None)
    if env:
        merged.update(env)
    return merged


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    check: bool = True,
    input: str | None = None,
    logfile: Path | None = None,
) -> Completed:
    """Run ``argv`` and return its outcome; see the module docstring for the guarantees.

    ``logfile``, when given, receives the command line and its whole output (appended).
    """
    args = [os.fspath(a) for a in argv]
    require(args[0])
    line = redact(shell_line(args))
    log.debug("$ %s", line)
    proc = subprocess.Popen(
        args, cwd=cwd, env=tool_env(env), text=True, errors="replace",
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        err += f"\n[virt-pipeline] killed after {timeout} s timeout"
        proc.returncode = 124 if proc.returncode in (None, 0) else proc.returncode
    done = Completed(tuple(args), proc.returncode, out, err)
    if logfile is not None:
        with logfile.open("a", encoding="utf-8") as fh:
            fh.write(redact(f"$ {line}\n{out}{err}[exit {proc.returncode}]\n"))
    if check and proc.returncode != 0:
        raise CommandFailed(args, proc.returncode, out + err)
    return done


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
