"""Transfers as Slurm batch jobs, of every kind: the one script builder for staging's transfers and the
internal ones (transfers/), and `TransferJob`, which submits a staging transfer on the system's transfer
partition, picks it up again after a restart of the service, and waits for it.

The script's shell is scripts/transfer-job.sh; what this module adds are `#SBATCH` lines and calls, each
a quoted argv. A staging job gets the commands' stdin (which holds presigned URLs) inside its batch script,
as quoted here-documents: slurmctld keeps a script readable by its owner and the administrators only, and
no URL appears in an argv. It writes its stderr and, at the end, its exit status to hidden files in the
user's home directory, which the service reads over SFTP and removes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncssh

from ..compute import JobRequest, Scheduler
from ..errors import FirecrestError, UnknownJob
from ..numbers import parse_whole_number
from ..remote import CommandResult, RemoteCommand, RemoteSession, read_tail, system_script, to_shell
from .commands import TransferFailed

log = logging.getLogger(__name__)

TRANSFER_JOB_SCRIPT = system_script(__package__, "transfer-job.sh")

Progress = Callable[[], Awaitable[None]]
# Job states after which a job never writes anything again.
_ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
          "BOOT_FAIL", "DEADLINE"}
_JOB_CHECK_EVERY = 5.0
_LOG_TAIL = 4096


def job_files(token: str) -> tuple[str, str]:
    """The job's stderr log and exit-status file, relative to the home directory (as SFTP resolves them)."""
    return f".firecrest-staging-{token}.log", f".firecrest-staging-{token}.exit"


def confirmation_file(token: str) -> str:
    """Where the service confirms a job's transfer (scripts/transfer-job.sh, await_confirmation)."""
    return f".firecrest-staging-{token}.confirmed"


@dataclass(frozen=True)
class JobLogs:
    """The output and error files a client reads (v2's `transferJob.logs`), absolute paths."""

    output: str
    error: str


def transfer_script(commands: Sequence[RemoteCommand], directives: Sequence[str], *, log_file: str | None = None,
                    status_file: str | None = None, confirmation: tuple[str, float] | None = None,
                    message: str | None = None) -> str:
    """The batch script of a transfer of any kind: the `#SBATCH` `directives`, then the commands side by
    side (scripts/transfer-job.sh), each fed its stdin, if it has one, from a quoted here-document; stderr
    to `log_file` and the outcome to `status_file`, both relative to the home directory, where given. After
    a success, the job waits for the service's `confirmation` (file name, seconds since the job's start),
    or reports `message`."""
    end = f"FIRECREST_TRANSFER_{secrets.token_hex(8)}"
    lines = ["#!/bin/bash", *(f"#SBATCH {directive}" for directive in directives), TRANSFER_JOB_SCRIPT.rstrip("\n")]
    if log_file is not None:
        lines.append(to_shell(["log_to", log_file]))
    for command in commands:
        stdin = command.stdin()
        if stdin is None:
            lines.append(to_shell(["start", *command.argv()]))
        else:
            lines += [f"{to_shell(['start', *command.argv()])} <<'{end}'", stdin.rstrip("\n"), end]
    lines.append(to_shell(["wait_started"] if status_file is None else ["wait_started", status_file]))
    if confirmation is not None:
        lines.append(to_shell(["await_confirmation", confirmation[0], str(math.ceil(confirmation[1]))]))
    if message is not None:
        lines.append(to_shell(["announce", message]))
    lines.append("finish")
    return "\n".join(lines) + "\n"


class TransferJob:
    """A transfer running as a Slurm job: submit it, or pick up one submitted before a restart, and wait.

    With `logs`, a client watches the job itself (v2's `transferJob`): its output and error go to those
    files, and after moving the data it waits for the service's confirmation (`confirm`), so that the job
    ends only once the transfer is complete and its output says so."""

    def __init__(self, scheduler: Scheduler, session: RemoteSession, command: RemoteCommand, jobid: str,
                 token: str, logs: JobLogs | None = None):
        self.scheduler, self.session, self.command = scheduler, session, command
        self.jobid, self.token, self.logs = jobid, token, logs
        stderr_log, self.status_file = job_files(token)
        self.log_file = logs.error if logs is not None else stderr_log

    @classmethod
    async def submit(cls, scheduler: Scheduler, session: RemoteSession, commands: Sequence[RemoteCommand],
                     time_limit: float, logs: JobLogs | None = None, account: str | None = None) -> "TransferJob":
        token = secrets.token_hex(8)
        log_file, status_file = job_files(token)
        if logs is None:
            script = transfer_script(commands, ["--output=/dev/null", "--error=/dev/null"], log_file=log_file,
                                     status_file=status_file)
        else:
            script = transfer_script(commands, [f"--output={logs.output}", f"--error={logs.error}"],
                                     status_file=status_file, confirmation=(confirmation_file(token), time_limit))
        request = JobRequest(
            script=script, name="firecrest-staging", account=account,
            partition=session.system.transfer_partition or None, time_limit=str(max(1, math.ceil(time_limit / 60))),
        )
        jobid = await scheduler.submit(session, request)
        log.info("staging transfer of %s on %s runs as job %s", session.account, session.system.name, jobid)
        return cls(scheduler, session, commands[0], jobid, token, logs)

    async def confirm(self, failure: str | None, message: str) -> None:
        """Tell a job that a client watches how its transfer ended: `message` when `failure` is None."""
        line = f"ok {message}" if failure is None else f"failed: {failure}"
        error = await self._write_line(confirmation_file(self.token), "w", line)
        if error is not None:
            log.warning("could not confirm transfer job %s (it ends at its time limit): %s", self.jobid, error)

    async def wait(self, progress: Progress, interval: float) -> None:
        """Wait for the job's exit status; the command's parse() judges it with the job's stderr.
        The job's files stay for a resume to read until `remove_files()`."""
        submitted = time.monotonic()
        checked = reported = submitted
        while True:
            outcome = await self._outcome()
            if outcome is not None:
                return self.command.parse(outcome)
            now = time.monotonic()
            if now - checked >= _JOB_CHECK_EVERY:
                checked = now
                state = await self._state(submitted)
                if state in _ENDED or state is None:
                    outcome = await self._outcome()  # it may have finished between the two looks
                    if outcome is not None:
                        return self.command.parse(outcome)
                    log_tail = await self._read(self.log_file)
                    raise TransferFailed(
                        f"the transfer job {self.jobid} ended ({state or 'gone from the queue'}) before the "
                        f"transfer finished{': ' + log_tail if log_tail else ''}")
            if now - reported >= interval:
                reported = now
                await progress()
            # Look often at first (one SFTP request each), then back off: the end of a job is noticed
            # within about 5% of its run time.
            await asyncio.sleep(min(interval, 0.05 + (now - submitted) * 0.05))

    async def _state(self, submitted: float) -> str | None:
        """The job's state, None once it left the queue, "" while the scheduler cannot tell (the exit
        file decides; a scheduler that never answers again leaves the task to its run-time limit)."""
        try:
            job = await self.scheduler.job(self.session, self.jobid, newer_than=submitted)
        except UnknownJob:
            return None
        except FirecrestError as error:
            log.warning("cannot see transfer job %s: %s", self.jobid, error.description)
            return ""
        return job.state.split()[0] if job.state else ""

    async def _outcome(self) -> CommandResult | None:
        status = await self._read(self.status_file)
        if not status:  # not there yet, or caught between its creation and the write of the status
            return None
        stderr = await self._read(self.log_file) or ""
        code = parse_whole_number(status)
        code = 1 if code is None else code  # a status file the job did not finish writing
        return CommandResult(tuple(self.command.argv()), code, "", stderr)

    async def _read(self, name: str) -> str | None:
        text = await read_tail(self.session, name, _LOG_TAIL)
        return None if text is None else text.strip()

    async def moved(self) -> bool:
        """Whether the job moved its data well and now awaits the confirmation."""
        return await self._read(self.status_file) == "0"

    async def cancel(self, reason: str | None = None) -> None:
        """Cancel the job and remove its files (a job that already ended is no error); a client watching
        it finds `reason` at the end of its error log."""
        if reason and self.logs is not None:
            await self._write_line(self.logs.error, "a", reason)
        try:
            await self.scheduler.cancel(self.session, self.jobid)
        except UnknownJob:
            pass
        except FirecrestError as error:
            log.warning("could not cancel transfer job %s: %s", self.jobid, error.description)
        await self.remove_files()

    async def _write_line(self, name: str, mode: str, text: str) -> Exception | None:
        """Write `text` as one line to the file `name` (opened with `mode`); what went wrong, if anything."""
        sftp = await self.session.sftp()
        try:
            async with sftp.open(name, mode) as file:
                await file.write(" ".join(text.split()) + "\n")
        except (asyncssh.SFTPError, OSError) as error:
            return error
        return None

    async def remove_files(self) -> None:
        """Remove the job's own files, once its outcome is recorded (a resume reads them); a log a client
        reads stays."""
        sftp = await self.session.sftp()
        for name in (self.status_file, *([] if self.logs else [self.log_file])):
            with contextlib.suppress(asyncssh.SFTPError, OSError):
                await sftp.remove(name)
