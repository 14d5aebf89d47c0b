"""Running staging commands on a system as the user: over the pooled SSH connection, or, for big
files, as one Slurm job on the system's transfer partition, so that long transfers run where the
centre wants them and survive a restart of the service.

Either way the caller gets the command's own verdict (its `parse`), and a progress callback is called
every `progress_interval` seconds while the commands run.

A job gets the commands' stdin (which holds presigned URLs) inside its batch script, as quoted
here-documents: slurmctld keeps a script readable by its owner and the administrators only, and no URL
appears in an argv. The job writes its stderr and, at the end, its exit status to hidden files in the
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

import asyncssh

from ..compute import JobRequest, Scheduler
from ..errors import FirecrestError, UnknownJob
from ..filesystem.sftp_ops import guarded
from ..remote import CommandResult, RemoteCommand, RemoteSession, to_shell
from .commands import TransferFailed

log = logging.getLogger(__name__)

Progress = Callable[[], Awaitable[None]]
# Job states after which a job never writes anything again.
_ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
          "BOOT_FAIL", "DEADLINE"}
_JOB_CHECK_EVERY = 5.0
_LOG_TAIL = 4096


async def run_with_progress(work: Awaitable, progress: Progress, interval: float):
    """Await `work`, calling `progress()` every `interval` seconds until it is done."""
    running = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({running}, timeout=interval)
            if done:
                return running.result()
            await progress()
    finally:
        if not running.done():
            running.cancel()
            with contextlib.suppress(BaseException):
                await running


async def run_over_ssh(session: RemoteSession, commands: Sequence[RemoteCommand], progress: Progress,
                       interval: float) -> None:
    """Run the commands side by side, each on its own channel; the first failure is raised."""
    results = await run_with_progress(
        asyncio.gather(*(session.run(c.argv(), stdin=c.stdin(), timeout=c.timeout) for c in commands)),
        progress, interval)
    for command, result in zip(commands, results):
        command.parse(result)


def job_files(token: str) -> tuple[str, str]:
    """The job's stderr log and exit-status file, relative to the home directory (as SFTP resolves them)."""
    return f".firecrest-staging-{token}.log", f".firecrest-staging-{token}.exit"


def job_script(commands: Sequence[RemoteCommand], token: str) -> str:
    """A batch script running the commands side by side, each fed its stdin from a here-document."""
    log_file, exit_file = job_files(token)
    end = f"FIRECREST_STAGING_{token}"
    lines = ["#!/bin/bash", "#SBATCH --output=/dev/null", "#SBATCH --error=/dev/null",
             f'exec 2>"$HOME/{log_file}"', "pids=()"]
    for command in commands:
        stdin = command.stdin() or ""
        lines += [f"{to_shell(command.argv())} <<'{end}' &", stdin.rstrip("\n"), end, "pids+=($!)"]
    lines += ["status=0", 'for pid in "${pids[@]}"; do wait "$pid" || status=1; done',
              f'echo "$status" > "$HOME/{exit_file}"']
    return "\n".join(lines) + "\n"


class TransferJob:
    """A transfer running as a Slurm job: submit it, or pick up one submitted before a restart, and wait."""

    def __init__(self, scheduler: Scheduler, session: RemoteSession, command: RemoteCommand, jobid: str,
                 token: str):
        self.scheduler, self.session, self.command = scheduler, session, command
        self.jobid, self.token = jobid, token

    @classmethod
    async def submit(cls, scheduler: Scheduler, session: RemoteSession, commands: Sequence[RemoteCommand],
                     time_limit: float) -> "TransferJob":
        token = secrets.token_hex(8)
        request = JobRequest(
            script=job_script(commands, token), name="firecrest-staging",
            partition=session.system.transfer_partition, time_limit=str(max(1, math.ceil(time_limit / 60))),
        )
        jobid = await scheduler.submit(session, request)
        log.info("staging transfer of %s on %s runs as job %s", session.account, session.system.name, jobid)
        return cls(scheduler, session, commands[0], jobid, token)

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
                    log_tail = await self._read(job_files(self.token)[0])
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
        log_file, exit_file = job_files(self.token)
        status = await self._read(exit_file)
        if not status:  # not there yet, or caught between its creation and the write of the status
            return None
        stderr = await self._read(log_file) or ""
        code = int(status) if status.isdigit() else 1
        return CommandResult(tuple(self.command.argv()), code, "", stderr)

    async def _read(self, name: str) -> str | None:
        sftp = await self.session.sftp()
        async with guarded(name, self.session.pool.command_timeout):
            try:
                remote = await sftp.open(name, "rb")
            except asyncssh.SFTPNoSuchFile:
                return None
            async with remote:
                size = (await remote.stat()).size or 0
                await remote.seek(max(0, size - _LOG_TAIL))
                return (await remote.read(_LOG_TAIL)).decode(errors="replace").strip()

    async def cancel(self) -> None:
        """Cancel the job and remove its files (a job that already ended is no error)."""
        try:
            await self.scheduler.cancel(self.session, self.jobid)
        except UnknownJob:
            pass
        except FirecrestError as error:
            log.warning("could not cancel transfer job %s: %s", self.jobid, error.description)
        await self.remove_files()

    async def remove_files(self) -> None:
        """Remove the job's log and exit-status files, once its outcome is recorded (a resume reads them)."""
        sftp = await self.session.sftp()
        for name in job_files(self.token):
            with contextlib.suppress(asyncssh.SFTPError, OSError):
                await sftp.remove(name)
