"""A command shell: one long-lived shell on an SSH channel that runs commands one after another.

A command on a new SSH session costs sshd a fork, the login shell and its startup files: about 3 ms on a
warm connection, a third of a quick sbatch. Through a command shell it costs one fork. The framing is
scripts/command-shell.sh's: each command's output ends with a marker carrying a token drawn for that
command, which no output can foresee, and its exit status.

A shell that misbehaves is not repaired: a timeout, an output past its cap or a cancel kills the shell's
process group (the command with it, as on a session of its own) and the shell is dropped; the pool opens
another when it next needs one.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets

import asyncssh

from ..errors import ClusterUnreachable
from .command import CommandResult, system_script, timed_out, to_shell, too_much_output

_SCRIPT = system_script(__package__, "command-shell.sh")
_STDERR_LIMIT = 1024 * 1024


class ShellBroken(Exception):
    """The shell ended or failed before it took the command: the command did not run."""


class CommandShell:
    def __init__(self, process: asyncssh.SSHClientProcess, group: int):
        self.process, self.group = process, group
        self.usable = True

    @classmethod
    async def start(cls, connection: asyncssh.SSHClientConnection, timeout: float) -> "CommandShell":
        process = await connection.create_process(
            to_shell(["bash", "--noprofile", "--norc", "-c", _SCRIPT, "command-shell"]), encoding=None)
        try:
            async with asyncio.timeout(timeout):
                first = await process.stdout.readline()
            return cls(process, int(first))
        except BaseException:
            process.close()
            raise

    @staticmethod
    def carries(stdin: str | bytes | None) -> bool:
        """Whether a command shell can carry `stdin` (a shell variable holds no NUL byte)."""
        return stdin is None or (b"\0" if isinstance(stdin, bytes) else "\0") not in stdin

    @property
    def alive(self) -> bool:
        return self.usable and self.process.exit_status is None and not self.process.channel.is_closing()

    async def run(self, argv: list[str], stdin: str | bytes | None, timeout: float, output_limit: int,
                  kill) -> CommandResult:
        """Run `argv` with `stdin`; `kill()` is awaited to stop the shell's process group when the command
        must be stopped. ShellBroken if the shell is gone before it took the command."""
        token = secrets.token_hex(16)
        command = to_shell(argv).encode()
        data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
        try:
            self.process.stdin.write(f"{token} {len(data)} {len(command)}\n".encode() + command + data)
        except (asyncssh.Error, OSError) as error:
            self.usable = False
            raise ShellBroken(str(error)) from error
        try:
            async with asyncio.timeout(timeout):
                # Both at once: a command that fills one stream's window while the other is not read
                # would wait for ever.
                (stdout, status), stderr = await asyncio.gather(self._stdout_until(token, output_limit),
                                                                self._stderr_until(token))
        except BaseException as error:
            self.usable = False
            # Stopped before anything else is asked of the system (a file removed, a job cancelled), so
            # that the command does nothing more: the shell at once, in order on this connection, then
            # its process group, the command among it.
            with contextlib.suppress(asyncssh.Error, OSError):
                self.process.send_signal("KILL")
            await kill()
            self.process.close()
            if isinstance(error, TimeoutError):
                raise timed_out(argv, timeout) from None
            if isinstance(error, _Overflow):
                raise too_much_output(argv, output_limit) from None
            if isinstance(error, (asyncssh.Error, OSError, EOFError)):
                raise ClusterUnreachable(f"the command shell ended while running {argv[0]}: {error}") from error
            raise
        return CommandResult(tuple(argv), status, stdout.decode(errors="replace"), stderr.decode(errors="replace"))

    async def _stdout_until(self, token: str, limit: int) -> tuple[bytes, int]:
        output, rest = await _read_until(self.process.stdout, f"\n{token} ".encode(), limit)
        while b"\n" not in rest:
            rest += await _read_some(self.process.stdout)
        return output, int(rest.split(b"\n", 1)[0])

    async def _stderr_until(self, token: str) -> bytes:
        return (await _read_until(self.process.stderr, f"\n{token}\n".encode(), _STDERR_LIMIT))[0]

    def close(self) -> None:
        self.usable = False
        self.process.close()


class _Overflow(Exception):
    """A command's output passed its cap."""


async def _read_some(stream) -> bytes:
    chunk = await stream.read(65536)
    if not chunk:
        raise EOFError("the shell ended")
    return chunk


async def _read_until(stream, marker: bytes, limit: int) -> tuple[bytes, bytes]:
    """What `stream` carries before `marker`, and what came after it in the same reads."""
    buffer = bytearray()
    while True:
        # The marker may straddle two reads: look again from just before the new bytes.
        index = buffer.find(marker, max(0, len(buffer) - 65536 - len(marker)))
        if index >= 0:
            return bytes(buffer[:index]), bytes(buffer[index + len(marker):])
        if len(buffer) > limit + len(marker):
            raise _Overflow()
        buffer += await _read_some(stream)
