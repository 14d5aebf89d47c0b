"""A remote command is an object: it builds its argv, and it turns the result into something typed."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from importlib import resources
from typing import Generic, TypeVar

from ..errors import CommandFailed, CommandTimeout, NotFound, OutputTooLarge, PermissionDenied

T = TypeVar("T")


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


def system_script(package: str, name: str) -> str:
    """A shell script that runs on the systems: a file of its own, `<package>/scripts/<name>` (shellcheck
    checks every one), run as `bash -c SCRIPT NAME ARGS...` with what varies as arguments or on stdin."""
    return resources.files(package).joinpath("scripts", name).read_text()


def to_shell(argv: list[str] | tuple[str, ...]) -> str:
    """The one place an argv becomes the string sshd hands to the login shell: every word quoted."""
    return shlex.join(argv)


def timed_out(argv, timeout: float) -> CommandTimeout:
    """The failure of a command stopped at its time limit (on a session of its own or in a shell)."""
    return CommandTimeout(f"{argv[0]} did not finish within {timeout:g} s and was stopped")


def too_much_output(argv, limit: int) -> OutputTooLarge:
    """The failure of a command stopped once it printed past its cap."""
    return OutputTooLarge(f"{argv[0]} printed more than {limit} bytes")


def raise_for_stderr(result: CommandResult) -> None:
    """The generic reading of a failed command's stderr, for commands with nothing more specific to say."""
    message = result.stderr.strip() or f"{result.argv[0]} exited with status {result.exit_status}"
    lowered = message.lower()
    if "permission denied" in lowered or "operation not permitted" in lowered:
        raise PermissionDenied(message)
    if "no such file or directory" in lowered:
        raise NotFound(message)
    raise CommandFailed(message)


class RemoteCommand(Generic[T]):
    """Subclasses set `argv()` and `parse()`; `stdin()`, `timeout` and `output_limit` are optional.

    `parse` receives every result, failed ones too, so each command decides what its own failures
    mean; the default raises the generic reading of stderr for a non-zero exit.
    """

    timeout: float | None = None
    output_limit: int | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def stdin(self) -> str | bytes | None:
        return None

    def parse(self, result: CommandResult) -> T:
        if not result.ok:
            raise_for_stderr(result)
        return result.stdout  # type: ignore[return-value]
