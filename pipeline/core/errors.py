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
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        key = f"{self.key}: " if self.key else ""
        return f"{where}{key}{self.reason}"


class ToolMissing(PipelineError):
    """A required external tool or service is missing (exit 3)."""

    exit_code = 3

    def __init__(self, tool: str, hint: str = "") -> None:
        self.tool = tool
        self.hint = hint
        msg = f"required tool not found: {tool}"
        super().__init__(msg + (f" ({hint})" if hint else ""))


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
