"""The exception hierarchy. Each class carries the exit code the CLI returns for it.

Only ``pipeline.cli`` turns these into messages and exit codes; library code raises.
"""

from __future__ import annotations

from collections.abc import Sequence


class PipelineError(Exception):
    """Base class: a problem the user must fix (exit 2 unless a subclass says otherwise)."""

    exit_code = 2


class InputError(PipelineError):
    """Bad input: a file, line and key are named when known (exit 2)."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.reason = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file:
            where = one_line(self.file) + (f":{self.line}" if self.line else "") + ": "
        key = f"{one_line(self.key)}: " if self.key else ""
        return f"{where}{key}{one_line(self.reason)}"


def one_line(text: str) -> str:
    """``text`` with control characters written as escapes: data (a YAML key holding a
    newline, a file name) can never split the one-line error into several."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ToolMissing(PipelineError):
    """A required external tool or service is missing (exit 3)."""

    exit_code = 3

    def __init__(self, tool: str, hint: str = "") -> None:
        self.tool = tool
        self.hint = hint
        msg = f"required tool not found: {tool}"
        super().__init__(msg + (f" ({hint})" if hint else ""))


class EnvironmentFault(PipelineError):
    """The machine, not the input: a read-only folder, a full disk (exit 3, with the fix)."""

    exit_code = 3


def environment_fault(exc: OSError) -> EnvironmentFault:
    """A one-line EnvironmentFault for an OSError, saying what to fix."""
    import errno

    where = exc.filename or "a file"
    fixes = {
        errno.ENOSPC: "the disk is full: free space there (or point -C at another tree)",
        errno.EDQUOT: "the disk quota is exhausted: free space there",
        errno.EROFS: "the file system is read-only: make it writable",
        errno.EACCES: "permission denied: make it writable/readable for this user",
        errno.EPERM: "operation not permitted: check its owner and mode",
        errno.EMFILE: "too many open files: raise the limit (ulimit -n)",
        errno.ENOTDIR: "a part of this path is a file, not a folder: move that file away",
        errno.EEXIST: "exists and is not a folder: move it away",
        errno.EISDIR: "is a folder where a file is expected: move it away",
    }
    fix = fixes.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    return EnvironmentFault(f"{where}: {fix}")


class CommandFailed(PipelineError):
    """An external command exited non-zero; carries the command and the tail of its output."""

    exit_code = 1

    def __init__(self, argv: Sequence[str], returncode: int, output: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        tail = "\n".join(output.rstrip().splitlines()[-20:])
        super().__init__(f"command failed (exit {returncode}): {shell_line(argv)}\n{tail}")


def shell_line(argv: Sequence[str]) -> str:
    """A copy-pasteable shell line for ``argv``."""
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


class Interrupted(PipelineError):
    """The run was interrupted (Ctrl-C or SIGTERM): exit 130, like a shell."""

    exit_code = 130
